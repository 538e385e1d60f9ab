"""The shard engine: check a lookup against the served model, then run the kernel.

No gRPC here: the servicer decodes requests into arrays, calls `ShardEngine.lookup`, and
maps the domain errors below to status codes. Shape, id-range and routing checks are the
core's (`ShardTable.lookup` raises InvalidQueryError saying which). Kernels are numba
`nogil`, so calling `lookup` from several threads uses several cores.
"""
from __future__ import annotations

import numpy as np

from ngram.errors import InvalidQueryError
from ngram.limits import DEFAULT_MAX_BATCH
from shard_server.errors import ServerStartError, ShardNotServedError, WrongModelError

__all__ = ["ShardEngine", "ShardNotServedError", "WrongModelError"]


class ShardEngine:
    """Answers lookups for the shards of `model` that were opened (`model.shards`)."""

    def __init__(self, model, *, max_batch: int = DEFAULT_MAX_BATCH):
        self.model = model
        self.tables = dict(model.shards)
        if not self.tables:
            raise ServerStartError(f"{model.path}: no shard is open, nothing to serve")
        self.order = int(model.order)
        self.vocab_size = len(model.vocab)
        self.max_batch = max_batch

    @property
    def model_id(self) -> str:
        return self.model.model_id

    def warm_up(self) -> list:
        """Run one request-shaped lookup on every served shard, so the numba kernels are
        compiled (or loaded from their cache) before the server reports SERVING: a cold
        compile takes seconds, and a first request must not pay it against its deadline.
        Arrays are read-only like decoded requests, so numba picks the same signatures.
        Two batches: one in routing order (the router's; the kernel reads the request
        arrays) and one out of it (the shard sorts a gathered copy first). Returns their
        chains, for the caller to warm the response encoding with."""
        answers = []
        lengths = np.frombuffer(np.array([1, 1], "<i4").tobytes(), "<i4")
        for first in (0, 1):  # <unk>, <s> ascending; then <s>, <unk> descending
            grid = np.zeros((2, self.order), "<i4")
            grid[:, 0] = (first, 1 - first)
            ids = np.frombuffer(grid.tobytes(), "<i4").reshape(2, self.order)
            for shard in self.shard_indices:
                # the path of `lookup`
                answers.append(self.tables[shard].lookup(ids, lengths, check=True))
        return answers

    @property
    def shard_indices(self) -> list[int]:
        return sorted(self.tables)

    def check_target(self, model_id: str, shard: int):
        """The table for `shard` of model `model_id`, or WrongModel/ShardNotServed."""
        if model_id != self.model_id:
            raise WrongModelError(f"request is for model {model_id!r}, this server holds "
                                  f"{self.model_id!r}")
        table = self.tables.get(shard)
        if table is None:
            raise ShardNotServedError(f"shard {shard} is not served here (serving "
                                      f"{self.shard_indices})")
        return table

    def lookup(self, model_id: str, shard: int, ids: np.ndarray, lengths: np.ndarray):
        """Chains of the batch from shard `shard`, or a domain error saying what is wrong."""
        table = self.check_target(model_id, shard)
        if ids.ndim >= 1 and ids.shape[0] > self.max_batch:
            raise InvalidQueryError(f"batch of {ids.shape[0]} n-grams is above the limit of "
                                    f"{self.max_batch}")
        # check=True: shapes, lengths, ids in the vocabulary, and that every n-gram of
        # length >= 2 belongs to this shard (a misrouted one would silently read "absent").
        return table.lookup(ids, lengths, check=True)
