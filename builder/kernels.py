"""Numba kernels of the builder: n-gram keys, sorting, summing, merging, joining.

An n-gram key is the bit string of the word ids of a k-gram in the order the model
sorts it, (w_k, w_{k-1}, ..., w_1), ``bits`` bits each, most significant first, stored
left-aligned in ``L = ceil(k * bits / 64)`` uint64 limbs. Comparing keys limb by limb is
then comparing n-grams in the trie's order (``np.lexsort(grams.T)``), and the key of the
suffix (w_2..w_k) is the key's first (k-1) * bits bits.
"""
from __future__ import annotations

import numpy as np
from numba import njit

JIT = dict(nogil=True, cache=True)
# Helpers taking arrays are inlined at IR level: a call between separately compiled
# functions costs an atomic refcount update per array argument.
INLINE = dict(JIT, inline="always")
_SMALL = 16  # tie groups up to this size are insertion-sorted


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


@njit(**JIT)
def sum_runs(keys, perm, counts):
    """Unique rows of keys[perm] (sorted) with summed counts (1 each if counts is empty)."""
    n = perm.shape[0]
    out_k = np.empty((n, keys.shape[1]), np.uint64)
    out_c = np.empty(n, np.uint64)
    u = -1
    with_counts = counts.shape[0] > 0
    for p in range(n):
        i = perm[p]
        c = counts[i] if with_counts else np.uint64(1)
        if u >= 0:
            same = True
            for j in range(keys.shape[1]):
                if keys[i, j] != out_k[u, j]:
                    same = False
                    break
            if same:
                out_c[u] += c
                continue
        u += 1
        out_k[u, :] = keys[i, :]
        out_c[u] = c
    return out_k[:u + 1].copy(), out_c[:u + 1].copy()


@njit(**JIT)
def count_sorted_values(values):
    """Unique values of a sorted uint64 array and their multiplicities."""
    n = values.shape[0]
    out_v = np.empty(n, np.uint64)
    out_c = np.empty(n, np.uint64)
    u = -1
    for i in range(n):
        if u >= 0 and values[i] == out_v[u]:
            out_c[u] += np.uint64(1)
        else:
            u += 1
            out_v[u] = values[i]
            out_c[u] = 1
    return out_v[:u + 1].copy(), out_c[:u + 1].copy()


@njit(**JIT)
def merge_sum(ka, ca, kb, cb):
    """Merge two sorted unique runs, summing the counts of equal keys."""
    na, nb = ka.shape[0], kb.shape[0]
    out_k = np.empty((na + nb, ka.shape[1]), np.uint64)
    out_c = np.empty(na + nb, np.uint64)
    a = b = o = 0
    while a < na and b < nb:
        order = 0
        for j in range(ka.shape[1]):
            if ka[a, j] != kb[b, j]:
                order = -1 if ka[a, j] < kb[b, j] else 1
                break
        if order <= 0:
            out_k[o, :] = ka[a, :]
            out_c[o] = ca[a] + (cb[b] if order == 0 else np.uint64(0))
            a += 1
            if order == 0:
                b += 1
        else:
            out_k[o, :] = kb[b, :]
            out_c[o] = cb[b]
            b += 1
        o += 1
    while a < na:
        out_k[o, :] = ka[a, :]
        out_c[o] = ca[a]
        a += 1
        o += 1
    while b < nb:
        out_k[o, :] = kb[b, :]
        out_c[o] = cb[b]
        b += 1
        o += 1
    return out_k[:o].copy(), out_c[:o].copy()


@njit(**JIT)
def count_le(keys, bound):
    """Number of rows of sorted `keys` that are <= `bound` (a key row)."""
    lo, hi = 0, keys.shape[0]
    while lo < hi:
        mid = (lo + hi) // 2
        le = True
        for j in range(keys.shape[1]):
            if keys[mid, j] != bound[j]:
                le = keys[mid, j] < bound[j]
                break
        if le:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(**JIT)
def partition(labels, num_labels):
    """Stable counting sort: (perm, bounds) with rows of label s at perm[bounds[s]:bounds[s+1]]."""
    bounds = np.zeros(num_labels + 1, np.int64)
    for i in range(labels.shape[0]):
        bounds[labels[i] + 1] += 1
    for s in range(num_labels):
        bounds[s + 1] += bounds[s]
    fill = bounds[:-1].copy()
    perm = np.empty(labels.shape[0], np.int64)
    for i in range(labels.shape[0]):
        s = labels[i]
        perm[fill[s]] = i
        fill[s] += 1
    return perm, bounds


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


@njit(**JIT)
def count_sentences(data):
    """Lines of `data` holding at least one non-whitespace byte (what encode_lines keeps)."""
    n = 0
    has_word = False
    for i in range(data.shape[0]):
        c = data[i]
        if c == 10:
            if has_word:
                n += 1
            has_word = False
        elif not (c == 32 or c == 9 or c == 13 or c == 11 or c == 12):
            has_word = True
    if has_word:
        n += 1
    return n
