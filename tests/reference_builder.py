"""The reference builder: exact counts with plain numpy, everything in memory, for small
corpora. The scalable pipeline (``builder/``, ``ngram build``) must reproduce its models
byte for byte; tests use it as that oracle and to make small models quickly.

Everything is held in memory (about 60 bytes per token for a 5-gram model).
"""
from __future__ import annotations

import os
import time
from collections import Counter

import numpy as np

from ngram.compressed_io import read_all
from ngram.sharding import shard_of_pair
from ngram.vocab import build_vocabulary
from ngram.writer import Level, ModelWriter, ShardSpec


def read_text(path: str | os.PathLike) -> bytes:
    """Whole file, decompressed by its magic bytes like the pipeline's inputs; '-' is stdin."""
    return read_all(path)


def count_words(data: bytes) -> tuple[Counter, int]:
    """Word counts and the number of non-blank lines (sentences)."""
    counts: Counter = Counter()
    sentences = 0
    for line in data.split(b"\n"):
        words = line.split()
        if words:
            counts.update(words)
            sentences += 1
    return counts, sentences


def ngram_windows(ids: np.ndarray, offsets: np.ndarray, k: int) -> np.ndarray:
    """All windows of length k inside sentences, as uint32[n, k]."""
    lengths = np.diff(offsets)
    sid = np.repeat(np.arange(len(lengths)), lengths)
    starts = np.arange(len(ids) - k + 1) if len(ids) >= k else np.zeros(0, np.int64)
    starts = starts[sid[starts] == sid[starts + k - 1]]
    return np.stack([ids[starts + j] for j in range(k)], axis=1).astype(np.uint32)


def count_ngrams_inmemory(ids: np.ndarray, offsets: np.ndarray, order: int) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """{k: (grams uint32[n, k] unique, sorted by (w_k, ..., w_1); counts uint64[n])} for
    k = 2..order."""
    out = {}
    for k in range(2, order + 1):
        grams = ngram_windows(ids, offsets, k)
        if len(grams) == 0:
            out[k] = (np.zeros((0, k), np.uint32), np.zeros(0, np.uint64))
            continue
        grams = grams[np.lexsort(grams.T)]
        new = np.ones(len(grams), bool)
        new[1:] = (grams[1:] != grams[:-1]).any(axis=1)
        starts = np.flatnonzero(new)
        counts = np.diff(np.append(starts, len(grams))).astype(np.uint64)
        out[k] = (grams[starts], counts)
    return out


def apply_cutoffs(levels: dict[int, tuple[np.ndarray, np.ndarray]], cutoffs: list[int]):
    """Drop k-grams under cutoffs[k-1], and k-grams whose suffix was dropped, so the
    reversed trie stays consistent."""
    out = {}
    prev = None
    for k in sorted(levels):
        grams, counts = levels[k]
        keep = counts >= cutoffs[k - 1]
        grams, counts = grams[keep], counts[keep]
        if prev is not None and len(grams):
            keep = _has_suffix(grams, prev)
            grams, counts = grams[keep], counts[keep]
        out[k] = (grams, counts)
        prev = grams
    return out


def _has_suffix(grams: np.ndarray, parent: np.ndarray) -> np.ndarray:
    """Mask of rows whose suffix (w2..wk) is a row of `parent` (both sorted reversed-lex)."""
    suffix = np.ascontiguousarray(grams[:, 1:])
    both = np.concatenate([parent, suffix])
    tag = np.concatenate([np.zeros(len(parent), np.int8), np.ones(len(suffix), np.int8)])
    order = np.lexsort(np.vstack([tag, both.T]))  # parent rows sort before equal suffixes
    sb = both[order]
    same_as_prev = np.zeros(len(sb), bool)
    same_as_prev[1:] = (sb[1:] == sb[:-1]).all(axis=1)
    # a suffix is present if, in sorted order, the run it belongs to contains a parent row
    run_start = np.maximum.accumulate(np.where(~same_as_prev, np.arange(len(sb)), 0))
    is_parent = tag[order] == 0
    run_has_parent = np.zeros(len(sb), bool)
    run_has_parent[run_start[is_parent]] = True
    present = run_has_parent[run_start]
    mask = np.empty(len(suffix), bool)
    suffix_pos = order[tag[order] == 1] - len(parent)
    mask[suffix_pos] = present[tag[order] == 1]
    return mask


def shard_levels(levels: dict[int, tuple[np.ndarray, np.ndarray]], num_shards: int, seed: int = 0):
    """Split every level by shard (stable, so rows stay sorted): [shard] -> list[Level]."""
    per_shard = [[] for _ in range(num_shards)]
    for k in sorted(levels):
        grams, counts = levels[k]
        owner = shard_of_pair(grams[:, -2], grams[:, -1], num_shards, seed) if len(grams) else np.zeros(0, np.int32)
        for s in range(num_shards):
            rows = np.flatnonzero(owner == s)
            per_shard[s].append(Level(grams[rows], counts=counts[rows]))
    return per_shard


def build_model_inmemory(sources, out_dir, *, order: int = 5, num_shards: int = 1, shard_seed: int = 0,
                         min_word_count: int = 1, max_vocab: int | None = None,
                         cutoffs: list[int] | None = None, lowercase: bool = False,
                         value_context: str = "auto", format_version: int = 2) -> dict:
    """Build a counts model from files (or a bytes object) and publish it at out_dir."""
    t0 = time.time()
    if isinstance(sources, (bytes, bytearray)):
        data, names = bytes(sources), ["<bytes>"]
    else:
        sources = [sources] if isinstance(sources, (str, os.PathLike)) else list(sources)
        data = b"\n".join(read_text(p) for p in sources)
        names = [str(p) for p in sources]
    if lowercase:
        data = data.decode("utf-8").lower().encode("utf-8")
    word_counts, sentences = count_words(data)
    vocab = build_vocabulary(word_counts, num_sentences=sentences, min_count=min_word_count, max_size=max_vocab)
    ids, offsets = vocab.encode_lines(data)
    cutoffs = list(cutoffs or [1] * order)
    if len(cutoffs) != order:
        raise ValueError(f"need {order} cutoffs, got {len(cutoffs)}")
    levels = apply_cutoffs(count_ngrams_inmemory(ids, offsets, order), cutoffs)
    spec = ShardSpec(order=order, num_shards=num_shards, shard_seed=shard_seed, value_context=value_context,
                     format_version=format_version)
    writer = ModelWriter(out_dir, spec, vocab)
    try:
        for s, shard in enumerate(shard_levels(levels, num_shards, shard_seed)):
            writer.write_shard(s, shard, unigram_counts=vocab.counts)
        tokens = int(sum(word_counts.values()))
        return writer.commit({
            "corpus": {"tokens": tokens, "sentences": sentences},
            "cutoffs": cutoffs,
            "tokenizer": {"kind": "whitespace", "lowercase": lowercase, "min_word_count": min_word_count,
                          "max_vocab": max_vocab},
            "provenance": {"builder": "inmemory", "sources": names, "seconds": round(time.time() - t0, 3)},
        })
    except BaseException:
        writer.abort()
        raise
