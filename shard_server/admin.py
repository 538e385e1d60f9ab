"""The admin RPCs: load a second model version, unload one, list them (model rollouts).

Refused with PERMISSION_DENIED unless the server runs with `--admin` (LoadModel opens a
path on the server's machine). Loading opens the same shards as the first model, in the
same layout, verifies them if asked, and runs the kernel warm-up before the new version
answers anything. Unloading waits (bounded) until no request uses the version.
"""
from __future__ import annotations

import grpc

from ngram.errors import NgramError
from ngram.limits import DEFAULT_DRAIN_GRACE_S
from ngram.wire import pb
from shard_server.errors import WrongModelError


def _model_pb(engine, inflight: int, retiring: bool) -> pb.AdminModel:
    return pb.AdminModel(model_id=engine.model_id, path=str(engine.model.path), shards=engine.shard_indices,
                         inflight=inflight, retiring=retiring)


class AdminHandlers:
    def __init__(self, server):
        self.server = server  # the ShardServer: its engine set, layout and warm-up

    def _engines(self, context):
        if not self.server.config.admin:
            context.abort(grpc.StatusCode.PERMISSION_DENIED, "admin RPCs are off (start the server with --admin)")
        engines = self.server.engines
        if engines is None:
            context.abort(grpc.StatusCode.UNAVAILABLE, "shards are still opening")
        return engines

    def LoadModel(self, request, context):
        engines = self._engines(context)
        try:
            engine = self.server.load_model(request.model_dir, verify=request.verify)
        except (NgramError, ValueError, OSError) as e:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, f"cannot load {request.model_dir}: {e}")
        for eng, inflight, retiring in engines.models():
            if eng is engine:
                return pb.AdminLoadModelResponse(model=_model_pb(eng, inflight, retiring))
        return pb.AdminLoadModelResponse(model=_model_pb(engine, 0, False))

    def UnloadModel(self, request, context):
        engines = self._engines(context)
        tables = [t for e, _, _ in engines.models() if e.model_id == request.model_id for t in e.tables.values()]
        try:
            done = engines.unload(request.model_id, request.timeout_s or DEFAULT_DRAIN_GRACE_S)
        except WrongModelError as e:
            context.abort(grpc.StatusCode.NOT_FOUND, str(e))
        except ValueError as e:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(e))
        if done:
            for t in tables:
                self.server.metrics.table_bytes.labels(t.layout_name).dec(t.memory_bytes)
        return pb.AdminUnloadModelResponse(unloaded=done)

    def ListModels(self, request, context):
        engines = self._engines(context)
        return pb.AdminListModelsResponse(
            models=[_model_pb(e, n, r) for e, n, r in engines.models()], default_model_id=engines.model_id)
