"""Numba kernel of the error model: log10 P(typed | intended) of many word pairs at once.

The best (Viterbi) alignment of intended -> typed under weighted edits, each a log10
probability (error_model.py names them and says where they come from):

    W[SUB_ADJ | SUB_VOWEL | SUB_OTHER]  substitution: keyboard neighbour, vowel for vowel, other
    W[TRANSPOSE]                        two adjacent letters swapped
    W[DEL_DOUBLE | DEL_OTHER]           an intended letter not typed: one of a doubled pair, other
    W[INS_DOUBLE | INS_ADJ | INS_OTHER] an extra typed letter: repeating its neighbour,
                                        a keyboard neighbour of a typed neighbour, other
    W[FIRST]                            added to an edit at the word's first letter

Characters are classes: 0-25 for a-z (the caller lowercases), 26 for anything else.
`error_model.reference_log10` is the same recurrence in plain Python (the tests' oracle).
"""
from __future__ import annotations

import numpy as np
from numba import njit

SUB_ADJ, SUB_VOWEL, SUB_OTHER, TRANSPOSE, DEL_DOUBLE, DEL_OTHER, INS_DOUBLE, INS_ADJ, INS_OTHER, FIRST = range(10)
NUM_WEIGHTS = 10
OTHER_CLASS = 26


@njit(nogil=True, cache=True)
def char_class(c):
    if 97 <= c <= 122:
        return c - 97
    return 26


@njit(nogil=True, cache=True)
def _sub(x, y, adj, vowel, w):
    cx = char_class(x)
    cy = char_class(y)
    if adj[cx, cy]:
        return w[SUB_ADJ]
    if vowel[cx] and vowel[cy]:
        return w[SUB_VOWEL]
    return w[SUB_OTHER]


@njit(nogil=True, cache=True)
def pair_log10(a, alo, ahi, b, blo, bhi, adj, vowel, w, D):
    """Best log10 P(b typed | a intended); D: scratch of at least (n+1)*(m+1) floats."""
    n = ahi - alo
    m = bhi - blo
    cols = m + 1
    D[0] = 0.0
    for i in range(n + 1):
        for j in range(m + 1):
            if i == 0 and j == 0:
                continue
            best = -np.inf
            first = w[FIRST] if i <= 1 else 0.0
            if i > 0 and j > 0:
                x = a[alo + i - 1]
                y = b[blo + j - 1]
                v = D[(i - 1) * cols + j - 1] + (0.0 if x == y else _sub(x, y, adj, vowel, w) + first)
                if v > best:
                    best = v
            if i > 0:
                x = a[alo + i - 1]
                double = (i >= 2 and a[alo + i - 2] == x) or (i < n and a[alo + i] == x)
                v = D[(i - 1) * cols + j] + (w[DEL_DOUBLE] if double else w[DEL_OTHER]) + first
                if v > best:
                    best = v
            if j > 0:
                y = b[blo + j - 1]
                if (j >= 2 and b[blo + j - 2] == y) or (j < m and b[blo + j] == y):
                    c = w[INS_DOUBLE]
                elif ((j >= 2 and adj[char_class(b[blo + j - 2]), char_class(y)])
                      or (j < m and adj[char_class(b[blo + j]), char_class(y)])):
                    c = w[INS_ADJ]
                else:
                    c = w[INS_OTHER]
                v = D[i * cols + j - 1] + c + (w[FIRST] if i == 0 else 0.0)
                if v > best:
                    best = v
            if (i >= 2 and j >= 2 and a[alo + i - 1] == b[blo + j - 2] and a[alo + i - 2] == b[blo + j - 1]
                    and a[alo + i - 1] != a[alo + i - 2]):
                v = D[(i - 2) * cols + j - 2] + w[TRANSPOSE] + (w[FIRST] if i == 2 else 0.0)
                if v > best:
                    best = v
            D[i * cols + j] = best
    return D[n * cols + m]


@njit(nogil=True, cache=True)
def pairs_log10(tchars, toffsets, ichars, ioffsets, typed_index, intended_index, adj, vowel, w):
    """float64[P]: log10 P(typed[typed_index[p]] | intended[intended_index[p]])."""
    npairs = len(typed_index)
    out = np.empty(npairs, np.float64)
    longest = 1
    for t in range(len(toffsets) - 1):
        longest = max(longest, toffsets[t + 1] - toffsets[t])
    longest_i = 1
    for p in range(npairs):
        k = intended_index[p]
        longest_i = max(longest_i, ioffsets[k + 1] - ioffsets[k])
    D = np.empty((longest + 1) * (longest_i + 1), np.float64)
    for p in range(npairs):
        t = typed_index[p]
        k = intended_index[p]
        out[p] = pair_log10(ichars, ioffsets[k], ioffsets[k + 1], tchars, toffsets[t], toffsets[t + 1],
                            adj, vowel, w, D)
    return out
