"""ARPA suite: import en-dev.5 (8-bit and exact), bytes per n-gram, and held-out scoring
words/s through the KenLM-compatible API (compressed and decoded layouts), beside the
kenlm module in the same run.

    .venv/bin/python bench/bench_arpa.py [--kenlm-python /tmp/kenlm-venv/bin/python]

The kenlm side runs in this interpreter if it can import kenlm, else in the Python given
by --kenlm-python (or $KENLM_PYTHON, or /tmp/kenlm-venv/bin/python when it exists), in a
subprocess on the same machine, one after the other. Writes bench/results/arpa.json.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import HELDOUT, SHARED, WORK, peak_rss_bytes, write_result  # noqa: E402

ARPA_FILE = SHARED / "arpa" / "en-dev.5.arpa.zst"

KENLM_SCRIPT = r"""
import json, resource, sys, time
import kenlm
arpa, heldout = sys.argv[1], sys.argv[2]
t = time.perf_counter(); m = kenlm.Model(arpa); load = time.perf_counter() - t
sents = open(heldout, encoding="utf-8").read().splitlines()
best = None
for rep in range(3):
    t = time.perf_counter(); n = 0
    for s in sents:
        for _ in m.full_scores(s):
            n += 1
    dt = time.perf_counter() - t
    best = dt if best is None else min(best, dt)
t = time.perf_counter(); total = sum(m.score(s) for s in sents); dts = time.perf_counter() - t
print(json.dumps({"words": n, "full_scores_words_per_s": n / best, "score_words_per_s": n / dts,
                  "load_s": load, "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                  "kenlm_version": getattr(kenlm, "__version__", "unknown"),
                  "python": sys.executable}))
"""


def kenlm_side(python: str | None, plain_arpa: Path) -> dict:
    import json

    try:
        import kenlm  # noqa: F401

        python = sys.executable
    except ImportError:
        pass
    if python is None:
        return {"skipped": "kenlm is not importable here and no --kenlm-python was given"}
    r = subprocess.run([python, "-c", KENLM_SCRIPT, str(plain_arpa), str(HELDOUT)], capture_output=True, text=True)
    if r.returncode != 0:
        return {"skipped": f"kenlm run failed: {r.stderr.strip()[-500:]}"}
    out = json.loads(r.stdout.strip().splitlines()[-1])
    out["how"] = f"subprocess: {python} (PyPI kenlm, probing model loaded from the ARPA file)"
    return out


def ours(model_dir: Path, sentences: list[str], layout: str | None) -> dict:
    import client.kenlm_compat as kenlm

    config = kenlm.Config()
    config.layout = layout
    t = time.perf_counter()
    m = kenlm.Model(model_dir, config)
    open_s = time.perf_counter() - t
    for s in sentences[:50]:  # compile / warm
        list(m.full_scores(s))
    m.full_scores_batch(sentences[:50])
    best = None
    for _ in range(3):
        t = time.perf_counter()
        n = 0
        for s in sentences:
            for _ in m.full_scores(s):
                n += 1
        dt = time.perf_counter() - t
        best = dt if best is None else min(best, dt)
    t = time.perf_counter()
    prob, _, _, _ = m.full_scores_batch(sentences)
    dtb = time.perf_counter() - t
    out = {"layout": m.layout, "open_s": open_s, "words": n, "full_scores_words_per_s": n / best,
           "full_scores_batch_words_per_s": len(prob) / dtb}
    if m.layout == "decoded":
        from ngram.sentence_scoring import local_shard

        out["decoded_bytes_in_ram"] = local_shard(m.backend).decoded.nbytes
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kenlm-python", default=os.environ.get("KENLM_PYTHON") or (
        "/tmp/kenlm-venv/bin/python" if Path("/tmp/kenlm-venv/bin/python").exists() else None))
    args = ap.parse_args()
    from ngram.arpa import import_arpa, open_compressed

    WORK.mkdir(parents=True, exist_ok=True)
    sentences = HELDOUT.read_text(encoding="utf-8").splitlines()
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
                    "bytes_per_ngram_with_vocab": all_bytes / real, "import_s": dt}
    speed = {f"{q}/{layout}": ours(WORK / f"arpa-en-dev-{q}", sentences, layout)
             for q in ("8", "none") for layout in ("compressed", "decoded")}
    plain = WORK / "en-dev.5.arpa"
    if not plain.exists():
        with open_compressed(ARPA_FILE) as src, open(str(plain) + ".tmp", "wb") as dst:
            while block := src.read(1 << 20):
                dst.write(block)
        os.replace(str(plain) + ".tmp", plain)
    # the drop-in as kenlm users call it: Model("file.arpa"), defaults (exact, decoded)
    speed["arpa-file/default"] = ours(plain, sentences, None)
    theirs = kenlm_side(args.kenlm_python, plain)
    write_result("arpa", {
        "model": str(ARPA_FILE), "heldout": str(HELDOUT), "sentences": len(sentences),
        "size": sizes, "ours": speed, "kenlm": theirs,
        "ratio_full_scores_over_kenlm": {k: v["full_scores_words_per_s"] / theirs["full_scores_words_per_s"]
                                         for k, v in speed.items()} if "full_scores_words_per_s" in theirs else None,
        "peak_rss_bytes": peak_rss_bytes(),
    })


if __name__ == "__main__":
    main()
