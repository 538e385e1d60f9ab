"""Model rollouts without downtime: servers load a second version while serving the
first, clients pin one version per round, the old version is unmapped once unused."""
from __future__ import annotations

import json
import threading
import time

import grpc
import numpy as np
import pytest

from cluster_harness import corpus_batch, small_model
from client.rollout import RolloutBackend
from ngram.model import Model
from ngram.wire import pb, pb_grpc
from ngram.wire.channels import open_channel
from shard_server.rollout import rollout
from shard_server.server import ServerConfig, ShardServer

SHARDS = 4


@pytest.fixture(scope="module")
def versions():
    """Two versions of a model: built from 1500 and from 1200 lines (other vocabulary, counts, id)."""
    old, new = small_model(lines=1500, num_shards=SHARDS), small_model(lines=1200, num_shards=SHARDS)
    models = {str(p): Model.open(p) for p in (old, new)}
    assert len({m.model_id for m in models.values()}) == 2
    yield old, new, {m.model_id: m for m in models.values()}
    for m in models.values():
        m.close()


def start_cluster(model_dir, tmp_path, admin=True):
    """2 replicas x 2 servers (shards dealt round-robin), in-process, and their cluster file."""
    servers = []
    for _ in range(2):
        for g in range(2):
            s = ShardServer(ServerConfig(admin=admin))
            s.start()
            s.open_model(model_dir, shards=[k for k in range(SHARDS) if k % 2 == g])
            servers.append(s)
    m = Model.open(model_dir, shards=[])
    spec = {"format": "ngram-cluster", "version": 1, "model_id": m.model_id, "model_path": str(model_dir),
            "order": m.order, "num_shards": SHARDS, "shard_seed": m.shard_seed, "value_kind": m.value_kind,
            "shards": [{"index": k, "replicas": [s.address for s in servers if k in s.engines.shard_indices]}
                       for k in range(SHARDS)],
            "servers": [{"address": s.address, "shards": s.engines.shard_indices} for s in servers]}
    m.close()
    path = tmp_path / "cluster.json"
    path.write_text(json.dumps(spec))
    return servers, path


def list_models(address):
    with open_channel(address) as ch:
        return pb_grpc.NgramShardStub(ch).ListModels(pb.AdminListModelsRequest(), timeout=5)


def test_rollout_under_load_fails_no_round_and_mixes_no_versions(versions, tmp_path):
    old_dir, new_dir, local = versions
    servers, path = start_cluster(old_dir, tmp_path)
    old_id = next(iter(local))  # insertion order: old first
    rounds: list[tuple[str, bool]] = []  # (model id the round was pinned to, answers correct)
    failures: list[BaseException] = []
    stop = threading.Event()

    def load(seed):
        rng = np.random.default_rng(seed)
        with RolloutBackend(path) as rb:
            while not stop.is_set():
                try:
                    with rb.round() as backend:
                        ref = local[backend.model_id]
                        ids, lengths = corpus_batch(ref, 200, rng)
                        got = backend.lookup(ids, lengths)
                        want = ref.lookup(ids, lengths)
                        ok = (np.array_equal(got.match_len, want.match_len)
                              and np.array_equal(got.counts, want.counts))
                        rounds.append((backend.model_id, ok))
                except Exception as e:  # noqa: BLE001 - a failed round is what this test counts
                    failures.append(e)

    loaders = [threading.Thread(target=load, args=(seed,)) for seed in (1, 2)]
    try:
        for t in loaders:
            t.start()
        time.sleep(1.0)
        result = rollout(path, new_dir, switch_grace=1.5, unload_timeout=10, log=lambda _: None)
        n_at_unload = len(rounds)
        time.sleep(1.0)
        stop.set()
        for t in loaders:
            t.join(30)
        assert not failures, failures[:3]
        assert result["not_unloaded"] == []
        new_id = result["new"]
        assert result["old"] == old_id and {old_id, new_id} == set(local)
        assert all(ok for _, ok in rounds), "a round's answers differ from its pinned version's"
        seen = [mid for mid, _ in rounds]
        assert old_id in seen and new_id in seen
        assert set(seen[n_at_unload:]) == {new_id}  # after the unload, every round used the new version
        for s in servers:  # the old version is gone from every server, the new one serves
            models = list_models(s.address).models
            assert [m.model_id for m in models] == [new_id]
    finally:
        stop.set()
        for s in servers:
            s.stop()


def test_server_answers_both_versions_during_a_rollout_and_refuses_the_unloaded(versions, tmp_path):
    old_dir, new_dir, local = versions
    server = ShardServer(ServerConfig(admin=True))
    server.start()
    server.open_model(old_dir, shards=[0, 2])
    try:
        with open_channel(server.address) as ch:
            stub = pb_grpc.NgramShardStub(ch)
            loaded = stub.LoadModel(pb.AdminLoadModelRequest(model_dir=str(new_dir), verify=True), timeout=120)
            old_id, new_id = list(local)
            assert loaded.model.model_id == new_id and list(loaded.model.shards) == [0, 2]
            assert {m.model_id for m in stub.ListModels(pb.AdminListModelsRequest(), timeout=5).models} == set(local)
            assert stub.UnloadModel(pb.AdminUnloadModelRequest(model_id=old_id, timeout_s=5), timeout=10).unloaded
            info = stub.Info(pb.InfoRequest(), timeout=5)
            assert info.model_id == new_id
            with pytest.raises(grpc.RpcError) as e:  # the last version cannot be unloaded
                stub.UnloadModel(pb.AdminUnloadModelRequest(model_id=new_id, timeout_s=1), timeout=10)
            assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    finally:
        server.stop()


def test_admin_rpcs_are_refused_without_admin(versions, tmp_path):
    old_dir, new_dir, _ = versions
    server = ShardServer(ServerConfig())
    server.start()
    server.open_model(old_dir)
    try:
        with open_channel(server.address) as ch, pytest.raises(grpc.RpcError) as e:
            pb_grpc.NgramShardStub(ch).LoadModel(pb.AdminLoadModelRequest(model_dir=str(new_dir)), timeout=10)
        assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED
    finally:
        server.stop()


def test_cluster_rollout_command_moves_the_cluster_file_to_the_new_version(versions, tmp_path):
    from click.testing import CliRunner

    from ngram import cluster_file
    from shard_server.cli import cluster

    old_dir, new_dir, local = versions
    servers, path = start_cluster(old_dir, tmp_path)
    try:
        r = CliRunner().invoke(cluster, ["rollout", str(new_dir), "--cluster-file", str(path),
                                         "--switch-grace", "0"])
        assert r.exit_code == 0, r.output
        old_id, new_id = list(local)
        assert f"rolled out {new_id} (was {old_id})" in r.output
        spec = cluster_file.read(path)
        assert spec.model_id == new_id and spec.model_path == str(new_dir.resolve())
        again = CliRunner().invoke(cluster, ["rollout", str(new_dir), "--cluster-file", str(path)])
        assert again.exit_code != 0 and "already serves" in str(again.exception)
    finally:
        for s in servers:
            s.stop()
