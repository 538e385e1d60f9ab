"""The spelling service's core and its gRPC face (`ngram spell serve`; http.py is the HTTP one).

`SpellService` is what both transports call: it checks a request against the limits of
ngram/limits.py (a clear InvalidRequestError naming the text and the offset), admits it
(at most `max_inflight` requests admitted; beyond, ServiceBusyError at once, never an
unbounded queue) and hands it to one batcher thread. The batcher takes every request
waiting when it is free and corrects all their texts in one `Speller.correct` call, so
concurrent requests share the speller's batched language-model rounds (and a speller that
is not thread-safe is only ever called from that thread). A request whose deadline passes
while it waits is dropped before its texts are decoded.

`SpellServer` is the gRPC server: the `ngram.v1.Speller` service, health, reflection,
Prometheus metrics, deadlines and drain on SIGTERM, as for the shard servers.
"""
from __future__ import annotations

import dataclasses
import queue
import re
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

import grpc
from google.protobuf.message import DecodeError
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from client.errors import ClientError
from ngram.errors import InvalidArgumentError, InvalidQueryError, NgramError
from ngram.limits import (DEFAULT_DRAIN_GRACE_S, DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_SERVER_HOST,
                          DEFAULT_SPELL_MAX_INFLIGHT, DEFAULT_SPELL_TIMEOUT_S, MAX_SPELL_REQUEST_CHARS,
                          MAX_SPELL_BATCH_TEXTS)
from ngram.wire import pb

from .speller import check_texts as speller_rules
from .types import Correction

SPELLER_SERVICE = pb.DESCRIPTOR.services_by_name["Speller"].full_name  # "ngram.v1.Speller"
LATENCY_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0, 10.0)
# C0/C1 control characters other than tab and line breaks, and lone surrogates (JSON's
# "\ud800" decodes to one; no UTF-8 text holds one).
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


class InvalidRequestError(InvalidArgumentError):
    """A request outside the service's limits or with text it cannot take (INVALID_ARGUMENT / 400)."""


class ServiceBusyError(NgramError):
    """Every admission slot is taken (RESOURCE_EXHAUSTED / 503)."""


class ServiceUnavailableError(NgramError):
    """The service is starting or draining (UNAVAILABLE / 503)."""


class RequestDeadlineError(NgramError):
    """The request's deadline passed before its answer was ready (DEADLINE_EXCEEDED / 504)."""


def check_texts(texts) -> list[str]:
    """The request's texts, or InvalidRequestError saying which text is wrong and how."""
    if not isinstance(texts, (list, tuple)):
        raise InvalidRequestError(f"texts: expected a list of strings, got {type(texts).__name__}")
    if not texts:
        raise InvalidRequestError(f"texts: empty; send 1 to {MAX_SPELL_BATCH_TEXTS} texts")
    try:
        texts = speller_rules(texts)  # the Speller's rules
    except InvalidQueryError as err:
        raise InvalidRequestError(str(err)) from None
    total = 0
    for i, text in enumerate(texts):  # the service's stricter rule: no control characters
        bad = _FORBIDDEN.search(text)
        if bad:
            raise InvalidRequestError(f"texts[{i}]: control character U+{ord(bad.group()):04X} at offset {bad.start()}")
        total += len(text)
    if total > MAX_SPELL_REQUEST_CHARS:
        raise InvalidRequestError(f"texts: {total} characters in all, over the limit of "
                                  f"{MAX_SPELL_REQUEST_CHARS} per request")
    return list(texts)


def check_max_alternatives(value) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidRequestError(f"max_alternatives: expected an integer >= 0, got {value!r}")
    return value


def limit_alternatives(c: Correction, k: int | None) -> Correction:
    if k is None:
        return c
    return dataclasses.replace(c, changes=tuple(dataclasses.replace(ch, alternatives=ch.alternatives[:k])
                                                for ch in c.changes))


class SpellMetrics:
    """Prometheus metrics of one spelling service, on its own registry."""

    def __init__(self):
        r = self.registry = CollectorRegistry()
        self.requests = Counter("spell_requests", "Correct requests answered, by transport and outcome",
                                ["transport", "code"], registry=r)
        self.latency = Histogram("spell_request_seconds", "Time to answer one Correct request",
                                 ["transport"], buckets=LATENCY_BUCKETS, registry=r)
        self.texts = Counter("spell_texts", "Texts corrected", registry=r)
        self.changes = Counter("spell_changes", "Changes proposed", registry=r)
        self.batch_texts = Histogram("spell_batch_texts", "Texts per speller call (concurrent requests "
                                     "share one)", buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000), registry=r)
        self.inflight = Gauge("spell_inflight", "Requests admitted and not yet answered", registry=r)
        self._http = None

    def serve(self, port: int, host: str = DEFAULT_SERVER_HOST) -> int:
        """Start the /metrics endpoint; returns its port (0 picks one)."""
        self._http, _ = start_http_server(port, addr=host, registry=self.registry)
        return self._http.server_address[1]

    def close(self) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None


@dataclass
class _Job:
    texts: list[str]
    timeout: float
    deadline: float          # time.monotonic() by which the answer is due
    future: Future
    max_alternatives: int | None = None


class SpellService:
    """Admission, deadlines and micro-batching in front of one speller (see the module doc)."""

    def __init__(self, metrics: SpellMetrics | None = None, max_inflight: int = DEFAULT_SPELL_MAX_INFLIGHT,
                 default_timeout: float = DEFAULT_SPELL_TIMEOUT_S):
        self.metrics = metrics or SpellMetrics()
        self.max_inflight = max_inflight
        self.default_timeout = default_timeout
        self.speller = None
        self.model_id = ""
        self._slots = threading.BoundedSemaphore(max_inflight)
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._carry: _Job | None = None  # taken from the queue, left for the next batch
        self._draining = threading.Event()
        self._worker: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------
    def attach(self, speller, model_id: str) -> None:
        """Start answering with `speller` (its correct(list[str]) -> list[Correction])."""
        self.speller, self.model_id = speller, model_id
        self._worker = threading.Thread(target=self._run, name="spell-batcher", daemon=True)
        self._worker.start()

    @property
    def ready(self) -> bool:
        return self.speller is not None and not self._draining.is_set()

    def begin_drain(self) -> None:
        """Refuse new requests from now on; admitted ones are still answered."""
        self._draining.set()

    def close(self) -> None:
        """Stop the batcher after what it holds (call after the transports stopped)."""
        self._draining.set()
        if self._worker is not None:
            self._jobs.put(None)
            self._worker.join()
            self._worker = None

    # -- requests ----------------------------------------------------------------------
    def correct(self, texts, timeout: float | None = None, max_alternatives: int | None = None
                ) -> list[Correction]:
        """Check, admit and answer one request within `timeout` seconds (the default when None)."""
        job = self.begin(texts, timeout, max_alternatives)
        try:
            corrections = job.future.result(timeout=max(0.0, job.deadline - time.monotonic()))
        except FutureTimeout:
            raise self.late(job) from None
        return self.shape(job, corrections)

    def begin(self, texts, timeout: float | None = None, max_alternatives: int | None = None) -> _Job:
        """Check and admit a request; its job's future answers it (then `shape` the answer)."""
        texts = check_texts(texts)
        max_alternatives = check_max_alternatives(max_alternatives)
        job = self.submit(texts, timeout)
        job.max_alternatives = max_alternatives
        return job

    @staticmethod
    def late(job: _Job) -> RequestDeadlineError:
        job.future.cancel()  # still queued: the batcher skips it
        return RequestDeadlineError(f"no answer within the deadline of {job.timeout:g} s")

    @staticmethod
    def shape(job: _Job, corrections: list[Correction]) -> list[Correction]:
        return [limit_alternatives(c, job.max_alternatives) for c in corrections]

    def submit(self, texts: list[str], timeout: float | None = None) -> _Job:
        """Admit checked texts; the job's future answers them (its slot is freed when done)."""
        if not self.ready:
            raise ServiceUnavailableError("the speller is draining" if self._draining.is_set()
                                          else "the speller is still starting")
        if not self._slots.acquire(blocking=False):
            raise ServiceBusyError(f"service busy: {self.max_inflight} requests in flight")
        timeout = self.default_timeout if timeout is None else timeout
        job = _Job(texts, timeout, time.monotonic() + timeout, Future())
        self.metrics.inflight.inc()

        def release(_):
            self.metrics.inflight.dec()
            self._slots.release()
        job.future.add_done_callback(release)
        self._jobs.put(job)
        return job

    # -- the batcher ---------------------------------------------------------------------
    def _take(self) -> list[_Job] | None:
        """The jobs waiting now (at least one; None at close), skipping cancelled and late
        ones, up to MAX_SPELL_BATCH_TEXTS texts in all (a job that does not fit waits for
        the next call)."""
        jobs, texts = [], 0
        job, self._carry = self._carry or self._jobs.get(), None
        while job is not None:
            if jobs and texts + len(job.texts) > MAX_SPELL_BATCH_TEXTS:
                self._carry = job
                return jobs
            if not job.future.set_running_or_notify_cancel():
                pass  # its caller gave up waiting
            elif time.monotonic() >= job.deadline:
                job.future.set_exception(RequestDeadlineError("deadline passed while queued"))
            else:
                jobs.append(job)
                texts += len(job.texts)
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                return jobs
        self._jobs.put(None)  # close after this batch
        return jobs if jobs else None

    def _run(self) -> None:
        while (jobs := self._take()) is not None:
            if jobs:
                self._answer(jobs)

    def _answer(self, jobs: list[_Job]) -> None:
        texts = [t for job in jobs for t in job.texts]
        try:
            corrections = self.speller.correct(texts)
        except Exception as e:  # noqa: BLE001 - each job gets its own answer or error below
            if len(jobs) == 1:
                jobs[0].future.set_exception(e)
                return
            for job in jobs:  # one request's failure must not fail the others it was batched with
                self._answer([job])
            return
        self.metrics.batch_texts.observe(len(texts))
        self.metrics.texts.inc(len(texts))
        self.metrics.changes.inc(sum(len(c.changes) for c in corrections))
        at = 0
        for job in jobs:
            job.future.set_result(corrections[at:at + len(job.texts)])
            at += len(job.texts)


# -- gRPC --------------------------------------------------------------------------------
@dataclass
class _Undecodable:
    """A request body that is not a SpellRequest (bad UTF-8 in a string): answered
    INVALID_ARGUMENT by the servicer instead of gRPC's generic deserialization failure."""
    reason: str


def _parse_request(data: bytes):
    try:
        return pb.SpellRequest.FromString(data)
    except DecodeError as e:
        return _Undecodable(str(e))


def status_of(exc: BaseException) -> tuple[grpc.StatusCode, str]:
    """Service error -> gRPC status; the message says what was wrong."""
    for kind, code in (((InvalidArgumentError, InvalidQueryError), grpc.StatusCode.INVALID_ARGUMENT),
                       (ServiceBusyError, grpc.StatusCode.RESOURCE_EXHAUSTED),
                       ((ServiceUnavailableError, ClientError), grpc.StatusCode.UNAVAILABLE),  # ClientError: the cluster
                       (RequestDeadlineError, grpc.StatusCode.DEADLINE_EXCEEDED)):
        if isinstance(exc, kind):
            return code, str(exc)
    return grpc.StatusCode.INTERNAL, f"internal error: {type(exc).__name__}: {exc}"


def correction_to_pb(c: Correction) -> pb.SpellCorrection:
    return pb.SpellCorrection(text=c.text, corrected=c.corrected, changes=[
        pb.SpellChange(start=ch.start, end=ch.end, original=ch.original, replacement=ch.replacement,
                       confidence=ch.confidence,
                       alternatives=[pb.SpellAlternative(text=a.text, confidence=a.confidence)
                                     for a in ch.alternatives])
        for ch in c.changes])


NO_DEADLINE_S = 1e9  # gRPC reports a call without a deadline as ~9.2e18 s remaining


def client_deadline(context) -> float | None:
    """Seconds left of the client's deadline; None (the service's default) without one."""
    remaining = context.time_remaining()
    return None if remaining is None or remaining >= NO_DEADLINE_S else remaining


class SpellerServicer:
    """`ngram.v1.Speller/Correct` over a SpellService."""

    def __init__(self, service: SpellService):
        self.service = service

    def Correct(self, request, context):
        t0 = time.perf_counter()
        m = self.service.metrics
        try:
            if isinstance(request, _Undecodable):
                raise InvalidRequestError(f"not a valid SpellRequest: {request.reason}")
            k = request.max_alternatives if request.has_max_alternatives else None
            corrections = self.service.correct(list(request.texts), timeout=client_deadline(context),
                                               max_alternatives=k)
            resp = pb.SpellResponse(corrections=[correction_to_pb(c) for c in corrections],
                                    model_id=self.service.model_id)
        except Exception as e:  # noqa: BLE001 - every failure becomes a status code
            code, message = status_of(e)
            m.requests.labels("grpc", code.name).inc()
            context.abort(code, message)
        m.latency.labels("grpc").observe(time.perf_counter() - t0)
        m.requests.labels("grpc", "OK").inc()
        return resp


class SpellServer:
    """The gRPC server of a SpellService: Speller, health (NOT_SERVING until `attach`),
    reflection; `drain` refuses new requests, finishes admitted ones, then stops."""

    def __init__(self, service: SpellService, host: str = DEFAULT_SERVER_HOST, port: int = 0,
                 max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES):
        self.service, self.host = service, host
        self.health = health.HealthServicer(experimental_non_blocking=True)
        workers = service.max_inflight + 4  # health checks still answer under full load
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="spell-rpc")
        self.server = grpc.server(self._pool, maximum_concurrent_rpcs=workers, options=[
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes), ("grpc.so_reuseport", 0)])
        servicer = SpellerServicer(service)
        handler = grpc.unary_unary_rpc_method_handler(
            servicer.Correct, request_deserializer=_parse_request,
            response_serializer=pb.SpellResponse.SerializeToString)
        self.server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
            SPELLER_SERVICE, {"Correct": handler}),))
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        reflection.enable_server_reflection((SPELLER_SERVICE, health.SERVICE_NAME, reflection.SERVICE_NAME),
                                            self.server)
        self._set_health(health_pb2.HealthCheckResponse.NOT_SERVING)
        self.port = port

    def _set_health(self, status) -> None:
        for name in ("", SPELLER_SERVICE):
            self.health.set(name, status)

    def start(self) -> int:
        addr = f"{self.host}:{self.port}"
        self.port = self.server.add_insecure_port(addr)
        if not self.port:
            raise ServiceUnavailableError(f"cannot bind {addr} (address in use, or not an address of this host)")
        self.server.start()
        return self.port

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def serving(self) -> None:
        self._set_health(health_pb2.HealthCheckResponse.SERVING)

    def drain(self, grace: float = DEFAULT_DRAIN_GRACE_S) -> None:
        self._set_health(health_pb2.HealthCheckResponse.NOT_SERVING)
        self.service.begin_drain()
        self.server.stop(grace).wait()
        self._pool.shutdown(wait=True)
