"""Query suite (issue 2): the en-train 5-gram model, no pruning, 8 shards.

Shard formats 1 and 2 side by side, alternating in one process (the model converted with
`ngram convert`). Reports bytes per n-gram (shard files, and all files), model open time
(with and without verification), and batched chain
lookups per second on one core with batches of 100,000 held-out 5-grams (every window of
five tokens of en-heldout.txt inside a sentence, <s> and </s> included).
Run: .venv/bin/python bench/bench_query.py [--reps 10]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import HELDOUT, ensure_en_train_model, write_result  # noqa: E402

BATCH = 100_000
VERSIONS = (1, 2)  # shard formats compared side by side (docs/FORMAT_V2.md)


def five_gram_batch(vocab) -> np.ndarray:
    from tests.reference_builder import ngram_windows
    ids, offsets = vocab.encode_lines(HELDOUT.read_bytes())
    return np.ascontiguousarray(ngram_windows(ids, offsets, 5).astype(np.int32))


def model_in_format(base: Path, version: int) -> Path:
    """The bench model in shard format `version`: `ngram convert` of the built model into a
    sibling directory (kept between runs; rewritten when its format differs)."""
    from ngram.convert import convert_model
    from ngram.errors import ModelFormatError
    from ngram.manifest import read_manifest
    path = base.with_name(f"{base.name}-v{version}")
    try:
        current = read_manifest(path)["format"]["version"] == version
    except ModelFormatError:
        current = False
    if not current:
        print(f"writing {path} (format {version}) ...", flush=True)
        convert_model(base, path, version)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--reps", type=int, default=10)
    args = ap.parse_args()
    from ngram.model import Model

    base = ensure_en_train_model()
    paths = {v: model_in_format(base, v) for v in VERSIONS}
    opens = {(v, verify): [] for v in VERSIONS for verify in (False, True)}
    for _ in range(10):  # alternating: formats, and mmap + structure checks only / also every SHA-256
        for v in VERSIONS:
            for verify in (False, True):
                t = time.perf_counter()
                m = Model.open(paths[v], verify=verify)
                opens[v, verify].append(time.perf_counter() - t)
                m.close()
    models = {v: Model.open(paths[v]) for v in VERSIONS}
    infos = {v: models[v].info() for v in VERSIONS}
    grams = five_gram_batch(models[VERSIONS[-1]].vocab)
    batch = grams[:BATCH]
    lengths = np.full(len(batch), 5, np.int32)
    first_call = {}
    for v in VERSIONS:
        t = time.perf_counter()
        models[v].lookup(batch[:10], lengths[:10])  # loads the cached numba kernels
        first_call[v] = time.perf_counter() - t
    walls = {v: [] for v in VERSIONS}
    cpus = {v: [] for v in VERSIONS}
    chains = {}
    for _ in range(args.reps):  # alternating formats, so load on the machine hits both alike
        for v in VERSIONS:
            t, c = time.perf_counter(), time.thread_time()
            chains[v] = models[v].lookup(batch, lengths)
            walls[v].append(time.perf_counter() - t)
            cpus[v].append(time.thread_time() - c)
    assert chains[1].equals(chains[2]), "formats 1 and 2 answer differently"
    # the same batch with the shards decoded into RAM (`--layout decoded`), from the default format
    t = time.perf_counter()
    decoded = Model.open(paths[2], layout="decoded")
    decode_s = time.perf_counter() - t
    decoded.lookup(batch[:10], lengths[:10])
    dwalls = []
    for _ in range(args.reps):
        t = time.perf_counter()
        assert decoded.lookup(batch, lengths).equals(chains[2])
        dwalls.append(time.perf_counter() - t)
    decoded_bytes = sum(tb.memory_bytes for tb in decoded.shards.values())
    decoded.close()
    info = infos[2]

    def per_format(v: int) -> dict:
        i = infos[v]
        wall = statistics.median(walls[v])
        return {
            "model_id": i["model_id"],
            "bytes_shard_files": i["bytes"],
            "bytes_per_ngram": round(i["bytes_per_ngram"], 4),
            "bytes_all_files": i["bytes_all_files"],
            "bytes_per_ngram_all_files": round(i["bytes_per_ngram_all_files"], 4),
            "open_ms_median": round(1e3 * statistics.median(opens[v, False]), 3),
            "open_ms_max": round(1e3 * max(opens[v, False]), 3),
            "open_verified_ms_median": round(1e3 * statistics.median(opens[v, True]), 3),
            "open_verified_ms_max": round(1e3 * max(opens[v, True]), 3),
            "first_lookup_ms_numba_cache_load": round(1e3 * first_call[v], 1),
            "wall_s_median": round(wall, 5),
            "wall_s_min": round(min(walls[v]), 5),
            "chain_lookups_per_s": round(len(batch) / wall),
            "chain_lookups_per_s_best": round(len(batch) / min(walls[v])),
            "chain_lookups_per_s_cpu_time": round(len(batch) / statistics.median(cpus[v])),
        }

    write_result("query", {
        "model": {k: info[k] for k in ("order", "vocab_size", "num_shards", "ngrams", "ngrams_total")},
        "formats": {f"v{v}": per_format(v) for v in VERSIONS},
        "open": "Model.open(verify=False): mmap, headers and layout tables checked; the default verify=True "
                "also hashes every file (SHA-256)",
        "lookup": {
            "batch": len(batch), "queries": "held-out 5-grams (every 5-token window inside a sentence)",
            "threads": 1, "reps": args.reps, "alternating": "v1, v2, v1, v2, ... in one process",
            "match_len_histogram": np.bincount(chains[2].match_len, minlength=6).tolist(),
        },
        "decoded_layout": {
            "from_format": 2, "open_and_decode_s": round(decode_s, 2), "bytes_in_memory": decoded_bytes,
            "bytes_per_ngram_in_memory": round(decoded_bytes / info["ngrams_total"], 2),
            "chain_lookups_per_s": round(len(batch) / statistics.median(dwalls)),
        },
        "targets": {"bytes_per_ngram": 1.7, "chain_lookups_per_s": 5e6, "open_ms": 100},
        "references_design_md": {"kenlm_probing_query_words_per_s": 2.47e6, "kenlm_trie_q8_bytes_per_ngram": 4.75},
    })


if __name__ == "__main__":
    main()
