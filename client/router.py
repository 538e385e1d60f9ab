"""Split a batch by shard and merge the per-shard answers back in input order.

All array work: one stable argsort groups the rows by shard; merging scatters each
shard's rows back with fancy indexing. No per-row Python.
"""
from __future__ import annotations

import numpy as np

from ngram.chains import Chains
from ngram.sharding import shard_of


def split(ids: np.ndarray, lengths: np.ndarray, num_shards: int,
          seed: int = 0) -> list[tuple[int, np.ndarray]]:
    """[(shard, row indices)] for every shard that has rows, rows in input order."""
    if len(lengths) == 0:
        return []
    owner = shard_of(ids, lengths, num_shards, seed)
    order = np.argsort(owner, kind="stable")
    bounds = np.searchsorted(owner[order], np.arange(num_shards + 1))
    return [(s, order[bounds[s]:bounds[s + 1]]) for s in range(num_shards)
            if bounds[s + 1] > bounds[s]]


def merge(batch: int, width: int, value_kind: str,
          parts: list[tuple[np.ndarray, Chains]]) -> Chains:
    """Chains for `batch` rows: each (rows, chains) part written at its rows."""
    out = Chains.empty(batch, width, value_kind)
    for rows, part in parts:
        out.scatter(rows, part)
    return out
