"""Packed lookup responses: each row's values only up to its extent.

A chain row [b, :] holds values for suffix lengths 1..N, and past the longest stored
suffix they are all the empty value (count 0; prob NaN and backoff 0). Sending the
first extent[b] values of each row, row after row, cuts a response to about a third for
held-out 5-grams (mean extent ~2.9 of 5), and response bytes are most of a round's
transfer cost.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .bits import JIT


@njit(**JIT)
def backoff_extents(prob, backoff):
    """uint8[B]: per row, 1 + the last column whose prob is not NaN or whose backoff is
    not 0 (a blank ARPA node has a backoff and no prob)."""
    B, W = prob.shape
    out = np.zeros(B, np.uint8)
    for b in range(B):
        for k in range(W - 1, -1, -1):
            if not np.isnan(prob[b, k]) or backoff[b, k] != 0:
                out[b] = k + 1
                break
    return out


@njit(**JIT)
def count_pack_plan(counts, match):
    """One pass over a counts answer: (extent uint8[B]: per row, 1 + the last column with
    a non-zero count, 0 if none; the extents' sum; the largest count; whether every
    extent equals match[b]), so that the packed values can be written straight into the
    narrowest type."""
    B, W = counts.shape
    extent = np.zeros(B, np.uint8)
    total = 0
    top = np.uint64(0)
    same = True
    for b in range(B):
        e = 0
        for k in range(W - 1, -1, -1):
            if counts[b, k] != 0:
                e = k + 1
                break
        for k in range(e):
            if counts[b, k] > top:
                top = counts[b, k]
        extent[b] = e
        total += e
        if e != match[b]:
            same = False
    return extent, total, top, same


@njit(**JIT)
def pack_rows_into(values, extent, out):
    """The first extent[b] values of every row b, row after row, into `out` (of a
    narrower type when the values fit: count_pack_plan's top). Returns how many."""
    p = 0
    for b in range(values.shape[0]):
        for k in range(extent[b]):
            out[p] = values[b, k]
            p += 1
    return p


@njit(**JIT)
def pack_rows(values, extent):
    """The first extent[b] values of every row b, row after row."""
    total = 0
    for b in range(values.shape[0]):
        total += extent[b]
    out = np.empty(total, values.dtype)
    pack_rows_into(values, extent, out)
    return out


@njit(**JIT)
def unpack_rows(flat, extent, out):
    """Inverse of pack_rows into `out` (pre-filled with the empty value). Returns the
    number of values read; the caller checked that extents sum to len(flat) and fit."""
    p = 0
    for b in range(extent.shape[0]):
        for k in range(extent[b]):
            out[b, k] = flat[p]
            p += 1
    return p


@njit(**JIT)
def unpack_scatter(flat, extent, match, rows, useq, u0, empty, out, out_match):
    """A packed answer for unique rows u0, u0 + 1, ... written straight into the caller's
    rows: sorted position i (of this shard's slice) is row rows[i] and unique row
    useq[i] (non-decreasing). Values past a row's extent become `empty`. Returns the
    number of values read; the caller checked extents against len(flat) and the width."""
    W = out.shape[1]
    p = 0  # offset in flat of unique row `cur`
    cur = 0
    for i in range(rows.shape[0]):
        u = useq[i] - u0
        while cur < u:
            p += extent[cur]
            cur += 1
        r = rows[i]
        e = extent[u]
        out_match[r] = match[u]
        for k in range(e):
            out[r, k] = flat[p + k]
        for k in range(e, W):
            out[r, k] = empty
    while cur < extent.shape[0]:
        p += extent[cur]
        cur += 1
    return p
