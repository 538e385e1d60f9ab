"""K2 and K3: the statistics of every context h (a (k-1)-gram some k-gram extends):
S(h), the sum of its continuations' adjusted counts, and N1/N2/N3+(h), how many have
adjusted count 1, 2, >= 3. The continuations h w live on the shards of (h_last, w),
h itself on the shard of its own last two words: a shuffle keyed by context, then a
join back to the shards that asked.

K2 (per source shard s): group s's k-grams by context; for k >= 3 send each context's
partial statistics to the context's owner (one file per (s, owner)); for k = 2 the
contexts are single words: a V-vector partial, summed by the driver.
K3 (per owner shard d): sum the partials of d's contexts, gamma(h) = (D1 N1 + D2 N2 +
D3 N3+ + pruned mass) / S(h); answer each source shard with S and gamma of the contexts it sent, in
its order; keep gamma of d's own n-grams (their backoffs).
"""
from __future__ import annotations

import numpy as np

from ngram.sharding import shard_of_pair

from ..kernels.row_hash import context_stats, find_rows, group_rows, sum_stats
from ..kernels.shard_partition import partition
from ..workdir import write_json
from .files import KnPlan, load_npz, save_npz


def contexts(grams: np.ndarray, plan: KnPlan):
    """(unique contexts w1..w_{k-1}, each k-gram's context index, the contexts grouped by
    owner shard: perm and bounds, each context's position among those sent to its owner)
    of k-grams, k >= 3."""
    first, inverse = group_rows(grams[:, :-1])
    uniq = np.ascontiguousarray(grams[first, :-1])
    owner = shard_of_pair(uniq[:, -2], uniq[:, -1], plan.num_shards, plan.shard_seed).astype(np.int64)
    perm, bounds = partition(owner, plan.num_shards)
    pos = np.empty(len(uniq), np.int64)
    pos[perm] = np.arange(len(uniq)) - bounds[owner[perm]]
    return uniq, inverse, owner, perm, bounds, pos


def k2_context_partials(shard: int, plan: KnPlan) -> dict:
    data = load_npz(plan.shard_data("k1", shard))
    g2 = data["g2"]
    # k = 2: the contexts are single words, a V-vector partial per statistic
    s2, n2, m2 = context_stats(g2[:, 0].astype(np.int64), plan.vocab_size, data["a2"], data["k2"])
    out: list[dict] = [{} for _ in range(plan.num_shards)]
    routes = {}  # per k-gram: the owner of its context and the context's row there (for K4)
    for k in range(3, plan.order + 1):
        g, a, kept = data.pop(f"g{k}"), data.pop(f"a{k}"), data.pop(f"k{k}")
        uniq, inverse, owner, perm, bounds, pos = contexts(g, plan)
        routes[f"o{k}"], routes[f"p{k}"] = owner[inverse].astype(np.int32), pos[inverse]
        S, N, M = context_stats(inverse, len(uniq), a, kept)
        for d in range(plan.num_shards):
            sel = perm[bounds[d]:bounds[d + 1]]
            out[d].update({f"h{k}": uniq[sel], f"S{k}": S[sel], f"N{k}": N[sel], f"M{k}": M[sel]})
        del g, a, kept, uniq, inverse, S, N, M
    for d in range(plan.num_shards):
        save_npz(plan.exchange("k2", shard, d), **out[d])
    save_npz(plan.shard_data("k2", shard), S=s2, N=n2, M=m2, **routes)
    marker = {"shard": shard}
    write_json(plan.marker("k2", shard), marker)
    return marker


def k3_context_totals(shard: int, plan: KnPlan) -> dict:
    disc = load_npz(plan.globals1)["discounts"]
    own = np.load(plan.shard_data("k1", shard))  # lazy: only the n-gram rows of orders 2..N-1 are read
    parts = [load_npz(plan.exchange("k2", s, shard)) for s in range(plan.num_shards)]
    answers: list[dict] = [{} for _ in range(plan.num_shards)]
    backoffs = {}
    for k in range(3, plan.order + 1):
        h = np.concatenate([p[f"h{k}"] for p in parts]).reshape(-1, k - 1)
        sizes = [len(p[f"h{k}"]) for p in parts]
        # Every context sent here is one of this shard's own (k-1)-grams (both live on the
        # shard of their last two words): its row there is its group, and its backoff slot.
        own_rows = own[f"g{k - 1}"]
        inverse = find_rows(h, own_rows)
        if len(inverse) and inverse.min() < 0:
            raise AssertionError(f"context {h[np.argmin(inverse)].tolist()} is not a {k - 1}-gram of shard {shard}")
        S, N, M = sum_stats(inverse, len(own_rows),
                            np.concatenate([p[f"S{k}"] for p in parts]),
                            np.concatenate([p[f"N{k}"] for p in parts]).reshape(-1, 3),
                            np.concatenate([p[f"M{k}"] for p in parts]))
        # an own n-gram that is no context (e.g. it ends in </s>) has S = 0: gamma 1, backoff 0
        gamma = gammas(disc[k - 1], S, N, M)
        bounds = np.concatenate([[0], np.cumsum(sizes)])
        for s in range(plan.num_shards):
            idx = inverse[bounds[s]:bounds[s + 1]]
            answers[s].update({f"S{k}": S[idx], f"G{k}": gamma[idx]})
        backoffs[f"b{k - 1}"] = gamma
    own.close()
    for s in range(plan.num_shards):
        save_npz(plan.exchange("k3", shard, s), **answers[s])
    save_npz(plan.shard_data("k3", shard), **backoffs)
    marker = {"shard": shard}
    write_json(plan.marker("k3", shard), marker)
    return marker


def gammas(d: np.ndarray, S: np.ndarray, N: np.ndarray, M: np.ndarray | None = None) -> np.ndarray:
    """Interpolation weight of contexts: (D1 N1 + D2 N2 + D3 N3+ + M) / S; 1 where S = 0
    (no context: backoff log10 1 = 0). N counts the kept continuations, M is the adjusted
    count of the pruned ones. A context whose continuations all have a discount of 0 (a
    count-of-counts can give D = 0 exactly) gets 0: no mass to back off with."""
    mass = N[:, 0] * d[0] + N[:, 1] * d[1] + N[:, 2] * d[2]
    if M is not None:
        mass = mass + M
    return np.divide(mass, S, out=np.ones(len(S)), where=S > 0)
