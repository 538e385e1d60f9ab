"""The Predict RPC and the client's routing: a real local cluster (tests/cluster_harness.py)
answers exactly what the in-process Predictor answers (counts and backoff models, servers
holding several shards); bad requests get INVALID_ARGUMENT / FAILED_PRECONDITION."""
from __future__ import annotations

import grpc
import numpy as np
import pytest

from reference_builder import build_model_inmemory
from client import Client
from cluster_harness import Cluster, corpus_text
from ngram.arpa import import_arpa
from ngram.errors import InvalidQueryError
from ngram.model import Model
from ngram.predict import Predictor
from ngram.successors import write_index
from ngram.wire import encode_array, pb, pb_grpc
from ngram.wire.channels import open_channel
from reference import normalized_arpa


def contexts(model, text: bytes, n: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """n contexts of lengths 0..order+1 cut from the corpus (many repeat: dedup is used)."""
    lines = [l.split() for l in text.splitlines() if l.strip()]
    W = model.order + 1
    ids = np.zeros((n, W), np.int32)
    lengths = np.zeros(n, np.int32)
    for i in range(n):
        words = [b"<s>"] + lines[rng.integers(len(lines))]
        end = int(rng.integers(1, len(words) + 1))
        L = int(rng.integers(0, min(W, end) + 1))
        ids[i, :L] = model.vocab.ids(words[end - L:end])
        lengths[i] = L
    return ids, lengths


@pytest.fixture(scope="module", params=["counts", "backoff"])
def setup(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(f"predict-{request.param}")
    text = corpus_text(300)
    d = tmp / "model"
    if request.param == "counts":
        build_model_inmemory(text, d, order=4, num_shards=3)
    else:
        arpa = tmp / "m.arpa"
        arpa.write_text(normalized_arpa([l.decode().split() for l in text.splitlines()[:120] if l.strip()], 3))
        import_arpa(arpa, d, num_shards=3, quantization="none")
    write_index(d)
    model = Model.open(d)
    local = Predictor.open(model)
    with Cluster(d, tmp / "cluster", replicas=2, layout=[[0, 1], [2]]) as cluster, \
            Client.open(cluster.path) as remote:
        yield {"model": model, "local": local, "remote": remote, "cluster": cluster, "text": text}
    local.close()
    model.close()


@pytest.mark.parametrize("k,prefix,min_score", [(1, None, None), (10, None, None), (50, None, -3.0),
                                                 (7, "th", None), (1000, None, None)])
def test_remote_predict_equals_local(setup, k, prefix, min_score):
    ids, lengths = contexts(setup["model"], setup["text"], 300, np.random.default_rng(k))
    want = setup["local"].predict(ids, lengths, k, prefix=prefix, min_score=min_score)
    got = setup["remote"].predict(ids, lengths, k, prefix=prefix, min_score=min_score)
    assert np.array_equal(got[0], want[0])
    assert np.array_equal(got[1], want[1])


def test_remote_completion_equals_local(setup):
    with Client.open(setup["model"].path) as local:
        for text in ["the", "in the", "it is"]:
            try:
                want = local.complete(text, k=3, max_words=3)
            except InvalidQueryError:
                continue  # a word the (ARPA sample's) vocabulary lacks
            assert setup["remote"].complete(text, k=3, max_words=3) == want


def _stub(setup, server: int = 0):
    return pb_grpc.NgramShardStub(open_channel(setup["cluster"].addresses[server]))


def _request(setup, **kw):
    args = dict(model_id=setup["model"].model_id, shard=0, context_ids=encode_array(np.zeros((1, 1), np.int32)),
                context_lengths=encode_array(np.zeros(1, np.int32)), k=5)
    args.update(kw)
    return pb.PredictRequest(**args)


@pytest.mark.parametrize("kw,code,words", [
    ({"k": 0}, grpc.StatusCode.INVALID_ARGUMENT, "k = 0"),
    ({"k": 1001}, grpc.StatusCode.INVALID_ARGUMENT, "1..1000"),
    ({"model_id": "other"}, grpc.StatusCode.FAILED_PRECONDITION, "model"),
    ({"shard": 2}, grpc.StatusCode.FAILED_PRECONDITION, "not served"),
    ({"context_lengths": encode_array(np.array([2], np.int32))}, grpc.StatusCode.INVALID_ARGUMENT,
     "context_lengths"),
    ({"context_ids": encode_array(np.full((1, 1), 10 ** 7, np.int32)),
      "context_lengths": encode_array(np.ones(1, np.int32))}, grpc.StatusCode.INVALID_ARGUMENT, "vocabulary"),
    ({"context_ids": encode_array(np.zeros((1, 1), np.float32))}, grpc.StatusCode.INVALID_ARGUMENT, "dtype"),
])
def test_bad_predict_requests_are_refused_with_the_reason(setup, kw, code, words):
    with pytest.raises(grpc.RpcError) as e:
        _stub(setup).Predict(_request(setup, **kw), timeout=10)
    assert e.value.code() == code
    assert words in e.value.details()


def test_misrouted_context_is_invalid_argument(setup):
    m = setup["model"]
    from ngram.predict import context_shards
    rng = np.random.default_rng(0)
    pairs = rng.integers(3, len(m.vocab), (200, 2)).astype(np.int32)
    shards = context_shards(pairs, np.full(200, 2, np.int32), m.num_shards, m.shard_seed)
    b = int(np.flatnonzero(shards == 2)[0])
    with pytest.raises(grpc.RpcError) as e:
        _stub(setup).Predict(_request(setup, context_ids=encode_array(pairs[b:b + 1]),
                                      context_lengths=encode_array(np.array([2], np.int32))), timeout=10)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "belongs to shard 2" in e.value.details()


def test_server_without_index_says_how_to_add_it(tmp_path):
    d = tmp_path / "m"
    build_model_inmemory(corpus_text(50), d, order=3, num_shards=1)
    with Cluster(d, tmp_path / "c") as cluster:
        stub = pb_grpc.NgramShardStub(open_channel(cluster.addresses[0]))
        req = pb.PredictRequest(model_id=Model.open(d, shards=[]).model_id, shard=0, k=3,
                                context_ids=encode_array(np.zeros((1, 1), np.int32)),
                                context_lengths=encode_array(np.zeros(1, np.int32)))
        with pytest.raises(grpc.RpcError) as e:
            stub.Predict(req, timeout=10)
        assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "ngram index-successors" in e.value.details()


def test_slow_replica_is_hedged_around_for_predict(tmp_path):
    """The first replica of every shard takes 3 s per request, the call deadline is 2 s:
    every answer comes from a hedge to the fast replica, and equals the local one."""
    from client.policy import CallPolicy
    d = tmp_path / "model"
    text = corpus_text(200)
    build_model_inmemory(text, d, order=3, num_shards=2)
    write_index(d)
    model = Model.open(d)
    local = Predictor.open(model)
    slow = {j: {"inject_delay_s": 3.0} for j in range(2)}
    try:
        with Cluster(d, tmp_path / "cluster", replicas=2, per_server=slow) as cluster, \
                Client.open(cluster.path, policy=CallPolicy(timeout=2.0, hedge_delay=0.05)) as remote:
            ids, lengths = contexts(model, text, 40, np.random.default_rng(3))
            for _ in range(2):
                got = remote.predict(ids, lengths, 5)
                want = local.predict(ids, lengths, 5)
                assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
            assert sum(t.hedges_sent for t in remote.backend.transports.values()) > 0
    finally:
        local.close()
        model.close()
