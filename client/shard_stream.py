"""One shard's LookupStream: a bidirectional call to one replica, with failover.

Requests go out through a queue that gRPC's request thread drains; a reader thread per
call matches responses to the parts still unanswered by request id (so a late duplicate
after a failover is simply dropped). When the call fails, ends early, is refused, or
leaves a part unanswered past its attempt budget (a frozen replica), the stream reopens
on the next replica and re-sends, in order, every part still unanswered. Which replica,
the budget, the cool-downs and the pauses are the policy unary calls follow
(client/replicas.py, one `Attempts` walk since the last answer). When the walk runs
out, the unanswered parts fail with ShardUnavailableError naming every replica tried;
the next part sent starts a new walk (the replicas may be back).

The call itself has no gRPC deadline: it lives as long as the RoundStream, and every
round on it has its own deadline (client/stream.py); close() cancels it.
"""
from __future__ import annotations

import functools
import math
import queue
import threading
import time
from dataclasses import dataclass, field

import grpc

from client.errors import RETRYABLE_CODES, FatalError, StreamClosedError
from client.replicas import Attempts, ReplicaSet
from ngram.wire import WireFormatError, pb
from ngram.wire.chains import decode_chains_into

_CODES = {c.value[0]: c for c in grpc.StatusCode}


@dataclass(eq=False)
class Part:
    """The rows of one round that one shard answers: the request holds `unique` distinct
    n-grams (router.plan's rows u0, u0 + 1, ...); round row rows[i] is unique row useq[i]."""
    round: object            # client.stream._Round
    shard: int
    rows: object             # np.ndarray of row indices into the round
    request: pb.LookupRequest
    useq: object             # np.ndarray, one per row
    u0: int
    unique: int
    address: str | None = field(default=None)  # replica it was last sent to
    sent_at: float = 0.0                        # when (time.monotonic())


def _requests(q: queue.SimpleQueue):
    while (item := q.get()) is not None:  # None retires the call's request thread
        yield item


class ShardStream:
    def __init__(self, replicas: ReplicaSet, channels, *, order: int, value_kind: str,
                 timeout: float, schedule, thread_prefix: str):
        """`schedule(when, fn)` runs fn at time.monotonic() `when` (the RoundStream's
        watcher thread); `timeout` is the rounds' deadline the attempt budget is cut from."""
        self.replicas = replicas
        self.shard = replicas.shard
        self.addresses = replicas.addresses
        self.channels = channels
        self.order, self.value_kind = order, value_kind
        self.timeout = timeout
        self._schedule = schedule
        self.thread_prefix = thread_prefix
        self._lock = threading.Lock()
        self._pending: dict[int, Part] = {}   # request id -> part, in send order
        self._attempts: Attempts | None = None  # the walk since the last answer
        self._gen = 0
        self._call = self._queue = self.address = None
        self._budget: float | None = None     # attempt budget on the current call
        self._reopen_at: float | None = None  # a reopen is scheduled (after a pause)
        self._stall_check_armed = False       # one stall check per call at a time
        self._readers: list[threading.Thread] = []
        self._closing = False
        self.failovers = 0  # observable in tests

    # -- sending -------------------------------------------------------------------
    def send(self, part: Part) -> None:
        lost = None
        with self._lock:
            if self._closing:
                raise StreamClosedError(f"shard {self.shard}: the stream is closed")
            self._pending[part.request.request_id] = part
            if self._call is not None:
                part.address = self.address
                self._queue.put(part.request)
                self._watch_locked(part)
            elif self._reopen_at is None:
                lost = self._open_next_locked()
        self._fail(lost)

    def forget(self, request_id: int) -> None:
        """The round no longer needs this part (deadline, another shard failed)."""
        with self._lock:
            self._pending.pop(request_id, None)

    def _open_next_locked(self):
        """Open the call on the replica the policy picks (now, or after its pause), or
        end the walk: returns (parts, error) to fail outside the lock, or None."""
        if self._attempts is None:
            self._attempts = Attempts(self.replicas, math.inf, self.timeout)
        step = self._attempts.next()
        if step is None:
            lost = list(self._pending.values())
            err = self._attempts.error(reason="stream failed on every replica tried")
            self._pending.clear()
            self._attempts = None
            return lost, err
        addr, pause, _ = step
        if pause > 0:
            self._reopen_at = time.monotonic() + pause
            self._schedule(self._reopen_at, functools.partial(self._reopen, self._gen, addr))
            return None
        self._open_locked(addr)
        return None

    def _reopen(self, gen: int, addr: str) -> None:
        with self._lock:
            if self._closing or gen != self._gen or self._reopen_at is None:
                return
            self._reopen_at = None
            if self._pending:
                self._open_locked(addr)

    def _open_locked(self, addr: str) -> None:
        """A call to `addr`; every part still unanswered is (re-)sent on it, oldest first."""
        self._gen += 1
        q: queue.SimpleQueue = queue.SimpleQueue()
        call = self.channels.stub(addr).LookupStream(_requests(q))
        self._call, self._queue, self.address = call, q, addr
        self._budget = self._attempts.budget_for(addr) if self._attempts else None
        self._stall_check_armed = False  # a check of the previous call is a no-op now
        t = threading.Thread(target=self._read, args=(self._gen, call, addr), daemon=True,
                             name=f"{self.thread_prefix}s{self.shard}-g{self._gen}")
        self._readers = [r for r in self._readers if r.is_alive()] + [t]
        t.start()
        for part in self._pending.values():
            part.address = addr
            q.put(part.request)
            self._watch_locked(part)

    def _watch_locked(self, part: Part) -> None:
        """Note when the part went out; with another replica left to fail over to, make
        sure a stall check is due when the oldest unanswered part outlives the attempt
        budget (one timer per call, not one per part)."""
        part.sent_at = time.monotonic()
        if self._budget is not None and not self._stall_check_armed:
            self._arm_locked(part.sent_at + self._budget)

    def _arm_locked(self, when: float) -> None:
        self._stall_check_armed = True
        self._schedule(when, functools.partial(self._check_stalled, self._gen))

    def _retire_locked(self) -> None:
        if self._queue is not None:
            self._queue.put(None)
        if self._call is not None:
            self._call.cancel()
        self._call = self._queue = None

    # -- receiving -----------------------------------------------------------------
    def _read(self, gen: int, call, addr: str) -> None:
        try:
            for resp in call:
                self._on_response(gen, addr, resp)
            why = "stream ended by the server"
        except grpc.RpcError as e:
            why = f"{e.code().name}: {e.details()}"
        except Exception as e:  # noqa: BLE001 - any failure of this call means failover
            why = f"{type(e).__name__}: {e}"
        self._on_stream_end(gen, addr, why)

    def _on_response(self, gen: int, addr: str, resp: pb.LookupResponse) -> None:
        code = _CODES.get(resp.status.code, grpc.StatusCode.UNKNOWN)
        refused = bool(resp.status.code) and code in RETRYABLE_CODES
        with self._lock:
            part = self._pending.get(resp.request_id)
            if part is None:
                return  # answered already (re-sent after a failover) or no longer wanted
            if not refused:
                del self._pending[resp.request_id]
                if self._attempts is not None:  # an answer ends the walk
                    self._attempts = None
                    self.replicas.succeeded(addr)
        if refused:
            # The replica refuses work (draining, busy): move the stream elsewhere.
            self._on_stream_end(gen, addr, f"{code.name}: {resp.status.message}")
            return
        if resp.status.code:
            part.round.fail(FatalError(self.shard, addr, code, resp.status.message))
            return
        try:
            if resp.shard != self.shard:
                raise WireFormatError(f"answer for shard {resp.shard}")
            decode_chains_into(resp, part.unique, self.order, self.value_kind, part.rows, part.useq, part.u0,
                               part.round.out)
        except WireFormatError as e:
            part.round.fail(FatalError(self.shard, addr, grpc.StatusCode.INTERNAL,
                                       f"malformed response: {e}"))
            return
        part.round.part_done(part)

    def _check_stalled(self, gen: int) -> None:
        with self._lock:
            if self._closing or gen != self._gen or self._call is None:
                return  # closed, or a newer call has its own check
            self._stall_check_armed = False
            oldest = next(iter(self._pending.values()), None)
            if oldest is None:
                return  # everything answered; the next part sent arms a new check
            due = oldest.sent_at + self._budget
            if time.monotonic() < due:
                self._arm_locked(due)
                return
            self._attempts_locked().stalled(self.address, self._budget)
            lost = self._fail_over_locked()
        self._fail(lost)

    def _on_stream_end(self, gen: int, addr: str, why: str) -> None:
        with self._lock:
            if self._closing or gen != self._gen or self._call is None:
                return  # closed on purpose, or this call was already replaced
            self._attempts_locked().lost(addr, why)
            lost = self._fail_over_locked()
        self._fail(lost)

    def _attempts_locked(self) -> Attempts:
        if self._attempts is None:
            self._attempts = Attempts(self.replicas, math.inf, self.timeout)
        return self._attempts

    def _fail_over_locked(self):
        """Retire the current call; reopen elsewhere if parts are waiting (else lazily,
        on the next send). Returns what _open_next_locked returns."""
        self._retire_locked()
        if not self._pending:
            return None
        self.failovers += 1
        return self._open_next_locked()

    @staticmethod
    def _fail(lost) -> None:
        if lost:
            parts, err = lost
            for part in parts:
                part.round.fail(err)

    # -- lifecycle -----------------------------------------------------------------
    def close(self, timeout: float = 5.0) -> None:
        with self._lock:
            self._closing = True
            self._pending.clear()
            self._retire_locked()
            readers = list(self._readers)
        for t in readers:
            t.join(timeout)
