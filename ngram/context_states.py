"""Contexts as integer keys, and KenLM's ``BaseScore`` as one call with integer arguments:
the per-word path of the kenlm facade (client.kenlm_compat) on a local one-shard model.

A decoder calls ``BaseScore`` once per word (~400-2,700 times an utterance), so the call
must cost about what KenLM's does (~0.7 us). Passing the context as a tuple of ids and
the model's arrays to a numba kernel costs ~1 us of argument unboxing alone; here the
context is a key of one process-wide table of interned contexts (ngram.kernels.
word_score_entry) and the model's arrays are reached through one handle array's address,
so a call passes three ints. Scores are ngram.kernels.word_score's (bit for bit KenLM's).

Keys are valid for the life of the process and mean the same ids for every model (as a
tuple of ids does). The table grows by doubling up to KENLM_CONTEXT_TABLE_MAX contexts
(~70 bytes each); past that, ``WordEntry.call`` answers NO_KEY and the caller keeps the
context as a tuple (the slower path of ngram.sentence_scoring).
"""
from __future__ import annotations

import threading

import numpy as np

from .errors import InvalidArgumentError, ModelFormatError
from .kernels import word_score_entry as K
from .kernels.word_score import word_score_compressed, word_score_decoded
from .limits import KENLM_CONTEXT_TABLE_MAX, KENLM_WORD_CACHE_ENTRIES, MAX_ORDER
from .model import Model
from .sentence_scoring import SentenceScorer, local_shard
from .tokenizer import Tokenizer
from .vocab import BOS_ID

NO_KEY, BAD_KEY = K.NO_KEY, K.BAD_KEY
EMPTY_KEY, BOS_KEY = 0, 1  # interned first, in this order
_INITIAL_CAPACITY = 1 << 12
assert K.CONTEXT_WIDTH == MAX_ORDER - 1


def _address(a: np.ndarray) -> int:
    if not a.flags.c_contiguous:
        raise InvalidArgumentError("the per-word kernel needs C-contiguous arrays")
    return a.__array_interface__["data"][0]


class ContextTable:
    """The process-wide table of interned contexts (see ngram.kernels.word_score_entry);
    ``TABLE`` is the one instance. Kernels reach it through ``handle``'s address; growing
    moves it to new arrays in one kernel call (kernels keep the GIL, so no call sees a
    half-moved table)."""

    def __init__(self, capacity: int = _INITIAL_CAPACITY, limit: int = KENLM_CONTEXT_TABLE_MAX):
        self.limit = limit
        self.handle = np.zeros(K.T_FIELDS, np.int64)
        self._lock = threading.Lock()  # grow() and words(): kernels need none (they keep the GIL)
        with self._lock:
            self._move(capacity)
        assert self.intern(()) == EMPTY_KEY and self.intern((BOS_ID,)) == BOS_KEY

    def _move(self, capacity: int) -> None:
        rows = np.full((capacity + 1, K.CONTEXT_WIDTH), -1, np.int32)  # + the scratch row
        slots = np.zeros(2 * capacity, np.int32)  # at most half full
        if not self.handle[K.T_ROWS_PTR]:  # the first arrays
            h = self.handle
            h[K.T_ROWS_PTR], h[K.T_CAPACITY], h[K.T_SLOTS_PTR] = _address(rows), capacity, _address(slots)
            h[K.T_NSLOTS], h[K.T_COUNT] = len(slots), 0
        else:
            K.grow_into(self.address, rows, slots)  # one call: no other call sees a half-moved table
        self.rows, self.slots = rows, slots

    @property
    def address(self) -> int:
        return _address(self.handle)

    def __len__(self) -> int:
        return int(self.handle[K.T_COUNT])

    def grow(self) -> bool:
        """Doubles the capacity; False when it is at the limit already."""
        with self._lock:
            capacity = int(self.handle[K.T_CAPACITY])
            if capacity >= self.limit:
                return False
            self._move(min(2 * capacity, self.limit))
            return True

    def intern(self, words: tuple) -> int:
        """Key of a context (ids, oldest first; the last CONTEXT_WIDTH count); NO_KEY when
        the table is full at its limit."""
        row = np.full(K.CONTEXT_WIDTH, -1, np.int32)
        words = words[len(words) - K.CONTEXT_WIDTH:] if len(words) > K.CONTEXT_WIDTH else words
        if words:
            row[K.CONTEXT_WIDTH - len(words):] = words
        while True:
            key = int(K.intern_row(self.address, row))
            if key != NO_KEY or not self.grow():
                return key

    def words(self, key: int) -> tuple:
        """The ids of the context with this key, oldest first."""
        with self._lock:
            row = self.rows[key].copy()
        return tuple(int(i) for i in row[row >= 0])


TABLE = ContextTable()


class WordEntry:
    """``call(key, word_id)`` -> (log10, n-gram length, next key) for one local one-shard
    model scored by ``scorer`` (its layout: the decoded trie if it has one, else the
    compressed shard); next key NO_KEY when the table of contexts is full (call
    ``TABLE.grow()`` and again, or fall back). ``None`` from ``for_scorer`` when the
    scorer is not local (it scores by batched lookups)."""

    def __init__(self, table, order: int, vocab, tokenizer: Tokenizer):
        self._keep = []  # the arrays the handle points to
        self.normalize = tokenizer.normalize  # word (str or bytes) -> the UTF-8 bytes the vocabulary holds
        self.lowercase = tokenizer.lowercase  # False: a str's UTF-8 encoding is its normal form
        self.cache = np.full((KENLM_WORD_CACHE_ENTRIES, 4), -1, np.int64)  # (rows: a power of two)
        h = np.zeros(K.M_FIELDS, np.int64)
        if table.decoded is not None:
            words, meta = table.decoded.args
            if words.dtype != np.uint64 or words.ndim != 1 or meta.dtype != np.int64 or meta.ndim != 2:
                raise ModelFormatError("the per-word kernel reads a decoded trie's slots as uint64[:] and its "
                                      f"fields as int64[:, :], not {words.dtype}/{meta.dtype}")
            h[K.M_KIND], h[K.M_A_PTR], h[K.M_A_ROWS] = K.KIND_DECODED, _address(words), len(words)
            h[K.M_B_PTR], h[K.M_B_ROWS], h[K.M_B_COLS] = _address(meta), meta.shape[0], meta.shape[1]
            self._keep += [words, meta]
        else:
            buf, lay = table.data, table.layout
            if buf.dtype != np.uint64 or buf.ndim != 1 or lay.dtype != np.int64 or lay.ndim != 2:
                raise ModelFormatError("the per-word kernel reads a compressed shard's data as uint64[:] and its "
                                      f"layout as int64[:, :], not {buf.dtype}/{lay.dtype}")
            h[K.M_KIND], h[K.M_A_PTR], h[K.M_A_ROWS] = K.KIND_COMPRESSED, _address(buf), len(buf)
            h[K.M_B_PTR], h[K.M_B_ROWS], h[K.M_B_COLS] = _address(lay), lay.shape[0], lay.shape[1]
            self._keep += [buf, lay]
        packed = vocab.packed()
        h[K.M_VOCAB], h[K.M_ORDER] = len(vocab), order
        h[K.M_PACKED_PTR], h[K.M_PACKED_LEN] = _address(packed), len(packed)
        self._keep.append(packed)
        h[K.M_CACHE_PTR], h[K.M_CACHE_ROWS] = _address(self.cache), len(self.cache)
        h[K.M_TABLE_PTR] = TABLE.address
        self.handle = h
        self.address = _address(h)
        K.score(self.address, EMPTY_KEY, BOS_ID)  # loaded (or compiled) now, not on the first word
        K.score_new(self.address, EMPTY_KEY, b"<s>")
        self._entry, self._entry_new = _entry_point(K.score), _entry_point(K.score_new)
        self._address = self.address

    @classmethod
    def for_scorer(cls, scorer: SentenceScorer) -> "WordEntry | None":
        table = local_shard(scorer.backend)
        if table is None or scorer.layout not in ("compressed", "decoded"):
            return None
        # only a shard that the scorer walks with the kernels this entry calls (another
        # layout version has kernels of its own: the scorer's tuple path serves it)
        if getattr(scorer, "_word_kernel", None) not in (word_score_compressed, word_score_decoded):
            return None
        backend = scorer.backend
        tokenizer = Tokenizer.from_manifest(backend.manifest) if isinstance(backend, Model) else backend.tokenizer
        return cls(table, scorer.order, scorer.vocab, tokenizer)

    def call(self, key: int, word_id: int) -> tuple[float, int, int]:
        return self._entry(self._address, key, word_id)

    def call_new(self, key: int, word: str | bytes) -> tuple[float, int, int, int]:
        """call() of a word given as text: (log10, n-gram length, next key, word id)."""
        return self._entry_new(self._address, key, self.normalize(word))

    def bound(self):
        """(call's compiled entry point, call_new's, the handle's address) for a caller that
        inlines the calls: ``entry(address, key, word_id)``, ``entry_new(address, key,
        normalize(word))``."""
        return self._entry, self._entry_new, self._address


def _entry_point(kernel):
    """The compiled function of the kernel's one signature: skips the dispatcher's typing
    of the arguments (callers pass exactly three ints)."""
    try:
        (signature,) = kernel.signatures
        return kernel.overloads[signature].entry_point
    except (AttributeError, KeyError, ValueError):
        return kernel
