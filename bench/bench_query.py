"""Query suite (issue 2): the en-train 5-gram model, no pruning, 8 shards.

Reports bytes per n-gram (shard files, and all files), model open time (with and without
verification), and batched chain
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


def five_gram_batch(vocab) -> np.ndarray:
    from tests.reference_builder import ngram_windows
    ids, offsets = vocab.encode_lines(HELDOUT.read_bytes())
    return np.ascontiguousarray(ngram_windows(ids, offsets, 5).astype(np.int32))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--reps", type=int, default=10)
    args = ap.parse_args()
    from ngram.model import Model

    path = ensure_en_train_model()
    opens, verified_opens = [], []
    for _ in range(10):  # alternating: mmap and structure checks only / also every SHA-256
        for verify, times in ((False, opens), (True, verified_opens)):
            t = time.perf_counter()
            m = Model.open(path, verify=verify)
            times.append(time.perf_counter() - t)
            m.close()
    model = Model.open(path)
    info = model.info()
    grams = five_gram_batch(model.vocab)
    batch = grams[:BATCH]
    lengths = np.full(len(batch), 5, np.int32)
    t = time.perf_counter()
    model.lookup(batch[:10], lengths[:10])  # loads the cached numba kernels
    first_call = time.perf_counter() - t
    walls, cpus = [], []
    for _ in range(args.reps):
        t, c = time.perf_counter(), time.thread_time()
        chains = model.lookup(batch, lengths)
        walls.append(time.perf_counter() - t)
        cpus.append(time.thread_time() - c)
    wall = statistics.median(walls)
    # the same batch with the shards decoded into RAM (`--layout decoded`)
    t = time.perf_counter()
    decoded = Model.open(path, layout="decoded")
    decode_s = time.perf_counter() - t
    decoded.lookup(batch[:10], lengths[:10])
    dwalls = []
    for _ in range(args.reps):
        t = time.perf_counter()
        assert decoded.lookup(batch, lengths).equals(chains)
        dwalls.append(time.perf_counter() - t)
    decoded_bytes = sum(tb.memory_bytes for tb in decoded.shards.values())
    decoded.close()
    write_result("query", {
        "model": {k: info[k] for k in ("model_id", "order", "vocab_size", "num_shards", "ngrams", "ngrams_total")},
        "bytes_shard_files": info["bytes"],
        "bytes_per_ngram": round(info["bytes_per_ngram"], 4),
        "bytes_all_files": info["bytes_all_files"],
        "bytes_per_ngram_all_files": round(info["bytes_per_ngram_all_files"], 4),
        "open_ms_median": round(1e3 * statistics.median(opens), 3),
        "open_ms_max": round(1e3 * max(opens), 3),
        "open": "Model.open(verify=False): mmap, headers and layout tables checked; the default verify=True "
                "also hashes every file (SHA-256)",
        "open_verified_ms_median": round(1e3 * statistics.median(verified_opens), 3),
        "open_verified_ms_max": round(1e3 * max(verified_opens), 3),
        "first_lookup_ms_numba_cache_load": round(1e3 * first_call, 1),
        "lookup": {
            "batch": len(batch), "queries": "held-out 5-grams (every 5-token window inside a sentence)",
            "threads": 1, "reps": args.reps,
            "wall_s_median": round(wall, 5),
            "chain_lookups_per_s": round(len(batch) / wall),
            "chain_lookups_per_s_cpu_time": round(len(batch) / statistics.median(cpus)),
            "match_len_histogram": np.bincount(chains.match_len, minlength=6).tolist(),
        },
        "decoded_layout": {
            "open_and_decode_s": round(decode_s, 2), "bytes_in_memory": decoded_bytes,
            "bytes_per_ngram_in_memory": round(decoded_bytes / info["ngrams_total"], 2),
            "chain_lookups_per_s": round(len(batch) / statistics.median(dwalls)),
        },
        "targets": {"bytes_per_ngram": 2.0, "chain_lookups_per_s": 2.5e6, "open_ms": 100},
        "references_design_md": {"kenlm_probing_query_words_per_s": 2.47e6, "kenlm_trie_q8_bytes_per_ngram": 4.75},
    })


if __name__ == "__main__":
    main()
