"""`ngram deploy render|requests`: manifests valid against the Kubernetes schemas (offline,
kubernetes-validate ships them), and the cluster file agreeing with the manifests."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from ngram import cluster_file
from ngram.decoded_trie import DecodedTrie
from ngram.limits import SERVER_PROCESS_OVERHEAD_BYTES
from ngram.model import Model
from shard_server.cli import serve
from shard_server.deploy_cli import deploy
from shard_server.deploy_resources import decoded_table_bytes, group_resources, mebibytes

kubernetes_validate = pytest.importorskip("kubernetes_validate")
K8S_VERSION = "1.30.0"  # the oldest Kubernetes the manifests target (native gRPC probes are GA since 1.27)
IMAGE = "registry.example/ngram-server:0.1.0"


def render(model_dir, out: Path, *args) -> Path:
    r = CliRunner().invoke(deploy, ["render", str(model_dir), "--image", IMAGE, "--out", str(out), *args])
    assert r.exit_code == 0, r.output + repr(r.exception)
    return out


def documents(out: Path) -> list[dict]:
    docs = []
    for f in sorted((out / "base").glob("ngram-g*.yaml")):
        docs += [d for d in yaml.safe_load_all(f.read_text()) if d]
    return docs


def by_kind(docs, kind):
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def flag(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


@pytest.fixture(scope="module", params=[(2, None), (3, 2)], ids=["R2-one-per-shard", "R3-two-groups"])
def rendered(request, model_dir, tmp_path_factory):
    replicas, spr = request.param
    extra = ["--replicas", str(replicas), "--namespace", "lm", "--drain-grace", "12.5"]
    if spr:
        extra += ["--servers-per-replica", str(spr)]
    out = render(model_dir, tmp_path_factory.mktemp("deploy"), *extra)
    return out, replicas, documents(out)


def test_rendered_manifests_validate_against_the_kubernetes_schemas(rendered):
    _, _, docs = rendered
    assert docs
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_validator_rejects_a_broken_statefulset(rendered):
    """The check above can fail: a misspelt field is refused."""
    _, _, docs = rendered
    sts = json.loads(json.dumps(next(iter(by_kind(docs, "StatefulSet").values()))))
    sts["spec"]["replica"] = sts["spec"].pop("replicas")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(sts, K8S_VERSION, strict=True)


def test_kustomizations_list_every_rendered_file(rendered):
    out, _, _ = rendered
    base = yaml.safe_load((out / "base" / "kustomization.yaml").read_text())
    assert sorted(base["resources"]) == sorted(p.name for p in (out / "base").glob("ngram-g*.yaml"))
    overlay = yaml.safe_load((out / "overlays" / "example" / "kustomization.yaml").read_text())
    assert overlay["resources"] == ["../../base"] and overlay["namespace"] == "lm"
    assert overlay["images"] == [{"name": "registry.example/ngram-server", "newTag": "0.1.0"}]


def test_cluster_file_addresses_are_the_statefulset_pods_dns_names(rendered, model_dir):
    out, replicas, docs = rendered
    spec = cluster_file.read(out / "cluster.json")
    m = Model.open(model_dir, shards=[])
    assert (spec.model_id, spec.num_shards, spec.order) == (m.model_id, m.num_shards, m.order)
    m.close()
    services = by_kind(docs, "Service")
    expected: dict[int, list[str]] = {}
    for name, sts in by_kind(docs, "StatefulSet").items():
        svc = services[sts["spec"]["serviceName"]]
        assert svc["spec"]["clusterIP"] == "None"  # headless: one DNS record per pod
        assert sts["spec"]["replicas"] == replicas
        c = sts["spec"]["template"]["spec"]["containers"][0]
        port = int(flag(c["args"], "--port"))
        assert port == c["ports"][0]["containerPort"] == svc["spec"]["ports"][0]["port"]
        assert c["startupProbe"]["grpc"]["port"] == c["readinessProbe"]["grpc"]["port"] == \
            c["livenessProbe"]["grpc"]["port"] == port
        ns = sts["metadata"]["namespace"]
        for s in map(int, flag(c["args"], "--shards").split(",")):
            assert s not in expected, f"shard {s} served by two groups"
            expected[s] = [f"{name}-{i}.{svc['metadata']['name']}.{ns}.svc.cluster.local:{port}"
                           for i in range(replicas)]
    assert expected == spec.replicas
    assert sorted(expected) == list(range(spec.num_shards))


def test_selectors_match_pods_and_replicas_avoid_sharing_a_node(rendered):
    _, _, docs = rendered
    pdbs, services = by_kind(docs, "PodDisruptionBudget"), by_kind(docs, "Service")
    for name, sts in by_kind(docs, "StatefulSet").items():
        labels = sts["spec"]["template"]["metadata"]["labels"]
        assert sts["spec"]["selector"]["matchLabels"] == labels
        assert services[name]["spec"]["selector"] == labels
        assert pdbs[name]["spec"]["selector"]["matchLabels"] == labels
        (term,) = sts["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"][
            "requiredDuringSchedulingIgnoredDuringExecution"]
        assert term["labelSelector"]["matchLabels"] == labels
        assert term["topologyKey"] == "kubernetes.io/hostname"


def test_pods_drain_within_their_termination_grace_and_mount_the_model_read_only(rendered, model_dir):
    _, _, docs = rendered
    for sts in by_kind(docs, "StatefulSet").values():
        pod = sts["spec"]["template"]["spec"]
        c = pod["containers"][0]
        grace = float(flag(c["args"], "--drain-grace"))
        assert grace == 12.5
        assert pod["terminationGracePeriodSeconds"] >= math.ceil(grace)
        assert c["volumeMounts"] == [{"name": "models", "mountPath": "/models", "readOnly": True}]
        assert pod["volumes"][0]["persistentVolumeClaim"]["readOnly"] is True
        assert c["args"][0] == f"/models/{Path(model_dir).name}"
        assert pod["securityContext"]["runAsNonRoot"] is True


def test_container_args_are_accepted_by_the_serve_command(rendered, model_dir):
    """The rendered args parse with the real `ngram serve` options (model path swapped for
    this machine's copy)."""
    _, _, docs = rendered
    for sts in by_kind(docs, "StatefulSet").values():
        args = list(sts["spec"]["template"]["spec"]["containers"][0]["args"])
        args[0] = str(model_dir)
        ctx = serve.make_context("serve", args)
        assert ctx.params["host"] == "0.0.0.0" and ctx.params["drain_grace"] == 12.5


@pytest.mark.parametrize("layout", ["compressed", "decoded"])
def test_memory_requests_add_the_files_the_decoded_tables_and_the_runtime(model_dir, layout):
    full = Model.open(model_dir)  # every table, to compare the manifest-only figures with
    try:
        groups = group_resources(full, servers_per_replica=2, layout=layout)
        vocab = (Path(model_dir) / "vocab.bin").stat().st_size
        for g in groups:
            files = sum((Path(model_dir) / Path(full.shards[s].path).name).stat().st_size for s in g.shards)
            assert g.mapped_bytes == vocab + files
            want = sum(DecodedTrie.bytes_needed(full.shards[s]) for s in g.shards) if layout == "decoded" else 0
            assert g.decoded_bytes == want
            assert g.runtime_bytes == SERVER_PROCESS_OVERHEAD_BYTES
    finally:
        full.close()
    r = CliRunner().invoke(deploy, ["requests", str(model_dir), "--layout", layout, "--servers-per-replica", "2",
                                    "--json"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.output)
    assert [row["memory_request"] for row in rows] == [mebibytes(g.memory_bytes) for g in groups]


def test_decoded_table_bytes_formula_matches_the_decoder(model_dir):
    full = Model.open(model_dir)
    try:
        for t in full.shards.values():
            above = full.manifest["ngrams"]["per_shard"][t.shard_index]
            assert decoded_table_bytes(len(full.vocab), above, full.value_kind) == DecodedTrie.bytes_needed(t)
    finally:
        full.close()
