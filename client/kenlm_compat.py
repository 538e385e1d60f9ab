"""A drop-in for the ``kenlm`` Python module, over local or sharded remote models.

    import client.kenlm_compat as kenlm      # instead of: import kenlm
    model = kenlm.Model("model_dir")         # or a cluster file, or an ARPA file
    model.score("this is a sentence .", bos=True, eos=True)
    for prob, ngram_length, oov in model.full_scores("this is a sentence ."):
        ...
    state, out = kenlm.State(), kenlm.State()
    model.BeginSentenceWrite(state)
    model.BaseScore(state, "this", out)

For a library that does ``import kenlm`` itself (pyctcdecode, ...), call
``client.kenlm_compat.install()`` before importing it: this module is then ``kenlm``.

Scoring is ngram.sentence_scoring's (KenLM's exact backoff semantics, float32 values as
kenlm returns them): on a local one-shard model a sentence costs one numba call, and so
does a word after a state; elsewhere each costs one batched lookup (through a cluster, a
network round trip: a decoder should ask the batched client API a whole step at once).
``score_batch``/``full_scores_batch`` score many sentences in one lookup.

Layouts (``Config().layout``): ``"compressed"`` scores the mmap-ed shard as stored;
``"decoded"`` first decodes it into a hash table in RAM (~8-10 bytes per n-gram on en-train, ~0.6 s
per million n-grams to open) and scores about twice as fast. The default: decoded for an
ARPA file (read into memory anyway, as kenlm does), compressed for a model directory.

``BaseScore``/``BaseFullScore`` on a local one-shard model are one compiled call with
three ints (ngram.context_states): a State holds its context as a key of a process-wide
table of interned contexts, the word goes as its id (remembered per word; a word's first
call finds it in the same call), and the kernel keeps a cache of (context, word) pairs.
Elsewhere (several shards, a cluster) a new pair is a batched lookup, cached here. States
interoperate: a ``State`` of this module, or any object the caller made with another
``kenlm.State`` class (such as the real module's), tracked by identity while the caller
holds it.

Extensions kenlm lacks (client/kenlm_extensions.py): ``Model.predict_next(state or
text, k)`` and ``Model.complete(text, k, max_words)``, over the model's successor index.

Differences from kenlm: a State keeps the words of the longest n-gram with a probability
that ends at the last word (KenLM further drops words that no longer n-gram extends; the
scores are the same, but two states that KenLM calls equal may compare unequal here).
Where an ARPA file lacks the suffix of one of its n-grams, the reported n-gram length
can be shorter than KenLM's (the probability is the same); see ngram/backoff_scoring.py.
"""
from __future__ import annotations

import os
import sys
import tempfile
import warnings
import weakref
from pathlib import Path
from typing import Iterator, NamedTuple

import numpy as np

from client.policy import CallPolicy
from ngram.arpa import import_arpa, open_compressed
from ngram.backend import open_backend
from ngram.context_states import BAD_KEY, BOS_KEY, EMPTY_KEY, TABLE as CONTEXTS, WordEntry
from ngram.errors import InvalidArgumentError
from ngram.limits import (DEFAULT_COMPLETE_K, DEFAULT_COMPLETE_WORDS, DEFAULT_PREDICT_K,
                          KENLM_WORD_CACHE_ENTRIES)
from ngram.sentence_scoring import SentenceScorer
from ngram.vocab import BOS_ID, UNK_ID

__all__ = ["Model", "LanguageModel", "State", "Config", "FullScoreReturn", "LoadMethod", "ARPALoadComplain",
           "install"]


def install() -> object:
    """Registers this module as ``kenlm`` in ``sys.modules``, so that libraries which
    ``import kenlm`` themselves (pyctcdecode, ...) use it. Call it before importing them:
    a module that imported the real kenlm earlier keeps it (a warning says so)."""
    me = sys.modules[__name__]
    previous = sys.modules.get("kenlm")
    if previous is not None and previous is not me:
        warnings.warn("kenlm was already imported: modules that imported it before install() keep the real "
                      "module; call client.kenlm_compat.install() before importing them", stacklevel=2)
    sys.modules["kenlm"] = me
    return me


class LoadMethod:
    LAZY, POPULATE_OR_LAZY, POPULATE_OR_READ, READ, PARALLEL_READ = range(5)


class ARPALoadComplain:
    ALL, EXPENSIVE, NONE = range(3)


class Config:
    """kenlm's loading options (accepted; a model directory is always mmap-ed), plus
    ``layout``: "compressed", "decoded", or None (decoded for ARPA files only), and
    ``call_timeout``: for a cluster file, the deadline in seconds of each lookup (a
    ``BaseScore`` miss, a sentence, a batch); None for the client's default
    (client.policy.CallPolicy). A call past it raises (a dead server never hangs it)."""

    def __init__(self):
        self.load_method = LoadMethod.LAZY
        self.arpa_complain = ARPALoadComplain.ALL
        self.show_progress = False
        self.layout: str | None = None
        self.call_timeout: float | None = None


class FullScoreReturn(NamedTuple):
    log_prob: float
    ngram_length: int
    oov: bool


class State:
    """The context of the next word: its last words (at most N-1), held as a key of the
    process-wide table of contexts (ngram.context_states), or as a tuple of ids where
    that table is full. A new State is the null context, as kenlm's."""

    __slots__ = ("_ctx",)  # (no __init__: a decoder makes one per call, this costs less)

    @property
    def words(self) -> tuple[int, ...]:
        """The context's ids, oldest first."""
        return _words_of(getattr(self, "_ctx", EMPTY_KEY))

    @words.setter
    def words(self, words) -> None:
        self._ctx = tuple(int(i) for i in words)

    def __eq__(self, other) -> bool:
        return isinstance(other, State) and self.words == other.words

    def __lt__(self, other: "State") -> bool:
        return self.words < other.words

    def __hash__(self) -> int:
        return hash(self.words)

    def __copy__(self) -> "State":
        s = State()
        s._ctx = getattr(self, "_ctx", EMPTY_KEY)
        return s

    def __deepcopy__(self, memo) -> "State":
        return self.__copy__()

    def __repr__(self) -> str:
        return f"State({list(self.words)})"


def _words_of(ctx) -> tuple:
    """A context (a key of the table of contexts, or a tuple of ids) as a tuple of ids."""
    return CONTEXTS.words(ctx) if type(ctx) is int else ctx


class _ForeignStates:
    """Contexts of state objects this module cannot write into (the real kenlm's State
    has no attributes): kept by identity, with a reference so that an id is not reused
    while listed. An entry goes once nobody else holds its state (it cannot be passed
    again), swept when the table has doubled."""

    def __init__(self):
        self._by_id: dict[int, tuple[object, tuple]] = {}
        self._sweep_at = 1024

    def get(self, state) -> tuple:
        entry = self._by_id.get(id(state))
        if entry is None or entry[0] is not state:
            raise TypeError(f"{type(state).__module__}.{type(state).__name__} object was never written by this "
                            "model: call BeginSentenceWrite or NullContextWrite on it first (a copy of a "
                            "state of another kenlm module does not keep its context: use this module's State)")
        return entry[1]

    def set(self, state, words: tuple) -> None:
        self._by_id[id(state)] = (state, words)
        if len(self._by_id) >= self._sweep_at:
            self._sweep()

    def _sweep(self) -> None:
        # refcount 3 = this table's tuple + the loop variable + getrefcount's argument
        for key, (state, _) in list(self._by_id.items()):
            if sys.getrefcount(state) <= 3:
                self._by_id.pop(key, None)
        self._sweep_at = max(1024, 2 * len(self._by_id))


class _BoundedCache(dict):
    """A dict emptied when it reaches its bound: a hit costs one dict read (a beam search
    repeats a pair within a few steps, so an occasional reset costs little). Threads may
    share it: a race only computes a value twice."""

    def __init__(self, entries: int):
        super().__init__()
        self.entries = entries

    def add(self, key, value) -> None:
        if len(self) >= self.entries:
            self.clear()
        self[key] = value


def _is_arpa(path: Path) -> bool:
    try:
        with open_compressed(path) as f:
            head = f.read(4096)
    except OSError:
        return False
    return head.lstrip().startswith(b"\\data\\")


class Model:
    """``Model(path)``: a model directory, a cluster file, or an ARPA file (plain, .gz,
    .zst, .xz; imported into a temporary directory, exact float32 values)."""

    def __init__(self, path: str | os.PathLike | bytes, config: Config | None = None, *, backend=None):
        self.path = os.path.abspath(os.fsencode(path))  # bytes, as kenlm's
        layout = config.layout if config is not None else None
        call_timeout = config.call_timeout if config is not None else None
        self._tmp = None
        if backend is None:
            p = Path(os.fsdecode(path))
            if p.is_file() and _is_arpa(p):
                layout = layout or "decoded"
                self._tmp = tempfile.TemporaryDirectory(prefix="ngram-arpa-")
                weakref.finalize(self, self._tmp.cleanup)
                target = os.path.join(self._tmp.name, "model")
                import_arpa(p, target, num_shards=1, quantization="none")
                backend = open_backend(target)
            elif p.is_file() and call_timeout is not None:  # a cluster file
                backend = open_backend(p, policy=CallPolicy(timeout=call_timeout))
            else:
                backend = open_backend(p)
        self.backend = backend
        self._scorer = SentenceScorer(backend, layout)
        self.layout = self._scorer.layout
        self.order = self._scorer.order
        self.vocab = backend.vocab
        self._word_in_context = self._scorer.word_in_context
        self._in_vocab = _BoundedCache(KENLM_WORD_CACHE_ENTRIES)  # word -> bool
        self._foreign = _ForeignStates()
        # a local one-shard model: one numba call with ints per word (ngram.context_states),
        # its own cache of (context, word) pairs; else a cache here of batched lookups' results
        self._entry = WordEntry.for_scorer(self._scorer)
        self._word_ids = _BoundedCache(KENLM_WORD_CACHE_ENTRIES)  # word as given -> id (local only)
        self._scores = _BoundedCache(KENLM_WORD_CACHE_ENTRIES)  # (context, word) -> _full's (batched only)
        if type(self).BaseScore is Model.BaseScore:  # (a subclass's override wins)
            self.BaseScore = self._base_score()

    # -- vocabulary
    def __contains__(self, word: str | bytes) -> bool:
        known = self._in_vocab.get(word)
        if known is None:
            known = self.index(word) != UNK_ID
            self._in_vocab.add(word, known)
        return known

    def index(self, word: str | bytes) -> int:
        """Id of a word; 0 (``<unk>``) when it is not in the vocabulary."""
        return self._scorer.word_id(word)

    def word(self, i: int) -> str:
        return self.vocab.word(i)

    def words(self) -> Iterator[str]:
        """Every word of the vocabulary, by id (0-2: <unk>, <s>, </s>)."""
        return (self.vocab.word_bytes(i).decode("utf-8", "surrogateescape") for i in range(len(self.vocab)))

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    # -- states
    def _write(self, state, ctx) -> None:
        try:
            state._ctx = ctx
        except AttributeError:  # another module's State (the real kenlm's has no attributes)
            self._foreign.set(state, ctx)

    def _context(self, state):
        """The context a state holds (a key of the table of contexts, or a tuple of ids)."""
        try:
            return state._ctx
        except AttributeError:
            if isinstance(state, State):
                return EMPTY_KEY  # never written: the null context, as kenlm's new State
            return self._foreign.get(state)

    def BeginSentenceWrite(self, state) -> None:
        self._write(state, BOS_KEY)

    def NullContextWrite(self, state) -> None:
        self._write(state, EMPTY_KEY)

    def _full(self, ctx, word: str | bytes) -> tuple:
        """(log10, n-gram length, word id, next context) of word after the context ctx."""
        entry = self._entry
        if entry is None:  # batched lookups: cached here
            key = (ctx, word)
            hit = self._scores.get(key)
            if hit is None:
                hit = self._word_in_context(_words_of(ctx), word)
                self._scores.add(key, hit)
            return hit
        wid = self._word_ids.get(word)
        if type(ctx) is int:
            while True:
                if wid is None:  # the word's first time: its id found and scored in one call
                    log10, length, nxt, wid = entry.call_new(ctx, word)
                    self._word_ids.add(word, wid)
                else:
                    log10, length, nxt = entry.call(ctx, wid)
                if nxt >= 0:
                    return log10, length, wid, nxt
                if nxt == BAD_KEY:
                    raise InvalidArgumentError(f"the state holds context key {ctx}, which no model wrote")
                if not CONTEXTS.grow():
                    break  # the table is full: this context as a tuple, by the scorer
        log10, length, wid, nxt = self._word_in_context(_words_of(ctx), word)
        return log10, length, wid, nxt

    def BaseFullScore(self, in_state, word: str | bytes, out_state) -> FullScoreReturn:
        log10, length, wid, nxt = self._full(self._context(in_state), word)
        self._write(out_state, nxt)
        return FullScoreReturn(log10, length, wid == UNK_ID)

    def BaseScore(self, in_state, word: str | bytes, out_state) -> float:
        log10, _, _, nxt = self._full(self._context(in_state), word)
        self._write(out_state, nxt)
        return log10

    def _base_score(self):
        """BaseScore as a closure: a decoder calls it ~400-2,700 times an utterance, one
        word at a time, so the common case (a local model, a context key, a known word)
        is one compiled call with three ints and no attribute reads (each read costs ~5%
        of kenlm's whole call); anything else goes through _full."""
        full, context, write = self._full, self._context, self._write
        if self._entry is None:
            def BaseScore(in_state, word, out_state):
                hit = full(context(in_state), word)
                write(out_state, hit[3])
                return hit[0]
        else:
            call, call_new, address = self._entry.bound()
            normalize, word_ids = self._entry.normalize, self._word_ids
            known, limit = word_ids.get, word_ids.entries
            if not self._entry.lowercase:  # a str's UTF-8 is its normal form: skip a call
                def normalize(word, slow=normalize):
                    if word.__class__ is str:
                        try:
                            return word.encode()
                        except UnicodeEncodeError:
                            pass  # (a lone surrogate: the tokenizer's error)
                    return slow(word)

            def BaseScore(in_state, word, out_state):
                try:
                    ctx = in_state._ctx
                except AttributeError:
                    ctx = context(in_state)
                if ctx.__class__ is int:
                    wid = known(word)
                    if wid is not None:
                        log10, _, nxt = call(address, ctx, wid)
                    else:  # the word's first time: its id found and scored in one call
                        log10, _, nxt, wid = call_new(address, ctx, normalize(word))
                        if len(word_ids) >= limit:
                            word_ids.clear()
                        word_ids[word] = wid
                    if nxt >= 0:
                        try:
                            out_state._ctx = nxt
                        except AttributeError:
                            write(out_state, nxt)
                        return log10
                hit = full(ctx, word)
                write(out_state, hit[3])
                return hit[0]

        BaseScore.__doc__ = Model.BaseScore.__doc__
        return BaseScore

    # -- sentences
    def full_scores(self, sentence: str | bytes, bos: bool = True, eos: bool = True
                    ) -> Iterator[tuple[float, int, bool]]:
        """(log10 prob, n-gram length, oov) of each word, then of ``</s>`` if eos."""
        return zip(*self._scorer.full_scores(sentence, bos, eos))

    def score(self, sentence: str | bytes, bos: bool = True, eos: bool = True) -> float:
        return self._scorer.score(sentence, bos, eos)

    def perplexity(self, sentence: str | bytes) -> float:
        words = self._scorer.count_words(sentence) + 1  # </s>
        return 10.0 ** (-self.score(sentence) / words)

    # -- batches (not in kenlm): many sentences, one lookup
    def full_scores_batch(self, sentences: list, bos: bool = True, eos: bool = True
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(prob float32[W], ngram_length int32[W], oov bool[W], offsets int64[S+1]):
        the words of sentence i are [offsets[i], offsets[i+1])."""
        return self._scorer.full_scores_batch(sentences, bos, eos)

    def score_batch(self, sentences: list, bos: bool = True, eos: bool = True) -> np.ndarray:
        return self._scorer.score_batch(sentences, bos, eos)

    # -- extensions (not in kenlm): prediction and completion (client/kenlm_extensions.py)
    def predict_next(self, context, k: int = DEFAULT_PREDICT_K, prefix: str | bytes | None = None,
                     min_score: float | None = None) -> list:
        """Extension (kenlm has no such call): the k most probable next words after
        ``context``, best first, as ``Prediction(word, log10)``. ``context``: a State
        this model wrote (BeginSentenceWrite, BaseScore, ...), or a text (its words after
        <s>). ``prefix`` keeps the words that start with it (a partly typed word);
        ``min_score`` drops words scored below it. Needs the successor index."""
        from client.kenlm_extensions import predict_next
        return predict_next(self, context, k, prefix, min_score)

    def complete(self, text: str | bytes, k: int = DEFAULT_COMPLETE_K, max_words: int = DEFAULT_COMPLETE_WORDS,
                 prefix: str | bytes | None = None) -> list:
        """Extension (kenlm has no such call): the k most probable completions of
        ``text`` of 1..max_words words (ngram.complete.Completion: words, log10, ended),
        as client.Client.complete. Needs the successor index."""
        return self._extensions().complete(text, k, max_words, prefix)

    def context_ids(self, state) -> tuple[int, ...]:
        """Extension: the ids of the words a State holds (oldest first)."""
        return _words_of(self._context(state))

    def imported_dir(self) -> str | None:
        """The model directory an ARPA file was imported into (None for anything else)."""
        return None if self._tmp is None else os.path.join(self._tmp.name, "model")

    def _extensions(self):
        ext = self.__dict__.get("_ext")
        if ext is None:
            from client.kenlm_extensions import Extensions
            ext = self.__dict__.setdefault("_ext", Extensions(self))
        return ext

    def __repr__(self) -> str:
        return f"<Model from {self.path!r}, order {self.order}>"


LanguageModel = Model
