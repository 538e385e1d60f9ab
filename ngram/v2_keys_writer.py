"""Format v2's key fields of one level (docs/FORMAT_V2.md): the bucket directories of
the large sibling ranges. The nibble and side streams are v1's (ngram.shard_writer),
with 0 stored at restart points."""
from __future__ import annotations

import numpy as np

from .kernels import codecs
from .kernels import layout as LY
from .value_columns import DataWords


def big_range_fields(key: np.ndarray, pidx: np.ndarray, data: DataWords) -> dict:
    """k_big / k_big_n / k_bdir / k_bdir_w for the ranges of >= BIG_RANGE keys.

    For a range [lo, hi) with restart points m0..m1 inside (lo, hi) (as the search sees
    them: lo's own restart point, if any, is the scan's start), the bucket shift s makes
    a bucket of 2^s ids hold ~BUCKET_KEYS of its keys; entry b (b = 0..buckets) counts
    the restart points whose key is < b << s."""
    n = len(key)
    empty = dict(k_big=0, k_big_n=0, k_bdir=0, k_bdir_w=0)
    if n == 0:
        return empty
    starts = np.flatnonzero(np.r_[True, pidx[1:] != pidx[:-1]])
    ends = np.r_[starts[1:], n]
    big = np.flatnonzero(ends - starts >= LY.BIG_RANGE)
    if len(big) == 0:
        return empty
    side = key[::LY.RESTART]
    table = np.zeros((len(big), LY.BIG_ENTRY), np.uint64)
    parts = []
    e0 = 0
    for i, r in enumerate(big):
        lo, hi = int(starts[r]), int(ends[r])
        m0, m1 = lo // LY.RESTART + 1, (hi - 1) // LY.RESTART
        kmax = int(key[hi - 1])
        shift = max(0, ((kmax + 1) * LY.BUCKET_KEYS // (hi - lo)).bit_length() - 1)
        buckets = (kmax >> shift) + 1
        bounds = np.arange(buckets + 1, dtype=np.int64) << shift
        entries = np.searchsorted(side[m0:m1 + 1], bounds, side="left")
        table[i] = (lo, e0, (buckets << 6) | shift)
        parts.append(entries)
        e0 += len(entries)
    entries = np.concatenate(parts).astype(np.uint64)
    width = max(1, int(entries.max()).bit_length())
    return dict(k_big=data.add(table.reshape(-1)), k_big_n=len(big),
                k_bdir=data.add(codecs.fixed_encode(entries, width)), k_bdir_w=width)
