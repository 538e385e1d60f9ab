"""Several model versions served at once, for rollouts without downtime.

An `EngineSet` maps model id -> ShardEngine and answers like one engine (the servicer
calls `check_target`, `lookup` and `predict`): each request is routed by the model id it names, so
during a rollout the old and the new version both answer, and a client that pins one id
per round never gets an answer of the other. `unload(model_id)` retires a version: new
requests for it are refused (FAILED_PRECONDITION, as for any model not held), accepted
ones finish, and only then is the model closed (its shard files unmapped).
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from shard_server.engine import ShardEngine
from shard_server.errors import WrongModelError
from ngram.errors import InvalidArgumentError


@dataclass
class _Entry:
    engine: ShardEngine
    inflight: int = 0
    retiring: bool = False
    idle: threading.Condition = field(default_factory=lambda: threading.Condition(threading.Lock()))


class EngineSet:
    def __init__(self, first: ShardEngine):
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {first.model_id: _Entry(first)}
        self.default = first  # what Info describes: the first model loaded

    # the engine interface the servicer and Info read, from the default model
    def __getattr__(self, name):
        return getattr(self.default, name)

    @property
    def model_id(self) -> str:
        return self.default.model_id

    def models(self) -> list[tuple[ShardEngine, int, bool]]:
        with self._lock:
            return [(e.engine, e.inflight, e.retiring) for e in self._entries.values()]

    def add(self, engine: ShardEngine) -> None:
        with self._lock:
            held = self._entries.get(engine.model_id)
            if held is not None and not held.retiring:
                raise InvalidArgumentError(f"model {engine.model_id} is already served")
            if held is not None:
                raise InvalidArgumentError(f"model {engine.model_id} is being unloaded; load it again afterwards")
            self._entries[engine.model_id] = _Entry(engine)

    def _acquire(self, model_id: str) -> _Entry:
        with self._lock:
            e = self._entries.get(model_id)
            if e is None or e.retiring:
                held = sorted(k for k, v in self._entries.items() if not v.retiring)
                raise WrongModelError(f"request is for model {model_id!r}, this server holds {held}")
            e.inflight += 1
            return e

    def _release(self, e: _Entry) -> None:
        with self._lock:
            e.inflight -= 1
            last = e.inflight == 0
        if last:
            with e.idle:
                e.idle.notify_all()

    def check_target(self, model_id: str, shard: int):
        e = self._acquire(model_id)
        try:
            return e.engine.check_target(model_id, shard)
        finally:
            self._release(e)

    def lookup(self, model_id: str, shard: int, ids, lengths):
        e = self._acquire(model_id)
        try:
            return e.engine.lookup(model_id, shard, ids, lengths)
        finally:
            self._release(e)

    def predict(self, model_id: str, shard: int, *args, **kw):
        e = self._acquire(model_id)
        try:
            return e.engine.predict(model_id, shard, *args, **kw)
        finally:
            self._release(e)

    def unload(self, model_id: str, timeout: float) -> bool:
        """Retire `model_id`; close it once no request uses it. False if requests still
        used it after `timeout` s (it stays retiring, and is closed by a later call)."""
        with self._lock:
            e = self._entries.get(model_id)
            if e is None:
                raise WrongModelError(f"model {model_id!r} is not served here")
            if len(self._entries) == 1:
                raise InvalidArgumentError(f"model {model_id} is the only one served; load its successor first")
            e.retiring = True
            if e.engine is self.default:
                self.default = next(x.engine for x in self._entries.values() if not x.retiring)
        deadline = time.monotonic() + timeout
        with e.idle:
            while True:
                with self._lock:
                    busy = e.inflight
                if not busy:
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                e.idle.wait(min(left, 0.1))
        with self._lock:
            if self._entries.get(model_id) is not e:
                return True  # another unload call closed it
            del self._entries[model_id]
        e.engine.model.close()
        return True
