"""Merging sorted runs of one (shard, order) section, with memory bounded by a fan-in.

A streaming k-way merge: each run is read one frame at a time; every round takes, from
every run, the rows up to the smallest "last key of the current frame" (all rows with
those keys, in every run, are then in memory) and merges them, summing counts.

Memory grows with the number of runs merged at once (about FRAME_COPIES frames each:
the decoded frame, its decompressed bytes, the round's merge), so a section with more
runs than the fan-in is first merged in groups into intermediate runs, pass after pass,
until at most fan-in runs remain (a multi-pass merge). A 10x larger corpus then costs
more passes, not more memory.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from . import keys as K
from .kernels.run_merge import count_le
from .runs import RunWriter, read_frames, section_name

FRAME_COPIES = 3  # frames of memory per run being merged (see above)
Source = tuple[Path, list]  # a run file and the frames of one section in it


def fan_in(merge_memory: int, frame_rows: int, row_bytes: int) -> int:
    """How many runs one merge may read at once within `merge_memory` (at least 2)."""
    return max(2, merge_memory // (FRAME_COPIES * frame_rows * row_bytes))


def merge_rounds(sources: list[Source], limbs: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The merged (keys, counts) of `sources`, in key order, a round at a time."""
    cursors = []
    for path, frames in sources:
        c = _Cursor(read_frames(path, frames, limbs))
        if c.keys is not None:
            cursors.append(c)
    while cursors:
        bound = min((c.keys[-1] for c in cursors), key=tuple)
        parts = [c.take_upto(bound) for c in cursors]
        cursors = [c for c in cursors if c.keys is not None]
        yield K.merge_all(parts)


def merge_section(sources: list[Source], k: int, layout: K.KeyLayout,
                  min_count: int) -> tuple[np.ndarray, np.ndarray]:
    """Merge sorted runs in memory, summing counts; keep rows with count >= min_count.

    The rounds are written into one array sized for the sources' total rows (an upper
    bound): its pages become resident only as rows are written, so the output costs its
    own size, not that plus the rounds' outputs and their concatenation (which doubled
    the level and left the heap fragmented by the many rounds of a 10x corpus)."""
    bound = sum(rows for _, frames in sources for _, _, rows in frames)
    keys = np.empty((bound, layout.limbs(k)), np.uint64)
    counts = np.empty(bound, np.uint64)
    n = 0
    for rk, rc in merge_rounds(sources, layout.limbs(k)):
        if min_count > 1:
            keep = rc >= min_count
            rk, rc = rk[keep], rc[keep]
        keys[n:n + len(rc)] = rk
        counts[n:n + len(rc)] = rc
        n += len(rc)
    return keys[:n], counts[:n]


def reduce_fan_in(sources: list[Source], shard: int, k: int, limbs: int, max_runs: int, frame_rows: int,
                  scratch: Path) -> list[Source]:
    """Merge groups of `sources` into runs under `scratch` until at most `max_runs` remain.
    Counts are summed, never pruned (cutoffs apply to the totals). The intermediate runs
    of a pass are deleted once the next pass has read them; the caller deletes the last."""
    passno = 0
    while len(sources) > max_runs:
        groups = np.array_split(np.arange(len(sources)), -(-len(sources) // max_runs))
        merged = []
        for g, members in enumerate(groups):
            group = [sources[i] for i in members]
            if len(group) == 1:
                merged.append(group[0])
                continue
            path = scratch / f"s{shard:05d}-k{k}-p{passno}-g{g:04d}.run"
            merged.append(_write_merged(group, shard, k, limbs, frame_rows, path))
            for p, _ in group:
                if p.parent == scratch:
                    p.unlink()
        sources = merged
        passno += 1
    return sources


def _write_merged(group: list[Source], shard: int, k: int, limbs: int, frame_rows: int, path: Path) -> Source:
    writer = RunWriter(path, frame_rows)
    try:
        pending: list[tuple[np.ndarray, np.ndarray]] = []
        rows = 0
        for keys, counts in merge_rounds(group, limbs):
            pending.append((keys, counts))
            rows += len(counts)
            if rows >= frame_rows:  # write whole frames; the tail waits for the next round
                keys, counts = _concat(pending)
                full = len(counts) - len(counts) % frame_rows
                writer.add(shard, k, keys[:full], counts[:full])
                pending = [(keys[full:], counts[full:])]
                rows = len(counts) - full
        if rows:
            writer.add(shard, k, *_concat(pending))
    except BaseException:
        writer.discard()
        raise
    index = writer.close()
    return path, index["sections"].get(section_name(shard, k), [])


def _concat(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


class _Cursor:
    """A run's section, one frame in memory; `keys` is None once exhausted."""

    def __init__(self, frames):
        self.frames = frames
        self.keys = self.counts = None
        self.pos = 0
        self._next()

    def _next(self):
        for self.keys, self.counts in self.frames:
            self.pos = 0
            if len(self.keys):
                return
        self.keys = self.counts = None

    def take_upto(self, bound: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        end = self.pos + count_le(self.keys[self.pos:], bound)
        part = self.keys[self.pos:end], self.counts[self.pos:end]
        self.pos = end
        if end == len(self.keys):
            self._next()
        return part
