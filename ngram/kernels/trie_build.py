"""Kernels the writer uses to turn sorted n-gram arrays into trie levels."""
from __future__ import annotations

import numpy as np
from numba import njit

from .bits import JIT


@njit(**JIT)
def _cmp_rev(a, ai, b, bi, k):
    """Compare row a[ai, off_a:] and b[bi, :] in reversed-lexicographic order (last column
    first); a's row is taken from column 1 (its suffix). Returns -1, 0, 1."""
    for c in range(k - 1, -1, -1):
        x = a[ai, c + 1]
        y = b[bi, c]
        if x < y:
            return -1
        if x > y:
            return 1
    return 0


@njit(**JIT)
def parent_indices(child, parent):
    """Index in `parent` (level k-1) of each child's suffix (w2..wk); -1-j marks the
    first orphan j. Both arrays are sorted in reversed-lexicographic order."""
    n = child.shape[0]
    k1 = parent.shape[1]
    out = np.empty(n, np.int64)
    p = 0
    for j in range(n):
        while p < parent.shape[0] and _cmp_rev(child, j, parent, p, k1) > 0:
            p += 1
        if p >= parent.shape[0] or _cmp_rev(child, j, parent, p, k1) != 0:
            return out, j
        out[j] = p
    return out, -1


@njit(**JIT)
def first_unsorted(grams):
    """Index of the first row not strictly greater (reversed-lex) than its predecessor;
    -1 if the array is sorted and unique."""
    n, k = grams.shape
    for j in range(1, n):
        c = 0
        for col in range(k - 1, -1, -1):
            if grams[j, col] != grams[j - 1, col]:
                c = 1 if grams[j, col] > grams[j - 1, col] else -1
                break
        if c <= 0:
            return j
    return -1
