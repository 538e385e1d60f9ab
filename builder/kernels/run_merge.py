"""Sorted runs of (key, count) rows: summing equal keys, merging two runs, counting the
rows up to a bound."""
from __future__ import annotations

import numpy as np
from numba import njit

from . import JIT


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
