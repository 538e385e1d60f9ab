"""Key search in a sibling range, for shard formats 1 and 2 (docs/FORMAT_V2.md).

Keys of a level are nibble coded (ngram.kernels.codecs): gap-coded inside a sibling
range, absolute at its start; every RESTART-th key is also in a fixed-width side array.
Format 2 stores 0 in the nibble stream at those restart points (the side array holds
the key) and gives each range of at least BIG_RANGE keys a bucket directory over its
key values. Taking a restart point's key from the side array is right for format 1
too (it stored the key in both places), and a format-1 table has no directories
(k_big_n = 0), so this one search reads both versions.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .bits import INLINE, load, read_bits
from .codecs import NIB_RAW, fixed_get, nib_mant_pos
from .layout import (BIG_ENTRY, BIG_RANGE, G_WORDS, K_BDIR, K_BDIR_W, K_BIG, K_BIG_N, K_DIR, K_MANT, K_NIB, K_SIDE,
                     K_SIDE_W, K_W, RESTART)

if RESTART != 16:  # the scan reads a restart block's nibbles as one word
    raise ImportError("find_key assumes RESTART == 16 (one nibble word per restart block)")


@njit(**INLINE)
def big_range_restarts(buf, lay, row, lo, m0, m1, target):
    """For a range starting at node lo that has a bucket directory: (a, b), the restart
    points [a, b] among which the last one whose key is <= target lies (a = m0 - 1
    stands for "none of them"); (-2, -2) when target is above every key of the range;
    (-3, -3) when the range has no directory (the list does not hold lo)."""
    nbig = lay[row, K_BIG_N]
    base = lay[row, K_BIG]
    i = np.int64(0)
    j = nbig - 1
    while i < j:  # first listed range whose first node is >= lo
        mid = (i + j) // 2
        if np.int64(load(buf, base + BIG_ENTRY * mid)) < lo:
            i = mid + 1
        else:
            j = mid
    if np.int64(load(buf, base + BIG_ENTRY * i)) != lo:
        return np.int64(-3), np.int64(-3)
    e0 = np.int64(load(buf, base + BIG_ENTRY * i + 1))
    meta = np.int64(load(buf, base + BIG_ENTRY * i + 2))
    shift = meta & 63
    buckets = meta >> 6
    bucket = target >> shift
    if bucket >= buckets:
        return np.int64(-2), np.int64(-2)
    d = lay[row, K_BDIR]
    w = lay[row, K_BDIR_W]
    below = fixed_get(buf, d, w, e0 + bucket)  # restart points with key < bucket << shift
    upto = fixed_get(buf, d, w, e0 + bucket + 1)  # ... < (bucket + 1) << shift
    # clamped into the range's restart points (a corrupt directory then gives a wrong
    # answer, never a node outside [lo, hi))
    a = min(max(m0 + below - 1, m0 - 1), m1)
    b = min(max(m0 + upto - 1, a), m1)
    return a, b


@njit(**INLINE)
def find_key(buf, lay, row, lo, hi, target, hint):
    """(position of key `target` among keys [lo, hi) of level `row`, or -1; the restart
    point the scan started from, or -1). `hint`: a restart point whose key is known to be
    <= target (a previous search of the same range for a smaller key), or -1. Sorted
    batches search one range for ascending keys, so galloping from the hint replaces a
    binary search over the whole range; a range with a bucket directory needs neither."""
    if lo >= hi:
        return -1, -1
    nib = lay[row, K_NIB]
    mant = lay[row, K_MANT]
    W = lay[row, K_W]
    side = lay[row, K_SIDE]
    side_w = lay[row, K_SIDE_W]
    start = lo
    a = np.int64(-1)
    b = np.int64(-1)
    # Restart points m * RESTART inside (lo, hi): search their keys in the side array.
    m0 = lo // RESTART + 1
    m1 = (hi - 1) // RESTART
    if hint >= m0:  # (sorted batches: cheaper than the directory, whose lines are then cold)
        a = hint
        step = np.int64(1)
        while a + step <= m1 and fixed_get(buf, side, side_w, a + step) <= target:
            a += step
            step *= 2
        b = min(a + step - 1, m1)
    else:
        direct = False
        if hi - lo >= BIG_RANGE and lay[row, K_BIG_N] > 0:
            a, b = big_range_restarts(buf, lay, row, lo, m0, m1, target)
            if a == -2:
                return -1, -1
            direct = a != -3
            if direct and a < m0:  # (no restart point is known to be <= target)
                if b >= m0 and fixed_get(buf, side, side_w, m0) <= target:
                    a = m0
                else:
                    a = -1
                    b = -1
        if not direct:
            a = -1
            b = -1
            if m0 <= m1 and fixed_get(buf, side, side_w, m0) <= target:
                a = m0
                b = m1
    if a >= 0:
        while a < b:  # last m in [a, b] with key <= target
            mid = (a + b + 1) // 2
            if fixed_get(buf, side, side_w, mid) <= target:
                a = mid
            else:
                b = mid - 1
        start = a * RESTART
    end = min(hi, (start // RESTART + 1) * RESTART)
    mpos = nib_mant_pos(buf, nib, lay[row, K_DIR], W, start)
    if mpos < 0 or mpos >= lay[0, G_WORDS] * 64:
        return -1, a
    # a restart block's 16 nibbles are one word of the nibble stream: read it once
    x = load(buf, nib + start // RESTART) >> np.uint64(4 * (start % RESTART))
    mbit = mant * 64 + mpos
    bucket = np.int64(x & np.uint64(15))
    width = W if bucket == NIB_RAW else bucket
    v = np.int64(read_bits(buf, mbit, width))
    if bucket != NIB_RAW:
        v += (np.int64(1) << bucket) - 1
    mbit += width
    key = v  # a range start that is no restart point: stored absolute
    if start % RESTART == 0:
        key = fixed_get(buf, side, side_w, start // RESTART)
    j = start
    while True:
        if key == target:
            return j, a
        if key > target:
            return -1, a
        j += 1
        if j >= end:
            return -1, a
        x >>= np.uint64(4)
        bucket = np.int64(x & np.uint64(15))
        width = W if bucket == NIB_RAW else bucket
        gap = np.int64(read_bits(buf, mbit, width))
        if bucket != NIB_RAW:
            gap += (np.int64(1) << bucket) - 1
        mbit += width
        key = key + gap + 1
