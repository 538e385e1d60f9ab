"""Local clusters: spawn `serve` processes, wait for health, write/read the cluster file.

Each process runs `python -m shard_server serve` in its own session (so it outlives the
`cluster up` command) and writes a ready file once SERVING, which is how port 0 and
startup failures are discovered without polling ports.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ngram import cluster_file
from ngram.cluster_file import ClusterSpec, ServerEntry, TLSConfig
from ngram.limits import (DEFAULT_CLUSTER_START_TIMEOUT_S, DEFAULT_CLUSTER_STOP_GRACE_S, DEFAULT_LAYOUT,
                          DEFAULT_SERVER_HOST)
from ngram.wire import pb, pb_grpc
from shard_server.errors import ClusterError
from ngram.wire.channels import open_channel

__all__ = ["ClusterError", "start_cluster", "status", "stop_cluster", "spawn_server", "wait_ready", "terminate"]


def health_status(address: str, tls: TLSConfig | None = None, timeout: float = 2.0) -> str:
    """SERVING / NOT_SERVING / ... or the gRPC code name when the check itself fails."""
    with open_channel(address, tls) as ch:
        try:
            r = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service=""),
                                                     timeout=timeout)
            return health_pb2.HealthCheckResponse.ServingStatus.Name(r.status)
        except grpc.RpcError as e:
            return e.code().name


def info(address: str, tls: TLSConfig | None = None, timeout: float = 2.0) -> pb.InfoResponse:
    with open_channel(address, tls) as ch:
        return pb_grpc.NgramShardStub(ch).Info(pb.InfoRequest(), timeout=timeout)


@dataclass
class ServerProcess:
    """One spawned `serve` process and where it reports readiness."""
    proc: subprocess.Popen
    ready_file: Path
    log: Path
    shards: list[int]
    ready: dict = field(default_factory=dict)

    def poll_ready(self) -> bool:
        if not self.ready and self.ready_file.exists():
            self.ready = json.loads(self.ready_file.read_text())
        return bool(self.ready)

    def log_tail(self, n: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


def spawn_server(model: str | os.PathLike, shards: list[int], *, port: int = 0,
                 host: str = DEFAULT_SERVER_HOST, workdir: Path, name: str,
                 metrics_port: int | None = None, extra_args: list[str] = (),
                 new_session: bool = True, launcher: list[str] | None = None) -> ServerProcess:
    """Start `serve` for `shards` of `model` in a new process. `launcher` is the command
    that runs the shard server's CLI (default ``python -m shard_server``)."""
    workdir.mkdir(parents=True, exist_ok=True)
    ready, log = workdir / f"{name}.ready.json", workdir / f"{name}.log"
    ready.unlink(missing_ok=True)
    cmd = [*(launcher or [sys.executable, "-m", "shard_server"]), "serve", str(model),
           "--shards", ",".join(map(str, shards)), "--port", str(port), "--host", host,
           "--ready-file", str(ready), *extra_args]
    if metrics_port is not None:
        cmd += ["--metrics-port", str(metrics_port)]
    root = str(Path(__file__).resolve().parent.parent)  # importable without installation
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, start_new_session=new_session)
    return ServerProcess(proc, ready, log, list(shards))


def wait_ready(servers: list[ServerProcess], timeout: float,
               tls: TLSConfig | None = None) -> None:
    """Block until every server wrote its ready file and answers health SERVING."""
    deadline = time.monotonic() + timeout
    pending = list(servers)
    while pending:
        for s in list(pending):
            if s.proc.poll() is not None:
                raise ClusterError(f"server for shards {s.shards} exited with code "
                                   f"{s.proc.returncode}; log {s.log}:\n{s.log_tail()}")
            if s.poll_ready():
                state = health_status(s.ready["address"], tls)
                if state == "SERVING":
                    pending.remove(s)
        if pending and time.monotonic() > deadline:
            raise ClusterError(f"{len(pending)} server(s) not healthy after {timeout:g} s "
                               f"(shards {[s.shards for s in pending]}); see {pending[0].log}")
        if pending:
            time.sleep(0.05)


def terminate(servers: list[ServerProcess], grace: float = 10.0) -> None:
    for s in servers:
        if s.proc.poll() is None:
            s.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for s in servers:
        try:
            s.proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            s.proc.kill()
            s.proc.wait()


def start_cluster(model: str | os.PathLike, cluster_path: str | os.PathLike, *, replicas: int = 1,
                  base_port: int = 0, servers_per_replica: int | None = None,
                  host: str = DEFAULT_SERVER_HOST, metrics: bool = True,
                  timeout: float = DEFAULT_CLUSTER_START_TIMEOUT_S,
                  tls_cert: str | None = None, tls_key: str | None = None,
                  tls: TLSConfig | None = None, layout: str = DEFAULT_LAYOUT,
                  extra_args: list[str] = ()) -> ClusterSpec:
    """Start replicas x servers_per_replica processes, wait for health, write the file.
    layout: the servers' table layout (`ngram serve --layout`)."""
    from ngram.model import Model

    m = Model.open(model, shards=[])  # manifest and vocabulary only
    try:
        meta = dict(model_id=m.model_id, order=int(m.order), num_shards=int(m.num_shards),
                    shard_seed=int(m.shard_seed), value_kind=str(m.value_kind))
    finally:
        m.close()
    _load_kernels(model, layout)
    S = meta["num_shards"]
    K = min(servers_per_replica or S, S)
    total = replicas * K
    cluster_path = Path(cluster_path)
    workdir = cluster_path.with_name(cluster_path.name + ".d")
    args = list(extra_args) + ["--layout", layout]
    if tls_cert:
        args += ["--tls-cert", str(tls_cert), "--tls-key", str(tls_key)]
    procs: list[ServerProcess] = []
    try:
        for r in range(replicas):
            for g in range(K):
                j = r * K + g
                procs.append(spawn_server(
                    Path(model).resolve(), [s for s in range(S) if s % K == g], host=host,
                    port=base_port + j if base_port else 0, workdir=workdir, name=f"server-{j}",
                    metrics_port=(base_port + total + j if base_port else 0) if metrics else None,
                    extra_args=args))
        wait_ready(procs, timeout, tls)
    except BaseException:
        terminate(procs, grace=5.0)
        raise
    addrs: dict[int, list[str]] = {s: [] for s in range(S)}
    entries = []
    for p in procs:
        for s in p.shards:
            addrs[s].append(p.ready["address"])
        mp = p.ready.get("metrics_port")
        entries.append(ServerEntry(address=p.ready["address"], shards=p.shards, pid=p.proc.pid,
                                   metrics=f"{host}:{mp}" if mp else None, log=str(p.log)))
    spec = ClusterSpec(model_path=str(Path(model).resolve()), replicas=addrs, tls=tls,
                       servers=entries, **meta)
    cluster_file.write(cluster_path, spec)
    return spec


def _load_kernels(model: str | os.PathLike, layout: str = DEFAULT_LAYOUT) -> None:
    """Compile (or load) the request kernels here, once, before the servers start: with a
    cold numba cache, 8 servers compiling the same kernels at once on 2 cores took 88.5 s
    to become healthy, 18.0 s after this warm-up; warm, ~3 s."""
    from ngram.model import Model

    from .engine import ShardEngine
    from .server import warm_up

    m = Model.open(model, shards=[0], layout=layout)
    try:
        warm_up(ShardEngine(m))
    finally:
        m.close()


def status(path: str | os.PathLike) -> list[dict]:
    spec = cluster_file.read(path)
    servers = spec.servers or [ServerEntry(address=a, shards=sorted(s for s, rs in spec.replicas.items()
                                                                     if a in rs))
                               for a in sorted({a for rs in spec.replicas.values() for a in rs})]
    rows = []
    for s in servers:
        state = health_status(s.address, spec.tls)
        inflight = layout = table_bytes = None
        if state == "SERVING":
            try:
                i = info(s.address, spec.tls)
                inflight, layout, table_bytes = i.inflight, i.layout or None, i.table_bytes or None
            except grpc.RpcError:
                pass
        rows.append({"address": s.address, "shards": s.shards, "health": state,
                     "inflight": inflight, "layout": layout, "table_bytes": table_bytes, "pid": s.pid})
    return rows


def _is_our_server(pid: int) -> bool:
    # Guard against a recycled pid: only signal processes that are shard servers.
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"shard_server" in cmdline and b"serve" in cmdline


def stop_cluster(path: str | os.PathLike, grace: float = DEFAULT_CLUSTER_STOP_GRACE_S) -> int:
    """SIGTERM every recorded server, SIGKILL after `grace`, remove the file; returns count."""
    spec = cluster_file.read(path)
    pids = [s.pid for s in spec.servers if s.pid and _is_our_server(s.pid)]
    for pid in pids:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    alive = set(pids)
    while alive and time.monotonic() < deadline:
        alive = {p for p in alive if _is_our_server(p) and not _reap(p)}
        if alive:
            time.sleep(0.05)
    for pid in alive:
        os.kill(pid, signal.SIGKILL)
    Path(path).unlink(missing_ok=True)
    return len(pids)


def _reap(pid: int) -> bool:
    """True when pid is gone (zombie children of this process are reaped here)."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == pid
    except ChildProcessError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        # Not our child: a zombie shows in /proc with state Z.
        try:
            return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")
        except (OSError, IndexError):
            return True
