"""The remote backend: the `Backend` interface answered by shard servers over gRPC.

lookup = validate -> router.plan (by shard, repeats once) -> parallel fan-out (one
ShardTransport call per shard, each with replicas, retry, hedging, under one deadline),
each answer written into the result in input order by its fan-out thread as it arrives.
"""
from __future__ import annotations

import itertools
import os
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from client import router
from client.errors import ClientError, FatalError, LookupFailedError
from client.policy import CallPolicy
from client.transport import ChannelPool, ShardTransport
from ngram import cluster_file
from ngram.chains import Chains
from ngram.cluster_file import ClusterFileError, ClusterSpec
from ngram.query import check_batch
from ngram.tokenizer import Tokenizer
from ngram.wire import WireFormatError, encode_array, pb
from ngram.wire.chains import decode_chains_into


_serial = itertools.count()


class RemoteBackend:
    """Backend over a cluster: `lookup(ids, lengths) -> Chains`, like LocalBackend."""

    def __init__(self, spec: ClusterSpec, vocab, policy: CallPolicy | None = None, owner=None):
        self.spec = spec
        self.vocab = vocab
        self.policy = policy or CallPolicy()
        self.order = spec.order
        self.model_id = spec.model_id
        self.value_kind = spec.value_kind
        self.num_shards = spec.num_shards
        self.shard_seed = spec.shard_seed
        self._owner = owner  # the vocabulary's model, closed with us
        # the manifest carries the tokenizer settings (lowercase) the scorer must apply
        self.manifest = getattr(owner, "manifest", None) or {}
        self.channels = ChannelPool(spec.tls, self.policy.max_message_bytes)
        self.transports = {s: ShardTransport(s, spec.replicas[s], self.channels, self.policy)
                           for s in range(spec.num_shards)}
        self.thread_prefix = f"ngram-fanout-c{next(_serial)}-"  # lets tests check for leaks
        self._pool = ThreadPoolExecutor(self.policy.fanout_threads, thread_name_prefix=self.thread_prefix)
        self._request_ids = itertools.count(1)

    # -- Backend interface ----------------------------------------------------------------
    @property
    def tokenizer(self) -> Tokenizer:
        return Tokenizer.from_manifest(self.manifest)

    def stream_rounds(self, max_inflight: int | None = None, timeout: float | None = None):
        return self.open_stream(max_inflight=max_inflight, timeout=timeout)

    def lookup(self, ids, lengths, timeout: float | None = None) -> Chains:
        """All-or-nothing: raises the failed shard's error (or LookupFailedError for several)."""
        chains, _mask, errors = self.lookup_partial(ids, lengths, timeout)
        if errors:
            raise next(iter(errors.values())) if len(errors) == 1 else LookupFailedError(errors)
        return chains

    def lookup_partial(self, ids, lengths, timeout: float | None = None
                       ) -> tuple[Chains, np.ndarray, dict[int, ClientError]]:
        """(chains, mask, errors): mask[b] is True where n-gram b was answered; rows of
        failed shards hold empty values; errors maps each failed shard to its error."""
        ids, lengths = self._validate(ids, lengths)
        timeout = self.policy.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        batch, width = len(lengths), self.order  # results are [B, order], as locally
        plan = router.plan(ids, lengths, self.num_shards, self.shard_seed)
        # Each shard's answer is written into `out` by its own fan-out thread as it
        # arrives (rows of different shards are disjoint), overlapping the merge with the
        # wait for slower shards. Every row gets written (a failed shard's rows get the
        # empty values), so `out` starts uninitialized.
        out = Chains.uninitialized(batch, width, self.value_kind)
        futures = [(part, self._pool.submit(self._call_shard, part, plan, deadline, timeout, out))
                   for part in plan.parts]
        errors = {}
        mask = np.ones(batch, dtype=bool)
        for part, fut in futures:
            try:
                fut.result()
            except ClientError as e:
                errors[part.shard] = e
                rows = plan.order[part.i0:part.i1]
                mask[rows] = False
                out.scatter(rows, Chains.empty(len(rows), width, self.value_kind))
        return out, mask, errors

    def _call_shard(self, part: router.Part, plan: router.Plan, deadline: float, timeout: float,
                    out: Chains) -> None:
        """Ask one shard for its unique n-grams and write its answers at their rows of `out`."""
        shard, n = part.shard, part.u1 - part.u0
        request = pb.LookupRequest(request_id=next(self._request_ids), model_id=self.model_id, shard=shard,
                                   ids=encode_array(plan.ids[part.u0:part.u1]),
                                   lengths=encode_array(plan.lengths[part.u0:part.u1]),
                                   packed_response=True)  # a third of the dense bytes (ngram/wire/chains.py)
        resp = self.transports[shard].lookup(request, deadline, timeout)
        try:
            decode_chains_into(resp, n, self.order, self.value_kind, plan.order[part.i0:part.i1],
                               plan.useq[part.i0:part.i1], part.u0, out)
        except WireFormatError as e:
            raise FatalError(shard, "?", _internal(), f"malformed response: {e}") from e

    def open_stream(self, max_inflight: int | None = None, timeout: float | None = None):
        """A RoundStream: rounds pipelined over one LookupStream per shard (client/stream.py);
        `max_inflight` rounds unanswered at most, each with `timeout` seconds."""
        from client.stream import RoundStream
        return RoundStream(self, max_inflight=max_inflight, timeout=timeout)

    def _validate(self, ids, lengths) -> tuple[np.ndarray, np.ndarray]:
        # The local backend's checks, so a bad batch fails before any RPC, naming the problem.
        return check_batch(ids, lengths, self.order, len(self.vocab))

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self.channels.close()
        if self._owner is not None:
            self._owner.close()
            self._owner = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _internal():
    import grpc
    return grpc.StatusCode.INTERNAL


def open_remote_backend(path: str | os.PathLike, policy: CallPolicy | None = None,
                        model_path: str | os.PathLike | None = None) -> RemoteBackend:
    """Open a cluster file. The vocabulary comes from the model directory it names (or
    `model_path`), whose id must match the cluster's."""
    from ngram.model import Model

    spec = cluster_file.read(path)
    where = model_path or spec.model_path
    if not where:
        raise ClusterFileError(f"{path}: no model_path; pass model_path= for the vocabulary")
    model = Model.open(where, shards=[])
    if model.model_id != spec.model_id:
        model.close()
        raise ClusterFileError(f"{path} names model {spec.model_id}, but {where} holds "
                               f"{model.model_id}")
    return RemoteBackend(spec, model.vocab, policy, owner=model)
