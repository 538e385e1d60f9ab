"""Next-word prediction over a cluster (docs/PREDICTION.md): each distinct context is sent
once, to the shard that holds its chain of successor lists (ngram.predict.context_shards:
its last two words, or its last word), all shards in parallel; each shard's call walks its
replicas under one deadline with client/replicas.py's policy (failover, ejection,
attempt budgets, hedging); answers are written back in input order.

`predictor_for(backend)` gives the `predict` of any backend: in-process for a model
directory, this module's for a cluster.
"""
from __future__ import annotations

import time

import grpc
import numpy as np

from client.errors import ClientError, FatalError, LookupFailedError
from ngram.errors import WireFormatError
from ngram.predict import check_contexts, check_k, context_shards
from ngram.wire import decode_array, encode_array, pb


class RemotePredictor:
    def __init__(self, backend):
        self.backend = backend  # a client.remote.RemoteBackend

    def predict(self, context_ids, context_lengths, k, prefix=None, min_score=None, exclude_special: bool = True,
                timeout: float | None = None):
        b = self.backend
        k = check_k(k)
        ctx, lengths = check_contexts(context_ids, context_lengths, b.order, len(b.vocab))
        B = len(lengths)
        words = np.full((B, k), -1, np.int32)
        scores = np.full((B, k), -np.inf, np.float64)
        if not B:
            return words, scores
        b._this_process()
        timeout = b.policy.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        key = np.concatenate([ctx, lengths[:, None]], axis=1)
        uniq, inverse = np.unique(key, axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        u_ctx, u_len = np.ascontiguousarray(uniq[:, :-1]), np.ascontiguousarray(uniq[:, -1])
        shards = context_shards(u_ctx, u_len, b.num_shards, b.shard_seed)
        pre = prefix.encode("utf-8") if isinstance(prefix, str) else (bytes(prefix) if prefix else b"")
        u_words = np.empty((len(u_len), k), np.int32)
        u_scores = np.empty((len(u_len), k), np.float64)
        calls = []
        for s in np.unique(shards):
            rows = np.flatnonzero(shards == s)
            request = pb.PredictRequest(
                request_id=next(b._request_ids), model_id=b.model_id, shard=int(s),
                context_ids=encode_array(u_ctx[rows]), context_lengths=encode_array(u_len[rows]), k=k,
                prefix=pre, has_min_score=min_score is not None,
                min_score=float(min_score) if min_score is not None else 0.0,
                include_special=not exclude_special)
            calls.append((int(s), rows, request))
        errors: dict[int, ClientError] = {}
        if len(calls) == 1:  # one shard: answered on this thread, no hand-over to the pool
            s, rows, request = calls[0]
            u_words[rows], u_scores[rows] = self._call(s, request, len(rows), k, deadline, timeout)
            return u_words[inverse], u_scores[inverse]
        futures = [(s, rows, b._pool.submit(self._call, s, request, len(rows), k, deadline, timeout))
                   for s, rows, request in calls]
        for s, rows, fut in futures:
            try:
                u_words[rows], u_scores[rows] = fut.result()
            except ClientError as e:
                errors[s] = e
        if errors:
            raise next(iter(errors.values())) if len(errors) == 1 else LookupFailedError(errors)
        return u_words[inverse], u_scores[inverse]

    def _call(self, shard: int, request, n: int, k: int, deadline: float, timeout: float):
        """One shard's answer through its transport: replicas, failover, hedging and the
        deadline exactly as for lookups (client/transport.py, client/replicas.py)."""
        resp = self.backend.transports[shard].call(request, deadline, timeout, method=_predict_rpc)
        try:
            words = decode_array(resp.words, "words", dtype="<i4", ndim=2)
            scores = decode_array(resp.scores, "scores", dtype="<f8", ndim=2)
            if words.shape != (n, k) or scores.shape != (n, k):
                raise WireFormatError(f"answer of shape {words.shape}/{scores.shape}, expected {(n, k)}")
        except WireFormatError as e:
            raise FatalError(shard, "?", grpc.StatusCode.INTERNAL, f"malformed response: {e}") from e
        return words, scores


def _predict_rpc(stub):
    return stub.Predict


def predictor_for(backend):
    """The `predict` function of a backend: a cluster's RemotePredictor, or the local
    model's ngram.predict.Predictor (a cache layer is looked through: predictions are not
    cached)."""
    from ngram.backend import LocalBackend
    from client.cache import CachedBackend
    from client.remote import RemoteBackend
    while isinstance(backend, CachedBackend):
        backend = backend.backend
    if isinstance(backend, RemoteBackend):
        return RemotePredictor(backend)
    if isinstance(backend, LocalBackend):
        from ngram.predict import Predictor
        return Predictor.open(backend.model)
    raise TypeError(f"no prediction for a {type(backend).__name__}")
