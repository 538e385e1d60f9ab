"""Issue 13: the client after fork() and under dead or frozen servers, with real
subprocess servers. A decoder's process pool forks a process that holds a Client; no
wait in the client may outlive the call's deadline."""
from __future__ import annotations

import multiprocessing
import threading
import time

import numpy as np
import pytest

from client import Client
from client.errors import ClientError, ShardDeadlineError, StreamClosedError
from client.policy import CallPolicy
from cluster_harness import Cluster, corpus_batch

pytestmark = pytest.mark.timeout(180)

TIMEOUT = 2.0
SLACK = 1.0  # scheduling on a loaded machine; a hang would be minutes

_forked_client: Client | None = None  # inherited by the pool's forked children


def _lookup_in_child(batch):
    ids, lengths = batch
    return _forked_client.lookup(ids, lengths).counts


def _one_server(model_dir, tmp_path) -> Cluster:
    return Cluster(model_dir, tmp_path, replicas=1, mode="subprocess", layout=[[0, 1, 2, 3]])


def test_client_used_in_forked_children_answers_correctly(model_dir, local, tmp_path):
    global _forked_client
    with _one_server(model_dir, tmp_path) as c:
        with Client.open(c.path, policy=CallPolicy(timeout=10.0)) as client:
            rng = np.random.default_rng(31)
            batches = [corpus_batch(local, 300, rng) for _ in range(6)]
            # The parent's thread pool and channels are busy before the fork.
            assert client.lookup(*batches[0]).equals(local.lookup(*batches[0]))
            _forked_client = client
            try:
                with multiprocessing.get_context("fork").Pool(2) as pool:
                    got = pool.map_async(_lookup_in_child, batches, chunksize=1).get(timeout=60)
            finally:
                _forked_client = None
            for b, counts in zip(batches, got):
                assert np.array_equal(counts, local.lookup(*b).counts)
            # ...and the parent still works, with its own pool and channels.
            assert client.lookup(*batches[1]).equals(local.lookup(*batches[1]))


def test_round_stream_from_the_parent_refuses_in_a_forked_child(model_dir, local, tmp_path):
    with _one_server(model_dir, tmp_path) as c:
        with Client.open(c.path) as client, client.stream_rounds() as rs:
            batch = corpus_batch(local, 50, np.random.default_rng(32))
            assert rs.submit(*batch).result(timeout=10).equals(local.lookup(*batch))
            ctx = multiprocessing.get_context("fork")
            q = ctx.SimpleQueue()

            def child():
                try:
                    rs.submit(*batch)
                    q.put("no error")
                except StreamClosedError as e:
                    q.put(str(e))
            p = ctx.Process(target=child)
            p.start()
            p.join(30)
            assert p.exitcode == 0
            assert "fork" in q.get()


def test_server_killed_during_a_batch_of_calls_errors_within_the_deadline(model_dir, local, tmp_path):
    with _one_server(model_dir, tmp_path) as c:
        with Client.open(c.path, policy=CallPolicy(timeout=TIMEOUT)) as client:
            rng = np.random.default_rng(33)
            batches = [corpus_batch(local, 2000, rng) for _ in range(4)]
            outcomes: list = []
            stop = threading.Event()

            def load(k):
                while not stop.is_set():
                    t0 = time.monotonic()
                    try:
                        client.lookup(*batches[k])
                        outcomes.append(("ok", time.monotonic() - t0, None))
                    except ClientError as e:
                        outcomes.append(("error", time.monotonic() - t0, e))

            workers = [threading.Thread(target=load, args=(k,)) for k in range(4)]
            for w in workers:
                w.start()
            try:
                while len(outcomes) < 8:
                    time.sleep(0.01)
                c.kill(0)
                killed = len(outcomes)
                time.sleep(TIMEOUT + SLACK)
            finally:
                stop.set()
                for w in workers:
                    w.join(TIMEOUT + SLACK + 5)
            assert not any(w.is_alive() for w in workers), "a call outlived its deadline"
            errors = [o for o in outcomes[killed:] if o[0] == "error"]
            assert errors, "no call failed after the server was killed"
            assert all(took < TIMEOUT + SLACK for _, took, _ in outcomes), max(o[1] for o in outcomes)
            for _, _, e in errors:
                assert "shard" in str(e) and c.addresses[0] in str(e), e


def test_frozen_sole_replica_errors_within_the_deadline_unary_and_stream(model_dir, local, tmp_path):
    with _one_server(model_dir, tmp_path) as c:
        with Client.open(c.path, policy=CallPolicy(timeout=TIMEOUT)) as client:
            batch = corpus_batch(local, 500, np.random.default_rng(34))
            rs = client.stream_rounds()
            assert rs.submit(*batch).result(timeout=10).equals(local.lookup(*batch))
            c.freeze(0)
            try:
                t0 = time.monotonic()
                with pytest.raises(ClientError) as e:
                    client.lookup(*batch)
                assert time.monotonic() - t0 < TIMEOUT + SLACK
                assert isinstance(e.value, ShardDeadlineError) or all(
                    isinstance(x, ShardDeadlineError) for x in e.value.errors.values())
                assert "deadline" in str(e.value) and c.addresses[0] in str(e.value)
                t0 = time.monotonic()
                fut = rs.submit(*batch)
                with pytest.raises(ClientError) as e:
                    fut.result(timeout=TIMEOUT + SLACK)
                assert time.monotonic() - t0 < TIMEOUT + SLACK
                assert "deadline" in str(e.value)
                t0 = time.monotonic()
                rs.close(wait=True)  # nothing in flight may hold it past the deadline
                assert time.monotonic() - t0 < TIMEOUT + SLACK
            finally:
                c.thaw(0)
