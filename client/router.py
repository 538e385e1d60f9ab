"""Plan a batch's round of RPCs: split it by shard, each run of equal n-grams once.

All array work: one sort by routing key (ngram.sharding.routing_order) groups the rows
by shard and, within a shard, by last words, which is the order the shard's kernel
wants (a server then skips its own sort). Equal n-grams then sit together and are sent
once: a decoder's round repeats many (150,000 held-out lookups drawn with repeats hold
83,963 distinct n-grams in 88,236 runs), and every repeat would cost request and answer
bytes on both sides. Answers are written back into input order by
ngram.wire.chains.decode_chains_into. No per-row Python.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ngram.kernels.batch_ops import gather_unique
from ngram.sharding import routing_order


@dataclass
class Part:
    """One shard's share of a planned batch: sorted positions [i0, i1) of the plan, and
    unique rows [u0, u1) of plan.ids (what is sent)."""
    shard: int
    i0: int
    i1: int
    u0: int
    u1: int


@dataclass
class Plan:
    """A batch routed, sorted and with adjacent repeats removed: ids/lengths are the
    unique rows, shard by shard in routing order; sorted position i is input row
    order[i] and unique row useq[i]."""
    ids: np.ndarray
    lengths: np.ndarray
    order: np.ndarray
    useq: np.ndarray
    parts: list[Part]


def plan(ids: np.ndarray, lengths: np.ndarray, num_shards: int, seed: int = 0) -> Plan:
    ids = np.ascontiguousarray(ids, dtype=np.int32)
    lengths = np.ascontiguousarray(lengths, dtype=np.int32)
    if len(lengths) == 0:
        return Plan(ids[:0], lengths[:0], np.zeros(0, np.int64), np.zeros(0, np.int64), [])
    _, order, bounds = routing_order(ids, lengths, num_shards, seed)
    uids, ulen, useq = gather_unique(ids, lengths, order)
    parts = [Part(s, int(bounds[s]), int(bounds[s + 1]), int(useq[bounds[s]]), int(useq[bounds[s + 1] - 1]) + 1)
             for s in range(num_shards) if bounds[s + 1] > bounds[s]]
    return Plan(uids, ulen, order, useq, parts)
