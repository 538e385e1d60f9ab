"""The spelling service's front half on the en-train 5-gram model: candidate index build
time and bytes, lookups/s, and candidate lattices/s. Writes bench/results/spell_candidates.json.

  python bench/bench_spell_candidates.py [--sentences 2000]

- index: `CandidateIndex.for_backend` (OSA distance 2, min count 2): build seconds (second
  build: numba kernels compiled and cached), bytes in memory and as a saved file, load s.
- lookups: every distinct lowercased letters-only word of en-heldout, each at the
  distance the lattice uses for a word it lacks (1 up to 2 letters, else 2), one batch.
- lattices: en-heldout sentences (tokenize + CandidateGenerator.arcs), one sentence per
  call: a fresh generator (cold: every word new) then the same sentences again (warm:
  the per-word cache the service keeps); and one batch call of all of them.
- recall: en-heldout sentences corrupted by noise.py (seed 99, default rates; real-word
  errors from the indexed words of frequency >= 1e-6): per kind, the share of errors
  whose intended word(s) are among the non-ORIGINAL arcs of the typo's token(s), same
  case: the most a decoder over this lattice can fix.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import HELDOUT, ensure_en_train_model, peak_rss_bytes, write_result  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sentences", type=int, default=2000)
    a = p.parse_args()
    from client.spelling.candidates import CandidateIndex, is_key_word
    from client.spelling.lattice import CandidateGenerator
    from client.spelling.text import tokenize
    from ngram.backend import open_backend

    backend = open_backend(ensure_en_train_model(), verify=False)
    t = time.perf_counter()
    CandidateIndex.for_backend(backend)          # compiles (or loads) the kernels
    first = time.perf_counter() - t
    t = time.perf_counter()
    index = CandidateIndex.for_backend(backend)
    build = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "spell.idx"
        file_bytes = index.save(path)
        t = time.perf_counter()
        CandidateIndex.load(path, model_id=backend.model_id)
        load = time.perf_counter() - t

    lines = HELDOUT.read_text(encoding="utf-8").splitlines()
    words = sorted({w.lower() for line in lines for w in line.split() if is_key_word(w.lower())})
    short = CandidateGenerator(backend, index).short_word_chars
    ks = [1 if len(w) <= short else 2 for w in words]   # the lattice's distances for a word it lacks
    t = time.perf_counter()
    matches = index.lookup_keys(words, ks)
    lookup_s = time.perf_counter() - t

    sents = [tokenize(line) for line in lines[:a.sentences]]
    tokens = sum(map(len, sents))
    gen = CandidateGenerator(backend, index)
    t = time.perf_counter()
    arcs = [gen.arcs(s) for s in sents]
    cold = time.perf_counter() - t
    t = time.perf_counter()
    for s in sents:
        gen.arcs(s)
    warm = time.perf_counter() - t
    gen = CandidateGenerator(backend, index)
    t = time.perf_counter()
    gen.arcs_batch(sents)
    batch_cold = time.perf_counter() - t
    recall = measure_recall(gen, lines[:a.sentences])
    write_result("spell_candidates", {
        "model": "en-train 5-gram (counts), vocabulary of %d words" % len(backend.vocab),
        "load_average": os.getloadavg()[0],
        "index": {"keys": index.num_keys, "indexed_keys": int(index.key_indexed.sum()),
                  "postings": int(len(index.arrays["postings"])), "build_s_first": round(first, 2),
                  "build_s": round(build, 2), "bytes_in_memory": index.nbytes, "file_bytes": file_bytes,
                  "load_s_verified": round(load, 3)},
        "lookups": {"words": len(words), "seconds": round(lookup_s, 3),
                    "lookups_per_s": round(len(words) / lookup_s), "candidates_per_word": round(len(matches.key) / len(words), 1)},
        "lattice": {"sentences": len(sents), "tokens": tokens, "arcs_per_token": round(sum(map(len, arcs)) / tokens, 2),
                    "cold_sentences_per_s": round(len(sents) / cold), "warm_sentences_per_s": round(len(sents) / warm),
                    "cold_batch_sentences_per_s": round(len(sents) / batch_cold),
                    "cold_ms_per_sentence": round(cold / len(sents) * 1e3, 3),
                    "warm_ms_per_sentence": round(warm / len(sents) * 1e3, 3)},
        "recall": recall,
        "peak_rss_bytes": peak_rss_bytes(),
    })
    backend.close()


def measure_recall(gen, lines: list[str], seed: int = 99) -> dict:
    from collections import Counter

    from client.spelling.noise import corrupt_lines
    from client.spelling.types import ORIGINAL, Token
    ix = gen.index
    common = {ix.key_text(k) for k in range(ix.num_keys) if ix.key_indexed[k] and ix.key_log10[k] >= -6}
    hit, total = Counter(), Counter()
    for clean, noisy, edits in corrupt_lines(lines, seed, vocabulary=common):
        toks, pos = [], 0
        for w in noisy:                      # the noisy tokens as typed, space-separated
            toks.append(Token(w, pos, pos + len(w)))
            pos += len(w) + 1
        arcs = gen.arcs(toks)
        at, ci, ni = {}, 0, 0                # clean index -> noisy index of each edit
        by_index = {e.index: e for e in edits}
        while ci < len(clean):
            e = by_index.get(ci)
            if e is not None:
                at[ci] = ni
            ci += 2 if e is not None and e.kind == "merge" else 1
            ni += 2 if e is not None and e.kind == "split" else 1
        for e in edits:
            j = at[e.index]
            last = j + (2 if e.kind == "split" else 1)
            total[e.kind] += 1
            want = tuple(e.original.split(" "))
            hit[e.kind] += any(a.first == j and a.last == last and a.kind != ORIGINAL and a.words == want
                               for a in arcs)
    out = {k: {"errors": total[k], "recall": round(hit[k] / total[k], 3)} for k in sorted(total)}
    out["all"] = {"errors": sum(total.values()), "recall": round(sum(hit.values()) / max(1, sum(total.values())), 3)}
    return out


if __name__ == "__main__":
    main()
