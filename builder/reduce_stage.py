"""Pass 3, reduce: one task per shard. Input: that shard's sections of every run (each
sorted by key). Output: the shard file, encoded by the core's writer.

Per order, the runs are merged summing counts (``builder.merge``: first in groups, into
intermediate runs, while there are more than the fan-in the budget allows), then the
order's cutoff applies. Memory: at most fan-in frames per merge plus the shard's output.
Then the suffix rule: a k-gram whose suffix (w_2..w_k) was dropped at order k-1 is
dropped too, so the reversed trie stays consistent.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ngram.atomic import atomic_path
from ngram.manifest import shard_file_name
from ngram.writer import Level, ShardSpec, encode_shard

from . import keys as K
from .config import FRAME_ROWS
from .map_stage import _vocabulary
from .merge import fan_in, merge_section, reduce_fan_in
from .runs import section_name
from .workdir import WorkDir, read_json, write_json


@dataclass(frozen=True)
class ReducePlan:
    work_root: str
    spec: ShardSpec
    layout: K.KeyLayout
    cutoffs: tuple[int, ...]  # per order 1..N
    merge_memory: int = 0  # for the frames of one merge; 0: no limit (merge all runs at once)
    frame_rows: int = FRAME_ROWS  # of intermediate runs

    @classmethod
    def make(cls, work_root: str, spec: ShardSpec, layout: K.KeyLayout, cutoffs: tuple[int, ...],
             task_memory: int) -> "ReducePlan":
        # The merge gets a small share: the shard's output levels and their encoding
        # dominate a reduce task, and they do not grow with the corpus's run count.
        return cls(work_root, spec, layout, cutoffs, max(1, task_memory // 16))

    def fan_in(self, k: int) -> int:
        if not self.merge_memory:
            return 1 << 30
        return fan_in(self.merge_memory, self.frame_rows, self.layout.row_bytes(k))


def reduce_task(shard: int, plan: ReducePlan, chunks: int) -> dict:
    """Merge shard `shard` of the runs of map tasks 0..chunks-1, prune, encode; returns
    (and writes) its marker."""
    work = WorkDir(plan.work_root)
    run_index = runs_of_shard(work, chunks, shard, plan.spec.order)
    levels = [Level(K.unpack(keys, k, plan.layout), counts=counts)
              for k, (keys, counts) in enumerate(shard_levels(shard, plan, run_index), start=2)]
    vocab = _vocabulary(str(work.vocab_bin))
    path = work.model_dir / shard_file_name(shard, plan.spec.num_shards)
    with atomic_path(path) as tmp:
        summary = encode_shard(tmp, plan.spec, shard, levels, unigram_counts=vocab.counts)
    marker = {"shard": shard, "summary": summary, "ngrams": [len(lv) for lv in levels],
              "bytes": path.stat().st_size}
    write_json(work.reduce_marker(shard), marker)
    return marker


def runs_of_shard(work: WorkDir, chunks: int, shard: int, order: int) -> list[dict]:
    """The frame index of every run of the map tasks' markers, cut down to one shard's
    sections."""
    names = [section_name(shard, k) for k in range(2, order + 1)]
    out = []
    for i in range(chunks):
        for r in read_json(work.map_marker(i))["runs"]:
            sections = {n: r["sections"][n] for n in names if n in r["sections"]}
            if sections:
                out.append({"file": r["file"], "sections": sections})
    return out


def shard_levels(shard: int, plan: ReducePlan, run_index: list[dict]) -> list[tuple[np.ndarray, np.ndarray]]:
    """(keys, counts) of orders 2..N of one shard: merged, counted, pruned consistently."""
    work = WorkDir(plan.work_root)
    scratch = work.merge_dir
    scratch.mkdir(exist_ok=True)
    for stale in scratch.glob(f"s{shard:05d}-*"):  # an earlier attempt's intermediate runs
        stale.unlink()
    # Intermediate passes of every order first, while no output is held yet.
    sources = {}
    for k in range(2, plan.spec.order + 1):
        name = section_name(shard, k)
        runs = [(work.root / "runs" / r["file"], r["sections"][name]) for r in run_index if name in r["sections"]]
        sources[k] = reduce_fan_in(runs, shard, k, plan.layout.limbs(k), plan.fan_in(k), plan.frame_rows,
                                   scratch)
    levels = []
    prev_keys = None
    for k in range(2, plan.spec.order + 1):
        keys, counts = merge_section(sources[k], k, plan.layout, plan.cutoffs[k - 1])
        for path, _ in sources[k]:
            if path.parent == scratch:
                path.unlink()
        if prev_keys is not None and len(keys):
            keep = K.has_suffix(keys, k, plan.layout, prev_keys)
            if not keep.all():
                keys, counts = keys[keep], counts[keep]
        levels.append((keys, counts))
        prev_keys = keys
    return levels


def finished_reduce_task(work: WorkDir, shard: int, num_shards: int) -> dict | None:
    marker = work.reduce_marker(shard)
    if marker.exists() and (work.model_dir / shard_file_name(shard, num_shards)).exists():
        return read_json(marker)
    return None
