"""Soak run: rounds under N minutes of random faults from a seeded schedule.

Two replicas of every shard (in-process servers), each behind a fault-injecting TCP proxy
(tests/fault_proxy.py). Every few seconds one replica (never both) gets a fault for a
few seconds: 50 ms slower, frozen (gray failure), link cut, or its server stopped and a
new one started on another port. A load thread sends rounds of 200 lookups back to back
and checks every answer against the local model. Reports rounds/s and p99 per window,
failed rounds and wrong answers; plots them over time.

    python bench/bench_soak.py --minutes 2 --seed 18
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

from cluster_harness import small_model  # noqa: E402
from common import RESULTS_DIR, write_result  # noqa: E402
from fault_proxy import FaultProxy  # noqa: E402
from test_deploy_faults import DEADLINE_S, Load  # noqa: E402

from client.policy import CallPolicy  # noqa: E402
from client.remote import open_remote_backend  # noqa: E402
from ngram.model import Model  # noqa: E402
from shard_server.server import ServerConfig, ShardServer  # noqa: E402

FAULTS = ("slow", "freeze", "cut", "restart")
WINDOW_S = 5.0


def start_server(model_dir) -> ShardServer:
    s = ShardServer(ServerConfig())
    s.start()
    s.open_model(model_dir)
    return s


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=2.0)
    ap.add_argument("--seed", type=int, default=18)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    model_dir = small_model(order=4, num_shards=4, lines=3000)
    local = Model.open(model_dir)
    servers = [start_server(model_dir) for _ in range(2)]
    proxies = [FaultProxy("127.0.0.1", s.port) for s in servers]
    spec = {"format": "ngram-cluster", "version": 1, "model_id": local.model_id, "model_path": str(model_dir),
            "order": local.order, "num_shards": local.num_shards, "shard_seed": local.shard_seed,
            "value_kind": local.value_kind,
            "shards": [{"index": k, "replicas": [p.address for p in proxies]} for k in range(local.num_shards)]}
    path = Path(tempfile.mkdtemp(prefix="ngram-soak-")) / "cluster.json"
    path.write_text(json.dumps(spec))
    backend = open_remote_backend(path, CallPolicy(timeout=DEADLINE_S))
    faults = []
    t_start = time.monotonic()
    end = t_start + args.minutes * 60
    with Load(backend, local, args.seed) as load:
        while time.monotonic() < end:
            time.sleep(rng.uniform(1.0, 3.0))
            victim, kind, hold = rng.randrange(2), rng.choice(FAULTS), rng.uniform(1.0, 4.0)
            faults.append({"t": round(time.monotonic() - t_start, 2), "replica": victim, "fault": kind,
                           "seconds": round(hold, 2)})
            p = proxies[victim]
            if kind == "slow":
                p.latency = 0.05
            elif kind == "freeze":
                p.freeze()
            elif kind == "cut":
                p.cut()
            else:
                servers[victim].stop()
                servers[victim] = start_server(model_dir)
                p.upstream = ("127.0.0.1", servers[victim].port)
            time.sleep(hold)
            p.latency = 0.0
            p.thaw()
            p.restore()
        lat = np.array(load.latencies)
        ends = np.array(load.ends[:len(lat)]) - t_start
    windows = []
    for w0 in np.arange(0, ends[-1] if len(ends) else 0, WINDOW_S):
        sel = lat[(ends >= w0) & (ends < w0 + WINDOW_S)]
        if len(sel):
            windows.append({"t": float(w0), "rounds_per_s": round(len(sel) / WINDOW_S, 2),
                            "p50_ms": round(float(np.percentile(sel, 50)) * 1e3, 1),
                            "p99_ms": round(float(np.percentile(sel, 99)) * 1e3, 1)})
    backend.close()
    for p in proxies:
        p.close()
    for s in servers:
        s.stop()
    result = {"minutes": args.minutes, "seed": args.seed, "deadline_s": DEADLINE_S, "rounds": len(lat),
              "failed_rounds": len(load.failures), "wrong_answers": load.wrong,
              "failures": [str(e)[:200] for e in load.failures[:5]],
              "p50_ms": round(float(np.percentile(lat, 50)) * 1e3, 1),
              "p99_ms": round(float(np.percentile(lat, 99)) * 1e3, 1),
              "max_ms": round(float(lat.max()) * 1e3, 1), "faults": faults, "windows": windows,
              "note": "2 in-process servers and the client on one 2-core machine shared with other work"}
    write_result("soak", result)
    plot(windows, faults, RESULTS_DIR / "soak.png")


def plot(windows, faults, out: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (a, b) = plt.subplots(2, 1, sharex=True, figsize=(9, 5))
    t = [w["t"] for w in windows]
    a.plot(t, [w["rounds_per_s"] for w in windows], marker=".")
    a.set_ylabel("rounds/s")
    b.plot(t, [w["p99_ms"] for w in windows], marker=".", color="C3")
    b.set_ylabel("p99 ms")
    b.set_xlabel(f"seconds (windows of {WINDOW_S:g} s)")
    for f in faults:
        for ax in (a, b):
            ax.axvspan(f["t"], f["t"] + f["seconds"], alpha=0.12, color="grey")
    a.set_title("soak: rounds under seeded random faults (grey: a fault active)")
    fig.tight_layout()
    fig.savefig(out, dpi=90)


if __name__ == "__main__":
    main()
