"""Shard servers on their own network addresses: one Linux network namespace per host,
joined by veth pairs to a bridge in the test's namespace (created and removed here).

Needs root and `ip` (iproute2); `NetLab.available()` says why not otherwise, and tests
skip with that reason. A link is cut by setting the host's veth down (a dead link: no
RST, packets vanish), which loopback cannot show.

    with NetLab(hosts=2) as lab:
        srv = lab.serve(0, model_dir, shards=[0, 1])   # `ngram serve` inside host 0
        lab.link_down(0); lab.link_up(0)
        lab.kill(srv, signal.SIGSTOP)
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from shard_server.cluster import ServerProcess, spawn_server, terminate, wait_ready


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=10)


class NetLab:
    def __init__(self, hosts: int = 2):
        tag = f"{os.getpid() % 10000:04d}"
        self.tag = tag
        self.subnet = f"10.213.{os.getpid() % 250}"
        self.bridge = f"nb{tag}"
        self.hosts = hosts
        self.netns = [f"ngram-{tag}-h{i}" for i in range(hosts)]
        self.veth = [f"nv{tag}{i}" for i in range(hosts)]  # root side
        self.addresses = [f"{self.subnet}.{10 + i}" for i in range(hosts)]
        self.workdir = Path(tempfile.mkdtemp(prefix="ngram-netlab-"))
        self.procs: list[ServerProcess] = []

    @staticmethod
    def available() -> str | None:
        """None if namespaces can be made here, else the reason they cannot."""
        if os.geteuid() != 0:
            return "network namespaces need root"
        if shutil.which("ip") is None:
            return "iproute2 (`ip`) is not installed"
        probe = f"ngram-probe-{os.getpid()}"
        r = _ip("netns", "add", probe, check=False)
        if r.returncode != 0:
            return f"cannot create a network namespace: {r.stderr.strip()}"
        _ip("netns", "del", probe, check=False)
        return None

    def __enter__(self) -> "NetLab":
        try:
            _ip("link", "add", self.bridge, "type", "bridge")
            _ip("addr", "add", f"{self.subnet}.1/24", "dev", self.bridge)
            _ip("link", "set", self.bridge, "up")
            for ns, veth, addr in zip(self.netns, self.veth, self.addresses):
                peer = veth + "p"
                _ip("netns", "add", ns)
                _ip("link", "add", veth, "type", "veth", "peer", "name", peer)
                _ip("link", "set", veth, "master", self.bridge)
                _ip("link", "set", veth, "up")
                _ip("link", "set", peer, "netns", ns)
                _ip("-n", ns, "addr", "add", f"{addr}/24", "dev", peer)
                _ip("-n", ns, "link", "set", peer, "up")
                _ip("-n", ns, "link", "set", "lo", "up")
        except BaseException:
            self.close()
            raise
        return self

    def serve(self, host: int, model_dir, shards: list[int], port: int = 7000, timeout: float = 120.0,
              extra_args: list[str] = ()) -> ServerProcess:
        """`serve` inside host `host`'s namespace on its address; waits until SERVING."""
        launcher = ["ip", "netns", "exec", self.netns[host], sys.executable, "-m", "shard_server"]
        p = spawn_server(model_dir, shards, port=port, host=self.addresses[host], workdir=self.workdir,
                         name=f"h{host}-{len(self.procs)}", extra_args=list(extra_args), launcher=launcher)
        self.procs.append(p)
        wait_ready([p], timeout)
        return p

    def link_down(self, host: int) -> None:
        _ip("link", "set", self.veth[host], "down")

    def link_up(self, host: int) -> None:
        _ip("link", "set", self.veth[host], "up")

    @staticmethod
    def signal(proc: ServerProcess, sig: int) -> None:
        proc.proc.send_signal(sig)

    def close(self) -> None:
        for p in self.procs:
            if p.proc.poll() is None:
                p.proc.send_signal(signal.SIGCONT)  # a frozen process cannot die of SIGTERM
        terminate(self.procs, grace=3.0)
        for ns in self.netns:
            _ip("netns", "del", ns, check=False)  # removes the veth pair with it
        for veth in self.veth:
            _ip("link", "del", veth, check=False)
        _ip("link", "del", self.bridge, check=False)
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __exit__(self, *exc):
        self.close()
