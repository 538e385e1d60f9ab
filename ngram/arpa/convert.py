"""Between ARPA files and model directories: ``import_arpa`` writes a backoff model
directory from an ARPA file, ``export_arpa`` writes one back as ARPA text."""
from __future__ import annotations

import os
import sys

import numpy as np

from ..atomic import atomic_path
from ..compressed_io import create_output
from ..errors import ValueKindError
from .reader import read_arpa
from .writer import write_arpa


def import_arpa(path: str | os.PathLike, out_dir: str | os.PathLike, *, num_shards: int = 1,
                quantization: str = "8", shard_seed: int = 0, value_context: str = "auto") -> dict:
    """Read an ARPA file and write it as a model directory (value kind ``backoff``);
    returns the manifest. Nothing is published if anything fails."""
    from ..sharding import shard_of_pair
    from ..vocab import Vocabulary
    from ..writer import Level, ModelWriter, ShardSpec

    spec = ShardSpec(order=1, num_shards=num_shards, shard_seed=shard_seed, value_kind="backoff",
                     quantization=str(quantization), value_context=value_context)  # checked before reading
    arpa = read_arpa(path)
    spec = ShardSpec(order=arpa.order, num_shards=num_shards, shard_seed=shard_seed, value_kind="backoff",
                     quantization=str(quantization), value_context=value_context)
    vocab = Vocabulary.from_words(arpa.words)
    owners = [shard_of_pair(lv.grams[:, -2], lv.grams[:, -1], num_shards, shard_seed) if len(lv.grams)
              else np.zeros(0, np.int32) for lv in arpa.levels]
    writer = ModelWriter(out_dir, spec, vocab)
    try:
        for s in range(num_shards):
            levels = []
            for lv, own in zip(arpa.levels, owners):
                sel = own == s
                levels.append(Level(np.ascontiguousarray(lv.grams[sel]), prob=lv.prob[sel], backoff=lv.backoff[sel]))
            writer.write_shard(s, levels, unigram_prob=arpa.unigram_prob, unigram_backoff=arpa.unigram_backoff)
        return writer.commit({
            "source": {"format": "arpa", "file": os.path.basename(str(path)), "ngrams": arpa.counts,
                       "blank_nodes": arpa.blanks, "added_unk": arpa.added_unk},
            "provenance": {"tool": "ngram import-arpa", "source_path": os.path.abspath(str(path))},
        })
    except BaseException:
        writer.abort()
        raise


def model_levels(model) -> tuple[np.ndarray, np.ndarray, list[tuple[np.ndarray, np.ndarray, np.ndarray]]]:
    """Every n-gram of an opened backoff model (``ngram.model.Model``): unigram prob and
    backoff, and per order 2..N the (grams, prob, backoff) of all shards, blanks included."""
    if model.value_kind != "backoff":
        raise ValueKindError(f"{model.path}: value kind {model.value_kind!r}, not a backoff model")
    if not model.shards:
        raise ValueKindError(f"{model.path}: no shard is open")
    per_order: list[list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = [[] for _ in range(model.order - 1)]
    uni = None
    for s in sorted(model.shards):
        levels, u = _decode_shard(model.shards[s])
        uni = uni or u
        for k, lv in enumerate(levels):
            per_order[k].append(lv)
    out = []
    for k, parts in enumerate(per_order, start=2):
        g = np.concatenate([p[0] for p in parts]) if parts else np.zeros((0, k), np.uint32)
        out.append((g, np.concatenate([p[1] for p in parts]), np.concatenate([p[2] for p in parts])))
    return uni[0], uni[1], out


def _decode_shard(table):
    """(levels [(grams, prob, backoff)], (unigram prob, unigram backoff)) of one shard."""
    from ..shard import raw_to_columns

    uni_raw, levels = table.decode()
    u = raw_to_columns(uni_raw, "backoff")
    out = []
    for grams, raw in levels:
        cols = raw_to_columns(raw, "backoff")
        out.append((grams, cols["prob"], cols["backoff"]))
    return out, (u["prob"], u["backoff"])


def export_arpa(model_dir: str | os.PathLike, out: str | os.PathLike | None = None) -> list[int]:
    """Write a backoff model directory as an ARPA file (``out`` None: standard output;
    compressed by suffix; written to a temporary file and renamed). Returns the counts."""
    from ..model import Model

    model = Model.open(model_dir)
    try:
        uprob, uback, levels = model_levels(model)
        words = [model.vocab.word_bytes(i) for i in range(len(model.vocab))]
        if out is None:
            return write_arpa(sys.stdout.buffer, model.order, words, uprob, uback, levels)
        with atomic_path(out) as tmp:
            with create_output(tmp, named=out) as f:
                return write_arpa(f, model.order, words, uprob, uback, levels)
    finally:
        model.close()
