"""ARPA suite: import en-dev.5 (8-bit and exact), bytes per n-gram in shard formats 2 (the
default) and 1, and held-out scoring words/s through the KenLM-compatible API
(`full_scores()` and `score()`; compressed and decoded layouts, formats 1 and 2) beside the
kenlm module, all alternating in one process.

    .venv/bin/python bench/bench_arpa.py      # the kenlm module must be importable

Writes bench/results/arpa.json.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import HELDOUT, SHARED, WORK, peak_rss_bytes, write_result  # noqa: E402

ARPA_FILE = SHARED / "arpa" / "en-dev.5.arpa.zst"

REPS = 5


def open_ours(model_dir: Path, layout: str | None):
    import client.kenlm_compat as kenlm

    config = kenlm.Config()
    config.layout = layout
    t = time.perf_counter()
    m = kenlm.Model(model_dir, config)
    open_s = time.perf_counter() - t
    for s in SENTENCES[:50]:  # compile / warm
        list(m.full_scores(s))
        m.score(s)
    return m, open_s


def full_scores_pass(m) -> tuple[float, int]:
    t = time.perf_counter()
    n = 0
    for s in SENTENCES:
        for _ in m.full_scores(s):
            n += 1
    return time.perf_counter() - t, n


def score_pass(m) -> tuple[float, int]:
    t = time.perf_counter()
    for s in SENTENCES:
        m.score(s)
    return time.perf_counter() - t, 0


SENTENCES: list[str] = []


def alternating(contestants: dict) -> dict:
    """Every contestant (a kenlm-compatible model) over the held-out text, REPS rounds,
    contestants alternating within each round, in this one process: best and median
    words/s for full_scores() and score()."""
    times = {name: {"full_scores": [], "score": []} for name in contestants}
    words = 0
    for _ in range(REPS):
        for name, m in contestants.items():
            dt, words = full_scores_pass(m)
            times[name]["full_scores"].append(dt)
            times[name]["score"].append(score_pass(m)[0])
    out = {}
    for name, t in times.items():
        out[name] = {f"{kind}_words_per_s_{how}": round(words / f(t[kind]))
                     for kind in ("full_scores", "score") for how, f in (("best", min), ("median", np.median))}
    return out


def main() -> None:
    argparse.ArgumentParser(description=__doc__).parse_args()
    from ngram.arpa import import_arpa, open_compressed

    from ngram.convert import convert_model

    WORK.mkdir(parents=True, exist_ok=True)
    SENTENCES[:] = HELDOUT.read_text(encoding="utf-8").splitlines()
    sizes = {}
    for q in ("8", "none"):
        out = WORK / f"arpa-en-dev-{q}"
        t = time.perf_counter()
        man = import_arpa(ARPA_FILE, out, num_shards=1, quantization=q)
        dt = time.perf_counter() - t
        real = sum(man["source"]["ngrams"])
        shard_bytes = sum(f["bytes"] for n, f in man["files"].items() if n.startswith("shard-"))
        all_bytes = sum(f["bytes"] for f in man["files"].values())
        sizes[q] = {"ngrams": real, "shard_bytes": shard_bytes, "bytes_per_ngram": shard_bytes / real,
                    "bytes_per_ngram_with_vocab": all_bytes / real, "import_s": dt,
                    "format": man["format"]["version"]}
        v1 = convert_model(out, WORK / f"arpa-en-dev-{q}-v1", version=1)  # the same n-grams in format 1
        sizes[q]["format_v1_bytes_per_ngram"] = sum(
            f["bytes"] for n, f in v1["files"].items() if n.startswith("shard-")) / real
    plain = WORK / "en-dev.5.arpa"
    if not plain.exists():
        with open_compressed(ARPA_FILE) as src, open(str(plain) + ".tmp", "wb") as dst:
            while block := src.read(1 << 20):
                dst.write(block)
        os.replace(str(plain) + ".tmp", plain)
    contestants, open_s = {}, {}
    for name, (path, layout) in {
            "8/v2/compressed (default layout)": (WORK / "arpa-en-dev-8", None),
            "8/v1/compressed": (WORK / "arpa-en-dev-8-v1", None),
            "none/v2/compressed": (WORK / "arpa-en-dev-none", None),
            "none/v2/decoded": (WORK / "arpa-en-dev-none", "decoded"),
            # the drop-in as kenlm users call it: Model("file.arpa"), defaults (exact, decoded)
            "arpa-file/default": (plain, None)}.items():
        contestants[name], open_s[name] = open_ours(path, layout)
    try:
        import kenlm
        t = time.perf_counter()
        contestants["kenlm"] = kenlm.Model(str(plain))
        open_s["kenlm"] = time.perf_counter() - t
        kenlm_note = f"kenlm module {getattr(kenlm, '__version__', '?')} in this process (probing, from the ARPA file)"
    except ImportError:
        kenlm_note = "kenlm is not importable here: no comparison"
    speed = alternating(contestants)
    for name in speed:
        speed[name]["open_s"] = round(open_s[name], 3)
        if name != "kenlm":
            speed[name]["layout"] = contestants[name].layout
    ratios = None
    if "kenlm" in speed:
        ratios = {name: {kind: round(v[f"{kind}_words_per_s_median"] / speed["kenlm"][f"{kind}_words_per_s_median"], 3)
                         for kind in ("full_scores", "score")} for name, v in speed.items() if name != "kenlm"}
    write_result("arpa", {
        "model": str(ARPA_FILE), "heldout": str(HELDOUT), "sentences": len(SENTENCES),
        "size": sizes, "speed": speed, "kenlm": kenlm_note,
        "how": f"one process, {REPS} rounds, contestants alternating within each round (median and best)",
        "ratio_over_kenlm_median": ratios,
        "peak_rss_bytes": peak_rss_bytes(),
    })


if __name__ == "__main__":
    main()
