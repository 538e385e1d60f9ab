"""Server bootstrap: gRPC server with the servicer, health, reflection, metrics, TLS, drain.

Lifecycle: `start()` binds the port with health NOT_SERVING; `attach(engine)` (after the
shards are mmapped) flips health to SERVING; `drain(grace)` flips it to NOT_SERVING,
refuses new work with UNAVAILABLE, waits up to `grace` seconds for accepted requests to
finish, then stops.
"""
from __future__ import annotations

import itertools
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import grpc
import numpy as np
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from ngram.chains import Chains
from ngram.kernels.batch_ops import gather_unique
from ngram.limits import (DEFAULT_DRAIN_GRACE_S, DEFAULT_LAYOUT, DEFAULT_MAX_BATCH, DEFAULT_MAX_MESSAGE_BYTES,
                          DEFAULT_SERVER_HOST, DEFAULT_SERVER_MAX_INFLIGHT, DEFAULT_STREAM_WINDOW)
from ngram.wire import SERVICE_NAME, pb_grpc
from ngram.wire.chains import NARROW_COUNT_TYPES, decode_chains, decode_chains_into, encode_chains
from shard_server.metrics import ServerMetrics
from shard_server.admin import AdminHandlers
from shard_server.engine import ShardEngine
from shard_server.engine_set import EngineSet
from shard_server.errors import ServerStartError
from shard_server.servicer import NgramShardServicer
from ngram.errors import InvalidArgumentError


@dataclass
class ServerConfig:
    host: str = DEFAULT_SERVER_HOST       # loopback unless asked otherwise
    port: int = 0                         # 0: the OS picks a free port
    max_inflight: int = DEFAULT_SERVER_MAX_INFLIGHT  # lookups + open streams before RESOURCE_EXHAUSTED
    threads: int = os.cpu_count() or 2    # kernel threads for stream requests
    stream_window: int = DEFAULT_STREAM_WINDOW  # requests of one stream answered concurrently
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES  # both directions
    max_batch: int = DEFAULT_MAX_BATCH    # n-grams per request
    metrics_port: int | None = None       # None: no Prometheus endpoint; 0: any free port
    tls_cert: str | None = None           # server certificate chain (PEM) -> TLS
    tls_key: str | None = None
    tls_client_ca: str | None = None      # roots for client certificates -> mutual TLS
    admin: bool = False                   # answer LoadModel/UnloadModel/ListModels (rollouts)


_serial = itertools.count()


class ShardServer:
    engine_class = ShardEngine  # what answers the lookups of an opened model

    def __init__(self, config: ServerConfig, version: str = ""):
        self.config = config
        self.metrics = ServerMetrics()
        # Thread names carry a per-server tag, so tests can check this server left none.
        self.thread_prefix = f"ngram-s{next(_serial)}-"
        self.kernel_pool = ThreadPoolExecutor(max(1, config.threads),
                                              thread_name_prefix=self.thread_prefix + "kernel")
        self.servicer = _LazyServicer(self.kernel_pool, self.metrics, config, version)
        self.servicer.admin = AdminHandlers(self)
        self.engines: EngineSet | None = None  # model id -> engine, once the first model is open
        self._layout = DEFAULT_LAYOUT
        self.health = health.HealthServicer(experimental_non_blocking=True)
        # Handler threads: one per admitted lookup/stream plus headroom so health checks
        # and Info still answer under full load; beyond that gRPC refuses, never queues.
        workers = config.max_inflight + 4
        opts = [("grpc.max_receive_message_length", config.max_message_bytes),
                ("grpc.max_send_message_length", config.max_message_bytes),
                ("grpc.so_reuseport", 0)]
        self.rpc_pool = ThreadPoolExecutor(workers, thread_name_prefix=self.thread_prefix + "rpc")
        self.server = grpc.server(self.rpc_pool, options=opts, maximum_concurrent_rpcs=workers)
        pb_grpc.add_NgramShardServicer_to_server(self.servicer, self.server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        reflection.enable_server_reflection(
            (SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), self.server)
        self._set_health(health_pb2.HealthCheckResponse.NOT_SERVING)
        self.port: int | None = None
        self.metrics_port: int | None = None

    def _set_health(self, status) -> None:
        for name in ("", SERVICE_NAME):
            self.health.set(name, status)

    def _credentials(self):
        c = self.config
        if not c.tls_cert:
            return None
        key, cert = Path(c.tls_key).read_bytes(), Path(c.tls_cert).read_bytes()
        roots = Path(c.tls_client_ca).read_bytes() if c.tls_client_ca else None
        return grpc.ssl_server_credentials([(key, cert)], root_certificates=roots,
                                           require_client_auth=roots is not None)

    def start(self) -> int:
        """Bind and start serving (health NOT_SERVING until `attach`); returns the port."""
        addr = f"{self.config.host}:{self.config.port}"
        creds = self._credentials()
        self.port = (self.server.add_secure_port(addr, creds) if creds
                     else self.server.add_insecure_port(addr))
        if not self.port:
            raise ServerStartError(f"cannot bind {addr} (address in use, or not an address of this host)")
        self.server.start()
        if self.config.metrics_port is not None:
            self.metrics_port = self.metrics.serve(self.config.metrics_port, self.config.host)
        return self.port

    @property
    def address(self) -> str:
        return f"{self.config.host}:{self.port}"

    def attach(self, engine) -> None:
        """The shards are open: answer lookups and report SERVING."""
        for table in engine.tables.values():
            self.metrics.table_bytes.labels(table.layout_name).inc(table.memory_bytes)
        self.engines = EngineSet(engine)
        self.servicer.attach(self.engines)
        self._set_health(health_pb2.HealthCheckResponse.SERVING)

    def drain(self, grace: float = DEFAULT_DRAIN_GRACE_S) -> None:
        """Finish accepted requests (up to `grace` s), refuse new ones, then stop."""
        self._set_health(health_pb2.HealthCheckResponse.NOT_SERVING)
        self.servicer.begin_drain()
        self.server.stop(grace).wait()
        self.kernel_pool.shutdown(wait=True)
        self.rpc_pool.shutdown(wait=True)  # gRPC does not shut down the pool it was given
        self.metrics.close()

    def stop(self) -> None:
        self.drain(grace=0)

    def open_model(self, model_dir, shards: list[int] | None = None, verify: bool = False,
                   layout: str = DEFAULT_LAYOUT):
        """mmap the listed shards (all when None; decoded into RAM with layout="decoded")
        and start answering; returns the model."""
        from ngram.model import Model
        model = Model.open(model_dir, shards=shards, verify=verify, layout=layout)
        c = self.config
        engine = self.engine_class(model, max_batch=c.max_batch)
        warm_up(engine)  # kernels compiled or loaded before SERVING
        self._layout = layout
        self.attach(engine)
        return model

    def load_model(self, model_dir, verify: bool = False) -> ShardEngine:
        """Open another version of the model beside the served one (a rollout): the same
        shards, the same layout, warmed up, then answering requests that name its id."""
        from ngram.model import Model
        if self.engines is None:
            raise InvalidArgumentError("no model is served yet")
        shards = self.engines.default.shard_indices
        model = Model.open(model_dir, shards=shards, verify=verify, layout=self._layout)
        try:
            engine = self.engine_class(model, max_batch=self.config.max_batch)
            warm_up(engine)
            self.engines.add(engine)
        except BaseException:
            model.close()
            raise
        for table in engine.tables.values():
            self.metrics.table_bytes.labels(table.layout_name).inc(table.memory_bytes)
        return engine


def warm_up(engine: ShardEngine) -> None:
    """Compile (or load from numba's cache) every kernel a request runs: the lookups of
    both request orders (ShardEngine.warm_up), and the packed answer's encoding (in each
    narrow count type) and its decoding (the client's side; cached on disk, so clients
    on this machine find it)."""
    for chains in engine.warm_up():
        resp = encode_chains(0, 0, chains, packed=True)
        decode_chains(resp, len(chains), chains.width, chains.value_kind)
        n, width = len(chains), chains.width
        rows = np.arange(n)
        gather_unique(np.zeros((n, width), np.int32), np.ones(n, np.int32), rows)  # client.router.plan
        out = Chains.uninitialized(n, width, chains.value_kind)
        decode_chains_into(resp, n, width, chains.value_kind, rows, rows, 0, out)
        if chains.counts is not None:
            for _, limit in NARROW_COUNT_TYPES:
                wide = np.full_like(chains.counts, min(limit, 2**63))
                encode_chains(0, 0, Chains(chains.match_len, counts=wide), packed=True)


class _LazyServicer(pb_grpc.NgramShardServicer):
    """Forwards to the real servicer once the engine exists; UNAVAILABLE before that."""

    def __init__(self, pool, metrics, config: ServerConfig, version: str):
        self._args = (pool, metrics)
        self._config = config
        self._version = version
        self._real: NgramShardServicer | None = None
        self._draining = False

    def attach(self, engine) -> None:
        c = self._config
        real = NgramShardServicer(engine, *self._args, max_inflight=c.max_inflight,
                                  stream_window=c.stream_window,
                                  max_message_bytes=c.max_message_bytes, version=self._version)
        if self._draining:
            real.begin_drain()
        self._real = real

    def begin_drain(self) -> None:
        self._draining = True
        if self._real is not None:
            self._real.begin_drain()

    @property
    def real(self) -> NgramShardServicer | None:
        return self._real

    def _get(self, context) -> NgramShardServicer:
        if self._real is None:
            context.abort(grpc.StatusCode.UNAVAILABLE, "shards are still opening")
        return self._real

    def Lookup(self, request, context):
        return self._get(context).Lookup(request, context)

    def LookupStream(self, request_iterator, context):
        return self._get(context).LookupStream(request_iterator, context)

    def Info(self, request, context):
        return self._get(context).Info(request, context)

    def LoadModel(self, request, context):
        return self.admin.LoadModel(request, context)

    def UnloadModel(self, request, context):
        return self.admin.UnloadModel(request, context)

    def ListModels(self, request, context):
        return self.admin.ListModels(request, context)

    def Predict(self, request, context):
        return self._get(context).Predict(request, context)
