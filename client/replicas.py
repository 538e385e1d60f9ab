"""The retry and failover policy for one shard's replicas: the one set of rules that unary
calls (client/transport.py) and streams (client/shard_stream.py) both follow.

- Order: replicas in rotating order (spreading load), ejected ones last, and replicas
  clearly slower than the fastest (recent median over `SLOW_FACTOR` x the fastest's)
  after the others, except for one first attempt in `EXPLORE_EVERY`; latencies older than
  `LATENCY_MAX_AGE_S` do not count, so a replica that recovered is soon used again.
- Hedge delay (client/transport.py) follows the fastest replica's recent p95, not the
  shard's pooled one: a slow replica must not teach the client to wait for it.
- Learning: an attempt sent to a replica not known to be fast (fewer than `MIN_SAMPLES`
  recent latencies, or slow: the first attempts of a new client, an exploring call) is
  hedged at once by the next replica, and is not cancelled when the hedge wins: its own
  answer (within its attempt budget) teaches the client its latency, and its failure
  counts as any attempt's (a frozen replica outlives the budget: ejected). So neither
  the learning phase nor exploring puts a slow replica's latency on a call.
- Attempt budget: an attempt that could still fail over (some replica of the shard has
  not timed out in this call) gets at most `CallPolicy.attempt_budget`; the last
  candidate gets all the time left. A frozen replica costs a share of the deadline.
- Failures: a fatal code (the request itself is wrong) ends the call at once
  (FatalError). A refusal or an unreachable replica (UNAVAILABLE, RESOURCE_EXHAUSTED,
  ABORTED) and an attempt that outlived its budget move on to the next replica.
- Ejection: a replica that failed goes to the back of the line for a cool-down:
  `eject_seconds`, doubling with each consecutive timeout up to `eject_max_seconds` (a
  frozen replica then costs one attempt budget per cool-down, not one per call). A
  success clears it. An unreachable replica's cool-down does not grow: once it is back
  (the channel's reconnect backoff is at most a second, ngram/wire/channels.py), the
  next call after the cool-down uses it. A replica in a timeout cool-down is probed
  (Info, `probe_timeout`) every `eject_seconds` while calls are made: an answer (thawed,
  or restarted) puts it back in rotation at once; a refused connection (the frozen
  process was killed) makes it unreachable, with the short cool-down.
- Backoff: moving to a replica not yet tried in the call is immediate; going back to
  one already tried waits a jittered pause (full jitter, doubling up to `backoff_max`).
- The call gives up after `max_attempts` attempts or at its deadline, with an error
  naming the shard and what each replica did.
"""
from __future__ import annotations

import collections
import itertools
import random
import threading
import time

import grpc

from client.errors import RETRYABLE_CODES, FatalError, ShardDeadlineError, ShardUnavailableError
from client.policy import CallPolicy
from ngram.errors import InvalidArgumentError

SLOW_FACTOR = 2.0       # a replica whose recent median is over this x the fastest's is "slow"
EXPLORE_EVERY = 50      # one first attempt in this many ignores speed (keeps latencies fresh)
LATENCY_WINDOW = 100    # recent latencies kept per replica
LATENCY_MAX_AGE_S = 5.0  # older samples do not count: a replica that recovered is tried again
MIN_SAMPLES = 5         # fewer than this: a replica's latency is unknown (treated as fast)
SLOW_RECHECK_S = 0.1    # the slow set is recomputed at most this often


class ReplicaSet:
    """One shard's replicas and their health, shared by every call and stream of a backend."""

    def __init__(self, shard: int, addresses: list[str], policy: CallPolicy, probe=None):
        """`probe(address)` (optional) starts a cheap RPC and returns its grpc.Future."""
        if not addresses:
            raise InvalidArgumentError(f"shard {shard} has no replica address")
        self.shard = shard
        self.addresses = list(addresses)
        self.policy = policy
        self._lock = threading.Lock()
        self._rotation = itertools.count(random.randrange(len(addresses)))
        self._ejected_until: dict[str, float] = {}
        self._timeouts: dict[str, int] = {}     # consecutive timeouts, for the cool-down
        self._probe = probe
        self._probe_at: dict[str, float] = {}   # next probe of a replica that timed out
        self._probing: set[str] = set()
        self._latencies = {a: collections.deque(maxlen=LATENCY_WINDOW) for a in self.addresses}
        self._slow_set: set[str] = set()
        self._unknown_set: set[str] = set(self.addresses)
        self._slow_until = 0.0
        self.ejections = 0  # observable in tests and benchmarks
        self.answered: collections.Counter = collections.Counter()  # address -> successes

    def order(self) -> list[str]:
        """Every replica, in rotating order, the ones in a cool-down last."""
        turn = next(self._rotation)
        k = turn % len(self.addresses)
        rotated = self.addresses[k:] + self.addresses[:k]
        if len(rotated) > 1 and turn % EXPLORE_EVERY:
            slow = self._slow()
            if slow:
                rotated = sorted(rotated, key=slow.__contains__)  # stable: the fast ones first
        if not self._ejected_until:  # the common case: nobody in a cool-down
            return rotated
        now = time.monotonic()
        with self._lock:
            until = dict(self._ejected_until)
            due = [a for a in self._timeouts if self._probe is not None and a not in self._probing
                   and until.get(a, 0.0) > now and self._probe_at.get(a, 0.0) <= now]
            for a in due:
                self._probing.add(a)
                self._probe_at[a] = now + self.policy.eject_seconds
        for a in due:
            self._start_probe(a)
        return sorted(rotated, key=lambda a: until.get(a, 0.0) > now)  # stable

    def _slow(self) -> set[str]:
        """Replicas whose recent median latency is over SLOW_FACTOR x the fastest's
        (recomputed at most every SLOW_RECHECK_S, with the replicas of unknown latency)."""
        now = time.monotonic()
        if now < self._slow_until:
            return self._slow_set
        medians = {a: _quantile(lat, 0.5, now) for a, lat in self._latencies.items()}
        known = [m for m in medians.values() if m is not None]
        best = min(known) if len(known) >= 2 else None
        self._unknown_set = {a for a, m in medians.items() if m is None}
        self._slow_set = set() if best is None else {
            a for a, m in medians.items() if m is not None and m > SLOW_FACTOR * best}
        self._slow_until = now + SLOW_RECHECK_S
        return self._slow_set

    def learning(self, address: str) -> bool:
        """True when `address` is not known to be fast (too few recent latencies, or slow):
        an attempt sent to it is hedged at once and left to finish (module doc)."""
        slow = self._slow()
        return address in slow or address in self._unknown_set

    def _start_probe(self, address: str) -> None:
        """Ask a replica in a timeout cool-down whether it answers at all. An answer (it
        was thawed, or restarted) puts it back in rotation; its timeout count stays, so
        if lookups still time out its next cool-down is longer. A refused connection (its
        process is gone) makes it an unreachable replica with the short cool-down. A
        probe that times out (still frozen) changes nothing."""
        try:
            fut = self._probe(address)
        except Exception:  # noqa: BLE001 - a probe that cannot start changes nothing
            with self._lock:
                self._probing.discard(address)
            return
        fut.add_done_callback(lambda f: self._probed(address, f))

    def _probed(self, address: str, fut) -> None:
        err = None if fut.cancelled() else fut.exception()
        gone = isinstance(err, grpc.Call) and err.code() == grpc.StatusCode.UNAVAILABLE
        with self._lock:
            self._probing.discard(address)
            if err is None and not fut.cancelled():
                self._ejected_until.pop(address, None)
            elif gone and self._timeouts.pop(address, None) is not None:
                until = min(self._ejected_until.get(address, 0.0), time.monotonic() + self.policy.eject_seconds)
                self._ejected_until[address] = until

    def is_ejected(self, address: str) -> bool:
        return self.cool_down_left(address) > 0

    def cool_down_left(self, address: str) -> float:
        """Seconds until `address` is back in rotation (0 when it is in rotation)."""
        with self._lock:
            return max(0.0, self._ejected_until.get(address, 0.0) - time.monotonic())

    def succeeded(self, address: str, latency: float | None = None) -> None:
        self.answered[address] += 1  # a statistic: a rare lost increment does not matter
        if latency is not None:
            self._latencies[address].append((time.monotonic(), latency))  # deque.append is atomic
        if address in self._ejected_until or address in self._timeouts:
            with self._lock:
                self._ejected_until.pop(address, None)
                self._timeouts.pop(address, None)

    def observed(self, address: str, latency: float) -> None:
        """A latency seen without an answer (a hedged attempt that lost the race took at
        least this long): it counts for ordering and hedging, not as a success."""
        self._latencies[address].append((time.monotonic(), latency))

    def failed(self, address: str, timed_out: bool) -> None:
        """Eject `address` for its cool-down (see the module docstring)."""
        p = self.policy
        with self._lock:
            if timed_out:
                n = self._timeouts[address] = self._timeouts.get(address, 0) + 1
                cool = min(p.eject_seconds * 2 ** (n - 1), p.eject_max_seconds)
            else:
                self._timeouts.pop(address, None)  # unreachable now, not frozen
                cool = p.eject_seconds
            self._ejected_until[address] = time.monotonic() + cool
            self.ejections += 1

    def p95(self) -> float | None:
        """The recent p95 latency of the fastest replica (the one with the lowest p95);
        None until some replica has MIN_SAMPLES answers."""
        now = time.monotonic()
        known = [q for q in (_quantile(lat, 0.95, now) for lat in self._latencies.values()) if q is not None]
        return min(known) if known else None


def _quantile(samples: collections.deque, q: float, now: float) -> float | None:
    """The q-quantile of the (time, latency) samples at most LATENCY_MAX_AGE_S old."""
    # list(): a copy, so appends from other threads are safe
    lat = sorted(v for t, v in list(samples) if now - t <= LATENCY_MAX_AGE_S)
    return lat[int(q * (len(lat) - 1))] if len(lat) >= MIN_SAMPLES else None


class Attempts:
    """One call's walk over a shard's replicas, under one deadline (time.monotonic())."""

    def __init__(self, replicas: ReplicaSet, deadline: float, timeout: float):
        self.replicas = replicas
        self.policy = replicas.policy
        self.deadline, self.timeout = deadline, timeout
        self.order = replicas.order()
        self.tried = 0
        self.failures: dict[str, str] = {}
        self._used: set[str] = set()
        self._timed_out: set[str] = set()
        self._next = 0
        self._backoff = self.policy.backoff_initial
        self.out_of_time = False

    def next(self) -> tuple[str, float, float] | None:
        """(address, seconds to pause first, the attempt's timeout), or None when the call
        is out of attempts or time. Replicas that timed out in this call are skipped while
        another remains."""
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            self.out_of_time = True
            return None
        if self.tried >= self.policy.max_attempts:
            return None
        live = [a for a in self.order if a not in self._timed_out] or self.order
        fresh = [a for a in live if a not in self._used]
        if fresh:
            addr = fresh[0]
        else:  # every replica left was tried: go round them again
            addr = live[self._next % len(live)]
            self._next += 1
        pause = 0.0
        if addr in self._used:
            pause = random.uniform(0, self._backoff)
            self._backoff = min(self._backoff * 2, self.policy.backoff_max)
            if pause >= remaining:
                self.out_of_time = True
                return None
            remaining -= pause
        self._used.add(addr)
        self.tried += 1
        can_fail_over = any(a != addr and a not in self._timed_out for a in self.order)
        budget = min(remaining, self.policy.attempt_budget(self.timeout)) if can_fail_over else remaining
        return addr, pause, max(0.001, budget)

    def budget_for(self, address: str) -> float | None:
        """An attempt budget for a stream part sent to `address` now, or None when the
        part should wait for its round's deadline (no replica left to fail over to)."""
        if not any(a != address and a not in self._timed_out for a in self.order):
            return None
        return self.policy.attempt_budget(self.timeout)

    def failed(self, address: str, code: grpc.StatusCode, details: str) -> None:
        """Record a failed attempt. Raises FatalError for a code no retry can fix. A
        DEADLINE_EXCEEDED before the call's own deadline means the attempt outlived its
        budget: the replica is ejected and the call moves on."""
        self.failures[address] = f"{code.name}: {details}"
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            if time.monotonic() >= self.deadline:
                return
            self._timed_out.add(address)
            self.replicas.failed(address, timed_out=True)
            return
        if code not in RETRYABLE_CODES:
            raise FatalError(self.replicas.shard, address, code, details)
        self.replicas.failed(address, timed_out=False)

    def lost(self, address: str, why: str) -> None:
        """A stream to `address` ended or was refused: fail over as after a refusal,
        whatever the code (the stream's requests are re-sent elsewhere)."""
        self.failures[address] = why
        self.replicas.failed(address, timed_out=False)

    def stalled(self, address: str, budget: float) -> None:
        """A stream's answer did not come within `budget`: as an attempt timing out."""
        self.failures[address] = f"DEADLINE_EXCEEDED: no answer within the attempt budget of {budget:.3g} s"
        self._timed_out.add(address)
        self.replicas.failed(address, timed_out=True)

    def succeeded(self, address: str, latency: float | None = None) -> None:
        self.replicas.succeeded(address, latency)

    def error(self, reason: str | None = None) -> ShardUnavailableError:
        """The call's final error: ShardDeadlineError if time ran out (or an attempt took
        the call's last moments), else ShardUnavailableError."""
        shard = self.replicas.shard
        if reason is None and (self.out_of_time or time.monotonic() >= self.deadline
                               or any(f.startswith("DEADLINE_EXCEEDED") for f in self.failures.values())):
            return ShardDeadlineError(shard, self.failures, self.timeout)
        return ShardUnavailableError(shard, self.failures,
                                     reason=reason or f"all {self.tried} attempts failed")
