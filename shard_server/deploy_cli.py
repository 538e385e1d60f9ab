"""`ngram deploy render|requests`: Kubernetes manifests and resource requests for a model."""
from __future__ import annotations

import click

from ngram.limits import DEFAULT_DRAIN_GRACE_S, DEFAULT_LAYOUT, DEFAULT_SERVER_MAX_INFLIGHT, LAYOUTS


@click.group("deploy")
def deploy():
    """Run shard servers on Kubernetes: manifests, cluster file, resource requests."""


@deploy.command("render")
@click.argument("model", type=click.Path(exists=True, file_okay=False))
@click.option("--replicas", type=click.IntRange(min=1), default=2, show_default=True,
              help="Pods per shard group (on different nodes).")
@click.option("--servers-per-replica", type=click.IntRange(min=1), default=None,
              help="Shard groups (StatefulSets), shards dealt round-robin (default: one per shard).")
@click.option("--image", required=True, help="The shard server image (see the Dockerfile).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True)
@click.option("--namespace", default="ngram", show_default=True)
@click.option("--layout", type=click.Choice(LAYOUTS), default=DEFAULT_LAYOUT, show_default=True)
@click.option("--drain-grace", type=click.FloatRange(min=0), default=DEFAULT_DRAIN_GRACE_S, show_default=True,
              help="The servers' --drain-grace; the pods' termination grace period follows it.")
@click.option("--models-claim", default="ngram-models", show_default=True,
              help="PersistentVolumeClaim holding the model directories, mounted read-only at /models.")
@click.option("--cpu", default="1", show_default=True, help="CPU request per pod.")
@click.option("--max-inflight", type=click.IntRange(min=1), default=DEFAULT_SERVER_MAX_INFLIGHT, show_default=True)
def render(model, replicas, servers_per_replica, image, out_dir, namespace, layout, drain_grace,
           models_claim, cpu, max_inflight):
    """Write a kustomize base, an example overlay and cluster.json for MODEL into --out."""
    from shard_server.deploy_render import RenderConfig, render as render_files

    cfg = RenderConfig(image=image, replicas=replicas, servers_per_replica=servers_per_replica,
                       namespace=namespace, layout=layout, drain_grace=drain_grace,
                       models_claim=models_claim, cpu=cpu, max_inflight=max_inflight)
    for path in render_files(model, out_dir, cfg):
        click.echo(str(path))


@deploy.command("requests")
@click.argument("model", type=click.Path(exists=True, file_okay=False))
@click.option("--layout", type=click.Choice(LAYOUTS), default=DEFAULT_LAYOUT, show_default=True)
@click.option("--servers-per-replica", type=click.IntRange(min=1), default=None)
@click.option("--json", "as_json", is_flag=True)
def requests(model, layout, servers_per_replica, as_json):
    """Memory each server process of MODEL needs in LAYOUT: mapped files, decoded tables, runtime."""
    from shard_server.deploy_render import requests_json, requests_table

    rows = requests_table(model, servers_per_replica, layout)
    if as_json:
        click.echo(requests_json(rows))
        return
    click.echo(f"{'group':<10} {'shards':<16} {'mapped MiB':>10} {'decoded MiB':>11} {'runtime MiB':>11}  request  limit")
    for r in rows:
        click.echo(f"{r['group']:<10} {','.join(map(str, r['shards'])):<16} {r['mapped_bytes'] / 2**20:>10.1f} "
                   f"{r['decoded_bytes'] / 2**20:>11.1f} {r['runtime_bytes'] / 2**20:>11.1f}  "
                   f"{r['memory_request']:<8} {r['memory_limit']}")
