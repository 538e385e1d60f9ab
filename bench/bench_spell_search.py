"""Speed of the spelling search: sentences/s on one process with a local model, model
rounds per request, and the latency of one 20-word request through a local cluster of
4 server processes.

    python -m bench.bench_spell_search MODEL [--cluster-too] [--sentences 640]

Sentences: en-train lines of exactly 20 words from line 700,000 on, corrupted by
client/spelling/noise.py (seed 5). Batched throughput uses batches of 64; single
requests use sentences the batches did not see (cold lattice and LM caches for their
words). Locally the Speller asks a round per step (its default for an in-process
model); `single_few_rounds` is the same requests with the few-round search a cluster
gets (max_rounds=MAX_SPELL_SEARCH_ROUNDS). Results: bench/results/spell_search.json. The accuracy comparison with other
correctors is bench/bench_spell.py's.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from client.spelling.noise import corrupt_lines
from client.spelling.speller import Speller
from ngram.atomic import write_text_atomic
from ngram.compressed_io import open_input
from ngram.limits import DEFAULT_SPELL_BEAM, DEFAULT_SPELL_LAMBDA, MAX_SPELL_SEARCH_ROUNDS

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "en-train.txt.zst"
OUT = ROOT / "bench" / "results" / "spell_search.json"
BATCH = 64
SINGLE = 100


def sentences(n: int, skip: int = 700_000, words: int = 20) -> list[str]:
    picked = []
    with open_input(CORPUS) as f:
        for raw in itertools.islice(f, skip, None):
            s = raw.decode("utf-8", "replace").split()
            if len(s) == words:
                picked.append(" ".join(s))
                if len(picked) == n:
                    break
    return [" ".join(noisy) for _, noisy, _ in corrupt_lines(picked, 5)]


def singles(sp: Speller, texts: list[str]) -> dict:
    lat, rounds = [], []
    capped0 = sp.engine.capped_sentences
    for t in texts:
        r = sp.engine.rounds
        t0 = time.perf_counter()
        sp.correct_one(t)
        lat.append(time.perf_counter() - t0)
        rounds.append(sp.engine.rounds - r)
    ms = np.array(lat) * 1e3
    return {"requests": len(texts), "p50_ms": round(float(np.percentile(ms, 50)), 1),
            "p90_ms": round(float(np.percentile(ms, 90)), 1), "p99_ms": round(float(np.percentile(ms, 99)), 1),
            "sentences_per_s": round(len(texts) / float(np.sum(lat)), 1),
            "rounds_mean": round(float(np.mean(rounds)), 2), "rounds_max": int(max(rounds)),
            "capped_requests": sp.engine.capped_sentences - capped0}


def local(model: str, texts: list[str]) -> dict:
    batched, single = texts[:-SINGLE], texts[-SINGLE:]
    with Speller(model) as sp:
        sp.correct(batched[:BATCH])  # warm: kernels, candidate index
        eng = sp.engine
        r0, p0, c0 = eng.rounds, eng.pairs_asked, eng.capped_sentences
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        n = 0
        for i in range(BATCH, len(batched), BATCH):
            sp.correct(batched[i:i + BATCH])
            n += len(batched[i:i + BATCH])
        dt = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
        batches = (len(batched) - BATCH + BATCH - 1) // BATCH
        batched_stats = {"sentences": n, "batch": BATCH, "sentences_per_s": round(n / dt, 1),
                         "sentences_per_cpu_s": round(n / cpu, 1),
                         "capped_sentences": eng.capped_sentences - c0,
                         "rounds_per_batch": round((eng.rounds - r0) / batches, 2),
                         "pairs_asked_per_sentence": round((eng.pairs_asked - p0) / n, 1)}
        single_stats = singles(sp, single)
    with Speller(model, max_rounds=MAX_SPELL_SEARCH_ROUNDS) as few:  # as over a cluster, on the local model
        few.correct(batched[:BATCH])
        few_stats = singles(few, single)
    return {"batched": batched_stats,
            "single": single_stats, "single_few_rounds": few_stats}


def cluster(model: str, texts: list[str]) -> dict:
    sys.path.insert(0, str(ROOT / "tests"))
    import cluster_harness
    from ngram.model import Model
    cluster_harness.START_DEADLINE = 600.0  # a loaded machine starts servers slowly
    shards = Model.open(model, shards=[]).num_shards
    layout = [list(range(j, shards, 4)) for j in range(4)]
    work = Path(os.environ.get("TMPDIR", "/tmp")) / f"spell-bench-cluster-{os.getpid()}"
    cl = cluster_harness.Cluster(Path(model), work, mode="subprocess", layout=layout).start()
    try:
        with Speller(cl.path) as sp:
            sp.correct(texts[:BATCH])  # warm: channels, kernels
            return {"servers": 4, "shards": shards, "layout": layout, **singles(sp, texts[-SINGLE:])}
    finally:
        cl.stop()


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("--sentences", type=int, default=640)
    ap.add_argument("--cluster-too", action="store_true")
    a = ap.parse_args(argv)
    texts = sentences(a.sentences)
    result = {"model": a.model, "words_per_sentence": 20, "beam": DEFAULT_SPELL_BEAM, "lam": DEFAULT_SPELL_LAMBDA,
              "load_average_at_start": os.getloadavg()[0], "cpus": os.cpu_count(),
              "local": local(a.model, texts)}
    print(json.dumps(result["local"]), flush=True)
    if a.cluster_too:
        result["cluster"] = cluster(a.model, texts)
        print(json.dumps(result["cluster"]), flush=True)
    result["load_average_at_end"] = os.getloadavg()[0]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(OUT, json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
