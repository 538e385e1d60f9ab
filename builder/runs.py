"""Sorted runs on disk: the map stage's spills, the reduce stage's input.

A run file is a sequence of independent zstd frames. Each frame holds up to FRAME_ROWS
rows of one (shard, order) section, sorted by key: the rows' first limb delta-coded
(sorted keys make small deltas that compress well), the other limbs, then the counts,
all little-endian uint64. The frame index ({"shard,order": [[offset, bytes, rows], ...]})
lives in the map task's marker, so a reducer reads only its own shard's frames.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import zstandard

from ngram.atomic import atomic_path

from .errors import WorkDirCorruptError

ZSTD_LEVEL = 1


def section_name(shard: int, k: int) -> str:
    return f"{shard},{k}"


class RunWriter:
    """Writes one run file under a temporary name (ngram.atomic); `close()` publishes it,
    `discard()` drops it."""

    def __init__(self, path: Path, frame_rows: int):
        self.path = path
        self._publish = contextlib.ExitStack()
        self.tmp = self._publish.enter_context(atomic_path(path))
        self.file = open(self.tmp, "wb")
        self.frame_rows = frame_rows
        self.index: dict[str, list[list[int]]] = {}
        self.offset = 0
        self.compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL)

    def add(self, shard: int, k: int, keys: np.ndarray, counts: np.ndarray) -> None:
        frames = self.index.setdefault(section_name(shard, k), [])
        for lo in range(0, len(keys), self.frame_rows):
            blob = self.compressor.compress(encode_frame(keys[lo:lo + self.frame_rows],
                                                         counts[lo:lo + self.frame_rows]))
            self.file.write(blob)
            rows = min(self.frame_rows, len(keys) - lo)
            frames.append([self.offset, len(blob), rows])
            self.offset += len(blob)

    def close(self) -> dict:
        self.file.close()
        self._publish.close()  # fsync, rename into place
        return {"file": self.path.name, "bytes": self.offset, "sections": self.index}

    def discard(self) -> None:
        self.file.close()
        self._publish.pop_all()
        self.tmp.unlink(missing_ok=True)


def encode_frame(keys: np.ndarray, counts: np.ndarray) -> bytes:
    first = keys[:, 0].copy()
    first[1:] -= keys[:-1, 0]
    return first.tobytes() + np.ascontiguousarray(keys[:, 1:]).tobytes() + counts.tobytes()


def decode_frame(blob: bytes, rows: int, limbs: int) -> tuple[np.ndarray, np.ndarray]:
    a = np.frombuffer(blob, np.uint64)
    if len(a) != rows * (limbs + 1):
        raise WorkDirCorruptError(f"run frame holds {len(a)} values, expected {rows * (limbs + 1)}; "
                                  "rerun without --resume")
    keys = np.empty((rows, limbs), np.uint64)
    keys[:, 0] = np.cumsum(a[:rows], dtype=np.uint64)
    keys[:, 1:] = a[rows:rows * limbs].reshape(rows, limbs - 1)
    return keys, a[rows * limbs:].copy()


def read_frames(path: Path, frames: list[list[int]], limbs: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The (keys, counts) blocks of one section, in order, one frame in memory at a time."""
    d = zstandard.ZstdDecompressor()
    with open(path, "rb") as f:
        for offset, nbytes, rows in frames:
            f.seek(offset)
            blob = f.read(nbytes)
            if len(blob) != nbytes:
                raise WorkDirCorruptError(f"run file truncated at byte {offset}; rerun without --resume",
                                          str(path))
            yield decode_frame(d.decompress(blob), rows, limbs)
