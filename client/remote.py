"""The remote backend: the `Backend` interface (ngram/backend.py) answered by shard
servers over gRPC.

lookup = validate -> router.plan (by shard, repeats once) -> parallel fan-out (one
ShardTransport call per shard, each with replicas, retry, failover, hedging, under one
deadline), each answer written into the result in input order by its fan-out thread as
it arrives. Every wait is bounded by the call's deadline.

Fork safety: threads and gRPC channels do not survive fork(). A backend used in a child
process (a decoder's process pool) notices the new pid and opens its own thread pool,
channels and replica state; the parent's are left untouched (closing them from the
child could shut down sockets the parent still uses).
"""
from __future__ import annotations

import itertools
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

import numpy as np

from client import router
from client.errors import ClientError, FatalError, LookupFailedError, ShardDeadlineError
from client.policy import CallPolicy
from client.replicas import ReplicaSet
from client.transport import ChannelPool, ShardTransport
from ngram import cluster_file
from ngram.chains import Chains
from ngram.cluster_file import ClusterFileError, ClusterSpec
from ngram.query import check_batch
from ngram.wire import WireFormatError, encode_array, pb
from ngram.wire.chains import decode_chains_into

_serial = itertools.count()
# What a forked child inherited from its parent's backends (pools, channels): never
# touched again, and kept referenced so that no destructor runs on them in the child.
_inherited_from_parent: list = []
# A fan-out thread gets this long past the call's deadline to report its own (more
# specific) error before the caller gives up on it.
_FANOUT_GRACE_S = 0.25


class _PartResult:
    """One shard's share of a call: written once, by its fan-out thread or by the caller
    giving up on it at the deadline, never both (the lock decides who)."""

    __slots__ = ("lock", "settled")

    def __init__(self):
        self.lock = threading.Lock()
        self.settled = False


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
        self._owner = owner  # the vocabulary's model (ngram.model.Model), closed with us
        # its manifest carries the tokenizer settings every consumer must apply
        self.manifest = owner.manifest if owner is not None else {}
        self._request_ids = itertools.count(1)
        self._pid_lock = threading.Lock()
        self._start_process_state()

    def _start_process_state(self) -> None:
        """Thread pool, channels and replica health of this process."""
        self._pid = os.getpid()
        self.channels = ChannelPool(self.spec.tls, self.policy.max_message_bytes)
        self.replicas = {s: ReplicaSet(s, self.spec.replicas[s], self.policy, probe=self._probe)
                         for s in range(self.num_shards)}
        self.transports = {s: ShardTransport(r, self.channels) for s, r in self.replicas.items()}
        self.thread_prefix = f"ngram-fanout-c{next(_serial)}-"  # lets tests check for leaks
        self._pool = ThreadPoolExecutor(self.policy.fanout_threads, thread_name_prefix=self.thread_prefix)

    def _probe(self, address: str):
        """A cheap RPC to a replica (client/replicas.py probes the ones that timed out)."""
        return self.channels.stub(address).Info.future(pb.InfoRequest(), timeout=self.policy.probe_timeout)

    def _this_process(self) -> None:
        """After fork(), replace what the parent's threads and channels own."""
        if self._pid == os.getpid():
            return
        with self._pid_lock:
            if self._pid != os.getpid():
                _inherited_from_parent.append((self._pool, self.channels))
                self._start_process_state()

    # -- Backend interface ----------------------------------------------------------------
    @property
    def tokenizer(self):
        """The model's tokenizer settings, from the manifest of the model the cluster serves."""
        from ngram.tokenizer import Tokenizer
        return Tokenizer.from_manifest(self.manifest)

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
        ids, lengths = self.check_batch(ids, lengths)
        self._this_process()
        timeout = self.policy.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        batch, width = len(lengths), self.order  # results are [B, order], as locally
        plan = router.plan(ids, lengths, self.num_shards, self.shard_seed)
        # Each shard's answer is written into `out` by its own fan-out thread as it
        # arrives (rows of different shards are disjoint), overlapping the merge with the
        # wait for slower shards. Every row gets written (a failed shard's rows get the
        # empty values), so `out` starts uninitialized.
        out = Chains.uninitialized(batch, width, self.value_kind)
        calls = []
        for part in plan.parts:
            state = _PartResult()
            calls.append((part, state, self._pool.submit(self._call_shard, part, plan, deadline,
                                                         timeout, out, state)))
        errors = {}
        mask = np.ones(batch, dtype=bool)
        for part, state, fut in calls:
            try:
                fut.result(timeout=max(0.0, deadline - time.monotonic()) + _FANOUT_GRACE_S)
                continue
            except ClientError as e:
                error = e
            except FutureTimeout:
                with state.lock:
                    if state.settled:  # answered in the last moment: it is written
                        continue
                    state.settled = True
                error = ShardDeadlineError(part.shard, {"(fan-out)": "no answer before the deadline"},
                                           timeout)
            errors[part.shard] = error
            rows = plan.order[part.i0:part.i1]
            mask[rows] = False
            out.scatter(rows, Chains.empty(len(rows), width, self.value_kind))
        return out, mask, errors

    def _call_shard(self, part: router.Part, plan: router.Plan, deadline: float, timeout: float,
                    out: Chains, state: _PartResult) -> None:
        """Ask one shard for its unique n-grams and write its answers at their rows of `out`."""
        shard, n = part.shard, part.u1 - part.u0
        request = pb.LookupRequest(request_id=next(self._request_ids), model_id=self.model_id, shard=shard,
                                   ids=encode_array(plan.ids[part.u0:part.u1]),
                                   lengths=encode_array(plan.lengths[part.u0:part.u1]),
                                   packed_response=True)  # a third of the dense bytes (ngram/wire/chains.py)
        resp = self.transports[shard].lookup(request, deadline, timeout)
        with state.lock:
            if state.settled:
                return  # the caller gave up on this shard; its rows are no longer ours
            state.settled = True
            try:
                decode_chains_into(resp, n, self.order, self.value_kind, plan.order[part.i0:part.i1],
                                   plan.useq[part.i0:part.i1], part.u0, out)
            except WireFormatError as e:
                raise FatalError(shard, "?", _internal(), f"malformed response: {e}") from e

    def stream_rounds(self, max_inflight: int | None = None, timeout: float | None = None):
        """A RoundStream: rounds pipelined over one LookupStream per shard (client/stream.py);
        `max_inflight` rounds unanswered at most, each with `timeout` seconds."""
        from client.stream import RoundStream
        self._this_process()
        return RoundStream(model_id=self.model_id, order=self.order, value_kind=self.value_kind,
                           num_shards=self.num_shards, shard_seed=self.shard_seed,
                           check_batch=self.check_batch, replicas=self.replicas,
                           channels=self.channels, policy=self.policy,
                           max_inflight=max_inflight, timeout=timeout)


    def check_batch(self, ids, lengths) -> tuple[np.ndarray, np.ndarray]:
        """The local backend's checks, so a bad batch fails before any RPC, naming the problem."""
        return check_batch(ids, lengths, self.order, len(self.vocab))

    def close(self) -> None:
        if self._pid == os.getpid():
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
