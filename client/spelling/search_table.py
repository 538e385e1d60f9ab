"""`PairTable`: the (state, word) -> log10 answers one spelling search has, and an
estimate for the pairs it has not asked yet.

The search (search.py) runs its beam search locally over this table; a pair it does not
hold is scored by an estimate (the best log10 the table holds for the same word in any
context: optimistic, so hypotheses that need unasked pairs tend to survive and get those
pairs asked in the next round) and reported as pending. Sorted numpy arrays, not a dict:
a lookup of a whole step is one `searchsorted`.
"""
from __future__ import annotations

import numpy as np

_WORD_BITS = 32
UNSEEN_WORD_ESTIMATE = 0.0  # a word no pair of the table has: log10 p <= 0, the optimistic bound


class PairTable:

    def __init__(self):
        self.keys = np.zeros(0, np.int64)
        self.vals = np.zeros(0)
        self.est_words = np.zeros(0, np.int64)
        self.est_vals = np.zeros(0)

    def __len__(self) -> int:
        return len(self.keys)

    def add(self, states: np.ndarray, words: np.ndarray, log10: np.ndarray) -> None:
        """Hold these answers (pairs already held are kept as they were)."""
        keys = (np.asarray(states, np.int64) << _WORD_BITS) | np.asarray(words, np.int64)
        allk = np.concatenate([self.keys, keys])
        allv = np.concatenate([self.vals, np.asarray(log10, np.float64)])
        uniq, first = np.unique(allk, return_index=True)
        self.keys, self.vals = uniq, allv[first]
        w = self.keys & ((1 << _WORD_BITS) - 1)
        o = np.lexsort((-self.vals, w))
        ws = w[o]
        head = np.ones(len(o), bool)
        head[1:] = ws[1:] != ws[:-1]
        self.est_words, self.est_vals = ws[head], self.vals[o][head]

    def get(self, states: np.ndarray, words: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(log10 of each pair: the answer, or the estimate when not held; held mask)."""
        words = np.asarray(words, np.int64)
        keys = (np.asarray(states, np.int64) << _WORD_BITS) | words
        out = np.empty(len(keys))
        held = np.zeros(len(keys), bool)
        if len(self.keys):
            i = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
            held = self.keys[i] == keys
            out[held] = self.vals[i[held]]
        miss = np.flatnonzero(~held)
        if len(miss):
            out[miss] = UNSEEN_WORD_ESTIMATE
            if len(self.est_words):
                j = np.minimum(np.searchsorted(self.est_words, words[miss]), len(self.est_words) - 1)
                seen = self.est_words[j] == words[miss]
                out[miss[seen]] = self.est_vals[j[seen]]
        return out, held
