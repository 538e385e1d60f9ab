"""Shared helpers for benchmark suites: machine description, peak memory, JSON results."""
from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import time

import numpy as np
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
SHARED = Path(os.environ.get("NGRAM_SHARED", BENCH_DIR.parent.parent / "shared"))
TRAIN = SHARED / "corpus" / "en-train.txt.zst"
HELDOUT = SHARED / "corpus" / "en-heldout.txt"
WORK = Path(os.environ.get("NGRAM_BENCH_WORK", "/tmp/ngram-bench"))


def machine() -> dict:
    """What the numbers were measured on."""
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "mem_total_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "git_commit": _git_commit(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _git_commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=BENCH_DIR, capture_output=True,
                              text=True, check=True).stdout.strip()
    except Exception:
        return None


def peak_rss_bytes(children: bool = False) -> int:
    """Peak resident set size of this process (or of its waited-for children)."""
    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    return resource.getrusage(who).ru_maxrss * 1024


def write_result(suite: str, data: dict) -> Path:
    """Write bench/results/<suite>.json with the machine description and print it."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{suite}.json"
    payload = {"suite": suite, "machine": machine(), **data}
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n")
    os.replace(tmp, path)
    print(json.dumps(payload, indent=2))
    return path


EN_TRAIN_MODEL = WORK / "en-train-5g-8s"


def ensure_en_train_model(path: Path = EN_TRAIN_MODEL, order: int = 5, shards: int = 8) -> Path:
    """The en-train 5-gram model (no pruning), rebuilt when missing or when it was
    written by another format version. Built by the reference in-memory path, which the
    scalable builder reproduces byte for byte."""
    from ngram.errors import ModelFormatError
    from ngram.model import Model
    try:
        m = Model.open(path)
        ok = m.order == order and m.num_shards == shards
        m.close()
    except (FileNotFoundError, ModelFormatError, KeyError, ValueError):
        ok = False
    if not ok:
        from tests.reference_builder import build_model_inmemory
        print(f"building {path} from {TRAIN} (order {order}, {shards} shards) ...", flush=True)
        build_model_inmemory(TRAIN, path, order=order, num_shards=shards)
    return path


def heldout_windows(vocab, order: int) -> tuple[np.ndarray, np.ndarray]:
    """For every held-out token after <s>: the n-gram ending there, up to `order` words
    long (shorter at sentence starts), as a decoder asks for it. (ids[B, order], lengths[B])."""
    ids, offsets = vocab.encode_lines(HELDOUT.read_bytes())
    pos = np.arange(len(ids))
    sent_start = np.repeat(offsets[:-1], np.diff(offsets))
    keep = pos > sent_start
    end, start = pos[keep], sent_start[keep]
    lengths = np.minimum(end - start + 1, order).astype(np.int32)
    first = end - lengths + 1
    cols = first[:, None] + np.arange(order)[None, :]
    grid = ids[np.minimum(cols, len(ids) - 1)].astype(np.int32)
    grid[np.arange(order)[None, :] >= lengths[:, None]] = 0
    return np.ascontiguousarray(grid), lengths
