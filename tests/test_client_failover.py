"""Issue 11 item 6: a hung (SIGSTOP) or restarted replica, with real servers on loopback.

A frozen replica keeps its TCP connections and answers nothing, so only a deadline finds
it: each attempt that can still fail over gets a share of the call's deadline, the
replica that timed out is ejected for a cool-down, and a restarted replica is used again
within a couple of seconds (gRPC's default reconnect backoff took 13 s after a 30 s outage).
"""
from __future__ import annotations

import time

import numpy as np
import pytest

from client.policy import CallPolicy
from client.remote import open_remote_backend
from cluster_harness import Cluster, corpus_batch

pytestmark = pytest.mark.timeout(180)

TIMEOUT = 3.0


def _two_servers(model_dir, tmp_path) -> Cluster:
    """Two processes, each serving every shard: every shard has both as replicas."""
    return Cluster(model_dir, tmp_path, replicas=2, mode="subprocess", layout=[[0, 1, 2, 3]])


def test_frozen_replica_with_hedging_off_every_call_succeeds_within_the_deadline(model_dir, local, tmp_path):
    with _two_servers(model_dir, tmp_path) as c:
        policy = CallPolicy(timeout=TIMEOUT, hedge_delay=None)
        with open_remote_backend(c.path, policy=policy) as be:
            rng = np.random.default_rng(21)
            batches = [corpus_batch(local, 300, rng) for _ in range(3)]
            wants = [local.lookup(*b) for b in batches]
            assert be.lookup(*batches[0]).equals(wants[0])
            c.freeze(0)
            try:
                took = []
                for i in range(12):
                    t0 = time.monotonic()
                    assert be.lookup(*batches[i % 3]).equals(wants[i % 3]), i
                    took.append(time.monotonic() - t0)
                assert max(took) < TIMEOUT, took
                # The frozen replica is ejected after a timeout (for longer after each
                # one): most calls do not pay an attempt budget on it.
                assert sum(t > 0.5 * TIMEOUT * policy.attempt_fraction for t in took) <= len(took) // 2, took
                assert all(be.replicas[s].ejections >= 1 for s in range(be.num_shards))
            finally:
                c.thaw(0)


def test_frozen_replica_under_an_open_stream_fails_over_within_the_deadline(model_dir, local, tmp_path):
    with _two_servers(model_dir, tmp_path) as c:
        policy = CallPolicy(timeout=TIMEOUT, hedge_delay=None)
        with open_remote_backend(c.path, policy=policy) as be, be.stream_rounds(max_inflight=4) as rs:
            rng = np.random.default_rng(22)
            rounds = [corpus_batch(local, 300, rng) for _ in range(6)]
            wants = [local.lookup(*r) for r in rounds]
            assert rs.submit(*rounds[0]).result(timeout=TIMEOUT + 1).equals(wants[0])
            victim = c.addresses.index(rs.addresses[0])  # the replica shard 0 streams to
            c.freeze(victim)
            try:
                t0 = time.monotonic()
                futs = [rs.submit(*r) for r in rounds]
                for i, f in enumerate(futs):
                    assert f.result(timeout=TIMEOUT + 1).equals(wants[i]), i
                assert time.monotonic() - t0 < TIMEOUT
                assert rs.failovers >= 1
                assert rs.addresses[0] == c.addresses[1 - victim]
            finally:
                c.thaw(victim)


def test_replica_restarted_on_its_port_is_used_again_within_two_seconds(model_dir, local, tmp_path):
    with _two_servers(model_dir, tmp_path) as c:
        policy = CallPolicy(timeout=TIMEOUT, hedge_delay=None)
        with open_remote_backend(c.path, policy=policy) as be:
            rng = np.random.default_rng(23)
            ids, lengths = corpus_batch(local, 200, rng)
            want = local.lookup(ids, lengths)
            assert be.lookup(ids, lengths).equals(want)
            c.kill(0)
            # An outage with calls going on: they keep failing fast on the dead replica,
            # whose cool-down must not grow (a restarted replica would wait for it).
            outage_end = time.monotonic() + 8.0
            while time.monotonic() < outage_end:
                assert be.lookup(ids, lengths).equals(want)
                time.sleep(0.05)
            before = sum(be.replicas[s].answered[c.addresses[0]] for s in range(be.num_shards))
            serving_at = c.restart(0)
            while True:
                assert be.lookup(ids, lengths).equals(want)
                used = sum(be.replicas[s].answered[c.addresses[0]] for s in range(be.num_shards))
                if used > before:
                    break
                assert time.monotonic() - serving_at < 2.5, "restarted replica not used again"
                time.sleep(0.02)


@pytest.mark.parametrize("then", ["thaw", "kill"])
def test_frozen_replica_with_a_grown_cool_down_is_back_within_two_seconds(model_dir, local, tmp_path, then):
    # Timeouts make a frozen replica's cool-down grow (here past 6 s). Probes of it find
    # out within a couple of seconds once it answers again (thawed: back in rotation) or
    # once its process is gone (killed: the short cool-down of an unreachable replica,
    # so that a restart on its port is found soon).
    with _two_servers(model_dir, tmp_path) as c:
        policy = CallPolicy(timeout=2.0, hedge_delay=None, eject_seconds=1.0, eject_max_seconds=60.0)
        with open_remote_backend(c.path, policy=policy) as be:
            ids, lengths = corpus_batch(local, 200, np.random.default_rng(24))
            want = local.lookup(ids, lengths)
            frozen, shards = c.addresses[0], range(be.num_shards)
            assert be.lookup(ids, lengths).equals(want)
            c.freeze(0)
            try:
                give_up = time.monotonic() + 120  # a bound on the loop, generous for a cold, busy machine
                while min(be.replicas[s].cool_down_left(frozen) for s in shards) < 6.0:
                    assert be.lookup(ids, lengths).equals(want)
                    assert time.monotonic() < give_up, "cool-downs did not grow"
                    time.sleep(0.02)
            finally:
                c.kill(0) if then == "kill" else c.thaw(0)
            changed_at = time.monotonic()
            limit = 0.0 if then == "thaw" else policy.eject_seconds
            while max(be.replicas[s].cool_down_left(frozen) for s in shards) > limit:
                assert be.lookup(ids, lengths).equals(want)
                assert time.monotonic() - changed_at < 2.5, [be.replicas[s].cool_down_left(frozen) for s in shards]
                time.sleep(0.05)
