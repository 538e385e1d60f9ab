"""Split a batch by shard and merge the per-shard answers back in input order.

All array work: one sort by routing key (ngram.sharding.routing_order) groups the rows
by shard and, within a shard, by last words, which is the order the shard's kernel
wants (a server then skips its own sort); merging scatters each shard's rows back
(Chains.scatter, a numba kernel). No per-row Python.
"""
from __future__ import annotations

import numpy as np

from ngram.chains import Chains
from ngram.sharding import routing_order


def split(ids: np.ndarray, lengths: np.ndarray, num_shards: int,
          seed: int = 0) -> list[tuple[int, np.ndarray]]:
    """[(shard, row indices)] for every shard that has rows, rows sorted by routing key."""
    if len(lengths) == 0:
        return []
    _, order, bounds = routing_order(np.ascontiguousarray(ids, dtype=np.int32),
                                     np.ascontiguousarray(lengths, dtype=np.int32), num_shards, seed)
    return [(s, order[bounds[s]:bounds[s + 1]]) for s in range(num_shards)
            if bounds[s + 1] > bounds[s]]


def merge(batch: int, width: int, value_kind: str,
          parts: list[tuple[np.ndarray, Chains]]) -> Chains:
    """Chains for `batch` rows: each (rows, chains) part written at its rows."""
    out = Chains.empty(batch, width, value_kind)
    for rows, part in parts:
        out.scatter(rows, part)
    return out
