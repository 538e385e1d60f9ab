"""Serve suite: the en-train 5-gram model in 8 shards on a local cluster, rounds of 150,000
held-out 5-gram lookups through the remote client.

For each server table layout (compressed: the mapped shard files; decoded: hash tables
in RAM, `ngram serve --layout decoded`) on its own cluster: one client's round latency
(p50/p95/p99), lookups/s and CPU per round, the servers' resident memory, then the
throughput of 4 concurrent client processes; a latency histogram next to the JSON result.
Then shard formats 1 and 2 (docs/FORMAT_V2.md) side by side: two compressed clusters up
at once, rounds alternating between them, with client and server CPU per round.
Run: .venv/bin/python bench/bench_serve.py [--rounds 60] [--servers-per-replica 8]
     [--layouts compressed,decoded] [--formats 1,2]
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (EN_TRAIN_MODEL, RESULTS_DIR, WORK, ensure_en_train_model,  # noqa: E402
                          heldout_windows, write_result)

MODEL = EN_TRAIN_MODEL
ROUND = 150_000


def ensure_model() -> Path:
    return ensure_en_train_model(MODEL)


def heldout_queries(model_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """For every held-out token after <s>: the n-gram ending there (bench.common)."""
    from ngram.model import Model
    m = Model.open(model_dir, shards=[])
    try:
        return heldout_windows(m.vocab, m.order)
    finally:
        m.close()


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def run_rounds(cluster_path: str, rounds: int, warmup: int, seed: int, queries=None,
               cpu: dict | None = None, server_pids: list[int] = ()) -> list[float]:
    """One client: `rounds` timed rounds of ROUND lookups (sampled held-out n-grams).
    With `cpu`, records the CPU ms per round of this client (inside lookup calls: the
    batches are drawn outside the timed span) and of the server processes."""
    from client.policy import CallPolicy
    from client.remote import open_remote_backend
    if queries is None:
        queries = heldout_queries(MODEL)
    grid, lengths = queries
    rng = np.random.default_rng(seed)
    times = []
    client_cpu = 0.0
    with open_remote_backend(cluster_path, policy=CallPolicy(timeout=30.0, hedge_delay=None)) as be:
        for r in range(warmup + rounds):
            pick = rng.integers(0, len(lengths), ROUND)
            ids, lens = grid[pick], lengths[pick]
            if r == warmup:
                servers0 = sum(process_cpu_s(p) for p in server_pids)
            c0 = time.process_time()
            t0 = time.perf_counter()
            be.lookup(ids, lens)
            dt = time.perf_counter() - t0
            if r >= warmup:
                times.append(dt)
                client_cpu += time.process_time() - c0
    if cpu is not None and times:
        cpu["client_ms_per_round"] = round(client_cpu / len(times) * 1000, 2)
        if server_pids:
            servers = sum(process_cpu_s(p) for p in server_pids) - servers0
            cpu["servers_ms_per_round"] = round(servers / len(times) * 1000, 2)
        cpu["note"] = ("CPU of all processes per round, on a machine of "
                       f"{os.cpu_count()} cores: a round cannot take less than their sum / cores")
    return times


def alternate_formats(model_dirs: dict[int, Path], queries, args) -> dict:
    """Shard formats side by side: one compressed-table cluster per format, up at once;
    rounds alternate between them (the same sampled batch for each), so the load of the
    machine hits both alike. Per format: latency, and CPU per round of the client and of
    that cluster's servers (the other cluster idles meanwhile)."""
    from client.policy import CallPolicy
    from client.remote import open_remote_backend
    from shard_server.cluster import start_cluster, stop_cluster

    paths = {v: WORK / f"serve-cluster-format{v}.json" for v in model_dirs}
    pids, backends = {}, {}
    try:
        for v, d in model_dirs.items():
            spec = start_cluster(d, paths[v], replicas=1, layout="compressed",
                                 servers_per_replica=args.servers_per_replica, metrics=False, timeout=300)
            pids[v] = [srv.pid for srv in spec.servers if srv.pid]
            backends[v] = open_remote_backend(str(paths[v]), policy=CallPolicy(timeout=30.0, hedge_delay=None))
        grid, lengths = queries
        rng = np.random.default_rng(1)
        times = {v: [] for v in model_dirs}
        client = {v: 0.0 for v in model_dirs}
        servers = {v: 0.0 for v in model_dirs}
        for r in range(args.warmup + args.rounds):
            pick = rng.integers(0, len(lengths), ROUND)
            ids, lens = grid[pick], lengths[pick]
            for v in (model_dirs if r % 2 == 0 else list(model_dirs)[::-1]):
                s0 = sum(process_cpu_s(p) for p in pids[v])
                c0 = time.process_time()
                t0 = time.perf_counter()
                backends[v].lookup(ids, lens)
                dt = time.perf_counter() - t0
                if r >= args.warmup:
                    times[v].append(dt)
                    client[v] += time.process_time() - c0
                    servers[v] += sum(process_cpu_s(p) for p in pids[v]) - s0
    finally:
        for be in backends.values():
            be.close()
        for path in paths.values():
            stop_cluster(path, grace=10)
    n = args.rounds
    return {f"v{v}": {**summarize(times[v]), "client_cpu_ms_per_round": round(client[v] / n * 1000, 2),
                      "servers_cpu_ms_per_round": round(servers[v] / n * 1000, 2)} for v in model_dirs}


def _worker(args):
    return run_rounds(*args)


def summarize(times: list[float]) -> dict:
    a = np.asarray(times) * 1000
    return {"rounds": len(a), "p50_ms": round(float(np.percentile(a, 50)), 2),
            "p95_ms": round(float(np.percentile(a, 95)), 2),
            "p99_ms": round(float(np.percentile(a, 99)), 2),
            "mean_ms": round(float(a.mean()), 2), "max_ms": round(float(a.max()), 2),
            "lookups_per_s": round(ROUND / float(np.asarray(times).mean()))}


def plot(runs: dict[str, tuple[list[float], list[float]]], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(len(runs), 1, figsize=(7, 3.2 * len(runs)), squeeze=False)
    top = max(max(max(a), max(b)) for a, b in runs.values()) * 1000 * 1.05
    bins = np.linspace(0, top, 60)
    for ax, (layout, (single, multi)) in zip(axes[:, 0], runs.items()):
        ax.hist(np.asarray(single) * 1000, bins=bins, alpha=0.7, label="1 client")
        ax.hist(np.asarray(multi) * 1000, bins=bins, alpha=0.5, label="4 concurrent clients")
        for q, style in ((50, "-"), (99, "--")):
            ax.axvline(np.percentile(np.asarray(single) * 1000, q), color="k", ls=style, lw=1,
                       label=f"1 client p{q}")
        ax.axvline(30, color="r", lw=1, label="target p50")
        ax.set_ylabel("rounds")
        ax.set_title(f"{layout} tables: en-train 5-gram, 8 shards, local cluster")
        ax.legend(fontsize=8)
    axes[-1, 0].set_xlabel(f"round latency, ms ({ROUND:,} lookups per round)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def run_layout(model_dir: Path, layout: str, queries, args) -> tuple[dict, list[float], list[float]]:
    """One cluster with `layout` tables: 1 client, then 4 concurrent client processes."""
    from ngram.model import Model
    from shard_server.cluster import start_cluster, stop_cluster

    cluster_path = WORK / f"serve-cluster-{layout}.json"
    t0 = time.perf_counter()
    spec = start_cluster(model_dir, cluster_path, replicas=1, layout=layout,
                         servers_per_replica=args.servers_per_replica, metrics=False, timeout=300)
    startup = time.perf_counter() - t0
    pids = [srv.pid for srv in spec.servers if srv.pid]
    try:
        rss = sum(rss_bytes(p) for p in pids)
        cpu: dict = {}
        single = run_rounds(str(cluster_path), args.rounds, args.warmup, 1, queries, cpu, pids)
        ctx = mp.get_context("spawn")  # gRPC and fork do not mix
        with ctx.Pool(args.clients) as pool:
            t0 = time.perf_counter()
            per_client = pool.map(_worker, [(str(cluster_path), args.rounds, args.warmup, 10 + i)
                                            for i in range(args.clients)])
            wall = time.perf_counter() - t0
        multi = [t for ts in per_client for t in ts]
        # Timed span of the 4-client run: rounds only (warmup excluded) by summing the
        # slowest client's rounds; wall includes process start and warmup.
        busiest = max(sum(ts) for ts in per_client)
    finally:
        stop_cluster(cluster_path, grace=10)

    # In-process reference: the same rounds through the local backend, one thread.
    m = Model.open(model_dir, layout=layout)
    rng = np.random.default_rng(1)
    local_times = []
    for r in range(args.warmup + 20):
        pick = rng.integers(0, len(queries[1]), ROUND)
        t0 = time.perf_counter()
        m.lookup(queries[0][pick], queries[1][pick])
        if r >= args.warmup:
            local_times.append(time.perf_counter() - t0)
    table_bytes = sum(t.memory_bytes for t in m.shards.values())
    m.close()
    one = summarize(single)
    result = {
        "servers": len(spec.servers), "cluster_startup_s": round(startup, 2),
        "table_bytes": table_bytes,
        "table_bytes_per_ngram": round(table_bytes / max(sum(spec_ngrams(model_dir)), 1), 3),
        "servers_rss_bytes": rss,
        "one_client": one, "one_client_cpu": cpu,
        "concurrent_clients": {
            "clients": args.clients, **summarize(multi),
            "throughput_lookups_per_s": round(args.clients * args.rounds * ROUND / busiest),
            "wall_s_including_startup": round(wall, 2)},
        "local_in_process_one_thread": summarize(local_times),
        "meets_target": one["p50_ms"] <= 30 and one["p99_ms"] <= 100,
    }
    return result, single, multi


def round_shape(queries, num_shards: int) -> dict:
    """Distinct n-grams in the first round, and the rows the client sends (router.plan
    sends each run of repeats once)."""
    from client import router
    from client.rounds import unique_rows
    rng = np.random.default_rng(1)
    pick = rng.integers(0, len(queries[1]), ROUND)
    ids, lengths = queries[0][pick], queries[1][pick]
    return {"distinct_ngrams": int(len(unique_rows(ids, lengths)[0])),
            "rows_sent": int(len(router.plan(ids, lengths, num_shards).lengths))}


def spec_ngrams(model_dir: Path) -> list[int]:
    from ngram.model import Model
    m = Model.open(model_dir, shards=[])
    try:
        return list(m.manifest["ngrams"]["total"])
    finally:
        m.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=60)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--servers-per-replica", type=int, default=8)
    ap.add_argument("--layouts", default="compressed,decoded", help="comma-separated; '' for none")
    ap.add_argument("--formats", default="1,2",
                    help="shard formats compared side by side on compressed tables ('' for none)")
    args = ap.parse_args()

    from ngram.model import Model

    from bench.bench_query import model_in_format
    base = ensure_model()
    formats = [int(v) for v in args.formats.split(",") if v]
    format_dirs = {v: model_in_format(base, v) for v in formats}
    model_dir = model_in_format(base, 2)  # the default format, for the layout runs
    queries = heldout_queries(model_dir)
    WORK.mkdir(parents=True, exist_ok=True)
    m = Model.open(model_dir, shards=[])
    meta = {"model": str(model_dir), "model_id": m.model_id, "order": m.order, "num_shards": m.num_shards}
    m.close()
    layouts, runs = {}, {}
    for layout in [lay for lay in args.layouts.split(",") if lay]:
        layouts[layout], single, multi = run_layout(model_dir, layout, queries, args)
        runs[layout] = (single, multi)
    side_by_side = alternate_formats(format_dirs, queries, args) if format_dirs else {}

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    # The layout (one server per shard) is the "serve" suite; others get a suffix.
    suite = "serve" if args.servers_per_replica == 8 else f"serve-{args.servers_per_replica}servers"
    if not runs:  # formats only: keep the layouts' recorded result
        suite += "-formats"
    png = RESULTS_DIR / f"{suite}_latency.png"
    if runs:
        plot(runs, png)
    data = {
        **meta, "round_lookups": ROUND,
        "queries": f"held-out n-grams ending at each token (up to 5 words; {len(queries[1]):,} distinct "
                   "positions, sampled with replacement)",
        "round_shape": round_shape(queries, meta["num_shards"]),
        "target": {"p50_ms": 30, "p99_ms": 100},
        "layouts": layouts,
        "meets_target": {k: v["meets_target"] for k, v in layouts.items()},
        "formats_alternating": side_by_side,
        "formats_target": {"p50_ms": 20, "p99_ms": 30},
        "histogram_png": str(png.relative_to(RESULTS_DIR.parent.parent)) if runs else None,
    }
    write_result(suite, data)


if __name__ == "__main__":
    main()
