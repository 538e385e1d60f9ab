"""Whole-batch array kernels around a lookup: validation, sorting by routing key, and the
gather/scatter between the caller's row order and the sorted order the walks want.

numpy's versions of these (boolean masks, argsort, fancy indexing) cost ~20 ms of a
100,000-query batch, a fifth of the whole lookup; these single passes cost a few ms.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .prefetch import prefetch_row

JIT = dict(nogil=True, cache=True)
GATHER_AHEAD = 16  # rows prefetched ahead of a gather in permuted order
RADIX_BITS = 13  # 5 passes; measured faster than 16-bit digits (64k-entry tables) or 8/11-bit
SMALL_SORT = 512  # below this many keys, a merge sort


@njit(**JIT)
def first_bad_query(ids, lengths, order, vocab_size):
    """(kind, row, col) of the first invalid query, kind 0 if none: 1 = length < 1,
    2 = length > order, 3 = length > width, 4 = id outside the vocabulary."""
    width = ids.shape[1]
    for b in range(ids.shape[0]):
        n = lengths[b]
        if n < 1:
            return 1, b, 0
        if n > order:
            return 2, b, 0
        if n > width:
            return 3, b, 0
        for c in range(n):
            w = ids[b, c]
            if w < 0 or w >= vocab_size:
                return 4, b, c
    return 0, -1, -1


@njit(**JIT)
def radix_argsort(keys):
    """Stable argsort of uint64 keys. LSD radix on RADIX_BITS-bit digits: one pass builds
    every digit's histogram, and each scatter pass moves (key, row) pairs, so it reads
    sequentially (gathering keys[row] in permuted order missed the cache). Digits equal
    for every key are skipped (the top bits of a routing key often are). Small batches
    take a merge sort: the radix tables cost more than the sort."""
    n = keys.shape[0]
    if n < SMALL_SORT:
        return np.argsort(keys, kind="mergesort")
    nd = 1 << RADIX_BITS
    passes = (64 + RADIX_BITS - 1) // RADIX_BITS
    mask = np.uint64(nd - 1)
    hist = np.zeros((passes, nd), np.int64)
    for i in range(n):
        k = keys[i]
        for p in range(passes):
            hist[p, np.int64((k >> np.uint64(p * RADIX_BITS)) & mask)] += 1
    ka = keys.copy()
    kb = np.empty(n, np.uint64)
    order = np.arange(n)
    tmp = np.empty(n, np.int64)
    for p in range(passes):
        sh = np.uint64(p * RADIX_BITS)
        if hist[p, np.int64((ka[0] >> sh) & mask)] == n:
            continue  # one digit value: this pass would not move anything
        total = 0
        for d in range(nd):
            c = hist[p, d]
            hist[p, d] = total
            total += c
        for i in range(n):
            k = ka[i]
            d = np.int64((k >> sh) & mask)
            j = hist[p, d]
            kb[j] = k
            tmp[j] = order[i]
            hist[p, d] = j + 1
        ka, kb = kb, ka
        order, tmp = tmp, order
    return order


@njit(**JIT)
def is_sorted(keys):
    for i in range(1, keys.shape[0]):
        if keys[i] < keys[i - 1]:
            return False
    return True


@njit(**JIT)
def gather_rows(ids, lengths, order):
    """ids[order], lengths[order] as new contiguous arrays."""
    B, W = order.shape[0], ids.shape[1]
    out_ids = np.empty((B, W), ids.dtype)
    out_len = np.empty(B, lengths.dtype)
    for i in range(B):
        if i + GATHER_AHEAD < B:
            prefetch_row(ids, order[i + GATHER_AHEAD])
            prefetch_row(lengths, order[i + GATHER_AHEAD])
        r = order[i]
        out_len[i] = lengths[r]
        for c in range(W):
            out_ids[i, c] = ids[r, c]
    return out_ids, out_len


@njit(**JIT)
def scatter_into(rows, src, dst):
    """dst[rows[i]] = src[i] for 1-D or 2-D arrays (results back to input order, merging
    per-shard answers)."""
    if src.ndim == 1:
        for i in range(rows.shape[0]):
            dst[rows[i]] = src[i]
    else:
        for i in range(rows.shape[0]):
            r = rows[i]
            for c in range(src.shape[1]):
                dst[r, c] = src[i, c]


@njit(**JIT)
def gather_unique(ids, lengths, order):
    """The rows of ids[order] with each run of equal n-grams (same length and words;
    padding ignored) kept once: (unique ids [U, W], unique lengths [U], useq int64[B]:
    for each sorted position i, the index of its unique row). A routing order puts equal
    n-grams next to each other (same key), so a decoder's repeats are sent and walked
    once; an equal pair split by another n-gram of the same key is simply kept twice."""
    B, W = order.shape[0], ids.shape[1]
    out_ids = np.empty((B, W), ids.dtype)
    out_len = np.empty(B, lengths.dtype)
    useq = np.empty(B, np.int64)
    u = 0
    for i in range(B):
        if i + GATHER_AHEAD < B:  # rows are read in sorted order: random, so fetch ahead
            prefetch_row(ids, order[i + GATHER_AHEAD])
            prefetch_row(lengths, order[i + GATHER_AHEAD])
        r = order[i]
        n = lengths[r]
        same = u > 0 and out_len[u - 1] == n
        if same:
            for c in range(n):
                if out_ids[u - 1, c] != ids[r, c]:
                    same = False
                    break
        if not same:
            out_len[u] = n
            for c in range(W):
                out_ids[u, c] = ids[r, c]
            u += 1
        useq[i] = u - 1
    return out_ids[:u], out_len[:u], useq
