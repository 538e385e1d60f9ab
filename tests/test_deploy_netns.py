"""Fault scenarios over a real network: each shard server in its own network namespace
with its own address (tests/net_harness.py), the client in the test's namespace, a
steady load of rounds (tests/test_deploy_faults.py's Load) checked against the local
model, every round within its deadline. Skipped without root."""
from __future__ import annotations

import json
import signal
import time

import pytest

from client.policy import CallPolicy
from client.remote import open_remote_backend
from net_harness import NetLab
from test_deploy_faults import DEADLINE_S, Load, answered_by
from tiny_dns import TinyDNS

why = NetLab.available()
pytestmark = pytest.mark.skipif(why is not None, reason=why or "")
PORT = 7000


@pytest.fixture(scope="module")
def lab():
    with NetLab(hosts=3) as lab:
        yield lab


def cluster(local, model_dir, addresses, tmp_path):
    spec = {"format": "ngram-cluster", "version": 1, "model_id": local.model_id, "model_path": str(model_dir),
            "order": local.order, "num_shards": local.num_shards, "shard_seed": local.shard_seed,
            "value_kind": local.value_kind,
            "shards": [{"index": k, "replicas": list(addresses)} for k in range(local.num_shards)]}
    path = tmp_path / "cluster.json"
    path.write_text(json.dumps(spec))
    return open_remote_backend(path, CallPolicy(timeout=DEADLINE_S))


@pytest.fixture
def pair(lab, model_dir, local, tmp_path):
    """Hosts 0 and 1 each serve every shard."""
    servers = [lab.serve(h, model_dir, list(range(local.num_shards)), PORT) for h in (0, 1)]
    backend = cluster(local, model_dir, [f"{lab.addresses[h]}:{PORT}" for h in (0, 1)], tmp_path)
    yield backend, servers
    backend.close()
    for s in servers:
        if s.proc.poll() is None:
            s.proc.send_signal(signal.SIGCONT)
            s.proc.kill()
            s.proc.wait(10)
    lab.procs = [p for p in lab.procs if p.proc.poll() is None]


def test_netns_replica_frozen_with_sigstop(pair, local):
    backend, (_, victim) = pair
    with Load(backend, local, 11) as load:
        load.wait_rounds(5)
        victim.proc.send_signal(signal.SIGSTOP)  # the port is open, nothing answers
        load.wait_rounds(25, limit=60)
        victim.proc.send_signal(signal.SIGCONT)
        load.wait_rounds(5)
    load.check()


def test_netns_replica_killed_mid_round(pair, local):
    backend, (_, victim) = pair
    with Load(backend, local, 12) as load:
        load.wait_rounds(5)
        victim.proc.kill()
        load.wait_rounds(25, limit=60)
    load.check()


def test_netns_link_cut_and_restored(pair, local, lab):
    backend, _ = pair
    address = f"{lab.addresses[1]}:{PORT}"
    with Load(backend, local, 13) as load:
        load.wait_rounds(5)
        lab.link_down(1)  # packets vanish: no RST, no FIN
        try:
            load.wait_rounds(25, limit=60)
            before = answered_by(backend, address)
        finally:
            lab.link_up(1)
        start = time.monotonic()
        while answered_by(backend, address) == before:
            assert time.monotonic() - start < 20, "the replica behind the restored link was never used again"
            load.wait_rounds(1, limit=60)
    load.check()


def test_netns_server_restarted_on_another_address(lab, model_dir, local, tmp_path):
    """A replica behind a name (a pod's DNS name) comes back on another host's address."""
    dns = TinyDNS()
    dns.records["replica.test"] = lab.addresses[1]
    fixed = lab.serve(0, model_dir, list(range(local.num_shards)), PORT)
    moving = lab.serve(1, model_dir, list(range(local.num_shards)), PORT)
    name = dns.target("replica.test", PORT)
    backend = cluster(local, model_dir, [f"{lab.addresses[0]}:{PORT}", name], tmp_path)
    moved = None
    try:
        with Load(backend, local, 14) as load:
            load.wait_rounds(5)
            moving.proc.kill()
            moving.proc.wait(10)
            moved = lab.serve(2, model_dir, list(range(local.num_shards)), PORT)
            dns.records["replica.test"] = lab.addresses[2]
            before = answered_by(backend, name)
            start = time.monotonic()
            while answered_by(backend, name) == before:
                assert time.monotonic() - start < 20, "the moved replica was never used again"
                load.wait_rounds(1, limit=60)
        load.check()
    finally:
        backend.close()
        dns.close()
        for p in (fixed, moving, moved):
            if p is not None and p.proc.poll() is None:
                p.proc.kill()
                p.proc.wait(10)
