"""Runs the Kneser-Ney stages on the builder's executor, and the driver's reductions:
D1 (after K1) the unigram adjusted counts, every order's discounts and the unigram
probabilities; D2 (after K2) the statistics of unigram contexts (the unigram backoffs).
The driver holds V-vectors and per-order scalars only."""
from __future__ import annotations

import shutil

import numpy as np

from ngram.manifest import shard_file_name
from ngram.vocab import BOS_ID
from ngram.writer import ModelWriter, ShardSpec

from .. import progress
from ..errors import BuildError
from ..executors import run_tasks
from . import rows
from .context_stage import gammas, k2_context_partials, k3_context_totals
from .count_stage import k1_counts
from .discounts import all_discounts, discount
from .files import KnPlan, finished, load_npz, save_npz
from .limit_vocab import model_vocabulary
from .interpolate_stage import check_storable, k4_interpolate, log10_backoff, log10_prob

STAGES = (("k1", "counts"), ("k2", "context partials"), ("k3", "context totals"), ("k4", "interpolate"))


def kn_pass(cfg, vocab, stats: dict, chunks: int, work, executor, timer):
    """K1..K4 -> (ModelWriter with every shard written, K4 markers, model metadata)."""
    from ..pipeline import _same_filesystem
    opts = cfg.kn
    if stats["sentences"] < 2:
        raise BuildError(f"Kneser-Ney estimation needs at least two sentences; the input has "
                         f"{stats['sentences']} (nothing was written)")
    if len(opts.prune) > cfg.order:
        raise BuildError(f"--prune has {len(opts.prune)} thresholds for an order-{cfg.order} model")
    plan = KnPlan(str(work.root), cfg.order, cfg.num_shards, cfg.shard_seed, len(vocab), cfg.task_memory,
                  str(opts.quantize), opts.thresholds(cfg.order) if opts.prune else (),
                  stats.get("limit_vocab_kept", 0) if opts.limit_vocab is not None else 0)
    plan.make_dirs()
    spec = ShardSpec(order=cfg.order, num_shards=cfg.num_shards, shard_seed=cfg.shard_seed, value_kind="backoff",
                     quantization=str(opts.quantize))
    same_fs = _same_filesystem(work.root, cfg.out_dir)
    try:
        writer = ModelWriter(cfg.out_dir, spec, model_vocabulary(vocab, plan.model_vocab_size),
                             tmp_dir=work.model_dir if same_fs else None)
    except FileExistsError as e:
        raise BuildError(str(e), str(cfg.out_dir)) from None
    work.model_dir.mkdir(exist_ok=True)
    try:
        with timer.phase("kn counts"):
            k1 = _stage(cfg, plan, executor, 0, k1_counts, (plan, chunks))
        with timer.phase("kn discounts"):
            meta = _reduce_unigrams(plan, k1, vocab, opts.discount_fallback)
        with timer.phase("kn contexts"):
            _stage(cfg, plan, executor, 1, k2_context_partials, (plan,))
            _reduce_unigram_contexts(plan)
            _stage(cfg, plan, executor, 2, k3_context_totals, (plan,))
        with timer.phase("kn interpolate"):
            k4 = _stage(cfg, plan, executor, 3, k4_interpolate, (plan,))
    except BaseException:
        if not same_fs:
            writer.abort()
        raise
    for m in k4:
        writer.add_summary(m["summary"])
    if not same_fs:
        for s in range(cfg.num_shards):
            name = shard_file_name(s, cfg.num_shards)
            shutil.copyfile(work.model_dir / name, writer.tmp_dir / name)
    return writer, k4, meta


def _stage(cfg, plan: KnPlan, executor, index: int, fn, args: tuple) -> list[dict]:
    stage, title = STAGES[index]
    markers: list[dict] = []
    bar = progress.bar(f"kn {index + 1}/4 {title}", cfg.num_shards, "shard", cfg.progress)

    def add(marker):
        markers.append(marker)
        bar.update(1)

    def tasks():
        for s in range(cfg.num_shards):
            done = finished(plan, stage, s) if cfg.resume else None
            if done is not None:
                add(done)
            else:
                yield fn, (s, *args)

    try:
        run_tasks(executor, tasks(), add, window=executor.workers)
    finally:
        bar.close()
    return sorted(markers, key=lambda m: m["shard"])


def _reduce_unigrams(plan: KnPlan, k1: list[dict], vocab, fallback) -> dict:
    """D1: unigram adjusted counts (continuations summed over shards; <s> 0), discounts
    of orders 1..N, unigram probabilities interpolated with the uniform distribution
    over the vocabulary without <s> (lmplz's default, <unk> a zeroton)."""
    a1 = np.zeros(plan.vocab_size, np.int64)
    for s in range(plan.num_shards):
        with np.load(plan.shard_data("k1", s)) as z:
            a1 += z["uni"]
    a1[BOS_ID] = 0
    coc = [rows.count_of_counts(a1)]
    for i in range(plan.order - 1):
        coc.append([int(sum(m["count_of_counts"][i][j] for m in k1)) for j in range(4)])
    disc = np.asarray(all_discounts(coc, fallback), np.float64)
    total = int(a1.sum())
    # --limit-vocab: the words outside the list are pruned unigrams (their mass joins gamma)
    kept = np.arange(plan.vocab_size) < plan.model_vocab_size
    N = rows.count_classes(a1, kept).sum(axis=0)
    M = np.array([int(a1[~kept].sum())])
    gamma = float(gammas(disc[0], np.array([total]), N.reshape(1, 3), M)[0])
    # the uniform share: the model's vocabulary without <s> (--limit-vocab: the allowed words, as lmplz)
    p = (a1 - discount(disc[0], a1)) / total + gamma / (plan.model_vocab_size - 1)
    p[BOS_ID] = 1.0  # <s> is only a context; lmplz writes log10 p = 0
    save_npz(plan.globals1, discounts=disc, uni_prob=p, uni_logprob=log10_prob(p))
    return {"smoothing": "modified-kneser-ney", "interpolate_unigrams": True,
            "discounts": {str(k): [round(float(x), 7) for x in d] for k, d in enumerate(disc, start=1)},
            "count_of_counts": {str(k): t for k, t in enumerate(coc, start=1)},
            "discount_fallback": list(fallback) if fallback else None, "quantization": plan.quantize,
            "prune": list(plan.prune), "vocab_size": plan.model_vocab_size,
            **({"limit_vocab": {"allowed_words": plan.kept_words, "counted_words": plan.vocab_size}}
               if plan.kept_words else {})}


def _reduce_unigram_contexts(plan: KnPlan) -> None:
    """D2: S and gamma of every word as a context (from the bigrams of every shard)."""
    S = np.zeros(plan.vocab_size, np.int64)
    N = np.zeros((plan.vocab_size, 3), np.int64)
    M = np.zeros(plan.vocab_size, np.int64)
    for s in range(plan.num_shards):
        part = load_npz(plan.shard_data("k2", s))
        S += part["S"]
        N += part["N"]
        M += part["M"]
    disc = load_npz(plan.globals1)["discounts"]
    gamma = gammas(disc[1], S, N, M)
    uni_backoff = log10_backoff(gamma)
    check_storable(1, uni_backoff[:plan.model_vocab_size], disc[1])
    save_npz(plan.globals2, S=S, gamma=gamma, uni_backoff=uni_backoff)
