"""One shard's LookupStream: a bidirectional call to one replica, with failover.

Requests go out through a queue that gRPC's request thread drains; a reader thread per
call matches responses to the parts still unanswered by request id (so a late duplicate
after a failover is simply dropped). When the call fails or ends early, the stream
reopens on the next replica and re-sends, in order, every part still unanswered: no
round is lost while one replica of the shard is alive. When every replica has failed
since the last answer, the unanswered parts fail with ShardUnavailableError naming them;
the next part sent starts over (the replicas may be back).

The call itself has no gRPC deadline: it lives as long as the RoundStream, and every
round on it has its own deadline (client/stream.py); close() cancels it.
"""
from __future__ import annotations

import queue
import random
import threading
from dataclasses import dataclass, field

import grpc

from client.errors import RETRYABLE_CODES, FatalError, ShardUnavailableError
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


def _requests(q: queue.SimpleQueue):
    while (item := q.get()) is not None:  # None retires the call's request thread
        yield item


class ShardStream:
    def __init__(self, shard: int, addresses: list[str], channels, *, order: int,
                 value_kind: str, thread_prefix: str):
        self.shard = shard
        self.addresses = list(addresses)
        self.channels = channels
        self.order, self.value_kind = order, value_kind
        self.thread_prefix = thread_prefix
        self._lock = threading.Lock()
        self._pending: dict[int, Part] = {}   # request id -> part, in send order
        self._failures: dict[str, str] = {}   # replicas failed since the last answer
        self._start = random.randrange(len(self.addresses))  # spread shards over replicas
        self._gen = 0
        self._call = self._queue = self.address = None
        self._readers: list[threading.Thread] = []
        self._closing = False
        self.failovers = 0  # observable in tests

    # -- sending -------------------------------------------------------------------
    def send(self, part: Part) -> None:
        with self._lock:
            if self._closing:
                raise RuntimeError("stream closed")
            self._pending[part.request.request_id] = part
            if self._call is None:
                self._open_locked()
            part.address = self.address
            self._queue.put(part.request)

    def forget(self, request_id: int) -> None:
        """The round no longer needs this part (deadline, another shard failed)."""
        with self._lock:
            self._pending.pop(request_id, None)

    def _open_locked(self) -> None:
        n = len(self.addresses)
        ring = [self.addresses[(self._start + i) % n] for i in range(n)]
        fresh = [a for a in ring if a not in self._failures]
        addr = fresh[0] if fresh else ring[0]
        self._start = self.addresses.index(addr)  # stay on it while it works
        self._gen += 1
        q: queue.SimpleQueue = queue.SimpleQueue()
        call = self.channels.stub(addr).LookupStream(_requests(q))
        self._call, self._queue, self.address = call, q, addr
        t = threading.Thread(target=self._read, args=(self._gen, call, addr), daemon=True,
                             name=f"{self.thread_prefix}s{self.shard}-g{self._gen}")
        self._readers = [r for r in self._readers if r.is_alive()] + [t]
        t.start()

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
                self._failures.clear()
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

    def _on_stream_end(self, gen: int, addr: str, why: str) -> None:
        with self._lock:
            if self._closing or gen != self._gen:
                return  # closed on purpose, or this call was already replaced
            self._retire_locked()
            self._failures[addr] = why
            if not self._pending:
                return  # reopen lazily, on the next send
            self.failovers += 1
            if len(self._failures) < len(self.addresses):
                self._open_locked()
                for part in self._pending.values():  # re-send, oldest first
                    part.address = self.address
                    self._queue.put(part.request)
                return
            lost, failures = list(self._pending.values()), dict(self._failures)
            self._pending.clear()
            self._failures.clear()
        err = ShardUnavailableError(self.shard, failures, reason="stream failed on every replica")
        for part in lost:
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
