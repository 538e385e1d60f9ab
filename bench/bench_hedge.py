"""Hedging suite: round latency with one replica 50 ms slower, against the fast replica alone.

Two in-process servers of a small 4-shard model, each behind a fault-injecting TCP proxy
(tests/fault_proxy.py); replica B's proxy adds 50 ms to every chunk. Alternating, per
repetition: a new client of replicas A and B ("slow replica": hedging must keep its p99
near the fast replica's, also while it learns which replica is fast), a new client of
replica A alone ("fast alone"), and one of A and a third, unslowed replica C ("two fast
replicas": what the hedged path costs by itself, without a slow replica). Each client sends `--rounds` rounds of 200 lookups back
to back and every answer is checked against the local model. Reported: p50/p99 of all
rounds, and of each client's first 40 rounds (the learning phase), hedges sent.

    python bench/bench_hedge.py --reps 5 --rounds 300

Writes bench/results/hedge.json.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

from cluster_harness import corpus_batch, small_model  # noqa: E402
from common import write_result  # noqa: E402
from fault_proxy import FaultProxy  # noqa: E402

from client.policy import CallPolicy  # noqa: E402
from client.remote import open_remote_backend  # noqa: E402
from ngram.model import Model  # noqa: E402
from shard_server.server import ServerConfig, ShardServer  # noqa: E402

SLOW_S = 0.05
LEARNING_ROUNDS = 40
DEADLINE_S = 2.0


def cluster_file(local: Model, model_dir: Path, addresses: list[str], where: Path) -> Path:
    spec = {"format": "ngram-cluster", "version": 1, "model_id": local.model_id, "model_path": str(model_dir),
            "order": local.order, "num_shards": local.num_shards, "shard_seed": local.shard_seed,
            "value_kind": local.value_kind,
            "shards": [{"index": k, "replicas": addresses} for k in range(local.num_shards)]}
    where.write_text(json.dumps(spec))
    return where


def run_client(path: Path, batches, rounds: int) -> tuple[list[float], int, int]:
    """(latency of each round, wrong answers, hedges sent) of a new client."""
    backend = open_remote_backend(path, CallPolicy(timeout=DEADLINE_S))
    latencies, wrong = [], 0
    try:
        for i in range(rounds):
            ids, lengths, want = batches[i % len(batches)]
            t0 = time.perf_counter()
            got = backend.lookup(ids, lengths)
            latencies.append(time.perf_counter() - t0)
            if not (np.array_equal(got.match_len, want.match_len) and np.array_equal(got.counts, want.counts)):
                wrong += 1
        hedges = sum(t.hedges_sent for t in backend.transports.values())
    finally:
        backend.close()
    return latencies, wrong, hedges


def summary(latencies: list[float]) -> dict:
    a = np.asarray(latencies) * 1e3
    return {"rounds": len(a), "p50_ms": round(float(np.percentile(a, 50)), 2),
            "p99_ms": round(float(np.percentile(a, 99)), 2), "max_ms": round(float(a.max()), 2)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=300)
    ap.add_argument("--seed", type=int, default=18)
    args = ap.parse_args()
    model_dir = small_model(order=4, num_shards=4, lines=3000)
    local = Model.open(model_dir)
    rng = np.random.default_rng(args.seed)
    batches = []
    for _ in range(8):
        ids, lengths = corpus_batch(local, 200, rng)
        batches.append((ids, lengths, local.lookup(ids, lengths)))
    servers = []
    for _ in range(3):
        s = ShardServer(ServerConfig())
        s.start()
        s.open_model(model_dir)
        servers.append(s)
    proxies = [FaultProxy("127.0.0.1", s.port) for s in servers]
    proxies[1].latency = SLOW_S
    tmp = Path(tempfile.mkdtemp(prefix="ngram-hedge-"))
    both = cluster_file(local, model_dir, [p.address for p in proxies], tmp / "both.json")
    fast = cluster_file(local, model_dir, [proxies[0].address], tmp / "fast.json")
    two_fast = cluster_file(local, model_dir, [proxies[0].address, proxies[2].address], tmp / "two-fast.json")
    runs = {"slow replica": [], "fast alone": [], "two fast replicas": []}
    wrong = {k: 0 for k in runs}
    hedges = {k: 0 for k in runs}
    try:
        for _ in range(args.reps):  # alternating
            for name, path in (("slow replica", both), ("fast alone", fast), ("two fast replicas", two_fast)):
                lat, bad, h = run_client(path, batches, args.rounds)
                runs[name].append(lat)
                wrong[name] += bad
                hedges[name] += h
    finally:
        for p in proxies:
            p.close()
        for s in servers:
            s.stop()
    result = {}
    for name, reps in runs.items():
        result[name] = {"all": summary([x for r in reps for x in r]),
                        "learning": summary([x for r in reps for x in r[:LEARNING_ROUNDS]]),
                        "steady": summary([x for r in reps for x in r[LEARNING_ROUNDS:]]),
                        "wrong_answers": wrong[name], "hedges_sent": hedges[name]}
    slow_p99 = result["slow replica"]["all"]["p99_ms"]
    write_result("hedge", {
        "model": "4-shard counts model, 3000 corpus lines (tests/cluster_harness.small_model)",
        "slow_replica_added_s_per_chunk_each_way": SLOW_S, "rounds_per_client": args.rounds,
        "lookups_per_round": 200, "reps": args.reps, "learning_rounds": LEARNING_ROUNDS,
        "results": result,
        "p99_ratio_slow_replica_over": {k: round(slow_p99 / result[k]["all"]["p99_ms"], 2)
                                        for k in ("fast alone", "two fast replicas")},
        "how": "one process, in-process servers behind loopback proxies; a new client per run, "
               "alternating 'slow replica', 'fast alone' and 'two fast replicas'",
        "note": "measured on a shared, loaded 2-core machine",
    })


if __name__ == "__main__":
    main()
