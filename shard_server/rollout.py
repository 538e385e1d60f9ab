"""`ngram cluster rollout NEW_MODEL_DIR`: move a running cluster to a new model version
without downtime.

1. Every server loads the new version beside the old one (LoadModel; its shards, its
   layout, checksums, kernel warm-up) and then answers requests naming either id.
2. The cluster file is rewritten (atomically) to name the new id and model directory;
   clients following it (client.rollout.RolloutBackend) move at their next round, once
   every shard serves the new id.
3. After `switch_grace` seconds, every server unloads the old version: it refuses new
   requests for it, finishes the accepted ones, then unmaps it.
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import grpc

from ngram import cluster_file
from ngram.limits import DEFAULT_DRAIN_GRACE_S, DEFAULT_ROLLOUT_SWITCH_GRACE_S, ROLLOUT_LOAD_TIMEOUT_S
from ngram.wire import pb, pb_grpc
from ngram.wire.channels import open_channel
from shard_server.errors import ClusterError


def _servers(spec) -> list[str]:
    return [s.address for s in spec.servers] or sorted({a for rs in spec.replicas.values() for a in rs})


def _call(address, tls, method: str, request, timeout: float):
    with open_channel(address, tls) as ch:
        return getattr(pb_grpc.NgramShardStub(ch), method)(request, timeout=timeout)


def rollout(cluster_path, new_model_dir, *, switch_grace: float = DEFAULT_ROLLOUT_SWITCH_GRACE_S,
            unload_timeout: float = DEFAULT_DRAIN_GRACE_S,
            verify: bool = True, log=print) -> dict:
    """Returns {"old": id, "new": id, "not_unloaded": [addresses still holding the old]}."""
    from ngram.model import Model

    spec = cluster_file.read(cluster_path)
    new_dir = Path(new_model_dir).resolve()
    m = Model.open(new_dir, shards=[])
    try:
        new_id, order, num_shards = m.model_id, int(m.order), int(m.num_shards)
        shard_seed, value_kind = int(m.shard_seed), str(m.value_kind)
    finally:
        m.close()
    if (num_shards, shard_seed) != (spec.num_shards, spec.shard_seed):
        raise ClusterError(f"{new_dir} has {num_shards} shards (seed {shard_seed}), the cluster "
                           f"{spec.num_shards} (seed {spec.shard_seed}): a rollout keeps the sharding")
    if new_id == spec.model_id:
        raise ClusterError(f"the cluster already serves model {new_id}")
    servers = _servers(spec)
    request = pb.AdminLoadModelRequest(model_dir=str(new_dir), verify=verify)
    with ThreadPoolExecutor(max(1, min(16, len(servers)))) as pool:
        futures = {a: pool.submit(_call, a, spec.tls, "LoadModel", request, ROLLOUT_LOAD_TIMEOUT_S) for a in servers}
        failed = {}
        for a, f in futures.items():
            try:
                f.result()
            except grpc.RpcError as e:
                if "already served" not in (e.details() or ""):
                    failed[a] = f"{e.code().name}: {e.details()}"
    if failed:
        raise ClusterError("cannot load the new model on " + "; ".join(f"{a} ({why})" for a, why in failed.items())
                           + f"; the cluster still serves {spec.model_id}")
    log(f"{len(servers)} server(s) serve {spec.model_id} and {new_id}")
    cluster_file.write(cluster_path, replace(spec, model_id=new_id, model_path=str(new_dir), order=order,
                                             value_kind=value_kind))
    log(f"{cluster_path} names {new_id}; unloading {spec.model_id} in {switch_grace:g} s")
    time.sleep(switch_grace)
    unload = pb.AdminUnloadModelRequest(model_id=spec.model_id, timeout_s=unload_timeout)
    not_unloaded = []
    for a in servers:
        try:
            if not _call(a, spec.tls, "UnloadModel", unload, unload_timeout + 10).unloaded:
                not_unloaded.append(a)
        except grpc.RpcError as e:
            log(f"{a}: unload of {spec.model_id} failed: {e.code().name}: {e.details()}")
            not_unloaded.append(a)
    return {"old": spec.model_id, "new": new_id, "not_unloaded": not_unloaded}
