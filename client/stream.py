"""Pipelined decoder rounds over LookupStream: one bidirectional stream per shard.

    with backend.stream_rounds(max_inflight=8) as rs:     # or Client.stream_rounds()
        futs = [rs.submit(ids, lengths) for ids, lengths in rounds]   # no waiting
        chains = [f.result() for f in futs]

- Flow control: at most `max_inflight` rounds are unanswered; `submit` waits (within the
  round's deadline) for a slot, so a fast producer cannot queue without bound. Servers
  stop reading a stream when their window is full, which pushes back through gRPC.
- Each round is planned as a unary lookup is (router.plan: split by shard, each run of
  repeats once); each part is one request on that shard's stream, tagged with a request
  id; each answer is written straight into the round's result, in input order.
- Failover per shard stream: client/shard_stream.py, with the policy unary calls follow
  (client/replicas.py) and the same replica health (a replica ejected by a unary call
  is avoided by the streams, and the other way round).
- Deadlines: one scheduler thread fails a round at its deadline with ShardDeadlineError
  naming the shard still missing and the replica it was sent to (LookupFailedError when
  several are missing); a late answer is dropped.
"""
from __future__ import annotations

import heapq
import itertools
import os
import threading
import time
from concurrent.futures import Future

from client import router
from client.errors import (LookupFailedError, ShardDeadlineError,
                           StreamBusyError, StreamClosedError)
from client.rounds import pair_ngrams, unique_rows
from client.shard_stream import Part, ShardStream
from ngram.chains import Chains
from ngram.wire import encode_array, pb

_serial = itertools.count()


class _Round:
    def __init__(self, batch: int, width: int, value_kind: str, deadline: float,
                 timeout: float, then, on_finish):
        self.batch, self.width, self.value_kind = batch, width, value_kind
        self.deadline, self.timeout = deadline, timeout
        self.then, self.on_finish = then, on_finish
        self.future: Future = Future()
        self.future.set_running_or_notify_cancel()  # a sent round cannot be cancelled
        self.waiting: dict[int, Part] = {}
        # Each part's answer is written here by its stream's reader (ShardStream) before
        # part_done; parts are answered once each, and a failed round's result is never
        # handed out, so no reader writes into a result a caller holds.
        self.out = Chains.uninitialized(batch, width, value_kind)
        self.done = False
        self._lock = threading.Lock()

    def part_done(self, part: Part) -> None:
        with self._lock:
            if self.done or self.waiting.get(part.shard) is not part:
                return
            del self.waiting[part.shard]
            if self.waiting:
                return
            self.done = True
        try:
            result = self.then(self.out) if self.then else self.out
        except Exception as e:  # noqa: BLE001 - reported through the future
            return self._finish([], error=e)
        self._finish([], result=result)

    def fail(self, error: Exception) -> None:
        with self._lock:
            if self.done:
                return
            self.done, left = True, list(self.waiting.values())
        self._finish(left, error=error)

    def expire(self) -> None:
        with self._lock:
            if self.done:
                return
            self.done, left = True, list(self.waiting.values())
        errors = {p.shard: ShardDeadlineError(
            p.shard, {p.address or "(not sent)": "no answer before the deadline"}, self.timeout)
            for p in left}
        err = errors[left[0].shard] if len(errors) == 1 else LookupFailedError(errors)
        self._finish(left, error=err)

    def _finish(self, left: list[Part], *, result=None, error=None) -> None:
        self.on_finish(self, left)  # frees the slot before callbacks run (they may submit)
        if error is not None:
            self.future.set_exception(error)
        else:
            self.future.set_result(result)


class _Scheduler:
    """One thread that runs callbacks at their times: rounds expiring at their deadlines
    (finished ones return at once), stalled stream parts, a stream's delayed reopen."""

    def __init__(self, name: str):
        self._heap: list = []
        self._seq = itertools.count()
        self._cv = threading.Condition()
        self._stop = False
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()

    def at(self, when: float, fn) -> None:
        with self._cv:
            heapq.heappush(self._heap, (when, next(self._seq), fn))
            self._cv.notify()

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._stop:
                    now = time.monotonic()
                    if self._heap and self._heap[0][0] <= now:
                        break
                    self._cv.wait(self._heap[0][0] - now if self._heap else None)
                if self._stop:
                    return
                _, _, fn = heapq.heappop(self._heap)
            fn()  # outside the lock: it takes the rounds' and streams' locks

    def stop(self) -> None:
        with self._cv:
            self._stop = True
            self._cv.notify()
        self.thread.join(5.0)


class RoundStream:
    """Rounds pipelined over one LookupStream per shard of a cluster. Made by
    RemoteBackend.stream_rounds, which hands over what the streams share with its unary
    calls: the batch check, the replicas' health and the channels."""

    def __init__(self, *, model_id: str, order: int, value_kind: str, num_shards: int,
                 shard_seed: int, check_batch, replicas: dict, channels, policy,
                 max_inflight: int | None = None, timeout: float | None = None):
        self.model_id, self.order, self.value_kind = model_id, order, value_kind
        self.num_shards, self.shard_seed = num_shards, shard_seed
        self._check_batch = check_batch
        self.max_inflight = max_inflight or policy.stream_rounds
        self.timeout = policy.timeout if timeout is None else timeout
        self.thread_prefix = f"ngram-stream-c{next(_serial)}-"  # lets tests check for leaks
        self._pid = os.getpid()
        self._scheduler = _Scheduler(self.thread_prefix + "deadlines")
        self.shards = {s: ShardStream(r, channels, order=order, value_kind=value_kind,
                                      timeout=self.timeout, schedule=self._scheduler.at,
                                      thread_prefix=self.thread_prefix)
                       for s, r in replicas.items()}
        self._slots = threading.BoundedSemaphore(self.max_inflight)
        self._lock = threading.Lock()
        self._inflight: set[_Round] = set()
        self._idle = threading.Condition(self._lock)
        self._closed = False
        self._ids = itertools.count(1)
        self.peak_inflight = 0   # most rounds unanswered at once, for tests and tuning

    def submit(self, ids, lengths, timeout: float | None = None, *, then=None) -> Future:
        """Send a round without waiting for it: a Future of its Chains (input order).
        `then` (optional) maps the merged Chains before the future resolves."""
        ids, lengths = self._check_batch(ids, lengths)  # a bad round fails before any send
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        if self._pid != os.getpid():
            raise StreamClosedError(f"this RoundStream was opened in process {self._pid}; its "
                                    "threads and calls do not survive fork(): open a new one "
                                    "with stream_rounds() in this process")
        if self._closed:
            raise StreamClosedError("round submitted to a closed RoundStream")
        if not self._slots.acquire(timeout=max(0.0, timeout)):
            raise StreamBusyError(f"{self.max_inflight} rounds still in flight after the "
                                  f"round's deadline of {timeout:g} s")
        rnd = _Round(len(lengths), self.order, self.value_kind, deadline,
                     timeout, then, self._finished)
        with self._lock:
            if self._closed:
                self._slots.release()
                raise StreamClosedError("round submitted to a closed RoundStream")
            self._inflight.add(rnd)
            self.peak_inflight = max(self.peak_inflight, len(self._inflight))
        plan = router.plan(ids, lengths, self.num_shards, self.shard_seed)
        for p in plan.parts:
            req = pb.LookupRequest(request_id=next(self._ids), model_id=self.model_id, shard=p.shard,
                                   ids=encode_array(plan.ids[p.u0:p.u1]),
                                   lengths=encode_array(plan.lengths[p.u0:p.u1]), packed_response=True)
            rnd.waiting[p.shard] = Part(rnd, p.shard, plan.order[p.i0:p.i1], req, plan.useq[p.i0:p.i1], p.u0,
                                        p.u1 - p.u0)
        parts = list(rnd.waiting.values())  # all registered before the first send
        if not parts:  # an empty round: nothing to send
            self._complete_empty(rnd)
            return rnd.future
        self._scheduler.at(rnd.deadline, rnd.expire)
        for part in parts:
            try:
                self.shards[part.shard].send(part)
            except RuntimeError:
                rnd.fail(StreamClosedError(f"shard {part.shard}: stream closed"))
                break
        return rnd.future

    def submit_pairs(self, contexts, context_lengths, words, timeout: float | None = None) -> Future:
        """A decoder round of (context, word) pairs: each distinct n-gram is sent once and
        the future's Chains has one row per pair (as Client.lookup_round)."""
        ids, lengths = pair_ngrams(contexts, context_lengths, words, self.order)
        first, inverse = unique_rows(ids, lengths)
        return self.submit(ids[first], lengths[first], timeout, then=lambda c: c.take(inverse))

    @staticmethod
    def _complete_empty(rnd: _Round) -> None:
        empty = Chains.empty(0, rnd.width, rnd.value_kind)
        with rnd._lock:
            rnd.done = True
        rnd._finish([], result=rnd.then(empty) if rnd.then else empty)

    def _finished(self, rnd: _Round, left: list[Part]) -> None:
        for part in left:  # unanswered parts of a failed round: stop re-sending them
            self.shards[part.shard].forget(part.request.request_id)
        with self._lock:
            if rnd in self._inflight:
                self._inflight.discard(rnd)
                self._slots.release()
                self._idle.notify_all()

    @property
    def addresses(self) -> dict[int, str | None]:
        """Shard -> the replica its stream talks to now (None before the first round)."""
        return {s: st.address for s, st in self.shards.items()}

    @property
    def failovers(self) -> int:
        return sum(st.failovers for st in self.shards.values())

    def close(self, wait: bool = True) -> None:
        """Stop accepting rounds; with `wait`, let the ones in flight finish (each is bounded
        by its deadline); fail any left with StreamClosedError; end every thread. In a
        forked child it only marks the stream closed: its calls and threads are the parent's."""
        if self._pid != os.getpid():
            self._closed = True
            return
        with self._lock:
            self._closed = True
            # Rounds end by their deadlines (the scheduler expires them); the wait is
            # bounded by the last of them all the same, in case that thread is gone.
            while wait and self._inflight:
                last = max(r.deadline for r in self._inflight) + 1.0
                if not self._idle.wait(max(0.0, last - time.monotonic())):
                    break
            left = list(self._inflight)
        for rnd in left:
            rnd.fail(StreamClosedError("RoundStream closed with the round in flight"))
        for st in self.shards.values():
            st.close()
        self._scheduler.stop()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        self.close(wait=exc_type is None)
