"""Pass 2, map: one task per chunk. Input: the chunk's cleaned text and the vocabulary.
Output: sorted runs of (n-gram key, count) for orders 2..N, partitioned by shard.

The chunk's sentences are taken in blocks of at most `block_tokens` tokens; every block's
n-grams are sorted and counted per order, and the blocks' results accumulate in memory
until they pass `spill_bytes`, when they are merged (counts summed) and spilled as one
run file. The memory a task holds is therefore bounded by its budget whatever the
chunk size.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ngram.vocab import Vocabulary

from . import keys as K
from .runs import RunWriter
from .vocab_pass import read_chunk_text
from .workdir import WorkDir, read_json, write_json


@dataclass(frozen=True)
class MapPlan:
    """Picklable parameters of every map task."""
    work_root: str
    order: int
    num_shards: int
    shard_seed: int
    layout: K.KeyLayout
    block_tokens: int
    spill_bytes: int
    frame_rows: int

    @classmethod
    def make(cls, work_root: str, order: int, num_shards: int, shard_seed: int, vocab_size: int,
             task_memory: int, frame_rows: int) -> "MapPlan":
        layout = K.KeyLayout.for_vocab(vocab_size)
        out_row = sum(layout.row_bytes(k) for k in range(2, order + 1))  # sorted counts, all orders
        work_row = 2 * layout.row_bytes(order) + 24  # keys, sort words, permutation of one order
        block_tokens = max(256, task_memory // (2 * (work_row + out_row)))
        return cls(work_root, order, num_shards, shard_seed, layout, block_tokens,
                   max(1 << 16, task_memory // 4), frame_rows)


@functools.lru_cache(maxsize=2)
def _vocabulary(path: str) -> Vocabulary:
    return Vocabulary.open(path)


def map_task(index: int, plan: MapPlan) -> dict:
    """Count the n-grams of chunk `index` into run files; returns (and writes) its marker.
    Idempotent: leftovers of an earlier attempt are removed first."""
    work = WorkDir(plan.work_root)
    for stale in work.run_files_of(index):
        stale.unlink()
    vocab = _vocabulary(str(work.vocab_bin))
    ids, offsets = vocab.encode_lines(read_chunk_text(work, index))
    # acc[k][shard]: the blocks' sorted counts, already split by shard, so a spill merges
    # one small (shard, order) section at a time instead of a whole order and then a
    # second, per-shard copy of it (the task's peak, and it grew with every spill).
    acc: dict[int, list[list]] = {k: [[] for _ in range(plan.num_shards)] for k in range(2, plan.order + 1)}
    acc_bytes = 0
    runs = []
    windows = {k: 0 for k in acc}
    for lo, hi in sentence_blocks(offsets, plan.block_tokens):
        for k in acc:
            keys = K.window_keys(ids, offsets[lo:hi + 1], k, plan.layout)
            windows[k] += len(keys)
            uk, uc = K.sort_unique(keys, k, plan.layout)
            del keys
            if len(uc):
                for shard, part in enumerate(K.split_by_shard(uk, uc, plan.layout, plan.num_shards,
                                                              plan.shard_seed)):
                    acc[k][shard].append(part)
            acc_bytes += uk.nbytes + uc.nbytes
            del uk, uc
        if acc_bytes > plan.spill_bytes:
            runs.append(spill(work, index, len(runs), acc, plan))
            acc_bytes = 0
    if acc_bytes or not runs:
        runs.append(spill(work, index, len(runs), acc, plan))
    marker = {"chunk": index, "tokens": int(len(ids)), "windows": windows, "runs": runs}
    write_json(work.map_marker(index), marker)
    return marker


def sentence_blocks(offsets: np.ndarray, block_tokens: int):
    """(first, last) sentence-offset indices of consecutive blocks of <= block_tokens tokens
    (a longer sentence makes a block of its own)."""
    s = 0
    n = len(offsets) - 1
    while s < n:
        e = int(np.searchsorted(offsets, offsets[s] + block_tokens, side="right")) - 1
        e = max(e, s + 1)
        yield s, min(e, n)
        s = e


def spill(work: WorkDir, index: int, number: int, acc: dict[int, list[list]], plan: MapPlan) -> dict:
    """Merge the accumulated counts of each (shard, order) section and write them as one run
    file; each section's parts are freed as soon as it is written."""
    writer = RunWriter(work.run_file(index, number), plan.frame_rows)
    try:
        for k, shards in acc.items():
            for shard, parts in enumerate(shards):
                if not parts:
                    continue
                keys, counts = K.merge_all(parts)
                parts.clear()
                if len(keys):
                    writer.add(shard, k, keys, counts)
                del keys, counts
    except BaseException:
        writer.discard()
        raise
    return writer.close()


def finished_map_task(work: WorkDir, index: int) -> dict | None:
    marker = work.map_marker(index)
    if not marker.exists():
        return None
    m = read_json(marker)
    if all((work.root / "runs" / r["file"]).exists() for r in m["runs"]):
        return m
    return None
