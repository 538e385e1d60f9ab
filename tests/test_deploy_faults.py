"""Fault scenarios under a steady load of rounds, through a fault-injecting TCP proxy on
loopback (tests/fault_proxy.py): every answer is checked against the local model, and
every round must end within its deadline. Two replicas of every shard, each behind its
own proxy; the faults hit replica B's link or process."""
from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest

from client.errors import LookupFailedError, ShardUnavailableError
from client.policy import CallPolicy
from cluster_harness import corpus_batch
from client.remote import open_remote_backend
from fault_proxy import FaultProxy
from shard_server.server import ServerConfig, ShardServer

DEADLINE_S = 2.0
POLICY = CallPolicy(timeout=DEADLINE_S)


class Load:
    """Rounds of 200 lookups back to back on a thread; latency, failures, wrong answers."""

    def __init__(self, backend, local, seed: int):
        rng = np.random.default_rng(seed)
        self.batches = []
        for _ in range(8):
            ids, lengths = corpus_batch(local, 200, rng)
            self.batches.append((ids, lengths, local.lookup(ids, lengths)))
        self.backend = backend
        self.latencies: list[float] = []
        self.ends: list[float] = []  # time.monotonic() at the end of each answered round
        self.failures: list[BaseException] = []
        self.wrong = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fault-load", daemon=True)

    def _run(self):
        i = 0
        while not self._stop.is_set():
            ids, lengths, want = self.batches[i % len(self.batches)]
            i += 1
            t0 = time.monotonic()
            try:
                got = self.backend.lookup(ids, lengths)
            except Exception as e:  # noqa: BLE001 - counted, the test fails on it
                self.failures.append(e)
                continue
            self.ends.append(time.monotonic())
            self.latencies.append(self.ends[-1] - t0)
            if not (np.array_equal(got.match_len, want.match_len) and np.array_equal(got.counts, want.counts)):
                self.wrong += 1

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(DEADLINE_S * 3)

    def wait_rounds(self, n: int, limit: float = 30.0):
        target, start = len(self.latencies) + n, time.monotonic()
        while len(self.latencies) < target and not self.failures:
            assert time.monotonic() - start < limit, f"only {len(self.latencies)} rounds in {limit} s"
            time.sleep(0.01)

    def check(self):
        assert not self.failures, self.failures[:3]
        assert self.wrong == 0
        assert self.latencies and max(self.latencies) < DEADLINE_S


@pytest.fixture
def setup(model_dir, local, tmp_path):
    servers = []
    for _ in range(2):
        s = ShardServer(ServerConfig())
        s.start()
        s.open_model(model_dir)
        servers.append(s)
    proxies = [FaultProxy("127.0.0.1", s.port) for s in servers]
    spec = {"format": "ngram-cluster", "version": 1, "model_id": local.model_id, "model_path": str(model_dir),
            "order": local.order, "num_shards": local.num_shards, "shard_seed": local.shard_seed,
            "value_kind": local.value_kind,
            "shards": [{"index": k, "replicas": [p.address for p in proxies]} for k in range(local.num_shards)]}
    path = tmp_path / "cluster.json"
    path.write_text(json.dumps(spec))
    backend = open_remote_backend(path, POLICY)
    yield backend, servers, proxies
    backend.close()
    for p in proxies:
        p.close()
    for s in servers:
        s.stop()


def answered_by(backend, address) -> int:
    return sum(r.answered[address] for r in backend.replicas.values())


def test_slow_replica_is_hedged_around(setup, local):
    # Regression (issue 18): p99 62 ms against the fast replica's 24 ms, from the rounds
    # that learned which replica is fast. A replica not known fast is now hedged at once
    # and its attempt left to finish, so its latency is learned from real answers (every
    # one >= the proxy's 50 ms) and never from a cancelled attempt's lower bound. The
    # latency itself is measured by bench/bench_hedge.py (a loaded machine's p99 is no
    # assertion).
    backend, _, (fast, slow) = setup
    slow.latency = 0.05
    with Load(backend, local, 1) as load:
        load.wait_rounds(40)
    load.check()
    hedges = sum(t.hedges_sent for t in backend.transports.values())
    assert hedges >= backend.num_shards  # every shard's first call hedged at once
    assert answered_by(backend, fast.address) > answered_by(backend, slow.address)
    learned = [lat for r in backend.replicas.values() for _, lat in list(r._latencies[slow.address])]
    assert learned and min(learned) >= 0.05
    print(f"slow replica: p50 {np.percentile(load.latencies, 50) * 1e3:.1f} ms, "
          f"p99 {np.percentile(load.latencies, 99) * 1e3:.1f} ms, {hedges} hedges (machine under load)")


def test_frozen_replica_gray_failure(setup, local):
    """SIGSTOP-like: the port accepts, nothing answers."""
    backend, _, (_, frozen) = setup
    with Load(backend, local, 2) as load:
        load.wait_rounds(5)
        frozen.freeze()
        load.wait_rounds(30)
        frozen.thaw()
        load.wait_rounds(5)
    load.check()


def test_replica_frozen_while_unknown_is_ejected_not_hedged_at_once_forever(setup, local):
    # Regression: a replica not known fast is hedged at once and its attempt left to
    # finish; one that never answers must count as timed out when it outlives its attempt
    # budget (ejected), not stay "unknown" and cost a hedge on every call it leads.
    backend, _, (_, frozen) = setup
    ids, lengths = corpus_batch(local, 200, np.random.default_rng(5))
    assert backend.lookup(ids, lengths).equals(local.lookup(ids, lengths))  # both replicas asked, connected
    frozen.freeze()  # its connections stay open: its attempts time out (a new one would be refused)
    try:
        with Load(backend, local, 3) as load:
            give_up = time.monotonic() + 3 * DEADLINE_S + 10  # budgets of 0.6 s; generous for a busy machine
            while not all(r.is_ejected(frozen.address) for r in backend.replicas.values()):
                assert time.monotonic() < give_up, "the frozen replica was never ejected"
                assert not load.failures, load.failures[:3]
                time.sleep(0.02)
            load.wait_rounds(5)
        load.check()
    finally:
        frozen.thaw()


def test_replica_stopped_mid_round_cancelled_requests_fail_over(setup, local):
    """Regression: a server stopping (or whose drain grace ran out) cancels its accepted
    requests; the client took CANCELLED as fatal and failed the round."""
    backend, (_, victim), _ = setup
    with Load(backend, local, 3) as load:
        load.wait_rounds(5)
        victim.stop()  # grace 0: its accepted requests are cancelled
        load.wait_rounds(30)
    load.check()


def test_link_cut_and_restored_replica_is_used_again(setup, local):
    backend, _, (_, link) = setup
    with Load(backend, local, 4) as load:
        load.wait_rounds(5)
        link.cut()
        load.wait_rounds(20)
        before = answered_by(backend, link.address)
        link.restore()
        start = time.monotonic()
        while answered_by(backend, link.address) == before:
            assert time.monotonic() - start < 10, "the restored replica was never used again"
            load.wait_rounds(1)
    load.check()


def test_all_replicas_of_a_shard_gone_is_a_clear_error_within_the_deadline(setup, local):
    backend, _, proxies = setup
    ids, lengths = corpus_batch(local, 50, np.random.default_rng(5))
    backend.lookup(ids, lengths)
    for p in proxies:
        p.cut()
    t0 = time.monotonic()
    with pytest.raises(LookupFailedError) as e:
        backend.lookup(ids, lengths)
    assert time.monotonic() - t0 < DEADLINE_S + 0.5
    assert sorted(e.value.errors) == list(range(local.num_shards))  # every shard named
    for shard, err in e.value.errors.items():
        assert isinstance(err, ShardUnavailableError) and err.shard == shard
        assert all(p.address in str(err) for p in proxies)
