"""Client discovery that survives rescheduling: a replica addressed by a DNS name that
moves to another IP (a rescheduled pod) is reached again at its new address.

The name lives in a tiny DNS server of the test's own (tests/tiny_dns.py); gRPC's c-ares
resolver is pointed at it by the target's authority, so /etc/hosts is never touched.
The server "moves" from 127.0.0.1 to 127.0.0.2 on the same port.
"""
from __future__ import annotations

import json
import time

import grpc
import numpy as np
import pytest

from cluster_harness import corpus_batch
from ngram.backend import open_backend
from ngram.wire import pb, pb_grpc
from ngram.wire.channels import open_channel
from shard_server.server import ServerConfig, ShardServer
from tiny_dns import TinyDNS

MOVE_DEADLINE_S = 8.0  # the channel re-resolves within ~1 s of a failure (DNS_MIN_RERESOLVE_MS)


@pytest.fixture
def dns():
    d = TinyDNS()
    yield d
    d.close()


def serve(model_dir, host: str, port: int = 0) -> ShardServer:
    s = ShardServer(ServerConfig(host=host, port=port))
    s.start()
    s.open_model(model_dir)
    return s


def test_dns_name_is_re_resolved_after_the_server_moves(model_dir, dns):
    """Regression: with gRPC's default (at most one re-resolution per 30 s) the channel
    kept dialing the old IP for 20 s+ after the server moved."""
    dns.records["shard.test"] = "127.0.0.1"
    old = serve(model_dir, "127.0.0.1")
    port = old.port
    with open_channel(dns.target("shard.test", port)) as ch:
        stub = pb_grpc.NgramShardStub(ch)
        assert stub.Info(pb.InfoRequest(), timeout=5).shards
        old.stop()
        new = serve(model_dir, "127.0.0.2", port)
        try:
            dns.records["shard.test"] = "127.0.0.2"
            start, answered = time.monotonic(), None
            while time.monotonic() - start < MOVE_DEADLINE_S and answered is None:
                try:
                    answered = stub.Info(pb.InfoRequest(), timeout=1)
                except grpc.RpcError as e:
                    assert e.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
                    time.sleep(0.1)
            assert answered is not None, f"not reached at its new address within {MOVE_DEADLINE_S} s"
            assert dns.queries["shard.test"] >= 2
        finally:
            new.stop()


def test_remote_backend_uses_a_moved_replica_again(model_dir, local, dns, tmp_path):
    """Two replicas of every shard: a fixed one, and one behind a name that moves. Every
    lookup during the move is answered correctly, and the moved replica answers again."""
    dns.records["moving.test"] = "127.0.0.1"
    fixed, moving = serve(model_dir, "127.0.0.1"), serve(model_dir, "127.0.0.1")
    port = moving.port
    name = dns.target("moving.test", port)
    S = local.num_shards
    spec = {"format": "ngram-cluster", "version": 1, "model_id": local.model_id, "model_path": str(model_dir),
            "order": local.order, "num_shards": S, "shard_seed": local.shard_seed, "value_kind": local.value_kind,
            "shards": [{"index": s, "replicas": [fixed.address, name]} for s in range(S)]}
    path = tmp_path / "cluster.json"
    path.write_text(json.dumps(spec))
    rng = np.random.default_rng(18)
    ids, lengths = corpus_batch(local, 300, rng)
    want = local.lookup(ids, lengths)
    backend = open_backend(str(path))
    moved = None
    try:
        def check():
            got = backend.lookup(ids, lengths)
            np.testing.assert_array_equal(got.match_len, want.match_len)
            np.testing.assert_array_equal(got.counts, want.counts)

        while sum(backend.replicas[s].answered[name] for s in range(S)) == 0:
            check()
        moving.stop()
        moved = serve(model_dir, "127.0.0.2", port)
        dns.records["moving.test"] = "127.0.0.2"
        before = sum(backend.replicas[s].answered[name] for s in range(S))
        start = time.monotonic()
        while sum(backend.replicas[s].answered[name] for s in range(S)) == before:
            assert time.monotonic() - start < MOVE_DEADLINE_S + 4, "the moved replica was never used again"
            check()
            time.sleep(0.05)
    finally:
        backend.close()
        fixed.stop()
        if moved is not None:
            moved.stop()
