"""The work directory: where every task leaves its output, and the markers `--resume` trusts.

Layout (a task's marker is written last, atomically, so it exists only for finished work):
  build.lock                   held (flock) by the one build using the directory; its pid
  build.json                   options and input identities; --resume requires a match
  stdin.spool                  stdin's bytes as read (so a resume can compare, and reread)
  inputs.json                  every input's chunk hashes; marker of the vocabulary pass's reading
  chunks/c000042.txt.zst       cleaned text of input chunk 42 (pass 2 reads it back)
  chunks/c000042.vocab.pkl     marker of vocabulary task 42: its word counts
  vocab.bin, vocab.json        the merged vocabulary; marker of the vocabulary pass
  runs/c000042-003.run         sorted run (spill 3 of chunk 42): zstd frames
  map/c000042.json             marker of counting task 42: its runs and their frame index
  merge/s00005-k4-p0-g0003.run intermediate run of a reduce task's multi-pass merge
  model/                       the model being assembled (shard files, then manifest)
  reduce/s00005.json           marker of reduce task 5: the shard's summary
"""
from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

from ngram.atomic import write_bytes_atomic


class WorkDir:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def make(self) -> "WorkDir":
        for sub in ("chunks", "runs", "map", "reduce"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        return self

    @property
    def build_json(self) -> Path:
        return self.root / "build.json"

    @property
    def lock_file(self) -> Path:
        return self.root / "build.lock"

    @property
    def stdin_spool(self) -> Path:
        return self.root / "stdin.spool"

    @property
    def inputs_json(self) -> Path:
        return self.root / "inputs.json"

    def chunk_text(self, i: int) -> Path:
        return self.root / "chunks" / f"c{i:06d}.txt.zst"

    def vocab_marker(self, i: int) -> Path:
        return self.root / "chunks" / f"c{i:06d}.vocab.pkl"

    @property
    def vocab_bin(self) -> Path:
        return self.root / "vocab.bin"

    @property
    def vocab_json(self) -> Path:
        return self.root / "vocab.json"

    def run_file(self, chunk: int, spill: int) -> Path:
        return self.root / "runs" / f"c{chunk:06d}-{spill:03d}.run"

    def run_files_of(self, chunk: int) -> list[Path]:
        return sorted((self.root / "runs").glob(f"c{chunk:06d}-*.run*"))

    def map_marker(self, i: int) -> Path:
        return self.root / "map" / f"c{i:06d}.json"

    @property
    def merge_dir(self) -> Path:
        return self.root / "merge"

    @property
    def model_dir(self) -> Path:
        return self.root / "model"

    def reduce_marker(self, shard: int) -> Path:
        return self.root / "reduce" / f"s{shard:05d}.json"


def write_atomic(path: Path, data: bytes) -> None:
    """Readers (a resumed build) see all of the file or none of it (ngram.atomic)."""
    write_bytes_atomic(path, data)


def write_json(path: Path, obj) -> None:
    write_atomic(path, json.dumps(obj, indent=1).encode())


def read_json(path: Path):
    return json.loads(path.read_text())


def write_pickle(path: Path, obj) -> None:
    write_atomic(path, pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))


def read_pickle(path: Path):
    with open(path, "rb") as f:
        return pickle.load(f)
