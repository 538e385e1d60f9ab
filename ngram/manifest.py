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

from .errors import ModelFormatError
from .format import FORMAT_VERSION
from .sharding import SHARDING_NAME

MANIFEST_NAME = "manifest.json"
FORMAT_NAME = "ngram-server-model"


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
        "format": {"name": FORMAT_NAME, "version": FORMAT_VERSION},
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
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


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
    fmt = manifest.get("format", {})
    if fmt.get("name") != FORMAT_NAME:
        raise ModelFormatError(f"not a model manifest (format {fmt.get('name')!r})", str(path))
    if fmt.get("version") != FORMAT_VERSION:
        raise ModelFormatError(f"model format version {fmt.get('version')}, this reader reads {FORMAT_VERSION}",
                               str(path))
    for key in ("order", "vocab_size", "num_shards", "sharding", "value_kind", "files", "model_id"):
        if key not in manifest:
            raise ModelFormatError(f"manifest lacks {key!r}", str(path))
    if model_id_of(manifest) != manifest["model_id"]:
        raise ModelFormatError("manifest content does not match its model id (edited by hand?)", str(path))
    if manifest["sharding"].get("name") != SHARDING_NAME:
        raise ModelFormatError(f"unknown sharding function {manifest['sharding'].get('name')!r}", str(path))
    return manifest
