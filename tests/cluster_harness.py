"""Real shard servers on loopback for tests: in-process (fast) or as subprocesses (for
kill/SIGTERM tests), always on OS-chosen ports, with a hard startup deadline and a leak
check when the cluster stops. Also: a small test model and throwaway TLS certificates.
"""
from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from ngram import cluster_file
from ngram.cluster_file import ClusterSpec, ServerEntry, TLSConfig
from ngram.model import Model
from shard_server.cluster import ServerProcess, spawn_server, terminate, wait_ready
from shard_server.server import ServerConfig, ShardServer
from sample_corpus import HELDOUT_CORPUS
from slow_server import SlowShardServer, launcher

HELDOUT = HELDOUT_CORPUS
START_DEADLINE = 60.0  # seconds for every server to be SERVING, else the test fails

_models: dict = {}
_tmp = Path(tempfile.mkdtemp(prefix="ngram-harness-"))
atexit.register(shutil.rmtree, _tmp, True)


def corpus_text(lines: int = 1500) -> bytes:
    with open(HELDOUT, "rb") as f:
        return b"".join(f.readline() for _ in range(lines))


def small_model(order: int = 4, num_shards: int = 4, lines: int = 1500) -> Path:
    """A counts model built from the start of the held-out corpus, built once per session."""
    key = (order, num_shards, lines)
    if key not in _models:
        from reference_builder import build_model_inmemory
        out = _tmp / f"model-o{order}-s{num_shards}-l{lines}"
        build_model_inmemory(corpus_text(lines), out, order=order, num_shards=num_shards)
        _models[key] = out
    return _models[key]


def corpus_batch(model: Model, size: int, rng: np.random.Generator, text: bytes | None = None):
    """(ids, lengths): n-grams cut from the corpus (mostly present) plus random ids (mostly
    absent), random lengths 1..order, junk ids in the padding."""
    ids, _ = model.vocab.encode_lines(text or corpus_text())
    n = model.order
    starts = rng.integers(0, len(ids) - n, size)
    grid = ids[starts[:, None] + np.arange(n)[None, :]].astype(np.int32)
    rand = rng.random(size) < 0.25
    grid[rand] = rng.integers(0, len(model.vocab), (int(rand.sum()), n))
    lengths = rng.integers(1, n + 1, size).astype(np.int32)
    pad = np.arange(n)[None, :] >= lengths[:, None]
    grid[pad] = rng.integers(0, len(model.vocab), int(pad.sum()))
    return grid, lengths


class Cluster:
    """Servers for every shard of a model, `replicas` copies each, and its cluster file.

    mode "inprocess": ShardServer objects in this process; "subprocess": `serve` processes.
    Server j serves shards `layout[j % len(layout)]` (default: one shard per server).
    `config` (every server) and `per_server` (server j) hold ServerConfig fields, plus
    the harness's own ``inject_delay_s``: that server sleeps so long before each lookup
    (tests/slow_server.py; production code has no such hook).
    """

    def __init__(self, model_dir: Path, workdir: Path, *, replicas: int = 1,
                 mode: str = "inprocess", layout: list[list[int]] | None = None,
                 config: dict | None = None, per_server: dict[int, dict] | None = None,
                 tls: dict | None = None):
        self.model_dir = Path(model_dir)
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.mode = mode
        meta = Model.open(model_dir, shards=[])
        self.meta = meta
        S = meta.num_shards
        self.layout = layout or [[s] for s in range(S)]
        self.replicas = replicas
        self.config = config or {}
        self.per_server = per_server or {}
        self.tls = tls  # {"cert", "key", "client_ca"?, "client": TLSConfig}
        self.servers: list = []          # ShardServer or ServerProcess, index j
        self.addresses: list[str] = []
        self.path = self.workdir / "cluster.json"

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> "Cluster":
        try:
            total = self.replicas * len(self.layout)
            for j in range(total):
                shards = self.layout[j % len(self.layout)]
                cfg = {**self.config, **self.per_server.get(j, {})}
                self.servers.append(self._start_one(j, shards, cfg))
            if self.mode == "subprocess":
                wait_ready(self.servers, START_DEADLINE, self.client_tls)
                self.addresses = [s.ready["address"] for s in self.servers]
            self.write_cluster_file()
        except BaseException:
            self.stop()
            raise
        return self

    @property
    def client_tls(self) -> TLSConfig | None:
        return self.tls["client"] if self.tls else None

    def _start_one(self, j: int, shards: list[int], cfg: dict):
        tls = self.tls or {}
        cfg = dict(cfg)
        delay_s = float(cfg.pop("inject_delay_s", 0.0))
        if self.mode == "inprocess":
            config = ServerConfig(tls_cert=tls.get("cert"), tls_key=tls.get("key"),
                                  tls_client_ca=tls.get("client_ca"), **cfg)
            srv = SlowShardServer(config, delay_s) if delay_s else ShardServer(config)
            srv.start()
            srv.open_model(self.model_dir, shards=shards)
            self.addresses.append(srv.address)
            return srv
        args = []
        for key, value in cfg.items():  # ServerConfig field names -> `serve` flags
            args += [f"--{key.replace('_', '-')}", str(value)]
        if tls:
            args += ["--tls-cert", tls["cert"], "--tls-key", tls["key"]]
            if tls.get("client_ca"):
                args += ["--tls-client-ca", tls["client_ca"]]
        return spawn_server(self.model_dir, shards, workdir=self.workdir, name=f"server-{j}",
                            extra_args=args, new_session=False, launcher=launcher(delay_s) if delay_s else None)

    def spec(self, **overrides) -> ClusterSpec:
        m = self.meta
        addrs = {s: [] for s in range(m.num_shards)}
        for j, addr in enumerate(self.addresses):
            for s in self.layout[j % len(self.layout)]:
                addrs[s].append(addr)
        kw = dict(model_id=m.model_id, model_path=str(self.model_dir), order=m.order,
                  num_shards=m.num_shards, shard_seed=m.shard_seed, value_kind=m.value_kind,
                  replicas=addrs, tls=self.client_tls,
                  servers=[ServerEntry(address=a, shards=self.layout[j % len(self.layout)])
                           for j, a in enumerate(self.addresses)])
        kw.update(overrides)
        return ClusterSpec(**kw)

    def write_cluster_file(self, path: Path | None = None, **overrides) -> Path:
        return cluster_file.write(path or self.path, self.spec(**overrides))

    def kill(self, j: int) -> None:
        """SIGKILL a subprocess server, or stop an in-process one without grace."""
        s = self.servers[j]
        if isinstance(s, ServerProcess):
            s.proc.kill()
            s.proc.wait(10)
        else:
            s.stop()

    def freeze(self, j: int) -> None:
        """SIGSTOP a subprocess server: it keeps its connections and answers nothing."""
        os.kill(self.servers[j].proc.pid, signal.SIGSTOP)

    def thaw(self, j: int) -> None:
        os.kill(self.servers[j].proc.pid, signal.SIGCONT)

    def restart(self, j: int) -> float:
        """Start subprocess server j again on the port it had (after kill); returns the
        time.monotonic() at which it was SERVING."""
        old = self.servers[j]
        if old.proc.poll() is None:
            raise AssertionError(f"server {j} is still running")
        port = int(old.ready["port"])
        shards = self.layout[j % len(self.layout)]
        cfg = {**self.config, **self.per_server.get(j, {})}
        if cfg or self.tls:
            raise NotImplementedError("restart() starts a plain server with no extra flags")
        args: list[str] = []
        new = spawn_server(self.model_dir, shards, port=port, workdir=self.workdir,
                           name=f"server-{j}-again", extra_args=args, new_session=False)
        self.servers[j] = new
        wait_ready([new], START_DEADLINE, self.client_tls)
        assert new.ready["address"] == self.addresses[j], (new.ready, self.addresses[j])
        return time.monotonic()

    def stop(self) -> None:
        """Stop every server and check that nothing leaked (processes, server threads)."""
        procs = [s for s in self.servers if isinstance(s, ServerProcess)]
        terminate(procs, grace=10.0)
        for s in self.servers:
            if isinstance(s, ShardServer):
                s.stop()
        self.meta.close()
        leaked = [s.proc.pid for s in procs if s.proc.poll() is None]
        assert not leaked, f"server processes still running: {leaked}"
        assert_no_thread_leak(tuple(s.thread_prefix for s in self.servers
                                    if isinstance(s, ShardServer)))

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def assert_no_thread_leak(prefixes: tuple[str, ...], wait: float = 5.0) -> None:
    """Our pools name their threads; after a stop none may remain (after a short grace)."""
    if not prefixes:
        return
    deadline = time.monotonic() + wait
    while True:
        alive = [t.name for t in threading.enumerate() if t.name.startswith(prefixes)]
        if not alive:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"threads leaked: {alive}")
        time.sleep(0.05)


def make_certs(folder: Path) -> dict:
    """A throwaway CA, a server certificate for localhost/127.0.0.1 and a client certificate."""
    folder.mkdir(parents=True, exist_ok=True)

    def run(*args):
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test-ca",
        "-keyout", "ca.key", "-out", "ca.pem")
    (folder / "san.cnf").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    for name in ("server", "client"):
        run("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}", "-keyout",
            f"{name}.key", "-out", f"{name}.csr")
        run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-out", f"{name}.pem", "-extfile", "san.cnf")
    return {k: str(folder / v) for k, v in
            {"ca": "ca.pem", "server_cert": "server.pem", "server_key": "server.key",
             "client_cert": "client.pem", "client_key": "client.key"}.items()}
