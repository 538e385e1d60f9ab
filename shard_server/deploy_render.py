"""Kubernetes manifests and the matching cluster file for a model (`ngram deploy render`).

Layout of the output directory (a kustomize base and an example overlay)::

    base/kustomization.yaml          lists every resource below
    base/ngram-gG.yaml               per shard group G: headless Service, StatefulSet of
                                     R replicas, PodDisruptionBudget
    overlays/example/kustomization.yaml   namespace and image pinned, base reused
    cluster.json                     shard -> the StatefulSet pods' DNS names

Replica i of group G is pod ``ngram-gG-i`` of StatefulSet ``ngram-gG``; its stable name
``ngram-gG-i.ngram-gG.NS.svc.cluster.local`` survives rescheduling (the client re-resolves
it when a connection fails). The model is mounted read-only from a PersistentVolumeClaim
at /models; the model directory's name is part of the path, so a new version can sit
beside the old one during a rollout.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from ngram import cluster_file
from ngram.atomic import write_text_atomic
from ngram.cluster_file import ClusterSpec
from ngram.limits import (DEFAULT_DRAIN_GRACE_S, DEFAULT_LAYOUT, DEFAULT_SERVER_MAX_INFLIGHT, DEPLOY_GRPC_PORT,
                          DEPLOY_MEMORY_LIMIT_FACTOR, DEPLOY_METRICS_PORT, DEPLOY_TERMINATION_MARGIN_S)
from shard_server.deploy_resources import GroupResources, group_resources, mebibytes

APP = "ngram-server"
MODELS_MOUNT = "/models"
RUN_AS = 10001  # the image's user (Dockerfile)


@dataclass(frozen=True)
class RenderConfig:
    image: str
    replicas: int = 2
    servers_per_replica: int | None = None
    namespace: str = "ngram"
    layout: str = DEFAULT_LAYOUT
    drain_grace: float = DEFAULT_DRAIN_GRACE_S
    models_claim: str = "ngram-models"
    cpu: str = "1"
    max_inflight: int = DEFAULT_SERVER_MAX_INFLIGHT
    port: int = DEPLOY_GRPC_PORT
    metrics_port: int = DEPLOY_METRICS_PORT


def group_name(g: int) -> str:
    return f"ngram-g{g}"


def pod_address(g: int, replica: int, cfg: RenderConfig) -> str:
    name = group_name(g)
    return f"{name}-{replica}.{name}.{cfg.namespace}.svc.cluster.local:{cfg.port}"


def _labels(g: int) -> dict:
    return {"app.kubernetes.io/name": APP, "app.kubernetes.io/component": group_name(g)}


def _probe(cfg: RenderConfig, **timing) -> dict:
    # Kubernetes' native gRPC probe asks the standard health service ("" = the server).
    return {"grpc": {"port": cfg.port, "service": ""}, **timing}


def group_manifests(res: GroupResources, model_dir_name: str, cfg: RenderConfig) -> list[dict]:
    """Service, StatefulSet and PodDisruptionBudget of one shard group."""
    name, labels = group_name(res.group), _labels(res.group)
    meta = {"name": name, "namespace": cfg.namespace, "labels": labels}
    service = {
        "apiVersion": "v1", "kind": "Service", "metadata": meta,
        "spec": {"clusterIP": "None", "selector": labels,
                 "ports": [{"name": "grpc", "port": cfg.port, "targetPort": "grpc"}]}}
    args = [f"{MODELS_MOUNT}/{model_dir_name}", "--shards", ",".join(map(str, res.shards)),
            "--host", "0.0.0.0", "--port", str(cfg.port), "--metrics-port", str(cfg.metrics_port),
            "--layout", cfg.layout, "--drain-grace", f"{cfg.drain_grace:g}",
            "--max-inflight", str(cfg.max_inflight)]
    memory = res.memory_bytes
    container = {
        "name": "shard-server", "image": cfg.image, "args": args,
        "ports": [{"name": "grpc", "containerPort": cfg.port},
                  {"name": "metrics", "containerPort": cfg.metrics_port}],
        # Startup: checksums, decoding (decoded layout) and kernel loading, before SERVING.
        "startupProbe": _probe(cfg, periodSeconds=5, failureThreshold=120),
        "readinessProbe": _probe(cfg, periodSeconds=5, failureThreshold=2),
        "livenessProbe": _probe(cfg, periodSeconds=10, timeoutSeconds=5, failureThreshold=3),
        "resources": {"requests": {"cpu": cfg.cpu, "memory": mebibytes(memory)},
                      "limits": {"memory": mebibytes(int(memory * DEPLOY_MEMORY_LIMIT_FACTOR))}},
        "volumeMounts": [{"name": "models", "mountPath": MODELS_MOUNT, "readOnly": True}],
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
    }
    pod = {
        "metadata": {"labels": labels},
        "spec": {
            # SIGTERM drains for --drain-grace seconds; the kubelet waits that long plus the exit.
            "terminationGracePeriodSeconds": math.ceil(cfg.drain_grace) + DEPLOY_TERMINATION_MARGIN_S,
            "securityContext": {"runAsNonRoot": True, "runAsUser": RUN_AS, "runAsGroup": RUN_AS,
                                "fsGroup": RUN_AS},
            "affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": labels}, "topologyKey": "kubernetes.io/hostname"}]}},
            "containers": [container],
            "volumes": [{"name": "models", "persistentVolumeClaim": {"claimName": cfg.models_claim,
                                                                     "readOnly": True}}],
        }}
    statefulset = {
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": meta,
        "spec": {"serviceName": name, "replicas": cfg.replicas, "podManagementPolicy": "Parallel",
                 "selector": {"matchLabels": labels}, "template": pod,
                 "updateStrategy": {"type": "RollingUpdate"}}}
    pdb = {
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": meta,
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": labels}}}
    return [service, statefulset, pdb]


def cluster_spec(model, groups: list[GroupResources], cfg: RenderConfig) -> ClusterSpec:
    replicas = {s: [pod_address(g.group, r, cfg) for r in range(cfg.replicas)]
                for g in groups for s in g.shards}
    return ClusterSpec(model_id=model.model_id, model_path=None, order=int(model.order),
                       num_shards=int(model.num_shards), shard_seed=int(model.shard_seed),
                       value_kind=str(model.value_kind), replicas=replicas)


def _yaml(docs: list[dict]) -> str:
    import yaml

    class Dumper(yaml.SafeDumper):  # plain repeated mappings, no &anchors/*aliases
        def ignore_aliases(self, data):
            return True
    return yaml.dump_all(docs, Dumper=Dumper, sort_keys=False, default_flow_style=False)


def render(model_dir, out_dir, cfg: RenderConfig) -> list[Path]:
    """Write the base, the example overlay and cluster.json under `out_dir`; returns the files."""
    from ngram.model import Model

    model = Model.open(model_dir, shards=[])  # manifest and vocabulary only
    try:
        groups = group_resources(model, cfg.servers_per_replica, cfg.layout)
        spec = cluster_spec(model, groups, cfg)
    finally:
        model.close()
    out = Path(out_dir)
    (out / "base").mkdir(parents=True, exist_ok=True)
    (out / "overlays" / "example").mkdir(parents=True, exist_ok=True)
    written = []
    names = []
    for g in groups:
        name = f"{group_name(g.group)}.yaml"
        names.append(name)
        written.append(out / "base" / name)
        write_text_atomic(written[-1], _yaml(group_manifests(g, Path(model_dir).resolve().name, cfg)))
    base = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
            "labels": [{"pairs": {"app.kubernetes.io/part-of": "ngram"}}], "resources": names}
    overlay = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
               "namespace": cfg.namespace, "resources": ["../../base"],
               "images": [{"name": cfg.image.rsplit(":", 1)[0],
                           "newTag": cfg.image.rsplit(":", 1)[1] if ":" in cfg.image.split("/")[-1] else "latest"}]}
    for path, doc in ((out / "base" / "kustomization.yaml", base),
                      (out / "overlays" / "example" / "kustomization.yaml", overlay)):
        write_text_atomic(path, _yaml([doc]))
        written.append(path)
    cluster_file.write(out / "cluster.json", spec)
    written.append(out / "cluster.json")
    return written


def requests_table(model_dir, servers_per_replica: int | None, layout: str) -> list[dict]:
    """Rows of `ngram deploy requests`: per server group, its shards and bytes."""
    from ngram.model import Model

    model = Model.open(model_dir, shards=[])
    try:
        groups = group_resources(model, servers_per_replica, layout)
    finally:
        model.close()
    return [{"group": group_name(g.group), "shards": g.shards, "mapped_bytes": g.mapped_bytes,
             "decoded_bytes": g.decoded_bytes, "runtime_bytes": g.runtime_bytes,
             "memory_request": mebibytes(g.memory_bytes),
             "memory_limit": mebibytes(int(g.memory_bytes * DEPLOY_MEMORY_LIMIT_FACTOR))} for g in groups]


def requests_json(rows: list[dict]) -> str:
    return json.dumps(rows, indent=2)
