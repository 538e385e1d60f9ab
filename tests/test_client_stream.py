"""RoundStream: decoder rounds pipelined over LookupStream, against real servers."""
from __future__ import annotations

import queue
import threading
from concurrent.futures import ThreadPoolExecutor

import grpc
import numpy as np
import pytest

from client import Client
from client.errors import ShardDeadlineError, ShardUnavailableError, StreamClosedError
from client.policy import CallPolicy
from client.remote import RemoteBackend, open_remote_backend
from client.rounds import pair_ngrams
from cluster_harness import Cluster, assert_no_thread_leak, corpus_batch
from ngram.cluster_file import ClusterSpec
from ngram.wire import pb_grpc
from ngram.wire.arrays import decode_array
from ngram.wire.chains import encode_chains

pytestmark = pytest.mark.timeout(120)


def _grpc_request_threads() -> int:
    return sum("consume_request_iterator" in t.name for t in threading.enumerate())


def _closed_cleanly(rs, baseline: int) -> None:
    assert_no_thread_leak((rs.thread_prefix,))
    for _ in range(100):  # gRPC's request threads end once our queues are retired
        if _grpc_request_threads() <= baseline:
            return
        threading.Event().wait(0.05)
    raise AssertionError(f"{_grpc_request_threads() - baseline} gRPC request threads leaked")


def test_many_rounds_in_flight_equal_local(model_dir, local, tmp_path):
    # Every lookup takes 0.1 s, so rounds submitted without waiting pile up in flight.
    with Cluster(model_dir, tmp_path, replicas=2, config={"inject_delay_s": 0.1}) as c:
        baseline = _grpc_request_threads()
        with open_remote_backend(c.path) as be:
            rs = be.stream_rounds(max_inflight=6, timeout=20.0)
            rng = np.random.default_rng(1)
            rounds = [corpus_batch(local, int(rng.integers(1, 800)), rng) for _ in range(16)]
            again = [rng.integers(0, len(lengths), len(lengths) // 2) for _, lengths in rounds]
            rounds = [(np.concatenate([ids, ids[a]]), np.concatenate([lengths, lengths[a]]))  # repeats
                      for (ids, lengths), a in zip(rounds, again)]
            futs = [rs.submit(ids, lengths) for ids, lengths in rounds]
            for (ids, lengths), fut in zip(rounds, futs):
                assert fut.result().equals(local.lookup(ids, lengths))
            assert rs.peak_inflight >= 4 and rs.peak_inflight <= 6
            assert len(rs.submit(np.zeros((0, 4), np.int32), np.zeros(0, np.int32)).result()) == 0
            rs.close()
            _closed_cleanly(rs, baseline)
            with pytest.raises(StreamClosedError):
                rs.submit(*rounds[0])


def test_client_stream_rounds_dedupe_pairs(model_dir, local, tmp_path):
    with Cluster(model_dir, tmp_path, replicas=1, layout=[[0, 1], [2, 3]]) as c:
        with Client.open(c.path) as client, client.stream_rounds(max_inflight=4) as rs:
            rng = np.random.default_rng(2)
            ids, _ = corpus_batch(local, 60, rng)
            jobs = []
            for _ in range(8):
                pick = rng.integers(0, 60, 500)  # few distinct contexts, as in a decoder
                ctx, clen = ids[pick, :3], rng.integers(0, 4, 500).astype(np.int32)
                words = ids[rng.integers(0, 60, 500), 3]
                jobs.append(((ctx, clen, words), rs.submit_pairs(ctx, clen, words)))
            for (ctx, clen, words), fut in jobs:
                got = fut.result()
                assert got.equals(local.lookup(*pair_ngrams(ctx, clen, words, local.order)))
                assert got.equals(client.lookup_round(ctx, clen, words))


def test_stream_rounds_over_a_local_model(model_dir, local):
    ctx, clen, words = np.array([[5, 6, 7]], np.int32), np.array([3], np.int32), np.array([8])
    with Client.open(model_dir) as lc, lc.stream_rounds() as rs:
        got = rs.submit_pairs(ctx, clen, words).result()
        assert got.equals(local.lookup(*pair_ngrams(ctx, clen, words, local.order)))


def test_failover_when_the_streaming_replica_is_killed(model_dir, local, tmp_path):
    # Two processes serving every shard; SIGKILL the one shard 0 streams to, mid-stream.
    with Cluster(model_dir, tmp_path, replicas=2, mode="subprocess", layout=[[0, 1, 2, 3]],
                 config={"inject_delay_s": 0.02}) as c:
        be = open_remote_backend(c.path, policy=CallPolicy(timeout=30.0))
        try:
            rs = be.stream_rounds(max_inflight=6)
            rng = np.random.default_rng(3)
            rounds = [corpus_batch(local, 400, rng) for _ in range(8)]
            wants = [local.lookup(*r) for r in rounds]
            done: queue.SimpleQueue = queue.SimpleQueue()
            futs = []
            for i in range(48):
                f = rs.submit(*rounds[i % 8])
                f.add_done_callback(done.put)
                futs.append(f)
                if i == 12:
                    for _ in range(4):   # some rounds answered, others still in flight
                        done.get(timeout=30)
                    c.kill(c.addresses.index(rs.addresses[0]))
            for i, f in enumerate(futs):
                assert f.result().equals(wants[i % 8]), i
            assert rs.failovers >= 1
            rs.close()
            assert_no_thread_leak((rs.thread_prefix,))
        finally:
            be.close()


def test_deadline_and_dead_shard_errors_name_the_shard(model_dir, local, tmp_path):
    # Server 1 (shard 1) answers after 3 s; servers 2 and 6 hold shard 2, both killed.
    with Cluster(model_dir, tmp_path, replicas=2, layout=[[0], [1], [2], [3]],
                 per_server={1: {"inject_delay_s": 3.0}, 5: {"inject_delay_s": 3.0}}) as c:
        c.kill(2)
        c.kill(6)
        ids, lengths = corpus_batch(local, 600, np.random.default_rng(4))
        owner = __import__("ngram.sharding", fromlist=["x"]).shard_of(
            ids, lengths, local.num_shards, local.shard_seed)
        with open_remote_backend(c.path) as be:
            baseline = _grpc_request_threads()
            rs = be.stream_rounds(timeout=0.5)
            only1 = np.flatnonzero(owner == 1)
            with pytest.raises(ShardDeadlineError) as e:
                rs.submit(ids[only1], lengths[only1]).result(timeout=30)
            assert e.value.shard == 1 and "shard 1" in str(e.value)
            assert e.value.replicas[0] in (c.addresses[1], c.addresses[5])
            only2 = np.flatnonzero(owner == 2)
            with pytest.raises(ShardUnavailableError) as e:
                rs.submit(ids[only2], lengths[only2]).result(timeout=30)
            assert e.value.shard == 2 and "shard 2" in str(e.value)
            assert sorted(e.value.replicas) == sorted([c.addresses[2], c.addresses[6]])
            fine = np.flatnonzero((owner == 0) | (owner == 3))
            assert rs.submit(ids[fine], lengths[fine]).result(timeout=30).equals(
                local.lookup(ids[fine], lengths[fine]))
            # Close without waiting while a slow round is in flight: it fails, nothing leaks.
            slow = rs.submit(ids[only1], lengths[only1], timeout=20.0)
            rs.close(wait=False)
            with pytest.raises(StreamClosedError):
                slow.result(timeout=5)
            _closed_cleanly(rs, baseline)


# -- out-of-order answers: a test server that answers each pair of requests in reverse --
class _ReversingServicer(pb_grpc.NgramShardServicer):
    """A real gRPC server on loopback whose LookupStream answers requests two at a time,
    the second first (a real server answers concurrently, so order is not promised)."""

    def __init__(self, model):
        self.model = model

    def _answer(self, req):
        chains = self.model.lookup(decode_array(req.ids), decode_array(req.lengths))
        return encode_chains(req.request_id, req.shard, chains)

    def LookupStream(self, request_iterator, context):
        held = []
        for req in request_iterator:
            held.append(req)
            if len(held) == 2:
                yield from (self._answer(r) for r in reversed(held))
                held = []
        yield from (self._answer(r) for r in held)


def test_answers_out_of_order_are_matched_by_request_id(local):
    server = grpc.server(ThreadPoolExecutor(4))
    pb_grpc.add_NgramShardServicer_to_server(_ReversingServicer(local), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    spec = ClusterSpec(model_id=local.model_id, model_path=None, order=local.order,
                       num_shards=local.num_shards, shard_seed=local.shard_seed,
                       value_kind=local.value_kind,
                       replicas={s: [f"127.0.0.1:{port}"] for s in range(local.num_shards)})
    be = RemoteBackend(spec, local.vocab)
    rs = be.stream_rounds(max_inflight=8, timeout=30.0)
    try:
        rng = np.random.default_rng(5)
        rounds = [corpus_batch(local, 300, rng) for _ in range(8)]  # even: answered in pairs
        futs = [rs.submit(*r) for r in rounds]
        for r, f in zip(rounds, futs):
            assert f.result(timeout=30).equals(local.lookup(*r))
    finally:
        rs.close(wait=False)
        be.close()
        server.stop(None)
    assert_no_thread_leak((rs.thread_prefix,))
