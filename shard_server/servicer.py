"""The gRPC servicer: decode arrays, call the engine, encode Chains, map errors to codes.

Concurrency: a Lookup runs its kernel in the gRPC handler thread (numba `nogil`, so
handlers use several cores). Admission is a non-blocking semaphore of `max_inflight`
slots shared by Lookup calls and open streams: a full server answers RESOURCE_EXHAUSTED
at once instead of queueing without bound. A stream reads requests on its own thread,
runs up to `stream_window` of them at a time on the shared kernel pool, and yields the
responses (tagged with their request id) in arrival order; a full window stops reading,
which pushes back on the client through gRPC flow control.
"""
from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import Executor
from typing import NamedTuple

import grpc

from ngram.errors import InvalidQueryError, NgramError, WireFormatError
from ngram.limits import DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_SERVER_MAX_INFLIGHT, DEFAULT_STREAM_WINDOW
from ngram.wire import decode_array, encode_array, pb, pb_grpc
from ngram.wire.chains import encode_chains
from shard_server.engine import ShardEngine
from shard_server.errors import PredictionUnavailableError, ShardNotServedError, WrongModelError


class _Failure(NamedTuple):
    """The status a failed request is answered with (a value, never raised)."""
    code: grpc.StatusCode
    message: str


def _status_of(exc: Exception) -> _Failure:
    """Domain error -> gRPC status; the message always says what was wrong."""
    if isinstance(exc, (WireFormatError, InvalidQueryError)):
        return _Failure(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
    if isinstance(exc, (WrongModelError, ShardNotServedError, PredictionUnavailableError)):
        return _Failure(grpc.StatusCode.FAILED_PRECONDITION, str(exc))
    if isinstance(exc, NgramError):
        return _Failure(grpc.StatusCode.INTERNAL, f"{type(exc).__name__}: {exc}")
    return _Failure(grpc.StatusCode.INTERNAL, f"internal error: {type(exc).__name__}: {exc}")


class NgramShardServicer(pb_grpc.NgramShardServicer):
    def __init__(self, engine: ShardEngine, kernel_pool: Executor, metrics, *,
                 max_inflight: int = DEFAULT_SERVER_MAX_INFLIGHT, stream_window: int = DEFAULT_STREAM_WINDOW,
                 max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES, version: str = ""):
        self.engine = engine
        self.pool = kernel_pool
        self.metrics = metrics
        self.max_inflight = max_inflight
        self.stream_window = stream_window
        self.max_message_bytes = max_message_bytes
        self.version = version
        self._slots = threading.BoundedSemaphore(max_inflight)
        self._draining = threading.Event()
        self._lock = threading.Lock()
        self._inflight = 0

    # -- lifecycle -------------------------------------------------------------------
    def begin_drain(self) -> None:
        """From now on new work is refused with UNAVAILABLE; accepted work completes."""
        self._draining.set()

    @property
    def inflight(self) -> int:
        return self._inflight

    def _admit(self, context, method: str) -> None:
        if self._draining.is_set():
            self._abort(context, method, _Failure(grpc.StatusCode.UNAVAILABLE, "server is draining"))
        if not self._slots.acquire(blocking=False):
            self._abort(context, method, _Failure(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"server busy: {self.max_inflight} requests and streams in flight"))

    def _abort(self, context, method: str, f: _Failure):
        self.metrics.requests.labels(method, f.code.name).inc()
        self.metrics.errors.labels(f.code.name).inc()
        context.abort(f.code, f.message)

    # -- the work ---------------------------------------------------------------------
    def _count(self, delta: int) -> None:
        # In flight = accepted and not yet answered (a stream's queued rounds included).
        with self._lock:
            self._inflight += delta
        self.metrics.inflight.inc(delta)

    def _answer(self, request: pb.LookupRequest) -> pb.LookupResponse:
        self.engine.check_target(request.model_id, request.shard)  # before decoding anything
        ids = decode_array(request.ids, "ids", dtype="<i4")
        lengths = decode_array(request.lengths, "lengths", dtype="<i4")
        chains = self.engine.lookup(request.model_id, request.shard, ids, lengths)
        self.metrics.lookups.inc(ids.shape[0] if ids.ndim else 0)
        return encode_chains(request.request_id, request.shard, chains, packed=request.packed_response)

    # -- RPCs -----------------------------------------------------------------------
    def Lookup(self, request, context):
        self._admit(context, "Lookup")
        t0 = time.perf_counter()
        self._count(1)
        try:
            resp = self._answer(request)
        except Exception as e:  # noqa: BLE001 - every failure becomes a status code
            self._abort(context, "Lookup", _status_of(e))
        finally:
            self._count(-1)
            self._slots.release()
        self.metrics.latency.labels("Lookup").observe(time.perf_counter() - t0)
        self.metrics.requests.labels("Lookup", "OK").inc()
        return resp

    def _answer_streamed(self, request, t0: float) -> pb.LookupResponse:
        try:
            return self._answer_or_status(request, t0)
        finally:
            self._count(-1)

    def _answer_or_status(self, request, t0: float) -> pb.LookupResponse:
        if self._draining.is_set():
            f = _Failure(grpc.StatusCode.UNAVAILABLE, "server is draining")
        else:
            try:
                resp = self._answer(request)
                self.metrics.latency.labels("LookupStream").observe(time.perf_counter() - t0)
                self.metrics.requests.labels("LookupStream", "OK").inc()
                return resp
            except Exception as e:  # noqa: BLE001
                f = _status_of(e)
        self.metrics.requests.labels("LookupStream", f.code.name).inc()
        self.metrics.errors.labels(f.code.name).inc()
        # A bad request fails alone: the stream and the other rounds carry on.
        return pb.LookupResponse(request_id=request.request_id, shard=request.shard,
                                 status=pb.Status(code=f.code.value[0], message=f.message))

    def LookupStream(self, request_iterator, context):
        self._admit(context, "LookupStream")
        self.metrics.streams.inc()
        window: queue.Queue = queue.Queue(maxsize=self.stream_window)

        def put(item) -> bool:
            while context.is_active():
                try:
                    window.put(item, timeout=0.2)
                    return True
                except queue.Full:
                    continue
            return False

        def read():
            try:
                for request in request_iterator:
                    self._count(1)
                    fut = self.pool.submit(self._answer_streamed, request, time.perf_counter())
                    if not put(fut):
                        return
            except Exception:  # noqa: BLE001 - the client went away; the stream simply ends
                pass
            finally:
                put(None)

        reader = threading.Thread(target=read, name="ngram-stream-reader", daemon=True)
        reader.start()
        try:
            while True:
                try:
                    fut = window.get(timeout=0.2)
                except queue.Empty:
                    if not context.is_active():
                        return
                    continue
                if fut is None:
                    return
                yield fut.result()
        finally:
            self._slots.release()
            self.metrics.streams.dec()

    def Predict(self, request, context):
        """Top-k continuations (docs/PREDICTION.md); admitted and counted like a Lookup."""
        self._admit(context, "Predict")
        t0 = time.perf_counter()
        self._count(1)
        try:
            self.engine.check_target(request.model_id, request.shard)  # before decoding anything
            ctx = decode_array(request.context_ids, "context_ids", dtype="<i4", ndim=2)
            lengths = decode_array(request.context_lengths, "context_lengths", dtype="<i4", ndim=1)
            words, scores = self.engine.predict(
                request.model_id, request.shard, ctx, lengths, request.k, request.prefix or None,
                request.min_score if request.has_min_score else None, not request.include_special)
            resp = pb.PredictResponse(request_id=request.request_id, shard=request.shard,
                                      words=encode_array(words), scores=encode_array(scores))
        except Exception as e:  # noqa: BLE001 - every failure becomes a status code
            self._abort(context, "Predict", _status_of(e))
        finally:
            self._count(-1)
            self._slots.release()
        self.metrics.latency.labels("Predict").observe(time.perf_counter() - t0)
        self.metrics.requests.labels("Predict", "OK").inc()
        return resp

    def Info(self, request, context):
        e = self.engine
        return pb.InfoResponse(
            model_id=e.model_id, order=e.order, num_shards=int(e.model.num_shards),
            shard_seed=int(e.model.shard_seed), value_kind=str(e.model.value_kind),
            shards=e.shard_indices, vocab_size=e.vocab_size, max_batch=e.max_batch,
            max_message_bytes=self.max_message_bytes, inflight=self._inflight,
            draining=self._draining.is_set(), server_version=self.version,
            layout=",".join(sorted({t.layout_name for t in e.tables.values()})),
            table_bytes=sum(t.memory_bytes for t in e.tables.values()))
