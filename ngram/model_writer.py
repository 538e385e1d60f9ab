"""Publishing a model directory: shards, vocabulary and manifest are written into a
temporary directory beside the target, then renamed into place with one rename, so a
reader never sees half a model."""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from .manifest import MANIFEST_NAME, VOCAB_FILE, build_manifest, file_digest, shard_file_name, write_manifest
from .shard_writer import Level, ShardSpec, encode_shard
from .vocab import Vocabulary
from .errors import InvalidArgumentError


class ModelWriter:
    """Collects a model in a temporary directory beside `out_dir`, then publishes it."""

    def __init__(self, out_dir: str | os.PathLike, spec: ShardSpec, vocab: Vocabulary, *,
                 tmp_dir: str | os.PathLike | None = None):
        self.out_dir = Path(out_dir)
        self.spec = spec
        self.vocab = vocab
        if self.out_dir.exists() and not (self.out_dir / MANIFEST_NAME).exists() and any(self.out_dir.iterdir()):
            raise FileExistsError(f"{self.out_dir} exists and is not a model directory; refusing to replace it")
        self.tmp_dir = Path(tmp_dir) if tmp_dir else self.out_dir.with_name(
            f".{self.out_dir.name}.tmp-{os.getpid()}-{time.time_ns()}")
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        self.summaries: dict[int, dict] = {}

    def shard_path(self, shard: int) -> Path:
        return self.tmp_dir / shard_file_name(shard, self.spec.num_shards)

    def write_shard(self, shard: int, levels: list[Level], **unigram) -> dict:
        if not unigram:
            unigram = {"unigram_counts": self.vocab.counts}
        summary = encode_shard(self.shard_path(shard), self.spec, shard, levels, **unigram)
        self.add_summary(summary)
        return summary

    def add_summary(self, summary: dict) -> None:
        self.summaries[int(summary["shard"])] = summary

    def commit(self, metadata: dict | None = None) -> dict:
        """Write vocabulary and manifest, then rename the directory into place."""
        missing = sorted(set(range(self.spec.num_shards)) - set(self.summaries))
        if missing:
            raise InvalidArgumentError(f"shards {missing} were never written")
        self.vocab.save(self.tmp_dir / VOCAB_FILE)
        files = {VOCAB_FILE: file_digest(self.tmp_dir / VOCAB_FILE)}
        for i in range(self.spec.num_shards):
            name = shard_file_name(i, self.spec.num_shards)
            files[name] = file_digest(self.tmp_dir / name)
        manifest = build_manifest(self.spec, len(self.vocab), [self.summaries[i] for i in range(self.spec.num_shards)],
                                  files, metadata or {})
        write_manifest(self.tmp_dir / MANIFEST_NAME, manifest)
        _publish(self.tmp_dir, self.out_dir)
        return manifest

    def abort(self) -> None:
        shutil.rmtree(self.tmp_dir, ignore_errors=True)


def _publish(tmp_dir: Path, out_dir: Path) -> None:
    """Swap the finished directory into place; an old model there is replaced whole."""
    if out_dir.exists():
        old = out_dir.with_name(f".{out_dir.name}.old-{time.time_ns()}")
        os.rename(out_dir, old)
        os.rename(tmp_dir, out_dir)
        shutil.rmtree(old, ignore_errors=True)
    else:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        os.rename(tmp_dir, out_dir)
