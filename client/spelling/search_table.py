"""`PairTable`: the (state, word) -> log10 answers one spelling search has, and an
estimate for the pairs it has not asked yet.

The search (search.py) runs its beam search locally over this table; a pair it does not
hold is scored by an estimate and reported as pending. The estimate of (context, word)
is the best answer held for the same word after the longest suffix of the context that
some held pair shares (the last 3 words, else 2, else 1), else for the word in any
context, else 0 (log10 p <= 0): close to the answer, since a backed-off n-gram model's
answer depends mostly on the last words, and never below the held answers it stands
for, so hypotheses that need unasked pairs tend to survive and get them asked. Sorted
numpy arrays, not dicts: a lookup of a whole step is a few `searchsorted`.
"""
from __future__ import annotations

import numpy as np

_WORD_BITS = 32
UNSEEN_WORD_ESTIMATE = 0.0  # a word no pair of the table has: log10 p <= 0, the optimistic bound
_PRIME, _MIX = np.uint64(0x100000001B3), np.uint64(0xFF51AFD7ED558CCD)


def _suffix_keys(rows: np.ndarray, lens: np.ndarray, words: np.ndarray, k: int) -> np.ndarray:
    """A 64-bit key of (the last k words of each context (all of a shorter one), word).
    A collision only changes an estimate, never an answer."""
    h = (np.minimum(lens, k).astype(np.uint64) + np.uint64(1)) * _MIX
    for j in range(k):
        col = lens - k + j
        w = np.where(col >= 0, rows[np.arange(len(rows)), np.maximum(col, 0)], -1)
        h = (h ^ (w.astype(np.int64) + 2).astype(np.uint64)) * _PRIME
    h = (h ^ words.astype(np.uint64)) * _MIX
    h ^= h >> np.uint64(29)
    return h.view(np.int64)


def _best_per_key(keys: np.ndarray, vals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    o = np.lexsort((-vals, keys))
    ks = keys[o]
    head = np.ones(len(o), bool)
    head[1:] = ks[1:] != ks[:-1]
    return ks[head], vals[o][head]


def _find(keys: np.ndarray, vals: np.ndarray, want: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if len(keys) == 0:
        return np.zeros(len(want), bool), np.zeros(len(want))
    i = np.minimum(np.searchsorted(keys, want), len(keys) - 1)
    hit = keys[i] == want
    return hit, vals[i]


class PairTable:
    """`context_rows(states) -> (rows int[N, W] left-aligned, lens int[N])` names the
    contexts of states (the engine's). `estimates=False`: no estimates are kept (a
    missing pair scores UNSEEN_WORD_ESTIMATE)."""

    def __init__(self, context_rows, width: int, estimates: bool = True):
        self.context_rows, self.width, self.estimates = context_rows, int(width), estimates
        self.keys = np.zeros(0, np.int64)
        self.vals = np.zeros(0)
        self.states = np.zeros(0, np.int64)
        # estimates: per suffix length k (1..width-1) and 0 (the word alone): keys, values
        self.est: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def __len__(self) -> int:
        return len(self.keys)

    def add(self, states: np.ndarray, words: np.ndarray, log10: np.ndarray) -> None:
        """Hold these answers (pairs already held are kept as they were)."""
        keys = (np.asarray(states, np.int64) << _WORD_BITS) | np.asarray(words, np.int64)
        allk = np.concatenate([self.keys, keys])
        allv = np.concatenate([self.vals, np.asarray(log10, np.float64)])
        self.keys, first = np.unique(allk, return_index=True)
        self.vals = allv[first]
        if not self.estimates:  # an eager search asks before it looks: no estimate is used
            return
        st = self.keys >> _WORD_BITS
        w = self.keys & ((1 << _WORD_BITS) - 1)
        self.est = {0: _best_per_key(w, self.vals)}
        if self.width > 1:
            rows, lens = self.context_rows(st)
            for k in range(1, self.width):
                self.est[k] = _best_per_key(_suffix_keys(rows, lens, w, k), self.vals)

    def get(self, states: np.ndarray, words: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(log10 of each pair: the answer, or the estimate when not held; held mask)."""
        states = np.asarray(states, np.int64)
        words = np.asarray(words, np.int64)
        held, out = _find(self.keys, self.vals, (states << _WORD_BITS) | words)
        out = out.copy()
        miss = np.flatnonzero(~held)
        if len(miss):
            out[miss] = UNSEEN_WORD_ESTIMATE
            todo = np.ones(len(miss), bool)
            rows = lens = None
            for k in range(self.width - 1, -1, -1):
                if k not in self.est or not todo.any():
                    continue
                m = miss[todo]
                if k:
                    if rows is None:
                        rows, lens = self.context_rows(states[miss])
                    t = np.flatnonzero(todo)
                    want = _suffix_keys(rows[t], lens[t], words[m], k)
                else:
                    want = words[m]
                hit, v = _find(*self.est[k], want)
                out[m[hit]] = v[hit]
                todo[np.flatnonzero(todo)[hit]] = False
        return out, held
