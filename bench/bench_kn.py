"""Kneser-Ney estimation: exactness against lmplz, held-out perplexity, and speed beside
lmplz. Writes bench/results/kn_<mode>.json. Every run is the command a user would type
(`ngram build ... --smoothing kneser-ney`), run as a subprocess.

  python bench/bench_kn.py exactness    # en-dev slice 5-gram vs ../shared/arpa/en-dev.5.arpa.zst
  python bench/bench_kn.py perplexity   # full en-train 5-gram, en-heldout perplexity vs KenLM's
  python bench/bench_kn.py speed --lmplz PATH [--x10]
      # en-train 5-gram: ours (default memory budget, and --memory 1G) and lmplz in one run:
      # wall time, tokens/s, peak RSS of all processes; --x10 adds a 10x corpus at --memory 1G

The en-dev slice is every 20th line of en-train, 1-based lines 20, 40, 60, ... (the
lines lmplz's en-dev.5.arpa was estimated from: their vocabulary is that ARPA's exactly).
"""
from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import HELDOUT, SHARED, TRAIN, WORK, write_result  # noqa: E402

EN_DEV_ARPA = SHARED / "arpa" / "en-dev.5.arpa.zst"
KENLM_PPL = {"including_oov": 136.09, "excluding_oov": 121.16}  # lmplz -o 5 on en-train, en-heldout


def ngram_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "ngram.cli", *args]


def decompress_slice(dst: Path, step: int = 20) -> Path:
    import zstandard
    if dst.exists():
        return dst
    tmp = dst.with_suffix(".tmp")
    with open(TRAIN, "rb") as f, open(tmp, "wb") as out:
        reader = io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(f, read_across_frames=True))
        for i, line in enumerate(reader, start=1):
            if i % step == 0:
                out.write(line)
    os.replace(tmp, dst)
    return dst


def kn_build(corpus: Path, out: Path, *extra: str) -> dict:
    """`ngram build CORPUS --out OUT --order 5 --smoothing kneser-ney EXTRA` as a subprocess;
    its summary plus the wall time and the peak resident memory of its whole process tree
    (driver and workers, sampled every 50 ms)."""
    from builder.progress import MemorySampler
    shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(str(out) + ".work", ignore_errors=True)
    cmd = ngram_cmd("build", str(corpus), "--out", str(out), "--order", "5", "--smoothing", "kneser-ney", "--quiet",
                    "--json-summary", *extra)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with MemorySampler(root=proc.pid, interval=0.05) as mem:
        stdout, stderr = proc.communicate()
    if proc.returncode:
        raise SystemExit(f"build failed: {stderr}")
    summary = json.loads(stdout)
    summary["wall_seconds"] = round(time.perf_counter() - t0, 2)
    summary["peak_rss_bytes_all_processes"] = mem.peak
    summary["command"] = " ".join(["ngram", *cmd[3:]])
    return summary


def run_lmplz(lmplz: str, corpus: Path, arpa: Path) -> dict:
    """`lmplz -o 5 < CORPUS > ARPA`: wall time and the peak RSS of its process tree."""
    from builder.progress import MemorySampler
    t0 = time.perf_counter()
    with open(corpus, "rb") as f, open(arpa, "wb") as out:
        proc = subprocess.Popen([lmplz, "-o", "5", "-T", str(WORK)], stdin=f, stdout=out, stderr=subprocess.DEVNULL)
        with MemorySampler(root=proc.pid, interval=0.05) as mem:
            proc.wait()
    if proc.returncode:
        raise SystemExit(f"lmplz failed ({proc.returncode})")
    return {"command": "lmplz -o 5", "seconds": round(time.perf_counter() - t0, 2),
            "peak_rss_bytes_all_processes": mem.peak}


def arpa_table(path: Path) -> dict:
    from ngram.arpa import read_arpa
    a = read_arpa(path)
    words = np.array(a.words, dtype=object)
    out = {1: dict(zip(words.tolist(), zip(a.unigram_prob.tolist(), a.unigram_backoff.tolist())))}
    for k, lv in enumerate(a.levels, start=2):
        keys = [b" ".join(r) for r in words[lv.grams].tolist()]
        out[k] = dict(zip(keys, zip(lv.prob.tolist(), lv.backoff.tolist())))
    return out


def exactness(args) -> None:
    corpus = decompress_slice(WORK / "en-dev-slice.txt")
    model = WORK / "kn-en-dev"
    summary = kn_build(corpus, model, "--quantize", "none", "--shards", str(args.shards))
    exported = WORK / "kn-en-dev.arpa"
    subprocess.run(ngram_cmd("export-arpa", str(model), str(exported)), check=True, capture_output=True)
    want, got = arpa_table(EN_DEV_ARPA), arpa_table(exported)
    orders = {}
    for k in want:
        common = [g for g in want[k] if g in got[k]]
        dp = np.array([abs(want[k][g][0] - got[k][g][0]) for g in common])
        db = np.array([abs(want[k][g][1] - got[k][g][1]) for g in common])
        orders[k] = {"lmplz": len(want[k]), "ours": len(got[k]), "missing": len(want[k]) - len(common),
                     "extra": len(got[k]) - len(common), "max_abs_diff_log10_prob": float(dp.max()),
                     "max_abs_diff_log10_backoff": float(db.max()),
                     "over_1e-4": int((dp > 1e-4).sum() + (db > 1e-4).sum())}
    ok = all(o["missing"] == 0 and o["extra"] == 0 and o["over_1e-4"] == 0 for o in orders.values())
    write_result("kn_exactness", {"command": f"ngram build en-dev-slice.txt --order 5 --smoothing kneser-ney "
                                             f"--quantize none --shards {args.shards}",
                                  "reference": str(EN_DEV_ARPA.name), "orders": orders, "same_within_1e-4": ok,
                                  "build_seconds": summary["wall_seconds"], "model_id": summary["model_id"]})


def perplexity_of(model: Path) -> dict:
    res = subprocess.run(ngram_cmd("score", str(model), str(HELDOUT)), capture_output=True, text=True, check=True)
    out = {}
    for line in res.stdout.splitlines()[-5:]:
        if line.startswith("Perplexity including OOVs:"):
            out["including_oov"] = float(line.split()[-1])
        elif line.startswith("Perplexity excluding OOVs:"):
            out["excluding_oov"] = float(line.split()[-1])
    return out


def perplexity(args) -> None:
    model = WORK / "kn-en-train"
    summary = kn_build(TRAIN, model, "--quantize", args.quantize)
    ppl = perplexity_of(model)
    rel = {k: abs(ppl[k] - KENLM_PPL[k]) / KENLM_PPL[k] for k in KENLM_PPL}
    write_result("kn_perplexity", {"command": f"ngram build en-train.txt.zst --order 5 --smoothing kneser-ney "
                                              f"--quantize {args.quantize}", "ours": ppl, "kenlm": KENLM_PPL,
                                   "relative_difference": rel, "within_0.1%": all(v <= 1e-3 for v in rel.values()),
                                   "build": {k: summary[k] for k in ("wall_seconds", "peak_rss_bytes", "ngrams",
                                                                     "tokens_per_second", "seconds")}})


def ours_row(summary: dict) -> dict:
    return {"command": summary["command"], "seconds": summary["wall_seconds"],
            "tokens_per_second": round(summary["tokens"] / summary["wall_seconds"]),
            "peak_rss_bytes_all_processes": summary["peak_rss_bytes_all_processes"],
            "memory_budget": summary["memory_budget"], "stage_seconds": summary["seconds"],
            "stage_peak_rss_bytes": summary["peak_rss_bytes_by_phase"], "model_id": summary["model_id"]}


def make_10x(dst: Path, plain: Path) -> Path:
    """en-train ten times: copy 0 as it is, copy c = 1..9 with the words of every sentence
    shuffled (numpy default_rng(c)). Copies of the same text would only multiply the counts
    (the highest order's count-of-counts t1..t4 would be 0: no discounts); shuffled words
    make new n-grams at every order, so the model grows too (a hard case for memory)."""
    if dst.exists():
        return dst
    lines = plain.read_bytes().splitlines()
    tmp = dst.with_suffix(".tmp")
    with open(tmp, "wb") as out:
        out.write(b"\n".join(lines) + b"\n")
        for copy in range(1, 10):
            rng = np.random.default_rng(copy)
            for line in lines:
                words = line.split()
                out.write(b" ".join(words[i] for i in rng.permutation(len(words))) + b"\n")
    os.replace(tmp, dst)
    return dst


def speed(args) -> None:
    import zstandard
    plain = WORK / "en-train.txt"
    if not plain.exists():
        with open(TRAIN, "rb") as f, open(plain, "wb") as out:
            zstandard.ZstdDecompressor().copy_stream(f, out)
    common = ("--workers", str(args.workers))
    runs = {"ours_default_memory": ours_row(kn_build(plain, WORK / "kn-speed", *common))}
    lm = run_lmplz(args.lmplz, plain, WORK / "lmplz-en-train.arpa")
    runs["ours_small_memory"] = ours_row(kn_build(plain, WORK / "kn-speed", *common, "--memory", args.small_memory))
    tokens = json.loads((WORK / "kn-speed" / "manifest.json").read_text())["corpus"]["tokens"]
    lm["tokens_per_second"] = round(tokens / lm["seconds"])
    result = {"note": "measured on a shared 2-core machine under load unless stated otherwise", "tokens": tokens,
              **runs, "lmplz": lm,
              "ratio_tokens_per_second_vs_lmplz": round(runs["ours_default_memory"]["tokens_per_second"]
                                                        / lm["tokens_per_second"], 3),
              "ratio_peak_memory_vs_lmplz": round(runs["ours_default_memory"]["peak_rss_bytes_all_processes"]
                                                  / lm["peak_rss_bytes_all_processes"], 3)}
    if args.x10:
        big = make_10x(WORK / "en-train-10x-shuffled.txt", plain)
        x10 = ours_row(kn_build(big, WORK / "kn-speed-10x", *common, "--memory", args.small_memory))
        x1 = runs["ours_small_memory"]
        x10["corpus"] = make_10x.__doc__.split("\n")[0]
        x10["time_ratio_vs_1x"] = round(x10["seconds"] / x1["seconds"], 2)
        x10["peak_ratio_vs_1x"] = round(x10["peak_rss_bytes_all_processes"] / x1["peak_rss_bytes_all_processes"], 3)
        result["ours_10x_small_memory"] = x10
    write_result("kn_speed", result)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=["exactness", "perplexity", "speed"])
    p.add_argument("--shards", type=int, default=8)
    p.add_argument("--quantize", default="none")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--lmplz", default=os.environ.get("LMPLZ", "lmplz"))
    p.add_argument("--small-memory", default="1G", help="speed: the --memory of the second run of ours")
    p.add_argument("--x10", action="store_true", help="speed: also a 10x corpus (long: about 10x the 1x time)")
    args = p.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    {"exactness": exactness, "perplexity": perplexity, "speed": speed}[args.mode](args)


if __name__ == "__main__":
    main()
