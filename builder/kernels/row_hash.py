"""Group-by and join of n-gram rows (uint32[n, m] word ids) through an open-addressing
hash table: one pass over the rows instead of the several sorts a numeric unique of
packed words takes. Groups are numbered in the order of their first row, so the result
is a function of the rows and their order only (never of the hash function)."""
from __future__ import annotations

import numpy as np
from numba import njit

from . import INLINE, JIT

_EMPTY = -1


@njit(**INLINE)
def _hash(rows, r):
    h = np.uint64(0x9E3779B97F4A7C15)
    for c in range(rows.shape[1]):
        h = (h ^ np.uint64(rows[r, c])) * np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(31)
    return h


@njit(**INLINE)
def _same(a, i, b, j):
    for c in range(a.shape[1]):
        if a[i, c] != b[j, c]:
            return False
    return True


@njit(**INLINE)
def _table_size(n):
    size = 16
    while size < 2 * n:
        size *= 2
    return size


@njit(**JIT)
def group_rows(rows):
    """(first, inverse): first[g] is the index of group g's first row, inverse[i] the
    group of row i; groups numbered by first appearance."""
    n = rows.shape[0]
    size = _table_size(n)
    mask = np.uint64(size - 1)
    table = np.full(size, _EMPTY, np.int64)
    first = np.empty(n, np.int64)
    inverse = np.empty(n, np.int64)
    groups = 0
    for i in range(n):
        slot = _hash(rows, i) & mask
        while True:
            g = table[slot]
            if g == _EMPTY:
                table[slot] = groups
                first[groups] = i
                inverse[i] = groups
                groups += 1
                break
            if _same(rows, i, rows, first[g]):
                inverse[i] = g
                break
            slot = (slot + np.uint64(1)) & mask
    return first[:groups].copy(), inverse


@njit(**JIT)
def find_rows(queries, table_rows):
    """Index in `table_rows` (unique rows) of each query row; -1 where absent."""
    n = table_rows.shape[0]
    size = _table_size(n)
    mask = np.uint64(size - 1)
    table = np.full(size, _EMPTY, np.int64)
    for i in range(n):
        slot = _hash(table_rows, i) & mask
        while table[slot] != _EMPTY:
            slot = (slot + np.uint64(1)) & mask
        table[slot] = i
    out = np.full(queries.shape[0], _EMPTY, np.int64)
    if n == 0:
        return out
    for q in range(queries.shape[0]):
        slot = _hash(queries, q) & mask
        while True:
            j = table[slot]
            if j == _EMPTY:
                break
            if _same(queries, q, table_rows, j):
                out[q] = j
                break
            slot = (slot + np.uint64(1)) & mask
    return out


@njit(**JIT)
def context_stats(inverse, groups, adjusted, kept):
    """Per group: S = sum of adjusted counts, N[:, 0..2] = how many kept rows have
    adjusted count 1, 2, >= 3, M = the adjusted counts of the pruned rows."""
    S = np.zeros(groups, np.int64)
    N = np.zeros((groups, 3), np.int64)
    M = np.zeros(groups, np.int64)
    for i in range(inverse.shape[0]):
        g = inverse[i]
        a = np.int64(adjusted[i])
        S[g] += a
        if not kept[i]:
            M[g] += a
        elif a > 0:
            N[g, min(a, 3) - 1] += 1
    return S, N, M


@njit(**JIT)
def sum_stats(inverse, groups, S_in, N_in, M_in):
    """Per group sums of partial statistics (S, N[:, 3], M) of its rows."""
    S = np.zeros(groups, np.int64)
    N = np.zeros((groups, 3), np.int64)
    M = np.zeros(groups, np.int64)
    for i in range(inverse.shape[0]):
        g = inverse[i]
        S[g] += S_in[i]
        M[g] += M_in[i]
        for j in range(3):
            N[g, j] += N_in[i, j]
    return S, N, M
