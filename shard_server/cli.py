"""`ngram serve` and `ngram cluster up|status|down`: thin click commands over the library."""
from __future__ import annotations

import json
import os
import signal
import sys
import threading
from pathlib import Path

import click

# ngram.shard.LAYOUTS, named here so that `ngram --help` does not import the kernels
LAYOUTS = ("compressed", "decoded")


def _int_list(text: str | None) -> list[int] | None:
    if not text:
        return None
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated shard indices, got {text!r}")


def _write_json_atomic(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data) + "\n")
    os.replace(tmp, path)


@click.command("serve")
@click.argument("model", type=click.Path(exists=True, file_okay=False))
@click.option("--shards", help="Comma-separated shard indices to serve (default: all).")
@click.option("--port", type=int, default=0, show_default=True, help="0 picks a free port.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Bind address.")
@click.option("--max-inflight", type=int, default=16, show_default=True,
              help="Lookups plus open streams before answering RESOURCE_EXHAUSTED.")
@click.option("--threads", type=int, default=os.cpu_count() or 2, show_default=True,
              help="Kernel threads for stream requests.")
@click.option("--max-message-mb", type=int, default=64, show_default=True)
@click.option("--max-batch", type=int, default=1_000_000, show_default=True,
              help="Largest number of n-grams per request.")
@click.option("--metrics-port", type=int, default=None, help="Serve Prometheus /metrics here.")
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False), help="Server cert chain (PEM).")
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False), help="Server key (PEM).")
@click.option("--tls-client-ca", type=click.Path(exists=True, dir_okay=False),
              help="Require client certificates signed by these roots (mutual TLS).")
@click.option("--verify/--no-verify", default=True, show_default=True,
              help="Check every checksum of the served shards before reporting SERVING (a corrupt shard is refused).")
@click.option("--drain-grace", type=float, default=30.0, show_default=True,
              help="Seconds SIGTERM waits for accepted requests.")
@click.option("--ready-file", type=click.Path(dir_okay=False),
              help="Write {address, port, metrics_port, pid} as JSON here once SERVING.")
@click.option("--layout", type=click.Choice(LAYOUTS), default="compressed", show_default=True,
              help="compressed: answer from the mapped shard files (~2 bytes per n-gram). decoded: also "
                   "decode them into RAM hash tables at start (~35 bytes per n-gram), lookups 2-3x faster.")
@click.option("--inject-delay-ms", type=float, default=0.0, hidden=True)
def serve(model, shards, port, host, max_inflight, threads, max_message_mb, max_batch, metrics_port,
          tls_cert, tls_key, tls_client_ca, verify, drain_grace, ready_file, layout, inject_delay_ms):
    """Serve shards of MODEL over gRPC until SIGTERM/SIGINT, then drain."""
    from ngram import __version__
    from shard_server.server import ServerConfig, ShardServer

    if bool(tls_cert) != bool(tls_key):
        raise click.UsageError("--tls-cert and --tls-key go together")
    if tls_client_ca and not tls_cert:
        raise click.UsageError("--tls-client-ca needs --tls-cert/--tls-key")
    config = ServerConfig(host=host, port=port, max_inflight=max_inflight, threads=threads,
                          max_message_bytes=max_message_mb << 20, max_batch=max_batch,
                          metrics_port=metrics_port, tls_cert=tls_cert, tls_key=tls_key,
                          tls_client_ca=tls_client_ca, inject_delay_s=inject_delay_ms / 1000)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    server = ShardServer(config, version=__version__)
    server.start()
    try:
        m = server.open_model(model, shards=_int_list(shards), verify=verify, layout=layout)
    except Exception as e:  # noqa: BLE001 - report and exit non-zero
        server.stop()
        raise click.ClickException(f"cannot open {model}: {e}")
    served = sorted(m.shards)
    click.echo(f"serving shards {served} of model {m.model_id} ({layout}, "
               f"{sum(t.memory_bytes for t in m.shards.values()) / 2**20:.1f} MiB) on {server.address}"
               + (f", metrics on :{server.metrics_port}" if server.metrics_port else ""), err=True)
    if ready_file:
        _write_json_atomic(Path(ready_file), {
            "address": server.address, "port": server.port, "metrics_port": server.metrics_port,
            "pid": os.getpid(), "shards": served, "model_id": m.model_id})
    while not stop.wait(0.5):
        pass
    click.echo(f"draining {server.address} (grace {drain_grace:g} s)", err=True)
    server.drain(drain_grace)
    m.close()
    click.echo("stopped", err=True)


@click.group("cluster")
def cluster():
    """Start, inspect and stop a local cluster of shard servers."""


@cluster.command("up")
@click.argument("model", type=click.Path(exists=True, file_okay=False))
@click.option("--replicas", type=int, default=1, show_default=True)
@click.option("--base-port", type=int, default=0, show_default=True,
              help="Server i listens on base+i (metrics on base+servers+i); 0 picks free ports.")
@click.option("--servers-per-replica", type=int, default=None,
              help="Processes per replica set, shards dealt round-robin (default: one per shard).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--cluster-file", type=click.Path(dir_okay=False), default="cluster.json",
              show_default=True)
@click.option("--metrics/--no-metrics", default=True, show_default=True)
@click.option("--timeout", type=float, default=120.0, show_default=True,
              help="Seconds to wait for every server to be healthy.")
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False))
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False))
@click.option("--tls-ca", type=click.Path(exists=True, dir_okay=False),
              help="Roots the client trusts (written to the cluster file).")
@click.option("--layout", type=click.Choice(LAYOUTS), default="compressed", show_default=True,
              help="The servers' table layout (see `ngram serve --layout`).")
@click.option("--server-arg", multiple=True, help="Extra argument passed to every `ngram serve`.")
def cluster_up(model, replicas, base_port, servers_per_replica, host, cluster_file, metrics,
               timeout, tls_cert, tls_key, tls_ca, layout, server_arg):
    """Start local servers for MODEL, wait until all are healthy, write the cluster file."""
    from ngram.cluster_file import TLSConfig
    from shard_server.cluster import ClusterError, start_cluster

    tls = TLSConfig(ca=tls_ca, server_name="localhost") if tls_cert else None
    try:
        spec = start_cluster(model, cluster_file, replicas=replicas, base_port=base_port,
                             servers_per_replica=servers_per_replica, host=host,
                             metrics=metrics, timeout=timeout, tls_cert=tls_cert,
                             tls_key=tls_key, tls=tls, layout=layout, extra_args=list(server_arg))
    except ClusterError as e:
        raise click.ClickException(str(e))
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
@click.option("--grace", type=float, default=30.0, show_default=True,
              help="Seconds to wait after SIGTERM before SIGKILL.")
def cluster_down(cluster_file, grace):
    """SIGTERM (drain) every server `cluster up` started, then remove the cluster file."""
    from shard_server.cluster import stop_cluster

    stopped = stop_cluster(cluster_file, grace=grace)
    click.echo(f"stopped {stopped} server(s)")
