"""`serve` and `cluster up/status/down` as real processes: drain on SIGTERM, TLS, CLI."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import numpy as np
import pytest

from client.errors import ClientError
from client.remote import open_remote_backend
from cluster_harness import Cluster, corpus_batch, make_certs
from ngram.cluster_file import TLSConfig
from ngram.sharding import shard_of
from ngram.wire import encode_array, pb, pb_grpc
from ngram.wire.chains import decode_chains

pytestmark = pytest.mark.timeout(180)
ROOT = Path(__file__).resolve().parents[1]
T = 10.0


def test_sigterm_drains_accepted_requests(model_dir, local, tmp_path):
    with Cluster(model_dir, tmp_path, mode="subprocess", layout=[[0, 1, 2, 3]],
                 config={"inject_delay_s": 1.0}) as c:
        proc = c.servers[0].proc
        ids, lengths = corpus_batch(local, 500, np.random.default_rng(1))
        own = shard_of(ids, lengths, local.num_shards, local.shard_seed) == 2
        req = pb.LookupRequest(model_id=local.model_id, shard=2, ids=encode_array(ids[own]),
                               lengths=encode_array(lengths[own]))
        with grpc.insecure_channel(c.addresses[0]) as ch:
            stub = pb_grpc.NgramShardStub(ch)
            futures = [stub.Lookup.future(req, timeout=30) for _ in range(4)]
            deadline = time.monotonic() + 20
            while stub.Info(pb.InfoRequest(), timeout=T).inflight < 4:
                assert time.monotonic() < deadline, "requests were never accepted"
                time.sleep(0.01)
            proc.send_signal(signal.SIGTERM)
            want = local.lookup(ids[own], lengths[own])
            for f in futures:  # every accepted request is answered
                assert decode_chains(f.result(), int(own.sum()), local.order, "counts").equals(want)
        assert proc.wait(30) == 0
        assert "draining" in c.servers[0].log.read_text()


def test_tls_and_mutual_tls(model_dir, local, tmp_path):
    certs = make_certs(tmp_path / "certs")
    ids, lengths = corpus_batch(local, 1000, np.random.default_rng(2))
    want = local.lookup(ids, lengths)
    # Server-only TLS: the client trusts the CA.
    tls = {"cert": certs["server_cert"], "key": certs["server_key"],
           "client": TLSConfig(ca=certs["ca"], server_name="localhost")}
    with Cluster(model_dir, tmp_path / "tls", tls=tls) as c:
        with open_remote_backend(c.path) as be:
            assert be.lookup(ids, lengths).equals(want)
        plain = c.write_cluster_file(tmp_path / "plain.json", tls=None)
        with open_remote_backend(plain, policy=_short()) as be:
            with pytest.raises(ClientError):
                be.lookup(ids, lengths)
    # Mutual TLS: the server requires a client certificate signed by the CA.
    mtls = {**tls, "client_ca": certs["ca"],
            "client": TLSConfig(ca=certs["ca"], cert=certs["client_cert"], key=certs["client_key"],
                                server_name="localhost")}
    with Cluster(model_dir, tmp_path / "mtls", tls=mtls, mode="subprocess",
                 layout=[[0, 1, 2, 3]]) as c:
        with open_remote_backend(c.path) as be:
            assert be.lookup(ids, lengths).equals(want)
        no_cert = c.write_cluster_file(tmp_path / "nocert.json",
                                       tls=TLSConfig(ca=certs["ca"], server_name="localhost"))
        with open_remote_backend(no_cert, policy=_short()) as be:
            with pytest.raises(ClientError):
                be.lookup(ids, lengths)


def _short():
    from client.policy import CallPolicy
    return CallPolicy(timeout=2.0, max_attempts=2)


def _cli(*args, timeout=120):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "shard_server", *args], capture_output=True,
                          text=True, env=env, timeout=timeout)


def test_cluster_up_status_down(model_dir, local, tmp_path):
    cfile = tmp_path / "cluster.json"
    # the servers decode their shards into RAM (`serve --layout decoded`); answers are the same
    up = _cli("cluster", "up", str(model_dir), "--replicas", "2", "--servers-per-replica", "2",
              "--cluster-file", str(cfile), "--layout", "decoded")
    spec = json.loads(cfile.read_text()) if cfile.exists() else None
    try:
        assert up.returncode == 0, up.stderr
        assert len(spec["servers"]) == 4 and all(len(s["replicas"]) == 2 for s in spec["shards"])
        st = _cli("cluster", "status", "--cluster-file", str(cfile))
        assert st.returncode == 0, st.stdout + st.stderr
        assert st.stdout.count("SERVING") == 4 and st.stdout.count("decoded ") == 4
        assert all("(decoded, " in Path(s["log"]).read_text() for s in spec["servers"])
        with open_remote_backend(cfile) as be:
            ids, lengths = corpus_batch(local, 500, np.random.default_rng(3))
            assert be.lookup(ids, lengths).equals(local.lookup(ids, lengths))
    finally:
        down = _cli("cluster", "down", "--cluster-file", str(cfile))
        pids = [s["pid"] for s in spec["servers"]] if spec else []
    assert down.returncode == 0, down.stderr
    assert not cfile.exists()
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or \
            Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")


def test_serve_rejects_a_bad_shard_list(model_dir, tmp_path):
    r = _cli("serve", str(model_dir), "--shards", "0,9", timeout=60)
    assert r.returncode == 1 and r.stderr.splitlines() == [
        "shard_server: error: shards [9] do not exist: the model has shards 0..3"], r.stderr
    r = _cli("serve", str(model_dir), "--shards", "0,x", timeout=60)
    assert r.returncode == 2 and "Invalid value for '--shards'" in r.stderr


def test_serve_offers_the_core_layouts():
    from ngram.shard import LAYOUTS
    from shard_server.cli import serve
    layout = next(p for p in serve.params if p.name == "layout")
    assert tuple(layout.type.choices) == LAYOUTS


def test_server_defaults_come_from_limits():
    # one home for each default: the CLI's, the config's and the servicer's are ngram.limits'
    import inspect

    from ngram import limits as L
    from shard_server.cli import cluster_down, cluster_up, serve
    from shard_server.server import ServerConfig
    from shard_server.servicer import NgramShardServicer

    opts = {p.name: p.default for p in serve.params}
    assert (opts["max_inflight"], opts["max_batch"], opts["max_message_mb"] << 20, opts["drain_grace"],
            opts["host"], opts["layout"]) == (L.DEFAULT_SERVER_MAX_INFLIGHT, L.DEFAULT_MAX_BATCH,
                                              L.DEFAULT_MAX_MESSAGE_BYTES, L.DEFAULT_DRAIN_GRACE_S,
                                              L.DEFAULT_SERVER_HOST, L.DEFAULT_LAYOUT)
    c = ServerConfig()
    assert (c.max_inflight, c.max_batch, c.max_message_bytes, c.stream_window, c.host) == (
        L.DEFAULT_SERVER_MAX_INFLIGHT, L.DEFAULT_MAX_BATCH, L.DEFAULT_MAX_MESSAGE_BYTES,
        L.DEFAULT_STREAM_WINDOW, L.DEFAULT_SERVER_HOST)
    kw = inspect.signature(NgramShardServicer).parameters
    assert (kw["max_inflight"].default, kw["stream_window"].default, kw["max_message_bytes"].default) == (
        L.DEFAULT_SERVER_MAX_INFLIGHT, L.DEFAULT_STREAM_WINDOW, L.DEFAULT_MAX_MESSAGE_BYTES)
    up = {p.name: p.default for p in cluster_up.params}
    assert (up["timeout"], up["layout"], up["host"]) == (L.DEFAULT_CLUSTER_START_TIMEOUT_S, L.DEFAULT_LAYOUT,
                                                         L.DEFAULT_SERVER_HOST)
    assert {p.name: p.default for p in cluster_down.params}["grace"] == L.DEFAULT_CLUSTER_STOP_GRACE_S
    for cmd in (serve, cluster_up):
        layout = next(p for p in cmd.params if p.name == "layout")
        assert tuple(layout.type.choices) == L.LAYOUTS
