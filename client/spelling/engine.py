"""`ArrayLMEngine`: client.beam.LMEngine with whole-array state interning and cache.

The spelling search hands the engine some thousand (state, word) pairs per sentence; the
base engine interns each next context and caches each answer with a Python call per
pair (~20 us), ten times the model's own lookup. Here contexts are rows of a numpy
matrix (left-aligned word ids, -1 past the end), interned through one dict keyed by a
64-bit row hash (checked against the stored row) with C-level `map`, and answers sit in
numpy arrays indexed through one dict from the pair key: a round costs a few
whole-array operations plus one dict probe per distinct pair. `scores` answers without
naming next states (the search names them itself with `next_states`); `extend` names
them when first asked. Same answers, same states and same `rounds` accounting as
LMEngine (tests/test_spell_search.py runs the search on both). Answers are dropped when
more than `cache_pairs` are held; states when `trim` (between searches) finds more than
that. No prefetch.
"""
from __future__ import annotations

from itertools import repeat

import numpy as np

from client.beam import LMEngine, as_client
from ngram.limits import DECODER_LM_CACHE_PAIRS
from ngram.vocab import BOS_ID

_WORD_BITS = 32
_FNV_OFFSET, _FNV_PRIME = np.uint64(0xCBF29CE484222325), np.uint64(0x100000001B3)
_MIX = np.uint64(0xFF51AFD7ED558CCD)


def _row_hash(rows: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each int32 row (FNV-1a over the words, then a final mix)."""
    h = np.full(len(rows), _FNV_OFFSET, np.uint64)
    for j in range(rows.shape[1]):
        h = (h ^ (rows[:, j].astype(np.int64) + 1).astype(np.uint64)) * _FNV_PRIME
    h ^= h >> np.uint64(33)
    h *= _MIX
    h ^= h >> np.uint64(33)
    return h.view(np.int64)


class ArrayLMEngine(LMEngine):

    def __init__(self, lm, *, cache_pairs: int = DECODER_LM_CACHE_PAIRS, float32: bool | None = None):
        client = as_client(lm)
        self._start_afresh(max(int(client.order) - 1, 1))
        self.capped_sentences = 0  # sentences a search decided with estimates left (search.py; the Speller counts)
        super().__init__(client, cache_pairs=cache_pairs, float32=float32)  # interns NULL_STATE, START_STATE

    def _start_afresh(self, W: int) -> None:
        self._rows = np.full((1024, W), -1, np.int32)
        self._lens = np.zeros(1024, np.int32)
        self._row_index: dict = {}  # row hash (or, after a collision, row bytes) -> state
        self._hashed = True
        self._n_states = 0
        self._slot: dict[int, int] = {}
        self._next_memo: dict[int, int] = {}  # (state << 32 | word) -> next state
        self._c_log10 = np.zeros(1024)
        self._c_next = np.zeros(1024, np.int64)
        self._c_state = np.zeros(1024, np.int64)
        self._c_word = np.zeros(1024, np.int64)

    def trim(self) -> None:
        """Forget every state and answer once more than `cache_pairs` states are named
        (states, unlike answers, are not dropped mid-search: hypotheses hold them). Call
        between searches only: earlier state ids are void afterwards."""
        if self._n_states > self.cache_pairs:
            self._start_afresh(self._rows.shape[1])
            self.intern(())
            if self.width:
                self.intern((BOS_ID,))

    # -- states ------------------------------------------------------------------------
    def intern(self, context: tuple[int, ...]) -> int:
        row = np.full((1, self._rows.shape[1]), -1, np.int32)
        width = int(self.client.order) - 1
        if width > 0:
            ctx = tuple(context)[-width:]
            row[0, :len(ctx)] = ctx
        return int(self._intern_rows(row)[0])

    def intern_many(self, contexts: list[tuple[int, ...]]) -> np.ndarray:
        """The states of many contexts (each cut to its last order-1 words) at once."""
        rows = np.full((len(contexts), self._rows.shape[1]), -1, np.int32)
        width = int(self.client.order) - 1
        if width > 0:
            for i, ctx in enumerate(contexts):
                ctx = ctx[-width:]
                rows[i, :len(ctx)] = ctx
        return self._intern_rows(rows) if len(contexts) else np.zeros(0, np.int64)

    def context(self, state: int) -> tuple[int, ...]:
        return tuple(self._rows[state, :self._lens[state]].tolist()) if self.width else ()

    def context_rows(self, states) -> tuple[np.ndarray, np.ndarray]:
        """The contexts of states: left-aligned word-id rows (-1 past the end), lengths."""
        states = np.asarray(states, np.int64)
        return self._rows[states].astype(np.int64), self._lens[states].astype(np.int64)

    def next_states(self, states, words) -> np.ndarray:
        """The state after each (state, word), without the model. Pairs named before come
        from a dict (the few-round search names the same pairs in every pass)."""
        states = np.asarray(states, np.int64)
        if not self.width:
            return np.zeros(len(states), np.int64)
        words = np.asarray(words, np.int64)
        keys = ((states << _WORD_BITS) | words).tolist()
        got = np.fromiter(map(self._next_memo.get, keys, repeat(-1)), np.int64, len(keys))
        miss = np.flatnonzero(got < 0)
        if len(miss):
            got[miss] = self._name_next(states[miss], words[miss])
            if len(self._next_memo) > self.cache_pairs:
                self._next_memo.clear()
            self._next_memo.update(zip([keys[i] for i in miss.tolist()], got[miss].tolist()))
        return got

    def _name_next(self, states: np.ndarray, words: np.ndarray) -> np.ndarray:
        rows = self._rows[states].copy()
        lens = self._lens[states]
        w = np.asarray(words, np.int32)
        full = lens == self.width
        rows[full, :-1] = rows[full, 1:]
        rows[full, -1] = w[full]
        part = np.flatnonzero(~full)
        rows[part, lens[part]] = w[part]
        return self._intern_rows(rows)

    def _intern_rows(self, rows: np.ndarray) -> np.ndarray:
        """The state of each context row, new rows getting new states. Rows are keyed by
        a 64-bit hash (numbers, not bytes: a fast np.unique and dict probe); every hit is
        checked against the stored row, and a collision (never seen; ~n^2 / 2^65) turns
        the engine to exact byte keys for good."""
        rows = np.ascontiguousarray(rows, np.int32)
        if self._hashed:
            keys = _row_hash(rows)
            uniq, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
            inverse = inverse.ravel()
            if np.array_equal(rows, rows[first[inverse]]):
                sids = self._lookup(rows, uniq.tolist(), first)
                if sids is not None:
                    return sids[inverse]
            self._to_byte_keys()
        keys = rows.view(np.dtype((np.void, rows.shape[1] * 4))).ravel()
        uniq, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        return self._lookup(rows, [bytes(k) for k in uniq.tolist()], first)[inverse.ravel()]

    def _lookup(self, rows: np.ndarray, keys: list, first: np.ndarray) -> np.ndarray | None:
        sids = np.fromiter(map(self._row_index.get, keys, repeat(-1)), np.int64, len(keys))
        hit = np.flatnonzero(sids >= 0)
        if self._hashed and len(hit) and not np.array_equal(self._rows[sids[hit]], rows[first[hit]]):
            return None  # a hash collision
        new = np.flatnonzero(sids < 0)
        if len(new):
            ids = np.arange(self._n_states, self._n_states + len(new))
            while self._n_states + len(new) > len(self._lens):
                self._rows = np.concatenate([self._rows, np.full_like(self._rows, -1)])
                self._lens = np.concatenate([self._lens, np.zeros_like(self._lens)])
            src = rows[first[new]]
            self._rows[ids] = src
            self._lens[ids] = (src >= 0).sum(axis=1)
            self._row_index.update(zip([keys[i] for i in new.tolist()], ids.tolist()))
            self._n_states += len(new)
            sids[new] = ids
        return sids

    def _to_byte_keys(self) -> None:
        self._hashed = False
        rows = np.ascontiguousarray(self._rows[:self._n_states])
        blobs = rows.view(np.dtype((np.void, rows.shape[1] * 4))).ravel().tolist()
        self._row_index = {bytes(b): i for i, b in enumerate(blobs)}

    # -- rounds ------------------------------------------------------------------------
    def extend(self, states, words) -> tuple[np.ndarray, np.ndarray]:
        slots = self._slots(states, words)
        todo = np.flatnonzero(self._c_next[slots] < 0)
        if len(todo):  # answered by `scores`, which names no next states
            s = np.unique(slots[todo])
            self._c_next[s] = self.next_states(self._c_state[s], self._c_word[s])
        return self._c_log10[slots], self._c_next[slots]

    def scores(self, states, words) -> np.ndarray:
        """log10 p(word | state) of each pair: `extend` without the next states (a caller
        that names them itself, with `next_states`, saves interning them twice)."""
        slots = self._slots(states, words)  # first: it may grow the arrays
        return self._c_log10[slots]

    def _slots(self, states, words) -> np.ndarray:
        """The cache slot of each pair, asking the model in one round for the missing."""
        states = np.asarray(states, np.int64)
        words = np.asarray(words, np.int64)
        self.pairs_seen += len(states)
        if len(states) == 0:
            return np.zeros(0, np.int64)
        keys, inverse = np.unique((states << _WORD_BITS) | words, return_inverse=True)
        slots = np.fromiter(map(self._slot.get, keys.tolist(), repeat(-1)), np.int64, len(keys))
        miss = np.flatnonzero(slots < 0)
        if len(miss):
            if len(self._slot) + len(miss) > self.cache_pairs:
                self._slot.clear()
                slots[:] = -1
                miss = np.arange(len(keys))
            slots[miss] = self._ask_array(keys[miss])
        return slots[inverse.ravel()]

    def _ask_array(self, keys: np.ndarray) -> np.ndarray:
        st = keys >> _WORD_BITS
        w = keys & ((1 << _WORD_BITS) - 1)
        ctx = np.maximum(self._rows[st, :max(self.width, 1)], 0)
        got, _ = self.client.scorer.score_pairs(ctx[:, :self.width] if self.width else ctx[:, :0],
                                                self._lens[st], w.astype(np.int32))
        got = np.asarray(got, np.float64)
        if self.float32:
            got = got.astype(np.float32).astype(np.float64)
        self.rounds += 1
        self.pairs_asked += len(keys)
        n = len(self._slot)
        slots = np.arange(n, n + len(keys))
        while n + len(keys) > len(self._c_log10):
            self._c_log10 = np.concatenate([self._c_log10, np.zeros_like(self._c_log10)])
            self._c_next = np.concatenate([self._c_next, np.zeros_like(self._c_next)])
            self._c_state = np.concatenate([self._c_state, np.zeros_like(self._c_state)])
            self._c_word = np.concatenate([self._c_word, np.zeros_like(self._c_word)])
        self._c_log10[slots] = got
        self._c_next[slots] = -1  # named when `extend` first needs it
        self._c_state[slots], self._c_word[slots] = st, w
        self._slot.update(zip(keys.tolist(), slots.tolist()))
        return slots

    def prefetch(self, states, words) -> None:
        """Does nothing here: the spelling search asks each step's pairs when it needs them."""

    def drain(self, timeout: float | None = None) -> None:
        pass
