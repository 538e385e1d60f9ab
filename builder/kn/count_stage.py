"""K1, one task per shard: raw counts of orders 2..N (the existing merge of the map's
runs, without cutoffs), adjusted counts of orders 2..N-1 (local: a k-gram and its left
extensions share their last two words, k >= 2), the partial unigram continuation
counts (a V-vector, summed by the driver) and the count-of-counts of orders 2..N."""
from __future__ import annotations

import numpy as np

from ngram.kernels.trie_build import parent_indices
from ngram.vocab import BOS_ID
from ngram.writer import ShardSpec

from .. import keys as K
from ..reduce_stage import ReducePlan, runs_of_shard, shard_levels
from ..workdir import WorkDir, write_json
from . import rows
from .files import KnPlan, save_npz


def k1_counts(shard: int, plan: KnPlan, chunks: int) -> dict:
    work = WorkDir(plan.work_root)
    spec = ShardSpec(order=plan.order, num_shards=plan.num_shards, shard_seed=plan.shard_seed)
    layout = K.KeyLayout.for_vocab(plan.vocab_size)
    rplan = ReducePlan.make(plan.work_root, spec, layout, (1,) * plan.order, plan.task_memory)
    levels = shard_levels(shard, rplan, runs_of_shard(work, chunks, shard, plan.order))
    grams, raw = [], []
    for k in range(2, plan.order + 1):
        keys, counts = levels[k - 2]
        levels[k - 2] = None
        grams.append(K.unpack(keys, k, layout))
        raw.append(counts.astype(np.int64))
    adjusted = adjust(grams, raw)
    # unigram continuation counts: every distinct bigram v w adds one to w
    uni = np.bincount(grams[0][:, 1], minlength=plan.vocab_size).astype(np.int64)
    arrays = {f"g{k}": g for k, g in enumerate(grams, start=2)}
    arrays.update({f"a{k}": a for k, a in enumerate(adjusted, start=2)})
    # lmplz's pruning: an n-gram of order k >= 2 with raw count <= t_k leaves the output;
    # its adjusted count still counts in S(h), and joins the context's gamma (K2/K3)
    arrays.update({f"k{k}": c > plan.threshold(k) for k, c in enumerate(raw, start=2)})
    if plan.kept_words:  # --limit-vocab: an n-gram with a word outside the list is pruned the same way
        for k, g in enumerate(grams, start=2):
            arrays[f"k{k}"] &= g.max(axis=1, initial=0) < plan.kept_words
    save_npz(plan.shard_data("k1", shard), uni=uni, **arrays)
    marker = {"shard": shard, "ngrams": [len(g) for g in grams],
              "count_of_counts": [rows.count_of_counts(a) for a in adjusted]}
    write_json(plan.marker("k1", shard), marker)
    return marker


def adjust(grams: list[np.ndarray], raw: list[np.ndarray]) -> list[np.ndarray]:
    """Adjusted counts of orders 2..N: order N raw; lower orders the number of distinct
    left extensions, except n-grams starting with <s> (nothing precedes them): raw."""
    out = list(raw)
    for i in range(len(grams) - 2, -1, -1):
        lower, upper = grams[i], grams[i + 1]
        cont = np.zeros(len(lower), np.int64)
        if len(upper):
            pidx, orphan = parent_indices(upper, lower)
            if orphan >= 0:
                raise AssertionError(f"{i + 3}-gram {upper[orphan].tolist()} has no suffix at order {i + 2}")
            cont = np.bincount(pidx, minlength=len(lower)).astype(np.int64)
        out[i] = np.where(lower[:, 0] == BOS_ID, raw[i], cont)
    return out
