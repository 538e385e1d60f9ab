"""JSON over HTTP beside the gRPC service (aiohttp), for web back ends.

  POST /correct  {"texts": [...], "max_alternatives": k (optional)}
                 -> 200 {"corrections": [Correction.to_dict(), ...], "model_id": "..."}
  GET  /healthz  -> 200 {"status": "SERVING"} | 503 {"status": "NOT_SERVING"}

A refused request answers {"error": {"code": "...", "message": "..."}}: 400 for bad input
(not UTF-8, not JSON, outside the limits), 413 for a body over MAX_SPELL_HTTP_BODY_BYTES,
503 busy/draining, 504 past the service's request deadline. The server runs its own event
loop on a thread; the work is the SpellService's (service.py), shared with gRPC.
"""
from __future__ import annotations

import asyncio
import json
import threading
import time

from aiohttp import web

from ngram.limits import DEFAULT_DRAIN_GRACE_S, DEFAULT_SERVER_HOST, MAX_SPELL_HTTP_BODY_BYTES

from .service import InvalidRequestError, SpellService, status_of

_HTTP_STATUS = {"INVALID_ARGUMENT": 400, "RESOURCE_EXHAUSTED": 503, "UNAVAILABLE": 503,
                "DEADLINE_EXCEEDED": 504, "INTERNAL": 500}
_START_TIMEOUT_S = 30.0


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def parse_body(body: bytes) -> tuple[list, int | None]:
    """(texts, max_alternatives) of a POST /correct body, or InvalidRequestError saying why not."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InvalidRequestError(f"request body is not valid UTF-8: byte 0x{body[e.start]:02x} "
                                  f"at offset {e.start} ({e.reason})") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise InvalidRequestError(f"request body is not valid JSON: {e}") from None
    if not isinstance(doc, dict) or "texts" not in doc:
        raise InvalidRequestError('request body must be a JSON object {"texts": [...]}')
    unknown = set(doc) - {"texts", "max_alternatives"}
    if unknown:
        raise InvalidRequestError(f"unknown fields {sorted(unknown)}; known: texts, max_alternatives")
    return doc["texts"], doc.get("max_alternatives")


class SpellHttpServer:
    def __init__(self, service: SpellService, host: str = DEFAULT_SERVER_HOST, port: int = 0,
                 drain_grace: float = DEFAULT_DRAIN_GRACE_S):
        self.service, self.host, self.port = service, host, port
        self.app = web.Application(client_max_size=MAX_SPELL_HTTP_BODY_BYTES)
        self.app.add_routes([web.post("/correct", self._correct), web.get("/healthz", self._healthz)])
        self.app.middlewares.append(_json_errors)
        self.drain_grace = drain_grace
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=drain_grace)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="spell-http", daemon=True)

    def start(self) -> int:
        """Bind and serve; returns the port (0 picks a free one)."""
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(_START_TIMEOUT_S)
        return self.port

    async def _start(self) -> None:
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        self.port = self._runner.addresses[0][1]

    def stop(self) -> None:
        """Stop listening, let requests in progress finish (up to the drain grace), stop the loop."""
        if not self._thread.is_alive():
            return
        try:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(
                self.drain_grace + _START_TIMEOUT_S)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            self._loop.close()

    # -- handlers ----------------------------------------------------------------------
    async def _healthz(self, request: web.Request) -> web.Response:
        ready = self.service.ready
        return web.json_response({"status": "SERVING" if ready else "NOT_SERVING"}, status=200 if ready else 503)

    async def _correct(self, request: web.Request) -> web.Response:
        t0 = time.perf_counter()
        m = self.service.metrics
        try:
            texts, k = parse_body(await request.read())
            job = self.service.begin(texts, max_alternatives=k)
            try:
                corrections = await asyncio.wait_for(asyncio.wrap_future(job.future),
                                                     max(0.0, job.deadline - time.monotonic()))
            except asyncio.TimeoutError:
                raise self.service.late(job) from None
            body = {"corrections": [c.to_dict() for c in self.service.shape(job, corrections)],
                    "model_id": self.service.model_id}
        except web.HTTPException:  # aiohttp's own (413: body too large): _json_errors answers
            raise
        except Exception as e:  # noqa: BLE001 - every failure becomes a status and a message
            code, message = status_of(e)
            m.requests.labels("http", code.name).inc()
            return _error(_HTTP_STATUS.get(code.name, 500), code.name, message)
        m.latency.labels("http").observe(time.perf_counter() - t0)
        m.requests.labels("http", "OK").inc()
        return web.json_response(body)


@web.middleware
async def _json_errors(request: web.Request, handler):
    """aiohttp's own refusals (404, 405, 413) in the same JSON shape as ours."""
    try:
        return await handler(request)
    except web.HTTPException as e:
        if e.status < 400:
            raise
        code = "INVALID_ARGUMENT" if e.status in (400, 413) else e.reason.upper().replace(" ", "_")
        message = f"request body over the limit of {MAX_SPELL_HTTP_BODY_BYTES} bytes" if e.status == 413 else e.text
        return _error(e.status, code, message)
