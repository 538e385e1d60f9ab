"""`ngram spell serve MODEL|--cluster FILE --port P [--http-port H]`: the spelling service.

Reached through `ngram spell serve ...` (client/spelling/cli.py hands the arguments here).
Binds first (health NOT_SERVING, /healthz 503), then opens the model and its speller,
corrects one sentence to compile every kernel, and only then reports SERVING. SIGTERM or
SIGINT: NOT_SERVING, new requests refused, admitted ones finished within --drain-grace.
"""
from __future__ import annotations

import json
import os
import signal
import threading

import click

from ngram.atomic import write_text_atomic
from ngram.limits import (DEFAULT_DRAIN_GRACE_S, DEFAULT_SERVER_HOST, DEFAULT_SPELL_ALTERNATIVES,
                          DEFAULT_SPELL_BEAM, DEFAULT_SPELL_LAMBDA, DEFAULT_SPELL_MAX_INFLIGHT,
                          DEFAULT_SPELL_TIMEOUT_S, MAX_PORT)

PORT = click.IntRange(0, MAX_PORT)
WARM_UP_TEXT = "Teh service is warming up its kernels"


@click.command("serve")
@click.argument("model", required=False, type=click.Path(exists=True, file_okay=False))
@click.option("--cluster", type=click.Path(exists=True, dir_okay=False), help="Ask a cluster (cluster file).")
@click.option("--port", type=PORT, default=0, show_default=True, help="gRPC port; 0 picks a free port.")
@click.option("--http-port", type=PORT, default=None,
              help="Also serve JSON over HTTP (POST /correct, GET /healthz) here; 0 picks a free port.")
@click.option("--host", default=DEFAULT_SERVER_HOST, show_default=True,
              help="Bind address of both (no TLS: keep it on loopback or behind a proxy).")
@click.option("--metrics-port", type=PORT, default=None, help="Serve Prometheus /metrics here.")
@click.option("--max-inflight", type=click.IntRange(min=1), default=DEFAULT_SPELL_MAX_INFLIGHT, show_default=True,
              help="Requests admitted (running or waiting) before refusing with RESOURCE_EXHAUSTED / 503.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=DEFAULT_SPELL_TIMEOUT_S,
              show_default=True, help="Seconds a request may take when it brings no deadline (every HTTP request).")
@click.option("--drain-grace", type=click.FloatRange(min=0), default=DEFAULT_DRAIN_GRACE_S, show_default=True,
              help="Seconds SIGTERM waits for admitted requests.")
@click.option("--beam", type=click.IntRange(1, 10_000), default=DEFAULT_SPELL_BEAM, show_default=True,
              help="Hypotheses kept per token position.")
@click.option("--lam", type=click.FloatRange(0.0), default=DEFAULT_SPELL_LAMBDA, show_default=True,
              help="Weight of the error model against the language model.")
@click.option("--alternatives", type=click.IntRange(0, 100), default=DEFAULT_SPELL_ALTERNATIVES, show_default=True,
              help="Alternatives listed per change (a request may ask for fewer).")
@click.option("--ready-file", type=click.Path(dir_okay=False),
              help="Write {address, port, http_port, metrics_port, pid, model_id} as JSON here once SERVING.")
def serve(model, cluster, port, http_port, host, metrics_port, max_inflight, timeout, drain_grace,
          beam, lam, alternatives, ready_file):
    """Serve spelling correction of MODEL (a model directory) or --cluster FILE over gRPC
    (ngram.v1.Speller/Correct) and, with --http-port, JSON over HTTP, until SIGTERM/SIGINT."""
    if (model is None) == (cluster is None):
        raise click.UsageError("give a MODEL directory or --cluster FILE (one of them)")
    from .http import SpellHttpServer
    from .service import SpellMetrics, SpellServer, SpellService
    from .speller import Speller

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    metrics = SpellMetrics()
    service = SpellService(metrics, max_inflight=max_inflight, default_timeout=timeout)
    grpc_server = SpellServer(service, host=host, port=port)
    http_server = SpellHttpServer(service, host=host, port=http_port, drain_grace=drain_grace) \
        if http_port is not None else None
    speller = None
    try:
        grpc_server.start()
        if http_server is not None:
            http_server.start()
        served_metrics = metrics.serve(metrics_port, host) if metrics_port is not None else None
        speller = Speller(model or cluster, lam=lam, beam=beam, alternatives=alternatives)
        speller.correct([WARM_UP_TEXT])
        service.attach(speller, speller.client.model_id)
        grpc_server.serving()
        click.echo(f"spelling with model {service.model_id}: gRPC on {grpc_server.address}"
                   + (f", HTTP on {host}:{http_server.port}" if http_server else "")
                   + (f", metrics on :{served_metrics}" if served_metrics else ""), err=True)
        if ready_file:
            write_text_atomic(ready_file, json.dumps({
                "address": grpc_server.address, "port": grpc_server.port,
                "http_port": http_server.port if http_server else None, "metrics_port": served_metrics,
                "pid": os.getpid(), "model_id": service.model_id}) + "\n", fsync=False)
        while not stop.wait(0.5):
            pass
        click.echo(f"draining {grpc_server.address} (grace {drain_grace:g} s)", err=True)
    finally:  # also when the model cannot be opened: nothing may keep a port bound
        service.begin_drain()
        http_stop = threading.Thread(target=http_server.stop) if http_server is not None else None
        if http_stop is not None:
            http_stop.start()  # both transports drain at once, within the one grace
        grpc_server.drain(drain_grace)
        if http_stop is not None:
            http_stop.join()
        service.close()
        metrics.close()
        if speller is not None:
            speller.close()
    click.echo("stopped", err=True)
