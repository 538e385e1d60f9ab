"""Per-shard transport: one unary Lookup answered by some replica of a shard.

Which replica, how long each attempt may take, what a failure means, when to pause and
which error ends the call: client/replicas.py (the policy streams follow too). Here is
only how attempts run:
- Without hedging (or with one replica), one blocking call at a time from the calling
  thread: the future API would start a channel thread per call and hand the answer over
  through a callback.
- With hedging: if the first attempt has not answered after max(`hedge_delay`,
  `hedge_factor` x the fastest replica's recent p95 latency), the same request goes to the next
  replica too; the first success wins and the others are cancelled. An attempt sent to
  a replica still being learned (ReplicaSet.learning) is hedged at once and left to
  finish when it loses, to teach its latency (client/replicas.py).
"""
from __future__ import annotations

import queue
import threading
import time

import grpc

from client.errors import RETRYABLE_CODES, FatalError
from client.policy import CallPolicy
from client.replicas import Attempts, ReplicaSet
from ngram.cluster_file import TLSConfig
from ngram.wire import pb, pb_grpc
from ngram.wire.channels import open_channel


class ChannelPool:
    """One channel (and stub) per address, shared by every shard that address serves."""

    def __init__(self, tls: TLSConfig | None, max_message_bytes: int):
        self._tls = tls
        self._max_message_bytes = max_message_bytes
        self._stubs: dict[str, pb_grpc.NgramShardStub] = {}
        self._channels: list[grpc.Channel] = []
        self._lock = threading.Lock()

    def stub(self, address: str) -> pb_grpc.NgramShardStub:
        with self._lock:
            stub = self._stubs.get(address)
            if stub is None:
                ch = open_channel(address, self._tls, max_message_bytes=self._max_message_bytes)
                self._channels.append(ch)
                stub = self._stubs[address] = pb_grpc.NgramShardStub(ch)
            return stub

    def close(self) -> None:
        with self._lock:
            for ch in self._channels:
                ch.close()
            self._channels.clear()
            self._stubs.clear()


class ShardTransport:
    def __init__(self, replicas: ReplicaSet, channels: ChannelPool):
        self.replicas = replicas
        self.shard = replicas.shard
        self.addresses = replicas.addresses
        self.channels = channels
        self.policy: CallPolicy = replicas.policy
        self.hedges_sent = 0   # observable in tests and benchmarks
        self.retries = 0

    def hedge_delay(self) -> float | None:
        """Wait this long for the first replica before hedging: the policy's floor, or a
        multiple of the fastest replica's recent p95 latency when that is longer."""
        floor = self.policy.hedge_delay
        if floor is None or len(self.addresses) < 2:
            return None
        p95 = self.replicas.p95()
        return floor if p95 is None else max(floor, self.policy.hedge_factor * p95)

    def lookup(self, request: pb.LookupRequest, deadline: float, timeout: float) -> pb.LookupResponse:
        """Answer `request` from some replica before `deadline` (time.monotonic())."""
        return self.call(request, deadline, timeout)

    def call(self, request, deadline: float, timeout: float, method=lambda stub: stub.Lookup):
        """Any unary RPC of the shard service (`method` picks it from a stub: Lookup,
        Predict) under the same replica policy and hedging."""
        attempts = Attempts(self.replicas, deadline, timeout)
        if self.hedge_delay() is None:
            return self._lookup_sequential(request, attempts, method)
        return self._lookup_hedged(request, attempts, method)

    def _lookup_sequential(self, request, attempts: Attempts, method) -> pb.LookupResponse:
        started = time.monotonic()
        while (step := attempts.next()) is not None:
            addr, pause, budget = step
            if attempts.tried > 1:
                self.retries += 1
            if pause:
                time.sleep(pause)
            try:
                resp = method(self.channels.stub(addr))(request, timeout=budget)
            except grpc.RpcError as err:
                attempts.failed(addr, err.code(), err.details())
                continue
            attempts.succeeded(addr, time.monotonic() - started)
            return resp
        raise attempts.error()

    def _lookup_hedged(self, request, attempts: Attempts, method) -> pb.LookupResponse:
        """Attempts as futures, so that a hedge can race the first one."""
        done: queue.SimpleQueue = queue.SimpleQueue()
        pending: dict[grpc.Future, str] = {}
        launched: dict[grpc.Future, float] = {}  # each attempt's start: latencies per replica
        learning: set[grpc.Future] = set()  # attempts to replicas not known fast: not cancelled
        deadline = attempts.deadline
        replicas = self.replicas

        def launch(step=None) -> bool:
            step = step or attempts.next()
            if step is None:
                return False
            addr, _pause, budget = step  # a retry's pause was waited by the loop (retry_at)
            fut = method(self.channels.stub(addr)).future(request, timeout=budget)
            pending[fut] = addr
            launched[fut] = time.monotonic()
            if replicas.learning(addr):
                learning.add(fut)
            fut.add_done_callback(done.put)
            return True

        def cancel_all(keep_learning: bool = False) -> None:
            for f, a in pending.items():
                if keep_learning and f in learning:
                    f.add_done_callback(lambda f, a=a, t=launched[f]: _learned(replicas, a, f, t))
                else:
                    f.cancel()

        started = time.monotonic()
        launch()
        delay = self.hedge_delay()
        hedge_at = None if delay is None else started + delay
        if learning and delay is not None and launch():  # hedged at once: see ReplicaSet.learning
            self.hedges_sent += 1
        retry_at = retry_step = None
        while True:
            now = time.monotonic()
            if now >= deadline or not (pending or retry_at is not None):
                cancel_all()
                for addr in pending.values():
                    attempts.failures.setdefault(addr, "no answer before the deadline")
                raise attempts.error()
            wake = min(t for t in (deadline, hedge_at, retry_at) if t is not None)
            try:
                fut = done.get(timeout=max(0.0, wake - now))
            except queue.Empty:
                now = time.monotonic()
                if retry_at is not None and now >= retry_at:
                    retry_at = None
                    self.retries += 1
                    if launch(retry_step) and delay is not None:
                        hedge_at = now + delay
                elif hedge_at is not None and now >= hedge_at:
                    hedge_at = None
                    if launch():
                        self.hedges_sent += 1
                continue
            addr = pending.pop(fut)
            if fut.cancelled():
                continue
            err = fut.exception()
            if err is None:
                cancel_all(keep_learning=True)
                now = time.monotonic()
                attempts.succeeded(addr, now - launched[fut])
                # an attempt started earlier that lost the race took at least this long:
                # its replica's latencies must show it, or it stays first in line
                for other, other_addr in pending.items():
                    if launched[other] < launched[fut] and other not in learning:
                        self.replicas.observed(other_addr, now - launched[other])
                return fut.result()
            try:
                attempts.failed(addr, err.code(), err.details())
            except FatalError:
                cancel_all()
                raise
            if pending or retry_at is not None:
                continue  # a hedge is still running, or a retry is already scheduled
            # The next attempt: at once on a fresh replica, after a jittered pause on one
            # already tried (Attempts decides; the pause is waited here, not slept).
            hedge_at = None
            retry_step = attempts.next()
            if retry_step is None:
                raise attempts.error()
            retry_at = time.monotonic() + retry_step[1]


def _learned(replicas: ReplicaSet, address: str, fut: grpc.Future, started: float) -> None:
    """A learning attempt that lost its race ended: its answer's latency is learned, and
    a failure counts as one (a frozen replica outlives its budget: ejected, its cool-down
    growing, instead of staying unknown and hedged at once forever)."""
    if fut.cancelled():
        return
    err = fut.exception()
    if err is None:
        replicas.succeeded(address, time.monotonic() - started)
    elif isinstance(err, grpc.Call) and err.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
        replicas.failed(address, timed_out=True)
    elif isinstance(err, grpc.Call) and err.code() in RETRYABLE_CODES:
        replicas.failed(address, timed_out=False)
