"""Build suite: en-train 5-gram, 8 shards, 2 workers, end to end through `ngram build`
(wall clock, peak resident memory of the whole process tree), then a corpus 10x larger.

The 10x corpus is en-train ten times, each copy with its sentences in a different
random order (numpy seed = copy number): the same n-grams with 10x the counts, so the
model is the same size and the figures isolate the builder's own scaling.

numba compiles the builder's kernels once per install (cached on disk), so a warm-up
build of the bundled sample runs first; its time, compilation included when the cache was
cold, is reported apart. The 1x build then runs --runs times (the machine is noisy): the
median run is the result, every run is listed.

Every build is the command a user types, with the builder's defaults (its memory budget
too, unless --memory is given).

  .venv/bin/python bench/bench_build.py [--skip-10x] [--memory SIZE] [--runs 3]
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import zstandard

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import TRAIN, WORK, write_result  # noqa: E402
from builder.progress import MemorySampler  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "en-sample.txt.zst"


def run_build(corpus: Path, out: Path, memory: str | None, workers: int = 2, shards: int = 8) -> dict:
    """`ngram build CORPUS --out OUT --order 5 --shards 8 --workers 2`, the command a user
    types (the default memory budget unless `memory` is given), as a subprocess."""
    cmd = [sys.executable, "-m", "ngram.cli", "build", str(corpus), "--out", str(out), "--order", "5", "--shards",
           str(shards), "--workers", str(workers), *(["--memory", memory] if memory else []), "--quiet",
           "--json-summary"]
    shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(f"{out}.work", ignore_errors=True)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    with MemorySampler(root=proc.pid, interval=0.05) as mem:
        out_text, err = proc.communicate()
    wall = time.perf_counter() - t0
    if proc.returncode:
        raise SystemExit(f"build failed: {err.decode()}")
    summary = json.loads(out_text)
    return {"wall_seconds": round(wall, 2), "tokens": summary["tokens"],
            "tokens_per_second": round(summary["tokens"] / wall), "peak_rss_bytes_all_processes": mem.peak,
            "peak_rss_gib": round(mem.peak / 2**30, 3), "phase_seconds": summary["seconds"],
            # sampled inside the build (every 0.1 s, per phase), so a little below the total above
            "phase_peak_rss_gib": {p: round(b / 2**30, 3) for p, b in summary["peak_rss_bytes_by_phase"].items()},
            "ngrams": summary["ngrams"], "model_bytes": summary["model_bytes"], "model_id": summary["model_id"],
            "memory_budget": memory or f"default ({summary['memory_budget']} bytes)", "workers": workers,
            "shards": shards, "command": " ".join(["ngram", *cmd[3:]])}


def make_10x(path: Path) -> Path:
    if path.exists():
        return path
    with open(TRAIN, "rb") as f:
        lines = zstandard.ZstdDecompressor().stream_reader(f).read().splitlines()
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as f, zstandard.ZstdCompressor(level=3, threads=2).stream_writer(f) as w:
        for copy in range(10):
            order = np.random.default_rng(copy).permutation(len(lines))
            w.write(b"\n".join(lines[i] for i in order) + b"\n")
    tmp.rename(path)
    return path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--memory", default=None, help="--memory of the builds (default: none given, the "
                    "builder's default budget, as a user runs it)")
    ap.add_argument("--skip-10x", action="store_true")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    warm = run_build(SAMPLE, WORK / "build-warmup", args.memory)
    runs = [run_build(TRAIN, WORK / "build-1x", args.memory) for _ in range(args.runs)]
    x1 = sorted(runs, key=lambda r: r["wall_seconds"])[len(runs) // 2]
    x1["runs_wall_seconds"] = [r["wall_seconds"] for r in runs]
    result = {"corpus": str(TRAIN), "warmup": {"corpus": str(SAMPLE), "wall_seconds": warm["wall_seconds"],
                                               "note": "includes numba compilation if the cache was cold"},
              "x1": x1}
    result["x1"]["meets_1M_tokens_per_s"] = result["x1"]["tokens_per_second"] >= 1_000_000
    result["x1"]["meets_2GiB"] = result["x1"]["peak_rss_bytes_all_processes"] <= 2 * 2**30
    if not args.skip_10x:
        big = make_10x(WORK / "en-train-10x.txt.zst")
        x10 = run_build(big, WORK / "build-10x", args.memory)
        x10["corpus"] = ("en-train x10: ten copies, each with its sentences shuffled "
                         "(numpy default_rng(copy).permutation), zstd")
        x10["time_ratio"] = round(x10["wall_seconds"] / result["x1"]["wall_seconds"], 2)
        x10["peak_ratio"] = round(x10["peak_rss_bytes_all_processes"] / result["x1"]["peak_rss_bytes_all_processes"], 3)
        result["x10"] = x10
    write_result("build", result)


if __name__ == "__main__":
    main()
