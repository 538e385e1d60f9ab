"""manifest.json: what a model directory holds, and the model id that names its version.

The model id is a hash of the manifest without its `provenance` block (host, times,
worker counts), so the same content always gets the same id, however it was built; the
`successors` block (the prediction index, ngram.successors) is left out too: adding the
index in place changes no lookup answer, so the id a cluster checks stays the same.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from .atomic import write_text_atomic
from .chains import VALUE_KINDS
from .errors import ModelFormatError
from .format import SHARD_VERSIONS
from .limits import MAX_ORDER
from .sharding import SHARDING_NAME

MANIFEST_NAME = "manifest.json"
VOCAB_FILE = "vocab.bin"
FORMAT_NAME = "ngram-server-model"
MAX_SHARDS = 99_999  # shard file names have five digits


def shard_file_name(shard: int, num_shards: int) -> str:
    return f"shard-{shard:05d}-of-{num_shards:05d}.bin"


def file_digest(path: Path) -> dict:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return {"bytes": os.path.getsize(path), "sha256": h.hexdigest()}


ID_EXCLUDED = ("provenance", "model_id", "successors")


def model_id_of(manifest: dict) -> str:
    content = {k: v for k, v in manifest.items() if k not in ID_EXCLUDED}
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:20]


def build_manifest(spec, vocab_size: int, summaries: list[dict], files: dict, metadata: dict) -> dict:
    order = spec.order
    per_shard = [s["ngrams"][1:] for s in summaries]
    totals = [vocab_size] + [sum(col) for col in zip(*per_shard)] if per_shard and per_shard[0] else [vocab_size]
    manifest = {
        "format": {"name": FORMAT_NAME, "version": spec.format_version},
        "order": order,
        "vocab_size": vocab_size,
        "num_shards": spec.num_shards,
        "sharding": {"name": SHARDING_NAME, "seed": spec.shard_seed},
        "value_kind": spec.value_kind,
        "quantization": str(spec.quantization),
        "ngrams": {"total": totals, "per_shard": per_shard},
        "files": files,
        "corpus": metadata.get("corpus", {}),
        "cutoffs": metadata.get("cutoffs", [1] * order),
        "tokenizer": metadata.get("tokenizer", {"kind": "whitespace", "lowercase": False}),
    }
    for key, value in metadata.items():
        if key not in manifest and key != "provenance":
            manifest[key] = value
    manifest["model_id"] = model_id_of(manifest)
    manifest["provenance"] = metadata.get("provenance", {})
    return manifest


def write_manifest(path: Path, manifest: dict) -> None:
    write_text_atomic(path, json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def read_manifest(model_dir: Path) -> dict:
    path = Path(model_dir) / MANIFEST_NAME
    if not Path(model_dir).is_dir():
        raise ModelFormatError("model directory does not exist", str(model_dir))
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise ModelFormatError("no manifest.json: not a model directory (or an unfinished build)", str(path)) from None
    except ValueError as e:
        raise ModelFormatError(f"manifest is not valid JSON: {e}", str(path)) from None
    if not isinstance(manifest, dict):
        raise ModelFormatError("manifest is not a JSON object", str(path))
    fmt = manifest.get("format", {})
    if not isinstance(fmt, dict) or fmt.get("name") != FORMAT_NAME:
        fmt = fmt if isinstance(fmt, dict) else {"name": fmt}
        raise ModelFormatError(f"not a model manifest (format {fmt.get('name')!r})", str(path))
    if fmt.get("version") not in SHARD_VERSIONS:
        raise ModelFormatError(f"model format version {fmt.get('version')}, this reader reads versions "
                               f"{', '.join(map(str, SHARD_VERSIONS))}", str(path))
    for key in ("order", "vocab_size", "num_shards", "sharding", "value_kind", "files", "model_id"):
        if key not in manifest:
            raise ModelFormatError(f"manifest lacks {key!r}", str(path))
    if model_id_of(manifest) != manifest["model_id"]:
        raise ModelFormatError("manifest content does not match its model id (edited by hand?)", str(path))
    _check_fields(manifest, str(path))
    return manifest


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _check_fields(m: dict, path: str) -> None:
    """Every field a reader relies on has its type and range (a manifest whose id was
    recomputed after an edit passes the id check)."""
    def bad(what: str):
        raise ModelFormatError(f"manifest field {what} is invalid", path)

    if not (_is_int(m["order"]) and 1 <= m["order"] <= MAX_ORDER):
        bad(f"'order' ({m['order']!r}; expected 1..{MAX_ORDER})")
    if not (_is_int(m["vocab_size"]) and 3 <= m["vocab_size"] < 2**31):
        bad(f"'vocab_size' ({m['vocab_size']!r})")
    if not (_is_int(m["num_shards"]) and 1 <= m["num_shards"] <= MAX_SHARDS):
        bad(f"'num_shards' ({m['num_shards']!r}; expected 1..{MAX_SHARDS})")
    sharding = m["sharding"]
    if not isinstance(sharding, dict) or not _is_int(sharding.get("seed")) or not 0 <= sharding["seed"] < 2**63:
        bad(f"'sharding' ({sharding!r})")
    if sharding.get("name") != SHARDING_NAME:
        raise ModelFormatError(f"unknown sharding function {sharding.get('name')!r}", path)
    if m["value_kind"] not in VALUE_KINDS:
        bad(f"'value_kind' ({m['value_kind']!r}; expected one of {', '.join(VALUE_KINDS)})")
    files = m["files"]
    if not isinstance(files, dict) or not all(
            isinstance(f, dict) and _is_int(f.get("bytes")) and f["bytes"] >= 0 and isinstance(f.get("sha256"), str)
            for f in files.values()):
        bad("'files' (each file needs its bytes and sha256)")
    ngrams = m.get("ngrams", {"total": [m["vocab_size"]], "per_shard": []})
    if not isinstance(ngrams, dict) or not isinstance(ngrams.get("total"), list) or not all(
            _is_int(n) and n >= 0 for n in ngrams["total"]):
        bad("'ngrams'")
