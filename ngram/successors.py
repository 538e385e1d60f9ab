"""The forward successor index of a model (docs/PREDICTION.md): build, write, open, check.

Files (containers of ngram.format, kind b"SUC1"), listed in the manifest's `successors`
block (kept out of the model id: the lookup content is unchanged):
  successors-common.bin                    contexts of length 0 and 1 (every server maps it)
  successors-00003-of-00008.bin            contexts of length >= 2 whose last two words
                                           hash to shard 3 (ngram.sharding.shard_of_pair)
Arrays of a part: ctx int32[n, W] (W = max(N-1, 1), zero-padded), level_bounds
int64[N+1], starts int64[n+1], words int32[E], values (uint64 counts or float32 log10
prob)[E] (counts as uint32 where they fit), byword int32[E], bucket_offsets int64[N+1],
buckets int32[...]. Opening checks every array's shape, range and order that a kernel
indexes with, so no byte pattern can make a read leave its array.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .atomic import atomic_path, write_text_atomic
from .chains import COUNTS
from .errors import InvalidArgumentError, ModelFormatError
from .format import open_container, verify_container, write_container
from .manifest import MANIFEST_NAME, file_digest, model_id_of, read_manifest
from .kernels.successors import context_buckets
from .sharding import shard_of_pair

SUCCESSOR_KIND = b"SUC1"
SUCCESSOR_VERSION = 1
COMMON_NAME = "successors-common.bin"
NEEDS_INDEX = "this model has no successor index; prediction needs one: run `ngram index-successors {path}`"


def successor_file_name(shard: int, num_shards: int) -> str:
    return f"successors-{shard:05d}-of-{num_shards:05d}.bin"


@dataclass
class SuccessorPart:
    """One opened part (common or one shard's): arrays ready for the kernel."""

    ctx: np.ndarray
    level_bounds: np.ndarray
    starts: np.ndarray
    words: np.ndarray
    values: np.ndarray
    byword: np.ndarray
    bucket_offsets: np.ndarray
    buckets: np.ndarray
    container: object = None

    @property
    def nbytes(self) -> int:
        return int(self.container.size) if self.container is not None else 0


def empty_part(order: int, value_kind: str) -> SuccessorPart:
    W = max(order - 1, 1)
    vd = np.uint64 if value_kind == COUNTS else np.float32
    return SuccessorPart(np.zeros((0, W), np.int32), np.zeros(order + 1, np.int64), np.zeros(1, np.int64),
                         np.zeros(0, np.int32), np.zeros(0, vd), np.zeros(0, np.int32), np.zeros(order + 1, np.int64),
                         np.zeros(0, np.int32))


# -- building ------------------------------------------------------------------------------
def _value_sort_key(values: np.ndarray, value_kind: str) -> np.ndarray:
    """A key whose ascending order is the order of the scores the kernel gives: values
    descending, a count 0 as 1 (an unseen word's floor equals a count of 1) and a NaN
    prob as -100."""
    if value_kind == COUNTS:
        return np.iinfo(np.uint64).max - np.maximum(values.astype(np.uint64), 1)
    v = values.astype(np.float64)
    return -np.where(np.isnan(v), -100.0, v)


def build_part(contexts: np.ndarray, ctx_len: np.ndarray, words: np.ndarray, values: np.ndarray, order: int,
               value_kind: str) -> dict[str, np.ndarray]:
    """Arrays of one part from its (context, word, value) rows (contexts left-aligned,
    zero-padded to W columns; each (context, word) once)."""
    W = max(order - 1, 1)
    n_rows = len(words)
    cols = [contexts[:, c] for c in range(W - 1, -1, -1)]
    order_rows = np.lexsort([words, _value_sort_key(values, value_kind)] + cols + [ctx_len])
    contexts, ctx_len = contexts[order_rows], ctx_len[order_rows]
    words, values = words[order_rows].astype(np.int32), values[order_rows]
    if n_rows:
        new = np.ones(n_rows, bool)
        new[1:] = (ctx_len[1:] != ctx_len[:-1]) | (contexts[1:] != contexts[:-1]).any(axis=1)
        first = np.flatnonzero(new)
    else:
        first = np.zeros(0, np.int64)
    starts = np.append(first, n_rows).astype(np.int64)
    if len(first) >= 2 ** 31:
        raise InvalidArgumentError(f"{len(first)} contexts in one successor part: above the 2^31 its int32 "
                                   "bucket tables address; build the model with more shards")
    ctx = np.ascontiguousarray(contexts[first], dtype=np.int32).reshape(len(first), W)
    levels = ctx_len[first].astype(np.int64)
    level_bounds = np.searchsorted(levels, np.arange(order + 1), side="left").astype(np.int64)
    # group each level's contexts by hash bucket (2^bits >= its contexts), lists following
    sizes = np.diff(level_bounds)
    bits = np.array([int(max(0, int(n - 1).bit_length() - 1)) for n in sizes], np.int64)  # 1-2 per bucket
    bucket = np.zeros(len(first), np.int64)
    context_buckets(ctx, levels, bits[levels], bucket)
    perm = np.lexsort([bucket, levels])  # stable: lexicographic within a bucket
    ctx, bucket = ctx[perm], bucket[perm]
    lens = np.diff(starts)[perm]
    new_starts = np.zeros(len(perm) + 1, np.int64)
    np.cumsum(lens, out=new_starts[1:])
    src = np.repeat(starts[:-1][perm] - new_starts[:-1], lens) + np.arange(n_rows)
    words, values, starts = words[src], values[src], new_starts
    tables, bucket_offsets = [], [0]
    for j in range(order):
        n = int(sizes[j])
        if n == 0:
            bucket_offsets.append(bucket_offsets[-1])
            continue
        counts = np.bincount(bucket[level_bounds[j]:level_bounds[j + 1]], minlength=1 << int(bits[j]))
        tables.append(np.concatenate([[0], np.cumsum(counts)]) + level_bounds[j])
        bucket_offsets.append(bucket_offsets[-1] + len(tables[-1]))
    group = np.repeat(np.arange(len(first)), np.diff(starts))
    byword = words[np.lexsort([words, group])].astype(np.int32)
    vd = np.float32 if value_kind != COUNTS else (np.uint32 if not n_rows or values.max() < 2 ** 32 else np.uint64)
    return {"ctx": ctx, "level_bounds": level_bounds, "starts": starts, "words": words,
            "values": values.astype(vd), "byword": byword,
            "bucket_offsets": np.array(bucket_offsets, np.int64),
            "buckets": np.concatenate(tables).astype(np.int32) if tables else np.zeros(0, np.int32)}


def build_index(model) -> tuple[dict[str, np.ndarray], list[dict[str, np.ndarray]]]:
    """(common part, [part of shard s]) of an opened Model (every shard open): each
    stored n-gram (context, word) with a value becomes an entry of its context's list."""
    N, S, V, seed = model.order, model.num_shards, len(model.vocab), model.shard_seed
    W = max(N - 1, 1)
    kind = model.value_kind
    uni = model.lookup(np.arange(V, dtype=np.int32)[:, None], np.ones(V, np.int32), check=False)
    uni_values = uni.counts[:, 0] if kind == COUNTS else uni.prob[:, 0]
    common = [(np.zeros((V, W), np.int32), np.zeros(V, np.int64), np.arange(V, dtype=np.int32), uni_values)]
    per_shard: list[list] = [[] for _ in range(S)]
    for s in sorted(model.shards):
        _, levels = model.shards[s].decode()
        for k, (grams, raw) in enumerate(levels, start=2):
            if kind == COUNTS:
                values = raw[:, 0].astype(np.uint64)
                keep = values > 0
            else:
                values = raw[:, 0].astype(np.uint32).view(np.float32)
                keep = ~np.isnan(values)  # blank nodes hold no probability
            grams, values = grams[keep], values[keep]
            j = k - 1
            ctx = np.zeros((len(grams), W), np.int32)
            ctx[:, :j] = grams[:, :j]
            rows = (ctx, np.full(len(grams), j, np.int64), grams[:, j].astype(np.int32), values)
            if j == 1:
                common.append(rows)
                continue
            target = shard_of_pair(grams[:, j - 2], grams[:, j - 1], S, seed)
            for t in np.unique(target):
                sel = target == t
                per_shard[int(t)].append(tuple(a[sel] for a in rows))

    def part(chunks):
        if not chunks:
            return {k: v for k, v in vars(empty_part(N, kind)).items() if k != "container"}
        return build_part(*(np.concatenate([c[i] for c in chunks]) for i in range(4)), N, kind)
    return part(common), [part(per_shard[s]) for s in range(S)]


def write_index(model_dir: str | os.PathLike, model=None) -> dict:
    """Build the successor index of a model directory and add it in place: the part files
    are written atomically, then the manifest is rewritten atomically with its
    `successors` block (the model id does not change). Returns the block."""
    from .model import Model  # late: ngram.model imports the writer, which needs no index
    model_dir = Path(model_dir)
    own = model is None
    model = Model.open(model_dir) if own else model
    try:
        common, parts = build_index(model)
        meta = {"order": model.order, "num_shards": model.num_shards, "value_kind": model.value_kind,
                "vocab_size": len(model.vocab), "model_id": model.model_id, "version": SUCCESSOR_VERSION}
        files = {}
        for name, arrays, shard in [(COMMON_NAME, common, -1)] + [
                (successor_file_name(s, model.num_shards), p, s) for s, p in enumerate(parts)]:
            with atomic_path(model_dir / name) as tmp:
                write_container(tmp, SUCCESSOR_KIND, arrays, {**meta, "shard": shard})
            files[name] = file_digest(model_dir / name)
    finally:
        if own:
            model.close()
    manifest = read_manifest(model_dir)
    block = {"version": SUCCESSOR_VERSION, "files": files}
    manifest["successors"] = block
    if model_id_of(manifest) != manifest["model_id"]:
        raise AssertionError("the successors block must stay out of the model id")
    import json
    write_text_atomic(model_dir / MANIFEST_NAME, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return block


# -- opening -------------------------------------------------------------------------------
def has_index(manifest: dict) -> bool:
    return "successors" in manifest


def open_part(path: Path, manifest: dict, shard: int, verify: bool = True) -> SuccessorPart:
    """Map one part and check it against the manifest and itself (see module doc)."""
    block = manifest["successors"]
    name = path.name
    want = block.get("files", {}).get(name) if isinstance(block, dict) and isinstance(block.get("files"), dict) \
        else None
    if not isinstance(want, dict) or not isinstance(want.get("bytes"), int) or not isinstance(want.get("sha256"), str):
        raise ModelFormatError("the manifest's successors block does not list this file with its size and "
                               "SHA-256; run `ngram index-successors` again", str(path))
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ModelFormatError("successor file listed in the manifest is missing; "
                               "run `ngram index-successors` again", str(path)) from None
    if size != want["bytes"]:
        raise ModelFormatError(f"size {size} differs from the manifest's {want['bytes']}", str(path))
    if verify and file_digest(path) != want:
        raise ModelFormatError("checksum differs from the manifest: the successor file is corrupt or was "
                               "replaced; run `ngram index-successors` again", str(path))
    c = open_container(path, SUCCESSOR_KIND)
    if verify:
        verify_container(c)
    h = c.header
    N, V = int(manifest["order"]), int(manifest["vocab_size"])
    W = max(N - 1, 1)
    expect = (N, int(manifest["num_shards"]), manifest["value_kind"], V, manifest["model_id"], shard)
    got = tuple(h.get(k) for k in ("order", "num_shards", "value_kind", "vocab_size", "model_id", "shard"))
    if got != expect:
        raise ModelFormatError(f"successor file header {got} disagrees with the model {expect}", str(path))
    a = c.arrays
    try:
        ctx, lb, starts, words, values, byword, boff, buckets = (
            a[k] for k in ("ctx", "level_bounds", "starts", "words", "values", "byword", "bucket_offsets", "buckets"))
    except KeyError as e:
        raise ModelFormatError(f"successor file lacks array {e}", str(path)) from None
    vds = (np.uint32, np.uint64) if manifest["value_kind"] == COUNTS else (np.float32,)
    n, E = len(starts) - 1, len(words)
    bad = None
    if ctx.dtype != np.int32 or ctx.ndim != 2 or ctx.shape[1] != W or lb.dtype != np.int64 or lb.shape != (N + 1,):
        bad = "context array or level bounds have the wrong type or shape"
    elif starts.dtype != np.int64 or starts.ndim != 1 or n != len(ctx) or words.dtype != np.int32 \
            or byword.dtype != np.int32 or values.dtype not in vds or words.shape != (E,) or values.shape != (E,) \
            or byword.shape != (E,):
        bad = "list arrays have the wrong type or shape"
    elif starts[0] != 0 or starts[-1] != E or (np.diff(starts) < 0).any():
        bad = "list starts are not a monotone cover of the entries"
    elif lb[0] != 0 or lb[-1] != n or (np.diff(lb) < 0).any():
        bad = "level bounds are not a monotone cover of the contexts"
    elif E and (words.min() < 0 or words.max() >= V or byword.min() < 0 or byword.max() >= V):
        bad = "a successor word id lies outside the vocabulary"
    elif ctx.size and (ctx.min() < 0 or ctx.max() >= V):
        bad = "a context word id lies outside the vocabulary"
    else:
        bad = _bucket_problem(lb, boff, buckets, N)
    if bad:
        raise ModelFormatError(f"corrupt successor index: {bad}", str(path))
    return SuccessorPart(ctx, lb, starts, words, values, byword, boff, buckets, c)


def _bucket_problem(lb, boff, buckets, N: int) -> str | None:
    """Why the bucket tables could send a kernel outside its level's rows, or None."""
    if boff.dtype != np.int64 or boff.shape != (N + 1,) or buckets.dtype != np.int32 or buckets.ndim != 1:
        return "bucket tables have the wrong type or shape"
    if boff[0] != 0 or boff[-1] != len(buckets) or (np.diff(boff) < 0).any():
        return "bucket offsets are not a monotone cover of the bucket tables"
    for j in range(N):
        t = buckets[boff[j]:boff[j + 1]]
        n = lb[j + 1] - lb[j]
        if len(t) == 0:
            if n:
                return f"level {j} has contexts but no bucket table"
            continue
        nb = len(t) - 1
        if nb < 1 or nb & (nb - 1) or t[0] != lb[j] or t[-1] != lb[j + 1] or (np.diff(t) < 0).any():
            return f"bucket table of level {j} is not a monotone cover of its contexts"
    return None


class SuccessorIndex:
    """The common part and the parts of the shards a process serves."""

    def __init__(self, common: SuccessorPart, parts: dict[int, SuccessorPart]):
        self.common = common
        self.parts = parts

    @classmethod
    def open(cls, model_dir: str | os.PathLike, manifest: dict, shards, verify: bool = True) -> "SuccessorIndex":
        model_dir = Path(model_dir)
        if not has_index(manifest):
            raise ModelFormatError(NEEDS_INDEX.format(path=model_dir), str(model_dir))
        S = int(manifest["num_shards"])
        common = open_part(model_dir / COMMON_NAME, manifest, -1, verify)
        parts = {int(s): open_part(model_dir / successor_file_name(int(s), S), manifest, int(s), verify)
                 for s in shards}
        return cls(common, parts)

    @property
    def nbytes(self) -> int:
        return self.common.nbytes + sum(p.nbytes for p in self.parts.values())

    def close(self) -> None:
        for p in [self.common, *self.parts.values()]:
            if p.container is not None:
                p.container.close()
