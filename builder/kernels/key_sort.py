"""The permutation that sorts rows of n-gram keys: numpy sorts their top bits, these
kernels finish the rows that tie (a most-significant-digit radix sort)."""
from __future__ import annotations

import numpy as np
from numba import njit

from . import INLINE, JIT

_SMALL = 16  # tie groups up to this size are insertion-sorted


@njit(**INLINE)
def window(keys, r, a, w):
    """Bits [a, a + w) of row r as an integer (1 <= w <= 64; bits past the end are 0)."""
    j = a // 64
    o = a % 64
    x = keys[r, j] << np.uint64(o)
    if o > 0 and j + 1 < keys.shape[1]:
        x |= keys[r, j + 1] >> np.uint64(64 - o)
    if w == 64:
        return x
    return x >> np.uint64(64 - w)


@njit(**INLINE)
def _less(keys, i, j):
    for c in range(keys.shape[1]):
        if keys[i, c] != keys[j, c]:
            return keys[i, c] < keys[j, c]
    return False


@njit(**INLINE)
def _bit_length(x):
    n = 0
    while x > 0:
        n += 1
        x >>= 1
    return n


@njit(**JIT)
def finish_sort(keys, packed, idx_bits, total_bits):
    """Permutation sorting the rows of `keys`, given `packed` sorted: per row, its top
    (64 - idx_bits) key bits above its row number. Groups that tie on those bits are
    sorted the same way on their next bits, and so on (a most-significant-digit radix
    sort whose digits are as wide as a uint64 allows)."""
    n = packed.shape[0]
    mask = (np.uint64(1) << np.uint64(idx_bits)) - np.uint64(1)
    perm = np.empty(n, np.int64)
    for i in range(n):
        perm[i] = np.int64(packed[i] & mask)
    first = 64 - idx_bits
    if first >= total_bits:
        return perm
    # explicit stack of tie groups (lo, hi, bit offset still to sort on)
    stack = [(0, 0, 0)]
    stack.pop()
    sh = np.uint64(idx_bits)
    lo = 0
    while lo < n:
        hi = lo + 1
        while hi < n and (packed[hi] >> sh) == (packed[lo] >> sh):
            hi += 1
        if hi - lo > 1:
            stack.append((lo, hi, first))
        lo = hi
    tmp = np.empty(0, np.uint64)
    seg = np.empty(0, np.int64)
    while len(stack) > 0:
        lo, hi, a = stack.pop()
        m = hi - lo
        if m <= _SMALL:
            for i in range(lo + 1, hi):
                v = perm[i]
                j = i - 1
                while j >= lo and _less(keys, v, perm[j]):
                    perm[j + 1] = perm[j]
                    j -= 1
                perm[j + 1] = v
            continue
        ib = _bit_length(m - 1)
        w = 64 - ib
        if tmp.shape[0] < m:
            tmp = np.empty(m, np.uint64)
            seg = np.empty(m, np.int64)
        lmask = (np.uint64(1) << np.uint64(ib)) - np.uint64(1)
        for i in range(m):
            tmp[i] = (window(keys, perm[lo + i], a, w) << np.uint64(ib)) | np.uint64(i)
        vals = np.sort(tmp[:m])
        for i in range(m):
            seg[i] = perm[lo + np.int64(vals[i] & lmask)]
        perm[lo:hi] = seg[:m]
        if a + w >= total_bits:
            continue
        s = 0
        while s < m:
            e = s + 1
            while e < m and (vals[e] >> np.uint64(ib)) == (vals[s] >> np.uint64(ib)):
                e += 1
            if e - s > 1:
                stack.append((lo + s, lo + e, a + w))
            s = e
    return perm
