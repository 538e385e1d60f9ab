"""The remote backend against real servers: equals local, replicas, hedging, deadlines."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from client.cache import CachedBackend
from client.errors import (FatalError, LookupFailedError, ShardDeadlineError,
                           ShardUnavailableError)
from client.policy import CallPolicy
from client.remote import RemoteBackend, open_remote_backend
from cluster_harness import Cluster, assert_no_thread_leak, corpus_batch
from ngram.backend import RoundStream
from ngram.errors import InvalidQueryError

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def cluster(model_dir, tmp_path_factory):
    """Two replicas of every shard; the second set packs shards two per server."""
    with Cluster(model_dir, tmp_path_factory.mktemp("cluster"), replicas=2) as c:
        yield c


@pytest.fixture(scope="module")
def remote(cluster):
    be = open_remote_backend(cluster.path)
    yield be
    be.close()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), size=st.integers(0, 3000), width=st.integers(1, 4))
def test_remote_equals_local(remote, local, seed, size, width):
    rng = np.random.default_rng(seed)
    ids, lengths = corpus_batch(local, max(size, 1), rng)
    ids, lengths = ids[:size, :width], np.minimum(lengths[:size], width)
    again = rng.integers(0, max(size, 1), size // 2)  # repeats, sent once (router.plan)
    ids, lengths = np.concatenate([ids, ids[again]]), np.concatenate([lengths, lengths[again]])
    got = remote.lookup(ids, lengths)
    assert got.equals(local.lookup(ids, lengths))


def test_interface_and_validation(remote, local):
    assert (remote.order, remote.model_id, remote.value_kind, remote.num_shards) == (
        local.order, local.model_id, local.value_kind, local.num_shards)
    assert len(remote.vocab) == len(local.vocab)
    with pytest.raises(InvalidQueryError):
        remote.lookup(np.zeros((2, 3), np.int32), np.array([1, 9], np.int32))
    with pytest.raises(InvalidQueryError):
        remote.lookup(np.full((1, 2), len(local.vocab), np.int32), np.array([2], np.int32))


def test_remote_backend_has_the_declared_backend_interface(remote, local):
    # Checked on the class: the tokenizer property needs the model's manifest module.
    for name in ("lookup", "lookup_partial", "stream_rounds", "close", "check_batch"):
        assert callable(getattr(RemoteBackend, name)), name
    assert isinstance(RemoteBackend.tokenizer, property)
    ids, lengths = corpus_batch(local, 300, np.random.default_rng(13))
    chains, mask, errors = remote.lookup_partial(ids, lengths)
    assert chains.equals(local.lookup(ids, lengths)) and mask.all() and errors == {}
    with remote.stream_rounds(max_inflight=2, timeout=10.0) as rs:
        assert isinstance(rs, RoundStream)
        assert rs.submit(ids, lengths).result(timeout=10).equals(local.lookup(ids, lengths))


def test_cache_layer_equals_backend_and_counts_hits(remote, local):
    cached = CachedBackend(remote, capacity=500)
    rng = np.random.default_rng(7)
    ids, lengths = corpus_batch(local, 400, rng)
    ids = np.concatenate([ids, ids[:100]])  # duplicates within one call
    lengths = np.concatenate([lengths, lengths[:100]])
    for _ in range(2):
        assert cached.lookup(ids, lengths).equals(local.lookup(ids, lengths))
    assert cached.hits >= len(lengths) and len(cached._lru) <= 500
    small = CachedBackend(remote, capacity=10)
    assert small.lookup(ids, lengths).equals(local.lookup(ids, lengths))
    assert len(small._lru) == 10


def _policy(**kw):
    return CallPolicy(**{"timeout": 5.0, **kw})


def test_one_replica_down_loses_nothing(model_dir, local, tmp_path):
    """Subprocess servers; SIGKILL one replica of each shard while lookups are running."""
    with Cluster(model_dir, tmp_path, replicas=2, mode="subprocess", layout=[[0, 1], [2, 3]]) as c:
        be = open_remote_backend(c.path, policy=_policy(hedge_delay=None))
        errors, calls = [], [0]
        stop = threading.Event()
        rng = np.random.default_rng(8)
        batches = [corpus_batch(local, 2000, rng) for _ in range(4)]
        wants = [local.lookup(*b) for b in batches]

        def load():
            i = 0
            while not stop.is_set():
                try:
                    assert be.lookup(*batches[i % 4]).equals(wants[i % 4])
                    calls[0] += 1
                except Exception as e:  # noqa: BLE001 - collected and reported below
                    errors.append(e)
                i += 1

        workers = [threading.Thread(target=load) for _ in range(3)]
        for w in workers:
            w.start()
        try:
            while calls[0] < 10:
                time.sleep(0.01)
            c.kill(0)          # replica 1 of shards 0,1
            before = calls[0]
            while calls[0] < before + 20:
                time.sleep(0.01)
            c.kill(3)          # replica 2 of shards 2,3: every shard still has one server
            before = calls[0]
            while calls[0] < before + 20 and not errors:
                time.sleep(0.01)
        finally:
            stop.set()
            for w in workers:
                w.join(30)
            be.close()
        assert not errors, errors[:3]
        assert sum(t.retries for t in be.transports.values()) > 0


def test_every_replica_down_fails_within_deadline_naming_the_shard(model_dir, local, tmp_path):
    with Cluster(model_dir, tmp_path, replicas=2) as c:
        c.kill(1)      # shard 1, first replica
        c.kill(5)      # shard 1, second replica
        ids, lengths = corpus_batch(local, 2000, np.random.default_rng(9))
        # hedged attempts (futures), then one attempt at a time (blocking calls); each with
        # few attempts (they run out) and with many (the deadline ends the call)
        policies = [_policy(timeout=2.0, hedge_delay=h, max_attempts=n) for h in (0.05, None) for n in (6, 1000)]
        for policy in policies:
            with open_remote_backend(c.path, policy=policy) as be:
                t0 = time.monotonic()
                with pytest.raises(ShardUnavailableError) as e:
                    be.lookup(ids, lengths)
                assert time.monotonic() - t0 < 2.0 + 3.0  # its deadline plus generous slack
                assert e.value.shard == 1 and "shard 1" in str(e.value)
                assert sorted(e.value.replicas) == sorted([c.addresses[1], c.addresses[5]])
                # Partial results on request: everything but shard 1, with a mask.
                chains, mask, errs = be.lookup_partial(ids, lengths)
                assert list(errs) == [1]
                owner = np.asarray(__import__("ngram.sharding", fromlist=["x"]).shard_of(
                    ids, lengths, local.num_shards, local.shard_seed))
                assert np.array_equal(mask, owner != 1) and not mask.all()
                assert chains.take(np.flatnonzero(mask)).equals(
                    local.lookup(ids[mask], lengths[mask]))
                # With a 1000-attempt budget, the deadline is what ends the call.
                assert isinstance(e.value, ShardDeadlineError) == (policy.max_attempts == 1000)


def test_slow_replica_is_hedged_around(model_dir, local, tmp_path):
    # Servers 0-3 (first replica of each shard) take 3 s per lookup; the call deadline is 2 s,
    # so every call that succeeds was answered by a hedge to the fast replica.
    slow = {j: {"inject_delay_s": 3.0} for j in range(4)}
    with Cluster(model_dir, tmp_path, replicas=2, per_server=slow) as c:
        with open_remote_backend(c.path, policy=_policy(timeout=2.0, hedge_delay=0.05)) as be:
            rng = np.random.default_rng(10)
            for _ in range(4):
                ids, lengths = corpus_batch(local, 1000, rng)
                assert be.lookup(ids, lengths).equals(local.lookup(ids, lengths))
            assert sum(t.hedges_sent for t in be.transports.values()) > 0


@pytest.mark.parametrize("hedge_delay", [0.05, None])
def test_wrong_model_is_fatal_and_not_retried(cluster, local, tmp_path, hedge_delay):
    path = cluster.write_cluster_file(tmp_path / "wrong.json")
    spec = cluster.spec(model_id="0" * 20)
    be = RemoteBackend(spec, local.vocab, _policy(hedge_delay=hedge_delay))
    try:
        t0 = time.monotonic()
        with pytest.raises((FatalError, LookupFailedError)) as e:
            be.lookup(*corpus_batch(local, 100, np.random.default_rng(11)))
        assert "FAILED_PRECONDITION" in str(e.value) and "shard" in str(e.value)
        assert sum(t.retries for t in be.transports.values()) == 0
        assert time.monotonic() - t0 < 5.0
    finally:
        be.close()
    assert path.exists()


def test_backend_leaves_no_threads(cluster, local):
    be = open_remote_backend(cluster.path)
    be.lookup(*corpus_batch(local, 100, np.random.default_rng(12)))
    be.close()
    assert_no_thread_leak((be.thread_prefix,))
