"""Per-shard transport: one unary Lookup answered by some replica of a shard.

Policy, per call (without hedging, attempts are blocking calls one after another):
- Replicas are tried in rotating order (spreading load), recently failed ones last.
- Hedging: if the first attempt has not answered after max(`hedge_delay`, `hedge_factor`
  x the shard's recent p95 latency), the same request
  goes to the next replica too; the first success wins and the other is cancelled.
- Retryable codes (UNAVAILABLE, RESOURCE_EXHAUSTED, ABORTED) move on to the next replica
  after a jittered exponential pause; fatal codes fail the call at once.
- Everything happens under the call's deadline; each attempt gets the time remaining.
"""
from __future__ import annotations

import collections
import itertools
import queue
import random
import threading
import time

import grpc

from client.errors import (RETRYABLE_CODES, FatalError, ShardDeadlineError, ShardUnavailableError)
from client.policy import CallPolicy
from ngram.cluster_file import TLSConfig
from ngram.wire import pb, pb_grpc


class ChannelPool:
    """One channel (and stub) per address, shared by every shard that address serves."""

    def __init__(self, tls: TLSConfig | None, max_message_bytes: int):
        self._tls = tls
        self._opts = [("grpc.max_receive_message_length", max_message_bytes),
                      ("grpc.max_send_message_length", max_message_bytes)]
        self._stubs: dict[str, pb_grpc.NgramShardStub] = {}
        self._channels: list[grpc.Channel] = []
        self._lock = threading.Lock()

    def stub(self, address: str) -> pb_grpc.NgramShardStub:
        with self._lock:
            stub = self._stubs.get(address)
            if stub is None:
                ch = self._open(address)
                self._channels.append(ch)
                stub = self._stubs[address] = pb_grpc.NgramShardStub(ch)
            return stub

    def _open(self, address: str) -> grpc.Channel:
        if self._tls is None:
            return grpc.insecure_channel(address, options=self._opts)
        roots, key, chain = self._tls.read()
        opts = list(self._opts)
        if self._tls.server_name:
            opts.append(("grpc.ssl_target_name_override", self._tls.server_name))
        return grpc.secure_channel(address, grpc.ssl_channel_credentials(roots, key, chain), opts)

    def close(self) -> None:
        with self._lock:
            for ch in self._channels:
                ch.close()
            self._channels.clear()
            self._stubs.clear()


class ShardTransport:
    def __init__(self, shard: int, addresses: list[str], channels: ChannelPool, policy: CallPolicy):
        if not addresses:
            raise ValueError(f"shard {shard} has no replica address")
        self.shard = shard
        self.addresses = list(addresses)
        self.channels = channels
        self.policy = policy
        self._rotation = itertools.count(random.randrange(len(addresses)))
        self._ejected_until: dict[str, float] = {}
        self.hedges_sent = 0   # observable in tests and benchmarks
        self.retries = 0
        self._latencies: collections.deque = collections.deque(maxlen=100)

    def hedge_delay(self) -> float | None:
        """Wait this long for the first replica before hedging: the policy's floor, or a
        multiple of this shard's recent p95 latency when that is longer."""
        floor = self.policy.hedge_delay
        if floor is None or len(self.addresses) < 2:
            return None
        if len(self._latencies) < 10:
            return floor
        p95 = sorted(self._latencies)[int(0.95 * (len(self._latencies) - 1))]
        return max(floor, self.policy.hedge_factor * p95)

    def _order(self) -> list[str]:
        k = next(self._rotation) % len(self.addresses)
        rotated = self.addresses[k:] + self.addresses[:k]
        now = time.monotonic()
        return sorted(rotated, key=lambda a: self._ejected_until.get(a, 0.0) > now)  # stable

    def lookup(self, request: pb.LookupRequest, deadline: float, timeout: float) -> pb.LookupResponse:
        """Answer `request` from some replica before `deadline` (time.monotonic())."""
        if self.hedge_delay() is None:
            return self._lookup_sequential(request, deadline, timeout)
        return self._lookup_hedged(request, deadline, timeout)

    def _failed(self, addr: str, err: grpc.RpcError, failures: dict[str, str]) -> grpc.StatusCode:
        """Records a failed attempt; raises FatalError for a code that no retry can fix."""
        code, details = err.code(), err.details()
        failures[addr] = f"{code.name}: {details}"
        if code != grpc.StatusCode.DEADLINE_EXCEEDED and code not in RETRYABLE_CODES:
            raise FatalError(self.shard, addr, code, details)
        return code

    def _lookup_sequential(self, request: pb.LookupRequest, deadline: float, timeout: float) -> pb.LookupResponse:
        """Without hedging, one attempt at a time, each a blocking call from this thread:
        the future API would start a channel thread per call and hand the answer over
        through a callback."""
        p = self.policy
        order = self._order()
        failures: dict[str, str] = {}
        backoff = p.backoff_initial
        started = time.monotonic()
        for tried in range(p.max_attempts):
            addr = order[tried % len(order)]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            if tried:
                self.retries += 1
            try:
                resp = self.channels.stub(addr).Lookup(request, timeout=max(0.001, remaining))
            except grpc.RpcError as err:
                if self._failed(addr, err, failures) == grpc.StatusCode.DEADLINE_EXCEEDED:
                    break
                self._ejected_until[addr] = time.monotonic() + p.eject_seconds
                pause = random.uniform(0, backoff)  # full jitter, doubling up to backoff_max
                backoff = min(backoff * 2, p.backoff_max)
                if tried + 1 < p.max_attempts and time.monotonic() + pause < deadline:
                    time.sleep(pause)
                continue
            self._ejected_until.pop(addr, None)
            self._latencies.append(time.monotonic() - started)
            return resp
        if time.monotonic() >= deadline or any(f.startswith("DEADLINE_EXCEEDED") for f in failures.values()):
            raise ShardDeadlineError(self.shard, failures, timeout)
        raise ShardUnavailableError(self.shard, failures, reason=f"all {p.max_attempts} attempts failed")

    def _lookup_hedged(self, request: pb.LookupRequest, deadline: float, timeout: float) -> pb.LookupResponse:
        """Attempts as futures, so that a hedge can race the first one."""
        p = self.policy
        order = self._order()
        done: queue.SimpleQueue = queue.SimpleQueue()
        pending: dict[grpc.Future, str] = {}
        failures: dict[str, str] = {}
        tried = 0

        def launch() -> None:
            nonlocal tried
            addr = order[tried % len(order)]
            tried += 1
            fut = self.channels.stub(addr).Lookup.future(
                request, timeout=max(0.001, deadline - time.monotonic()))
            pending[fut] = addr
            fut.add_done_callback(done.put)

        def cancel_all() -> None:
            for f in pending:
                f.cancel()

        started = time.monotonic()
        launch()
        delay = self.hedge_delay()
        hedge_at = None if delay is None else started + delay
        retry_at = None
        backoff = p.backoff_initial
        while True:
            now = time.monotonic()
            if now >= deadline:
                cancel_all()
                for addr in pending.values():
                    failures.setdefault(addr, "no answer before the deadline")
                raise ShardDeadlineError(self.shard, failures, timeout)
            wake = min(t for t in (deadline, hedge_at, retry_at) if t is not None)
            try:
                fut = done.get(timeout=max(0.0, wake - now))
            except queue.Empty:
                now = time.monotonic()
                if retry_at is not None and now >= retry_at:
                    retry_at = None
                    self.retries += 1
                    launch()
                    if delay is not None:
                        hedge_at = now + delay
                elif hedge_at is not None and now >= hedge_at and tried < p.max_attempts:
                    hedge_at = None
                    self.hedges_sent += 1
                    launch()
                continue
            addr = pending.pop(fut)
            if fut.cancelled():
                continue
            err = fut.exception()
            if err is None:
                cancel_all()
                self._ejected_until.pop(addr, None)
                self._latencies.append(time.monotonic() - started)
                return fut.result()
            try:
                code = self._failed(addr, err, failures)
            except FatalError:
                cancel_all()
                raise
            if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                continue  # the loop reports the deadline once the others are given up
            self._ejected_until[addr] = time.monotonic() + p.eject_seconds
            if pending or retry_at is not None:
                continue  # a hedge is still running, or a retry is already scheduled
            if tried >= p.max_attempts:
                raise ShardUnavailableError(self.shard, failures,
                                            reason=f"all {tried} attempts failed")
            # Full jitter: pause uniformly in [0, backoff], doubling up to backoff_max.
            retry_at = time.monotonic() + random.uniform(0, backoff)
            backoff = min(backoff * 2, p.backoff_max)
            hedge_at = None
