"""Decoded layout suite (issue 17): memory and speed of `Model.open(layout="decoded")` on
the en-train 5-gram counts model (8 shards), new tables against another checkout's
(default /work/main: the 16-byte records of a half-full table), and the new tables at
several load factors.

Speed: chain lookups per second on one core, Model.lookup of batches of 100,000 held-out
5-grams (every 5-token window inside a sentence of en-heldout.txt), wall and thread CPU
time, medians. The two implementations run in worker processes, alternating round by
round (a process imports one checkout's `ngram`); the load factors are decoded side by
side in one process and measured alternating. Bytes per n-gram: what the shards hold in
RAM (decoded tables + the shard files, which stay mapped), over the model's n-grams; the
decoded tables alone beside it.

Run: .venv/bin/python bench/bench_decoded.py [--rounds 3] [--reps 10] [--old /work/main]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BATCH = 100_000


def _batch(vocab, heldout: Path):
    import numpy as np
    ids, offsets = vocab.encode_lines(heldout.read_bytes())
    lengths = np.diff(offsets)
    sid = np.repeat(np.arange(len(lengths)), lengths)
    starts = np.arange(len(ids) - 4)
    starts = starts[sid[starts] == sid[starts + 4]]
    grams = np.stack([ids[starts + j] for j in range(5)], axis=1).astype(np.int32)[:BATCH]
    return np.ascontiguousarray(grams), np.full(len(grams), 5, np.int32)


def _time_lookups(model, batch, lengths, reps: int) -> tuple[list[float], list[float]]:
    walls, cpus = [], []
    for _ in range(reps):
        t, c = time.perf_counter(), time.thread_time()
        model.lookup(batch, lengths, check=False)
        walls.append(time.perf_counter() - t)
        cpus.append(time.thread_time() - c)
    return walls, cpus


def worker(args) -> dict:
    """One checkout's decoded layout (whichever `ngram` is first on sys.path)."""
    import numpy as np
    from ngram.model import Model
    path = Path(args.model)
    compressed = Model.open(path, verify=False)
    batch, lengths = _batch(compressed.vocab, Path(args.heldout))
    want = compressed.lookup(batch, lengths)
    ngrams = compressed.info()["ngrams_total"]
    files = sum(t.nbytes for t in compressed.shards.values())
    out: dict = {"ngram_module": str(Path(sys.modules["ngram"].__file__).parent)}
    if args.loads:
        from ngram.decoded_trie import DecodedTrie
        variants = {}
        for lf in [float(x) for x in args.loads.split(",")]:
            t0 = time.perf_counter()
            tables = {s: DecodedTrie.from_shard(t, lf) for s, t in compressed.shards.items()}
            variants[lf] = (tables, time.perf_counter() - t0)
        rows = {lf: {"walls": [], "cpus": []} for lf in variants}
        for _ in range(args.rounds):
            for lf, (tables, _) in variants.items():
                for s, t in compressed.shards.items():
                    t.decoded = tables[s]
                assert compressed.lookup(batch, lengths).equals(want)
                w, c = _time_lookups(compressed, batch, lengths, args.reps)
                rows[lf]["walls"] += w
                rows[lf]["cpus"] += c
        for s, t in compressed.shards.items():
            t.decoded = None
        out["loads"] = {}
        for lf, (tables, build_s) in variants.items():
            dec = sum(d.nbytes for d in tables.values())
            out["loads"][str(lf)] = {
                "decode_s": round(build_s, 2), "decoded_bytes": dec,
                "decoded_bytes_per_ngram": round(dec / ngrams, 3),
                "bytes_per_ngram_with_files": round((dec + files) / ngrams, 3),
                "chain_lookups_per_s": round(BATCH / statistics.median(rows[lf]["walls"])),
                "chain_lookups_per_s_cpu": round(BATCH / statistics.median(rows[lf]["cpus"])),
                "chain_lookups_per_s_best": round(BATCH / min(rows[lf]["walls"])),
                "levels_shard0": tables[0].level_stats(),
            }
        return out
    t0 = time.perf_counter()
    decoded = Model.open(path, verify=False, layout="decoded")
    out["open_and_decode_s"] = round(time.perf_counter() - t0, 2)
    assert decoded.lookup(batch, lengths).equals(want)
    walls, cpus = _time_lookups(decoded, batch, lengths, args.reps)
    mem = sum(t.memory_bytes for t in decoded.shards.values())
    out.update({"bytes_in_memory": mem, "bytes_per_ngram_with_files": round(mem / ngrams, 3),
                "decoded_bytes_per_ngram": round((mem - files) / ngrams, 3), "walls": walls, "cpus": cpus})
    return out


def _run_worker(root: Path, argv: list[str]) -> dict:
    env = dict(os.environ, PYTHONPATH=str(root))
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--worker", *argv], env=env, cwd=str(root),
                          capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(f"worker for {root} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--old", default="/work/main", help="checkout whose decoded layout is the baseline")
    ap.add_argument("--loads", help="load factors of the new tables (default 0.5,0.6,0.7,0.8,0.9)")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--model", help=argparse.SUPPRESS)
    ap.add_argument("--heldout", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args)))
        return
    sys.path.insert(0, str(ROOT))
    from bench.common import HELDOUT, ensure_en_train_model, write_result
    model = str(ensure_en_train_model())
    base = ["--model", model, "--heldout", str(HELDOUT), "--reps", str(args.reps)]
    impls = {"old": Path(args.old), "new": ROOT}
    runs: dict[str, list[dict]] = {"old": [], "new": []}
    ratios = []
    for r in range(args.rounds):  # alternating processes, the order flipped every round
        names = ("old", "new") if r % 2 == 0 else ("new", "old")
        got = {name: _run_worker(impls[name], base) for name in names}
        for name in names:
            runs[name].append(got[name])
        ratios.append(statistics.median(got["old"]["walls"]) / statistics.median(got["new"]["walls"]))

    def summary(rs: list[dict]) -> dict:
        walls = [w for r in rs for w in r["walls"]]
        cpus = [c for r in rs for c in r["cpus"]]
        keep = ("ngram_module", "open_and_decode_s", "bytes_in_memory", "bytes_per_ngram_with_files",
                "decoded_bytes_per_ngram")
        return {**{k: rs[-1][k] for k in keep},
                "chain_lookups_per_s": round(BATCH / statistics.median(walls)),
                "chain_lookups_per_s_cpu": round(BATCH / statistics.median(cpus)),
                "chain_lookups_per_s_best": round(BATCH / min(walls)),
                "per_round_median": [round(BATCH / statistics.median(r["walls"])) for r in rs]}

    loads = _run_worker(ROOT, base + ["--loads", args.loads or "0.5,0.6,0.7,0.8,0.9", "--rounds", str(args.rounds)])["loads"]
    write_result("decoded", {
        "model": model, "batch": BATCH, "queries": "held-out 5-grams (every 5-token window inside a sentence)",
        "threads": 1, "rounds": args.rounds, "reps_per_round": args.reps,
        "machine_note": "shared 2-core machine under load from other developers: absolute figures are loaded; "
                        "compare the ratios",
        "bytes_counted": "decoded tables (words + meta arrays) + the mapped shard files (successor reads and "
                         "exports still read them), over the model's n-grams (unigrams once)",
        "old": summary(runs["old"]), "new": summary(runs["new"]),
        "speed_ratio_new_over_old_per_round": [round(x, 3) for x in ratios],
        "load_factors_new": loads,
        "targets": {"bytes_per_ngram_with_files": 16, "chain_lookups_per_s": 6.3e6},
    })


if __name__ == "__main__":
    main()
