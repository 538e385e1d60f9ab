"""The forward successor index of a model (docs/PREDICTION.md): write, open, check.

Files (containers of ngram.format, kind b"SUC2"), listed in the manifest's `successors`
block (kept out of the model id: the lookup content is unchanged):
  successors-common.bin                    one-word contexts (every server maps it)
  successors-00003-of-00008.bin            contexts of two or more words whose last two
                                           words hash to shard 3 (ngram.sharding.shard_of_pair)
A part's arrays (built by ngram.successor_build; read by ngram.kernels.successors):
per field (records, Elias-Fano offsets, minimal perfect hash, value tables) the levels
concatenated with `<field>_base` offsets, `meta` int64[N, 6] per level, and in the
common part `uni_order` (words by unigram score, empty when that is the id order).
Opening with verification decodes every record and checks every offset, label, rank
and hash slot, so that a file that passed is read exactly; without it, every read is
clamped into its array (a corrupt file gives wrong answers, never a crash).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .atomic import atomic_path, write_text_atomic
from .chains import COUNTS
from .errors import ModelFormatError
from .format import open_container, verify_container, write_container
from .manifest import MANIFEST_NAME, file_digest, model_id_of, read_manifest
from .successor_build import FIELDS, META_COLUMNS, build_parts, part_arrays, unigram_order, unigram_values

SUCCESSOR_KIND = b"SUC2"
SUCCESSOR_VERSION = 2
COMMON_NAME = "successors-common.bin"
NEEDS_INDEX = "this model has no successor index; prediction needs one: run `ngram index-successors {path}`"
OLD_INDEX = "successor index of format {v}, this program reads {want}: run `ngram index-successors {path}` again"


def successor_file_name(shard: int, num_shards: int) -> str:
    return f"successors-{shard:05d}-of-{num_shards:05d}.bin"


@dataclass
class SuccessorPart:
    """One opened part: `arrays` in the kernel's tuple order (ngram.kernels.successors)."""

    arrays: tuple
    uni_order: np.ndarray
    container: object = None

    @property
    def nbytes(self) -> int:
        return int(self.container.size) if self.container is not None else 0


TUPLE_ORDER = ("rec", "rec_base", "efhi", "efhi_base", "efs", "efs_base", "eflo", "eflo_base", "mbits", "mbits_base",
               "mrank", "mrank_base", "mround", "mround_base", "values", "values_base", "meta")


def empty_part(order: int, value_kind: str) -> SuccessorPart:
    a = part_arrays({}, order, value_kind)
    return SuccessorPart(tuple(a[k] for k in TUPLE_ORDER), np.zeros(0, np.int32))


def write_index(model_dir: str | os.PathLike, model=None) -> dict:
    """Build the successor index of a model directory and add it in place: the part files
    are written atomically, then the manifest is rewritten atomically with its
    `successors` block (the model id does not change). Returns the block."""
    from .model import Model  # late: ngram.model imports the writer, which needs no index
    model_dir = Path(model_dir)
    own = model is None
    model = Model.open(model_dir) if own else model
    try:
        N, kind = model.order, model.value_kind
        common, parts = build_parts(model)
        common_arrays = part_arrays(common, N, kind)
        table = next(iter(model.shards.values()))
        common_arrays["uni_order"] = unigram_order(unigram_values(table, len(model.vocab), kind), kind)
        meta = {"order": N, "num_shards": model.num_shards, "value_kind": kind,
                "vocab_size": len(model.vocab), "model_id": model.model_id, "version": SUCCESSOR_VERSION}
        files = {}
        for name, arrays, shard in [(COMMON_NAME, common_arrays, -1)] + [
                (successor_file_name(s, model.num_shards), part_arrays(p, N, kind), s) for s, p in enumerate(parts)]:
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
    if block.get("version") != SUCCESSOR_VERSION:
        raise ModelFormatError(OLD_INDEX.format(v=block.get("version"), want=SUCCESSOR_VERSION, path=path.parent),
                               str(path))
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
    try:
        if verify:
            verify_container(c)
        part = _checked_part(c, manifest, shard, str(path))
        if verify:
            from .successor_check import deep_problem
            bad = deep_problem(part, manifest, shard)
            if bad:
                raise ModelFormatError(f"corrupt successor index: {bad}", str(path))
    except Exception:
        c.close()
        raise
    return part


def _checked_part(c, manifest: dict, shard: int, path: str) -> SuccessorPart:
    """The part's arrays after the cheap checks: header, names, dtypes, shapes, bases."""
    h = c.header
    N, V = int(manifest["order"]), int(manifest["vocab_size"])
    expect = (N, int(manifest["num_shards"]), manifest["value_kind"], V, manifest["model_id"], shard)
    got = tuple(h.get(k) for k in ("order", "num_shards", "value_kind", "vocab_size", "model_id", "shard"))
    if got != expect:
        raise ModelFormatError(f"successor file header {got} disagrees with the model {expect}", path)
    a = c.arrays
    vd = np.uint64 if manifest["value_kind"] == COUNTS else np.float32
    dtypes = {"rec": np.uint64, "efhi": np.uint64, "efs": np.int64, "eflo": np.uint64, "mbits": np.uint64,
              "mrank": np.int64, "mround": np.int64, "values": vd}
    for f in FIELDS:
        arr, base = a.get(f), a.get(f + "_base")
        if arr is None or base is None:
            raise ModelFormatError(f"successor file lacks array {f!r}", path)
        if arr.dtype != dtypes[f] or base.dtype != np.int64 or base.shape != (N + 1,) \
                or arr.ndim != (2 if f == "mround" else 1) or (f == "mround" and arr.shape[1] != 2):
            raise ModelFormatError(f"corrupt successor index: array {f!r} has the wrong type or shape", path)
        if base[0] != 0 or base[-1] != len(arr) or (np.diff(base) < 0).any():
            raise ModelFormatError(f"corrupt successor index: the level offsets of {f!r} are not a monotone "
                                   "cover of it", path)
    meta = a.get("meta")
    if meta is None or meta.dtype != np.int64 or meta.shape != (N, META_COLUMNS):
        raise ModelFormatError("corrupt successor index: level table has the wrong type or shape", path)
    uni = a.get("uni_order", np.zeros(0, np.int32))
    if uni.dtype != np.int32 or uni.ndim != 1 or len(uni) not in (0, V) or (len(uni) and (uni.min() < 0 or uni.max() >= V)):
        raise ModelFormatError("corrupt successor index: the unigram order is not a list of word ids", path)
    return SuccessorPart(tuple(np.ascontiguousarray(a[k]) for k in TUPLE_ORDER), uni, c)


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
