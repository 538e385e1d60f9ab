"""`ngram serve` and `ngram cluster up|status|down`: thin click commands over the library."""
from __future__ import annotations

import json
import os
import signal
import sys
import threading

import click

from ngram.atomic import write_text_atomic
from ngram.limits import (DEFAULT_ROLLOUT_SWITCH_GRACE_S, DEFAULT_CLUSTER_START_TIMEOUT_S, DEFAULT_CLUSTER_STOP_GRACE_S, DEFAULT_DRAIN_GRACE_S,
                          DEFAULT_LAYOUT, DEFAULT_MAX_BATCH, DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_SERVER_HOST,
                          DEFAULT_SERVER_MAX_INFLIGHT, LAYOUTS, MAX_PORT)

PORT = click.IntRange(0, MAX_PORT)
MAX_MESSAGE_MB = 2047  # gRPC's message limit is a signed 32-bit byte count
LOOPBACK_HOSTS = ("localhost", "::1", "[::1]")


class ShardList(click.ParamType):
    """Comma-separated shard indices (checked against the model when it is opened)."""

    name = "shards"

    def convert(self, value, param, ctx):
        if isinstance(value, list):
            return value
        try:
            shards = [int(x) for x in value.split(",") if x.strip()]
        except ValueError:
            self.fail(f"expected comma-separated shard indices, got {value!r}", param, ctx)
        if not shards or min(shards) < 0:
            self.fail(f"expected comma-separated shard indices >= 0, got {value!r}", param, ctx)
        return shards


def is_loopback(host: str) -> bool:
    """True for an address only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    import ipaddress
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: assume it is reachable from elsewhere


def plaintext_warning(host: str) -> str:
    return (f"warning: serving without TLS on {host}, which other machines can reach: anyone who can "
            "connect can query the model, unencrypted. Pass --tls-cert/--tls-key (and --tls-client-ca "
            "to require client certificates), or bind 127.0.0.1.")


@click.command("serve")
@click.argument("model", type=click.Path(exists=True, file_okay=False))
@click.option("--shards", type=ShardList(), help="Comma-separated shard indices to serve (default: all).")
@click.option("--port", type=PORT, default=0, show_default=True, help="0 picks a free port.")
@click.option("--host", default=DEFAULT_SERVER_HOST, show_default=True,
              help="Bind address (another than loopback without TLS prints a warning).")
@click.option("--max-inflight", type=click.IntRange(min=1), default=DEFAULT_SERVER_MAX_INFLIGHT, show_default=True,
              help="Lookups plus open streams before answering RESOURCE_EXHAUSTED.")
@click.option("--threads", type=click.IntRange(min=1), default=os.cpu_count() or 2, show_default=True,
              help="Kernel threads for stream requests.")
@click.option("--max-message-mb", type=click.IntRange(1, MAX_MESSAGE_MB), default=DEFAULT_MAX_MESSAGE_BYTES >> 20,
              show_default=True, help="Largest gRPC message, both directions.")
@click.option("--max-batch", type=click.IntRange(min=1), default=DEFAULT_MAX_BATCH, show_default=True,
              help="Largest number of n-grams per request.")
@click.option("--metrics-port", type=PORT, default=None, help="Serve Prometheus /metrics here.")
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False), help="Server cert chain (PEM).")
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False), help="Server key (PEM).")
@click.option("--tls-client-ca", type=click.Path(exists=True, dir_okay=False),
              help="Require client certificates signed by these roots (mutual TLS).")
@click.option("--verify/--no-verify", default=True, show_default=True,
              help="Check every checksum of the served shards before reporting SERVING (a corrupt shard is refused).")
@click.option("--drain-grace", type=click.FloatRange(min=0), default=DEFAULT_DRAIN_GRACE_S, show_default=True,
              help="Seconds SIGTERM waits for accepted requests.")
@click.option("--admin", is_flag=True, default=False,
              help="Answer the admin RPCs LoadModel/UnloadModel/ListModels (model rollouts).")
@click.option("--ready-file", type=click.Path(dir_okay=False),
              help="Write {address, port, metrics_port, pid} as JSON here once SERVING.")
@click.option("--layout", type=click.Choice(LAYOUTS), default=DEFAULT_LAYOUT, show_default=True,
              help="compressed: answer from the mapped shard files (~2 bytes per n-gram). decoded: also "
                   "decode them into RAM hash tables at start (~10 bytes per n-gram), lookups 2-3x faster.")
def serve(model, shards, port, host, max_inflight, threads, max_message_mb, max_batch, metrics_port,
          tls_cert, tls_key, tls_client_ca, verify, drain_grace, admin, ready_file, layout):
    """Serve shards of MODEL over gRPC until SIGTERM/SIGINT, then drain."""
    from ngram import __version__
    from shard_server.server import ServerConfig, ShardServer

    if bool(tls_cert) != bool(tls_key):
        raise click.UsageError("--tls-cert and --tls-key go together")
    if tls_client_ca and not tls_cert:
        raise click.UsageError("--tls-client-ca needs --tls-cert/--tls-key")
    if not tls_cert and not is_loopback(host):
        click.echo(plaintext_warning(host), err=True)
    config = ServerConfig(host=host, port=port, max_inflight=max_inflight, threads=threads,
                          max_message_bytes=max_message_mb << 20, max_batch=max_batch,
                          metrics_port=metrics_port, tls_cert=tls_cert, tls_key=tls_key,
                          tls_client_ca=tls_client_ca, admin=admin)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    server = ShardServer(config, version=__version__)
    server.start()
    try:
        m = server.open_model(model, shards=shards, verify=verify, layout=layout)
    except BaseException:  # the CLI's group reports it; nothing may keep the port bound
        server.stop()
        raise
    served = sorted(m.shards)
    click.echo(f"serving shards {served} of model {m.model_id} ({layout}, "
               f"{sum(t.memory_bytes for t in m.shards.values()) / 2**20:.1f} MiB) on {server.address}"
               + (f", metrics on :{server.metrics_port}" if server.metrics_port else ""), err=True)
    if ready_file:
        write_text_atomic(ready_file, json.dumps({
            "address": server.address, "port": server.port, "metrics_port": server.metrics_port,
            "pid": os.getpid(), "shards": served, "model_id": m.model_id}) + "\n", fsync=False)
    while not stop.wait(0.5):
        pass
    click.echo(f"draining {server.address} (grace {drain_grace:g} s)", err=True)
    server.drain(drain_grace)
    for engine, _, _ in server.engines.models():  # the first model, or what a rollout loaded
        engine.model.close()
    click.echo("stopped", err=True)


@click.group("cluster")
def cluster():
    """Start, inspect and stop a local cluster of shard servers."""


@cluster.command("up")
@click.argument("model", type=click.Path(exists=True, file_okay=False))
@click.option("--replicas", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--base-port", type=PORT, default=0, show_default=True,
              help="Server i listens on base+i (metrics on base+servers+i); 0 picks free ports.")
@click.option("--servers-per-replica", type=click.IntRange(min=1), default=None,
              help="Processes per replica set, shards dealt round-robin (default: one per shard).")
@click.option("--host", default=DEFAULT_SERVER_HOST, show_default=True)
@click.option("--cluster-file", type=click.Path(dir_okay=False), default="cluster.json",
              show_default=True)
@click.option("--metrics/--no-metrics", default=True, show_default=True)
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=DEFAULT_CLUSTER_START_TIMEOUT_S,
              show_default=True,
              help="Seconds to wait for every server to be healthy.")
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False))
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False))
@click.option("--tls-ca", type=click.Path(exists=True, dir_okay=False),
              help="Roots the client trusts (written to the cluster file).")
@click.option("--layout", type=click.Choice(LAYOUTS), default=DEFAULT_LAYOUT, show_default=True,
              help="The servers' table layout (see `ngram serve --layout`).")
@click.option("--server-arg", multiple=True, help="Extra argument passed to every `ngram serve`.")
def cluster_up(model, replicas, base_port, servers_per_replica, host, cluster_file, metrics,
               timeout, tls_cert, tls_key, tls_ca, layout, server_arg):
    """Start local servers for MODEL, wait until all are healthy, write the cluster file."""
    from ngram.cluster_file import TLSConfig
    from shard_server.cluster import start_cluster

    if bool(tls_cert) != bool(tls_key):
        raise click.UsageError("--tls-cert and --tls-key go together")
    if not tls_cert and not is_loopback(host):
        click.echo(plaintext_warning(host), err=True)
    tls = TLSConfig(ca=tls_ca, server_name="localhost") if tls_cert else None
    spec = start_cluster(model, cluster_file, replicas=replicas, base_port=base_port,
                         servers_per_replica=servers_per_replica, host=host,
                         metrics=metrics, timeout=timeout, tls_cert=tls_cert,
                         tls_key=tls_key, tls=tls, layout=layout, extra_args=list(server_arg))
    click.echo(f"{len(spec.servers)} servers healthy; cluster file {cluster_file}")


@cluster.command("status")
@click.option("--cluster-file", type=click.Path(exists=True, dir_okay=False), default="cluster.json",
              show_default=True)
def cluster_status(cluster_file):
    """Health and load of every server in the cluster file; exit 1 if any is unhealthy."""
    from shard_server.cluster import status

    rows = status(cluster_file)
    click.echo(f"{'address':<22} {'shards':<16} {'health':<12} {'inflight':>8}  {'tables':<20} pid")
    for r in rows:
        tables = f"{r['layout']} {r['table_bytes'] / 2**20:.1f} MiB" if r["layout"] else "-"
        click.echo(f"{r['address']:<22} {','.join(map(str, r['shards'])):<16} {r['health']:<12} "
                   f"{r['inflight'] if r['inflight'] is not None else '-':>8}  {tables:<20} {r['pid'] or '-'}")
    if any(r["health"] != "SERVING" for r in rows):
        sys.exit(1)


@cluster.command("down")
@click.option("--cluster-file", type=click.Path(exists=True, dir_okay=False), default="cluster.json",
              show_default=True)
@click.option("--grace", type=click.FloatRange(min=0), default=DEFAULT_CLUSTER_STOP_GRACE_S, show_default=True,
              help="Seconds to wait after SIGTERM before SIGKILL.")
def cluster_down(cluster_file, grace):
    """SIGTERM (drain) every server `cluster up` started, then remove the cluster file."""
    from shard_server.cluster import stop_cluster

    stopped = stop_cluster(cluster_file, grace=grace)
    click.echo(f"stopped {stopped} server(s)")


@cluster.command("rollout")
@click.argument("new_model", type=click.Path(exists=True, file_okay=False))
@click.option("--cluster-file", type=click.Path(exists=True, dir_okay=False), default="cluster.json",
              show_default=True)
@click.option("--switch-grace", type=click.FloatRange(min=0), default=DEFAULT_ROLLOUT_SWITCH_GRACE_S, show_default=True,
              help="Seconds between naming the new model in the cluster file and unloading the old.")
@click.option("--unload-timeout", type=click.FloatRange(min=0, min_open=True), default=DEFAULT_DRAIN_GRACE_S,
              show_default=True, help="Seconds a server waits for the old model's requests to finish.")
@click.option("--verify/--no-verify", default=True, show_default=True)
def cluster_rollout(new_model, cluster_file, switch_grace, unload_timeout, verify):
    """Move the cluster to NEW_MODEL without downtime (servers need --admin)."""
    from shard_server.rollout import rollout

    r = rollout(cluster_file, new_model, switch_grace=switch_grace, unload_timeout=unload_timeout,
                verify=verify, log=lambda msg: click.echo(msg, err=True))
    click.echo(f"rolled out {r['new']} (was {r['old']})")
    if r["not_unloaded"]:
        click.echo(f"still holding {r['old']}: {', '.join(r['not_unloaded'])}", err=True)
        sys.exit(1)
