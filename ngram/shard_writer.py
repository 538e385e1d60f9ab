"""Encoding one shard: sorted n-gram arrays -> one shard file (format in ngram.format,
layout fields in ngram.kernels.layout). Any process may call `encode_shard` (the
builder's reduce tasks do)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .chains import COUNTS, VALUE_KINDS
from .format import FORMAT_VERSION, SHARD_KIND, SHARD_VERSIONS, write_container
from .kernels import codecs
from .kernels import layout as LY
from .kernels.trie_build import first_unsorted, parent_indices
from .limits import MAX_ORDER, QUANTIZATIONS
from .sharding import SHARDING_NAME, shard_of_pair
from .v2_keys_writer import big_range_fields
from .value_columns import DataWords, value_columns
from .errors import InvalidArgumentError

VALUE_CONTEXT = ("auto", "always", "never")


@dataclass(frozen=True)
class ShardSpec:
    """What every shard of a model shares. Picklable, so build tasks can carry it."""

    order: int
    num_shards: int
    shard_seed: int = 0
    value_kind: str = COUNTS
    quantization: str = "none"
    # value columns coded by their parent's value: "auto" where smaller, or always/never
    # (tests force both paths; the choice is recorded in the layout, readers need no flag)
    value_context: str = "auto"
    # the shard format written (docs/FORMAT_V2.md): 2, or 1 for tests and benches that
    # compare the two
    format_version: int = FORMAT_VERSION

    def __post_init__(self):
        if not 1 <= self.order <= MAX_ORDER:
            raise InvalidArgumentError(f"order must be 1..{MAX_ORDER}, not {self.order}")
        if self.num_shards < 1:
            raise InvalidArgumentError(f"num_shards must be >= 1, not {self.num_shards}")
        if self.value_kind not in VALUE_KINDS:
            raise InvalidArgumentError(f"value_kind must be one of {VALUE_KINDS}")
        if str(self.quantization) not in QUANTIZATIONS:
            raise InvalidArgumentError(f"quantization must be one of {QUANTIZATIONS}")
        if self.value_context not in VALUE_CONTEXT:
            raise InvalidArgumentError(f"value_context must be one of {VALUE_CONTEXT}")
        if self.format_version not in SHARD_VERSIONS:
            raise InvalidArgumentError(f"format_version must be one of {SHARD_VERSIONS}")
        if self.value_kind == COUNTS and str(self.quantization) != "none":
            raise InvalidArgumentError("counts are stored exactly; quantization applies to backoff models")

    @property
    def ncols(self) -> int:
        return 1 if self.value_kind == COUNTS else 2


@dataclass
class Level:
    """One order k >= 2 of one shard: rows unique, sorted by (w_k, ..., w_1)."""

    grams: np.ndarray
    counts: np.ndarray | None = None
    prob: np.ndarray | None = None
    backoff: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.grams)


def _check_level(k: int, level: Level, spec: ShardSpec, shard: int, vocab_size: int) -> np.ndarray:
    grams = np.ascontiguousarray(level.grams, dtype=np.uint32)
    if grams.ndim != 2 or grams.shape[1] != k:
        raise InvalidArgumentError(f"level {k}: grams must have shape (n, {k}), not {grams.shape}")
    n = len(grams)
    if spec.value_kind == COUNTS:
        if level.counts is None or len(level.counts) != n:
            raise InvalidArgumentError(f"level {k}: need one count per n-gram")
        if n and int(np.min(level.counts)) < 1:
            raise InvalidArgumentError(f"level {k}: stored counts must be >= 1")
    elif level.prob is None or level.backoff is None or len(level.prob) != n or len(level.backoff) != n:
        raise InvalidArgumentError(f"level {k}: need prob and backoff per n-gram")
    if n:
        if int(grams.max()) >= vocab_size:
            raise InvalidArgumentError(f"level {k}: word id {int(grams.max())} outside the vocabulary of {vocab_size}")
        bad = first_unsorted(grams)
        if bad >= 0:
            raise InvalidArgumentError(f"level {k}: row {bad} is out of order or duplicated (rows must be unique and "
                             f"sorted by (w_k, ..., w_1))")
        owner = shard_of_pair(grams[:, -2], grams[:, -1], spec.num_shards, spec.shard_seed)
        wrong = np.flatnonzero(owner != shard)
        if len(wrong):
            raise InvalidArgumentError(f"level {k}: row {wrong[0]} belongs to shard {owner[wrong[0]]}, not {shard}")
    return grams


def _child_pointers(pidx: np.ndarray, n_prev: int, n: int, data: DataWords) -> dict:
    """The child ranges of every level-(k-1) node: a monotone sequence of n_prev + 1
    values, Elias-Fano coded."""
    ptr = np.searchsorted(pidx, np.arange(n_prev + 1), side="left").astype(np.uint64)
    L = codecs.ef_low_bits(len(ptr), int(n) + 1)
    lo, hi, d = codecs.ef_encode(ptr, L)
    rank = codecs.fixed_encode(codecs.ef_rank_directory(hi), 32)
    return dict(ef_l=L, ef_lo=data.add(lo), ef_hi=data.add(hi), ef_hi_words=len(hi), ef_dir=data.add(d),
                ef_rank=data.add(rank))


def _keys(grams: np.ndarray, pidx: np.ndarray, vocab_size: int, data: DataWords, version: int) -> dict:
    """Leftmost words: absolute at range starts, else the gap to the previous key minus
    one; every RESTART-th key also goes to a fixed-width side array for binary search.
    Format 2 stores 0 at those restart points (the side array has the key) and adds
    bucket directories to the large ranges (ngram.v2_keys_writer)."""
    n = len(grams)
    key = grams[:, 0].astype(np.int64)
    first = np.ones(n, bool)
    if n > 1:
        first[1:] = pidx[1:] != pidx[:-1]
    stored = key.copy()
    if n > 1:
        stored[1:] = np.where(first[1:], key[1:], key[1:] - key[:-1] - 1)
    if version >= 2:
        stored[::LY.RESTART] = 0
    W = max(16, int(stored.max()).bit_length()) if n else 16
    nib, mant, kd = codecs.nib_encode(stored.astype(np.uint64), W)
    side_w = max(1, int(vocab_size - 1).bit_length())
    side = codecs.fixed_encode(key[::LY.RESTART].astype(np.uint64), side_w)
    fields = dict(k_nib=data.add(nib), k_mant=data.add(mant), k_dir=data.add(kd), k_w=W, k_side=data.add(side),
                  k_side_w=side_w)
    if version >= 2:
        fields.update(big_range_fields(key, pidx, data))
    return fields


def encode_shard(path: str | os.PathLike, spec: ShardSpec, shard: int, levels: list[Level], *,
                 unigram_counts: np.ndarray | None = None, unigram_prob: np.ndarray | None = None,
                 unigram_backoff: np.ndarray | None = None) -> dict:
    """Encode one shard (levels = orders 2..N) into `path`; returns its summary."""
    if len(levels) != spec.order - 1:
        raise InvalidArgumentError(f"need {spec.order - 1} levels (orders 2..{spec.order}), got {len(levels)}")
    if spec.value_kind == COUNTS:
        if unigram_counts is None:
            raise InvalidArgumentError("a counts model needs unigram_counts")
        vocab_size = len(unigram_counts)
    else:
        if unigram_prob is None or unigram_backoff is None:
            raise InvalidArgumentError("a backoff model needs unigram_prob and unigram_backoff")
        vocab_size = len(unigram_prob)
    data = DataWords()
    lay = np.zeros((spec.order + 1, LY.FIELDS), np.int64)
    mode, quant = spec.value_context, spec.quantization
    cols, syms = value_columns(spec.value_kind, quant, mode, data, [None] * spec.ncols, counts=unigram_counts,
                               prob=unigram_prob, backoff=unigram_backoff)
    LY.layout_row(lay[1], dict(n=vocab_size), cols)
    prev_grams = None
    n_prev = vocab_size
    for k, level in enumerate(levels, start=2):
        grams = _check_level(k, level, spec, shard, vocab_size)
        n = len(grams)
        if k == 2:
            pidx = grams[:, 1].astype(np.int64) if n else np.zeros(0, np.int64)
        else:
            pidx, orphan = parent_indices(grams, prev_grams) if n else (np.zeros(0, np.int64), -1)
            if orphan >= 0:
                raise InvalidArgumentError(f"level {k}: n-gram {grams[orphan].tolist()} has no suffix at level {k - 1}")
        fields = dict(n=n, **_child_pointers(pidx, n_prev, n, data),
                      **_keys(grams, pidx, vocab_size, data, spec.format_version))
        parents = [None if ps is None else (ps[pidx], int(ps.max()) + 1 if len(ps) else 0) for ps in syms]
        cols, syms = value_columns(spec.value_kind, quant, mode, data, parents, counts=level.counts,
                                   prob=level.prob, backoff=level.backoff)
        LY.layout_row(lay[k], fields, cols)
        prev_grams, n_prev = grams, n
    words = data.finish()
    lay[0, [LY.G_ORDER, LY.G_VOCAB, LY.G_NCOLS, LY.G_ABSENT, LY.G_WORDS]] = (
        spec.order, vocab_size, spec.ncols, 0 if spec.value_kind == COUNTS else LY.NAN_BITS, len(words))
    if spec.format_version == 1:
        lay = lay[:, :LY.FIELDS_V1]  # v1's table, exactly as v1 wrote it
    else:
        lay[0, LY.G_VERSION] = spec.format_version
    ngrams = [vocab_size] + [len(lv) for lv in levels]
    size = write_container(path, SHARD_KIND, {"data": words, "layout": lay}, {
        "shard": shard, "num_shards": spec.num_shards, "order": spec.order, "value_kind": spec.value_kind,
        "quantization": str(spec.quantization), "sharding": {"name": SHARDING_NAME, "seed": spec.shard_seed},
        "vocab_size": vocab_size, "ngrams": ngrams,
    }, version=spec.format_version)
    return {"shard": shard, "file": Path(path).name, "bytes": size, "ngrams": ngrams}
