"""K4, one task per shard: interpolated probabilities order by order and the shard file.

p(w | h) = (a(h w) - D(a)) / S(h) + gamma(h) p(w | h'), h' = h without its first word:
for bigrams p(w) is the driver's unigram vector, for k >= 3 the lower n-gram h' w lives
on this shard (same last two words). S(h) and gamma(h) come from K3's answers (k >= 3)
(routed by K2's record of each k-gram's context owner and row) or the driver's
unigram-context vectors (k = 2). Backoffs: log10 gamma of the n-grams
that are contexts, 0 for the others and for order N.
"""
from __future__ import annotations

import os

import numpy as np

from ngram.kernels.trie_build import parent_indices
from ngram.manifest import shard_file_name
from ngram.writer import Level, ShardSpec, encode_shard

from ..errors import BuildError
from ..workdir import WorkDir, write_json
from .discounts import discount
from .files import KnPlan, load_npz


def log10_prob(p: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.minimum(0.0, np.log10(p)).astype(np.float32)


def log10_backoff(gamma: np.ndarray) -> np.ndarray:
    """log10 gamma; -inf for gamma 0 (a context left without backoff mass), as lmplz writes."""
    with np.errstate(divide="ignore"):
        return np.log10(gamma).astype(np.float32)


def check_storable(k: int, backoff: np.ndarray, discounts) -> None:
    """A backoff of log10 0 = -inf (every continuation of the context has a discount of 0:
    a count-of-counts can give D = 0 exactly) is what lmplz writes, but no model or ARPA
    file of ours holds a non-finite value (codebooks, `ngram import-arpa`): a clear error."""
    bad = np.isneginf(backoff)
    if bad.any():
        raise BuildError(
            f"{int(bad.sum())} {k}-gram context(s) keep no probability mass to back off with: the discounts "
            f"of order {k + 1} are {', '.join(f'{x:g}' for x in discounts)} and every continuation of those "
            "contexts has a count whose discount is 0, so their backoff would be log10 0 = -inf (lmplz writes "
            "-inf; our models store finite values only): the corpus is too small or artificial for modified "
            "Kneser-Ney at this order (nothing was written)")


def k4_interpolate(shard: int, plan: KnPlan) -> dict:
    g1 = load_npz(plan.globals1)
    g2 = load_npz(plan.globals2)
    disc = g1["discounts"]
    data = load_npz(plan.shard_data("k1", shard))
    own_backoff = load_npz(plan.shard_data("k3", shard))
    routes = load_npz(plan.shard_data("k2", shard))  # where each k-gram's context statistics are
    answers = [load_npz(plan.exchange("k3", d, shard)) for d in range(plan.num_shards)]
    levels = []
    prev_grams = prev_p = None
    for k in range(2, plan.order + 1):
        g, a = data[f"g{k}"], data[f"a{k}"]
        if k == 2:
            S, gamma, lower = g2["S"][g[:, 0]], g2["gamma"][g[:, 0]], g1["uni_prob"][g[:, 1]]
        else:
            # the answers of every owner end to end: a k-gram's context row is at its owner's
            # offset plus its position there (one gather, not a pass per owner)
            sizes = [len(answers[d][f"S{k}"]) for d in range(plan.num_shards)]
            offset = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
            at = offset[routes[f"o{k}"]] + routes[f"p{k}"]
            S = np.concatenate([answers[d][f"S{k}"] for d in range(plan.num_shards)])[at]
            gamma = np.concatenate([answers[d][f"G{k}"] for d in range(plan.num_shards)])[at]
            pidx, orphan = parent_indices(g, prev_grams) if len(g) else (np.zeros(0, np.int64), -1)
            if orphan >= 0:
                raise AssertionError(f"{k}-gram {g[orphan].tolist()} has no suffix at order {k - 1}")
            lower = prev_p[pidx]
        p = (a - discount(disc[k - 1], a)) / S + gamma * lower
        backoff = log10_backoff(own_backoff[f"b{k}"]) if k < plan.order else np.zeros(len(g), np.float32)
        if k < plan.order:
            check_storable(k, backoff[data[f"k{k}"]], disc[k])
        kept = data[f"k{k}"]  # pruned n-grams leave only now: their suffixes' values were needed
        levels.append(Level(np.ascontiguousarray(g[kept]), prob=log10_prob(p[kept]), backoff=backoff[kept]))
        prev_grams, prev_p = g, p
    spec = ShardSpec(order=plan.order, num_shards=plan.num_shards, shard_seed=plan.shard_seed,
                     value_kind="backoff", quantization=str(plan.quantize))
    work = WorkDir(plan.work_root)
    path = work.model_dir / shard_file_name(shard, plan.num_shards)
    tmp = path.with_name(path.name + f".tmp-{os.getpid()}")
    try:
        V = plan.model_vocab_size  # --limit-vocab: the model's vocabulary is the allowed prefix
        summary = encode_shard(tmp, spec, shard, levels, unigram_prob=g1["uni_logprob"][:V],
                               unigram_backoff=g2["uni_backoff"][:V])
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    marker = {"shard": shard, "summary": summary, "ngrams": [len(lv) for lv in levels],
              "bytes": path.stat().st_size}
    write_json(plan.marker("k4", shard), marker)
    return marker
