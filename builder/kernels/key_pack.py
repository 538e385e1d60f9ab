"""Packing k-gram windows of word ids into keys, unpacking keys, the suffix test
(layout: see builder.kernels)."""
from __future__ import annotations

import numpy as np
from numba import njit

from . import INLINE, JIT


@njit(**INLINE)
def _put(keys, r, a, bits, v):
    """Write word v (bits wide) at bit offset a of row r."""
    j = a // 64
    o = a % 64
    v = np.uint64(v)
    if o + bits <= 64:
        keys[r, j] |= v << np.uint64(64 - o - bits)
    else:
        keys[r, j] |= v >> np.uint64(o + bits - 64)
        keys[r, j + 1] |= v << np.uint64(128 - o - bits)


@njit(**JIT)
def window_keys(ids, offsets, k, bits, limbs):
    """Keys of every window of length k inside each sentence ids[offsets[s]:offsets[s+1]]."""
    n = 0
    for s in range(offsets.shape[0] - 1):
        m = offsets[s + 1] - offsets[s]
        if m >= k:
            n += m - k + 1
    keys = np.zeros((n, limbs), np.uint64)
    r = 0
    for s in range(offsets.shape[0] - 1):
        for end in range(offsets[s] + k - 1, offsets[s + 1]):
            for t in range(k):
                _put(keys, r, t * bits, bits, ids[end - t])
            r += 1
    return keys


@njit(**JIT)
def unpack(keys, k, bits):
    """grams uint32[n, k] (columns w_1..w_k) of k-gram keys."""
    n = keys.shape[0]
    grams = np.empty((n, k), np.uint32)
    down = np.uint64(64 - bits)
    for t in range(k):  # one word position at a time: the same limb and shifts for every row
        j = t * bits // 64
        o = np.uint64(t * bits % 64)
        col = k - 1 - t
        if t * bits % 64 + bits <= 64:
            for r in range(n):
                grams[r, col] = np.uint32((keys[r, j] << o) >> down)
        else:  # the word straddles two limbs (o > 0 here)
            back = np.uint64(64) - o
            for r in range(n):
                grams[r, col] = np.uint32(((keys[r, j] << o) | (keys[r, j + 1] >> back)) >> down)
    return grams


@njit(**JIT)
def has_suffix(keys, k, bits, suffix_keys):
    """For each k-gram key (sorted), whether its suffix (w_2..w_k) is a row of the sorted
    (k-1)-gram keys `suffix_keys`. The suffixes come in sorted order: one merge pass."""
    n = keys.shape[0]
    lm = suffix_keys.shape[1]
    keep_bits = (k - 1) * bits  # the suffix key is the first keep_bits bits
    out = np.zeros(n, np.bool_)
    want = np.empty(lm, np.uint64)
    j = 0
    m = suffix_keys.shape[0]
    for r in range(n):
        for c in range(lm):
            lo_bit = c * 64
            if lo_bit + 64 <= keep_bits:
                want[c] = keys[r, c]
            else:
                drop = lo_bit + 64 - keep_bits
                want[c] = (keys[r, c] >> np.uint64(drop)) << np.uint64(drop) if drop < 64 else np.uint64(0)
        while j < m:
            order = 0
            for c in range(lm):
                if suffix_keys[j, c] != want[c]:
                    order = -1 if suffix_keys[j, c] < want[c] else 1
                    break
            if order < 0:
                j += 1
                continue
            out[r] = order == 0
            break
    return out
