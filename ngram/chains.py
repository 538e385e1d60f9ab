"""The result of the lookup primitive: for each n-gram, its longest stored suffix and the
values along that chain. Every backend (in-process, remote) returns this."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .kernels.batch_ops import scatter_into

COUNTS = "counts"
BACKOFF = "backoff"
VALUE_KINDS = (COUNTS, BACKOFF)


@dataclass
class Chains:
    """match_len[b]: length of the longest stored suffix of n-gram b (blank ARPA nodes
    do not count). counts[b, k-1] (value kind counts): count of the length-k suffix, 0
    where absent. prob/backoff[b, k-1] (value kind backoff): log10 values of the length-k
    suffix; prob NaN where absent or blank, backoff 0 where absent."""

    match_len: np.ndarray
    counts: np.ndarray | None = None
    prob: np.ndarray | None = None
    backoff: np.ndarray | None = None

    @property
    def value_kind(self) -> str:
        return COUNTS if self.counts is not None else BACKOFF

    def __len__(self) -> int:
        return len(self.match_len)

    @property
    def width(self) -> int:
        return (self.counts if self.counts is not None else self.prob).shape[1]

    @classmethod
    def empty(cls, batch: int, order: int, value_kind: str) -> "Chains":
        if value_kind == COUNTS:
            return cls(np.zeros(batch, np.int32), counts=np.zeros((batch, order), np.uint64))
        return cls(np.zeros(batch, np.int32), prob=np.full((batch, order), np.nan, np.float32),
                   backoff=np.zeros((batch, order), np.float32))

    @classmethod
    def uninitialized(cls, batch: int, order: int, value_kind: str) -> "Chains":
        """Arrays of the right shapes, for a caller that writes every value."""
        if value_kind == COUNTS:
            return cls(np.empty(batch, np.int32), counts=np.empty((batch, order), np.uint64))
        return cls(np.empty(batch, np.int32), prob=np.empty((batch, order), np.float32),
                   backoff=np.empty((batch, order), np.float32))

    def arrays(self) -> dict[str, np.ndarray]:
        return {k: v for k, v in (("match_len", self.match_len), ("counts", self.counts),
                                  ("prob", self.prob), ("backoff", self.backoff)) if v is not None}

    def take(self, rows: np.ndarray) -> "Chains":
        return Chains(**{k: v[rows] for k, v in self.arrays().items()})

    def scatter(self, rows: np.ndarray, part: "Chains") -> None:
        """Write `part` into rows `rows` of self (used to merge per-shard answers)."""
        rows = np.ascontiguousarray(rows, dtype=np.int64)  # numba scatter: 4x numpy's fancy assignment
        for k, v in part.arrays().items():
            scatter_into(rows, np.ascontiguousarray(v), getattr(self, k))

    def equals(self, other: "Chains") -> bool:
        a, b = self.arrays(), other.arrays()
        return a.keys() == b.keys() and all(np.array_equal(a[k], b[k], equal_nan=a[k].dtype.kind == "f") for k in a)
