"""A real shard server on a loopback port: answers, status codes, streams, limits, metrics."""
from __future__ import annotations

import queue
import time
import urllib.request

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from cluster_harness import Cluster, corpus_batch
from ngram.sharding import shard_of
from ngram.wire import SERVICE_NAME, encode_array, pb, pb_grpc
from ngram.wire.chains import decode_chains
from shard_server.server import ServerConfig, ShardServer

pytestmark = pytest.mark.timeout(120)
T = 10.0  # deadline of every call in these tests


@pytest.fixture(scope="module")
def server(model_dir, tmp_path_factory):
    """One server holding shards 0 and 2, with a small batch limit and message size."""
    srv = ShardServer(ServerConfig(max_batch=5000, max_message_bytes=1 << 20, metrics_port=0,
                                   max_inflight=8))
    srv.start()
    srv.open_model(model_dir, shards=[0, 2])
    yield srv
    srv.stop()


@pytest.fixture()
def stub(server):
    with grpc.insecure_channel(server.address) as ch:
        yield pb_grpc.NgramShardStub(ch)


def request_for(local, shard, ids, lengths, request_id=1, model_id=None):
    own = shard_of(ids, lengths, local.num_shards, local.shard_seed) == shard
    return (pb.LookupRequest(request_id=request_id, model_id=model_id or local.model_id, shard=shard,
                             ids=encode_array(ids[own]), lengths=encode_array(lengths[own])),
            ids[own], lengths[own])


def check_answer(local, resp, ids, lengths):
    got = decode_chains(resp, len(lengths), local.order, local.value_kind)
    assert got.equals(local.lookup(ids, lengths))


def test_lookup_equals_local(local, stub):
    ids, lengths = corpus_batch(local, 3000, np.random.default_rng(1))
    for shard in (0, 2):
        req, i, l = request_for(local, shard, ids, lengths, request_id=7)
        resp = stub.Lookup(req, timeout=T)
        assert resp.request_id == 7 and resp.shard == shard
        check_answer(local, resp, i, l)
        assert (np.asarray(decode_chains(resp, len(l), local.order, "counts").match_len) > 0).any()


def test_packed_responses_equal_dense_ones_and_are_smaller(local, stub):
    ids, lengths = corpus_batch(local, 3000, np.random.default_rng(2))
    req, i, l = request_for(local, 0, ids, lengths)
    dense = stub.Lookup(req, timeout=T)
    req.packed_response = True
    packed = stub.Lookup(req, timeout=T)
    assert packed.packed and not dense.packed
    check_answer(local, packed, i, l)
    assert packed.ByteSize() < dense.ByteSize() / 2


def test_info_health_reflection(server, local, stub):
    info = stub.Info(pb.InfoRequest(), timeout=T)
    assert (info.model_id, info.order, info.num_shards, list(info.shards)) == (
        local.model_id, local.order, local.num_shards, [0, 2])
    assert info.vocab_size == len(local.vocab) and info.max_batch == 5000
    assert info.layout == "compressed" and info.table_bytes == local.shards[0].nbytes + local.shards[2].nbytes
    with grpc.insecure_channel(server.address) as ch:
        h = health_pb2_grpc.HealthStub(ch)
        for name in ("", SERVICE_NAME):
            r = h.Check(health_pb2.HealthCheckRequest(service=name), timeout=T)
            assert r.status == health_pb2.HealthCheckResponse.SERVING
        refl = reflection_pb2_grpc.ServerReflectionStub(ch)
        answers = refl.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(
            list_services="")]), timeout=T)
        names = {s.name for a in answers for s in a.list_services_response.service}
        assert SERVICE_NAME in names and "grpc.health.v1.Health" in names


def _code(call, *args, **kw):
    with pytest.raises(grpc.RpcError) as e:
        call(*args, timeout=T, **kw)
    return e.value.code(), e.value.details()


def test_bad_requests_get_the_right_code_and_the_server_keeps_serving(local, stub):
    ids, lengths = corpus_batch(local, 500, np.random.default_rng(2))
    good, gi, gl = request_for(local, 0, ids, lengths)
    mid = local.model_id
    INVALID, PRECOND = grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION

    def req(**kw):
        r = pb.LookupRequest()
        r.CopyFrom(good)
        for k, v in kw.items():
            if isinstance(v, pb.Array):
                getattr(r, k).CopyFrom(v)
            else:
                setattr(r, k, v)
        return r

    cases = [
        (req(ids=pb.Array(data=b"\0" * 7, shape=[1, 2], dtype="<i4")), INVALID, "bytes"),
        (req(ids=encode_array(gi.astype(np.float32))), INVALID, "dtype"),
        (req(ids=pb.Array(data=b"evil", shape=[1], dtype="O")), INVALID, "dtype"),
        # an element count that overflows int64 (was INTERNAL: numpy's reshape error)
        (req(ids=pb.Array(data=b"", shape=[2**32, 2**32], dtype="<i4")), INVALID, "too big for any array"),
        (req(lengths=pb.Array(data=b"", shape=[2**62, 4], dtype="<i4")), INVALID, "too big for any array"),
        (req(lengths=encode_array(gl[:-1])), INVALID, "lengths"),
        (req(lengths=encode_array(np.full_like(gl, local.order + 1))), INVALID, "exceeds"),
        (req(ids=encode_array(np.full_like(gi, len(local.vocab)))), INVALID, "vocabulary"),
        (req(shard=2), INVALID, "belongs to shard"),  # n-grams routed to the wrong shard
        (req(ids=encode_array(np.zeros((6000, local.order), np.int32)),
             lengths=encode_array(np.ones(6000, np.int32))), INVALID, "limit"),
        (req(model_id="not-" + mid), PRECOND, "model"),
        (req(shard=1), PRECOND, "not served"),
    ]
    for bad, code, words in cases:
        got, details = _code(stub.Lookup, bad)
        assert got == code, (words, got, details)
        assert words in details, details
        check_answer(local, stub.Lookup(good, timeout=T), gi, gl)  # still serving


def test_oversized_message_is_refused_and_the_server_keeps_serving(local, stub):
    huge = np.zeros((60_000, local.order), np.int32)  # ~1 MB of ids: above the 1 MiB limit
    r = pb.LookupRequest(model_id=local.model_id, shard=0, ids=encode_array(huge),
                         lengths=encode_array(np.ones(len(huge), np.int32)))
    code, _ = _code(stub.Lookup, r)
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
    ids, lengths = corpus_batch(local, 200, np.random.default_rng(3))
    good, gi, gl = request_for(local, 0, ids, lengths)
    check_answer(local, stub.Lookup(good, timeout=T), gi, gl)


def test_stream_pipelines_rounds_with_request_ids(model_dir, local, tmp_path):
    # A slow server makes the rounds overlap; Info.inflight shows >= 4 of them at once.
    with Cluster(model_dir, tmp_path, config={"inject_delay_s": 0.3}) as c:
        rng = np.random.default_rng(4)
        sends: queue.Queue = queue.Queue()
        rounds = {}
        for rid in range(100, 108):
            ids, lengths = corpus_batch(local, 400, rng)
            rounds[rid] = request_for(local, 1, ids, lengths, request_id=rid)
        with grpc.insecure_channel(c.addresses[1]) as ch:
            stub = pb_grpc.NgramShardStub(ch)
            responses = stub.LookupStream(iter(sends.get, None), timeout=30)
            for rid, (req, _, _) in rounds.items():
                sends.put(req)
            peak = 0
            deadline = time.monotonic() + 20
            while peak < 4 and time.monotonic() < deadline:
                peak = max(peak, stub.Info(pb.InfoRequest(), timeout=T).inflight)
            bad = pb.LookupRequest(request_id=999, model_id="other", shard=1)
            sends.put(bad)
            sends.put(None)
            got = {}
            for resp in responses:
                got[resp.request_id] = resp
        assert peak >= 4, f"at most {peak} rounds were in flight"
        assert set(got) == set(rounds) | {999}
        assert got[999].status.code == grpc.StatusCode.FAILED_PRECONDITION.value[0]
        for rid, (req, i, l) in rounds.items():
            assert got[rid].status.code == 0
            check_answer(local, got[rid], i, l)


def test_overload_answers_resource_exhausted(model_dir, local, tmp_path):
    with Cluster(model_dir, tmp_path, config={"inject_delay_s": 1.0, "max_inflight": 1}) as c:
        ids, lengths = corpus_batch(local, 100, np.random.default_rng(5))
        req, i, l = request_for(local, 0, ids, lengths)
        with grpc.insecure_channel(c.addresses[0]) as ch:
            stub = pb_grpc.NgramShardStub(ch)
            first = stub.Lookup.future(req, timeout=T)
            while stub.Info(pb.InfoRequest(), timeout=T).inflight < 1:
                time.sleep(0.01)
            code, details = _code(stub.Lookup, req)
            assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and "busy" in details
            check_answer(local, first.result(), i, l)  # the admitted one completes


def test_metrics_endpoint(server, local, stub):
    ids, lengths = corpus_batch(local, 100, np.random.default_rng(6))
    req, _, _ = request_for(local, 0, ids, lengths)
    stub.Lookup(req, timeout=T)
    _code(stub.Lookup, pb.LookupRequest(model_id="x", shard=0))
    text = urllib.request.urlopen(f"http://127.0.0.1:{server.metrics_port}/metrics", timeout=T).read().decode()
    assert 'ngram_requests_total{code="OK",method="Lookup"}' in text
    assert 'ngram_errors_total{code="FAILED_PRECONDITION"}' in text
    assert "ngram_lookups_total" in text and "ngram_request_seconds_bucket" in text
    served = sum(t.memory_bytes for t in server.servicer.real.engine.tables.values())
    assert f'ngram_table_bytes{{layout="compressed"}} {float(served)}' in text


def test_not_serving_until_shards_are_open(model_dir):
    srv = ShardServer(ServerConfig())
    srv.start()
    try:
        with grpc.insecure_channel(srv.address) as ch:
            h = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=T)
            assert h.status == health_pb2.HealthCheckResponse.NOT_SERVING
            code, _ = _code(pb_grpc.NgramShardStub(ch).Lookup, pb.LookupRequest())
            assert code == grpc.StatusCode.UNAVAILABLE
        srv.open_model(model_dir, shards=[0])
        with grpc.insecure_channel(srv.address) as ch:
            h = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=T)
            assert h.status == health_pb2.HealthCheckResponse.SERVING
    finally:
        srv.stop()
