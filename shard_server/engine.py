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
from shard_server.errors import PredictionUnavailableError, ServerStartError, ShardNotServedError, WrongModelError

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
        self.predictor, self.predict_unavailable = _open_predictor(model)

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
        if self.predictor is not None:  # the prediction kernel too
            for shard in self.shard_indices:
                self.predictor.predict(np.zeros((1, 1), "<i4"), np.zeros(1, "<i4"), 1, shard=shard)
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

    def predict(self, model_id: str, shard: int, ctx: np.ndarray, lengths: np.ndarray, k: int, prefix, min_score,
                exclude_special: bool):
        """Top-k continuations of contexts routed to `shard` (ngram.predict)."""
        self.check_target(model_id, shard)
        if self.predictor is None:
            raise PredictionUnavailableError(self.predict_unavailable)
        if ctx.ndim >= 1 and ctx.shape[0] > self.max_batch:
            raise InvalidQueryError(f"batch of {ctx.shape[0]} contexts is above the limit of {self.max_batch}")
        return self.predictor.predict(ctx, lengths, k, prefix=prefix, min_score=min_score,
                                      exclude_special=exclude_special, shard=shard)

    def lookup(self, model_id: str, shard: int, ids: np.ndarray, lengths: np.ndarray):
        """Chains of the batch from shard `shard`, or a domain error saying what is wrong."""
        table = self.check_target(model_id, shard)
        if ids.ndim >= 1 and ids.shape[0] > self.max_batch:
            raise InvalidQueryError(f"batch of {ids.shape[0]} n-grams is above the limit of "
                                    f"{self.max_batch}")
        # check=True: shapes, lengths, ids in the vocabulary, and that every n-gram of
        # length >= 2 belongs to this shard (a misrouted one would silently read "absent").
        return table.lookup(ids, lengths, check=True)


def _open_predictor(model):
    """(Predictor, None) for a model with a successor index; (None, why) without one. A
    corrupt index stops the server at start, as a corrupt shard does."""
    from ngram.errors import ModelFormatError
    from ngram.predict import Predictor
    from ngram.successors import NEEDS_INDEX, has_index
    if not has_index(model.manifest):
        return None, NEEDS_INDEX.format(path=model.path)
    try:
        return Predictor.open(model), None
    except ModelFormatError as e:
        raise ServerStartError(f"successor index: {e}") from e
