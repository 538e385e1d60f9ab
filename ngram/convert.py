"""`ngram convert`: rewrite a model's shards in another shard format (v1 -> v2, or back
for comparisons), atomically.

Each shard is decoded (ngram.shard.ShardTable.decode) and encoded again with the same
spec, so the answers are the same: counts are exact, float values are copied bit for
bit (quantization is exact on values that are already quantized: no more distinct
values than centers). The new model is written beside the target and renamed into place
(ngram.model_writer), so a reader sees the old model or the new one, never a mix. The
model id changes with the files' checksums, so a successor index (whose files name the
model id, ngram.successors) is left out: `ngram index-successors` rebuilds it.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

from .chains import COUNTS
from .errors import InvalidArgumentError
from .format import FORMAT_VERSION, SHARD_VERSIONS
from .manifest import MANIFEST_NAME, VOCAB_FILE, read_manifest, shard_file_name
from .model import Model
from .model_writer import ModelWriter
from .shard import raw_to_columns
from .shard_writer import Level, ShardSpec

# manifest keys the writer computes itself; the rest is carried over
_COMPUTED = ("format", "order", "vocab_size", "num_shards", "sharding", "value_kind", "quantization", "ngrams",
             "files", "model_id", "successors")
SUCCESSOR_PREFIX = "successors-"  # the successor index's files (ngram.successors), not carried over


def convert_model(model_dir: str | os.PathLike, out_dir: str | os.PathLike | None = None,
                  version: int = FORMAT_VERSION) -> dict:
    """Rewrite the model at `model_dir` in shard format `version`, in place or into
    `out_dir`; returns the new manifest. The source is verified first (its checksums),
    so a corrupt model is refused rather than converted."""
    if version not in SHARD_VERSIONS:
        raise InvalidArgumentError(f"format version must be one of {SHARD_VERSIONS}")
    src = Path(model_dir)
    manifest = read_manifest(src)
    spec = ShardSpec(order=manifest["order"], num_shards=manifest["num_shards"],
                     shard_seed=manifest["sharding"]["seed"], value_kind=manifest["value_kind"],
                     quantization=str(manifest.get("quantization", "none")), format_version=version)
    model = Model.open(src, verify=True)
    writer = ModelWriter(src if out_dir is None else out_dir, spec, model.vocab)
    try:
        for s, table in model.shards.items():
            uni, levels = table.decode()
            writer.write_shard(s, [_level(grams, raw, spec.value_kind) for grams, raw in levels],
                               **_unigrams(uni, spec.value_kind))
        _copy_other_files(src, writer.tmp_dir, manifest["num_shards"])
        metadata = {k: v for k, v in manifest.items() if k not in _COMPUTED}
        model.close()
        return writer.commit(metadata)
    except BaseException:
        model.close()
        writer.abort()
        raise


def _level(grams: np.ndarray, raw: np.ndarray, value_kind: str) -> Level:
    if value_kind == COUNTS:
        return Level(grams, counts=raw[:, 0].copy())
    cols = raw_to_columns(raw, value_kind)
    return Level(grams, prob=cols["prob"], backoff=cols["backoff"])


def _unigrams(raw: np.ndarray, value_kind: str) -> dict:
    if value_kind == COUNTS:
        return {"unigram_counts": raw[:, 0].copy()}
    cols = raw_to_columns(raw, value_kind)
    return {"unigram_prob": cols["prob"], "unigram_backoff": cols["backoff"]}


def _copy_other_files(src: Path, dst: Path, num_shards: int) -> None:
    """Files of the model directory that are neither shards, nor rewritten by the writer,
    nor the successor index (notes, a build lock): copied unchanged."""
    skip = {MANIFEST_NAME, VOCAB_FILE} | {shard_file_name(s, num_shards) for s in range(num_shards)}
    for f in src.iterdir():
        if f.is_file() and f.name not in skip and not f.name.startswith(SUCCESSOR_PREFIX):
            shutil.copy2(f, dst / f.name)
