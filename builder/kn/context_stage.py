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

from ..workdir import write_json
from . import rows
from .files import KnPlan, load_npz, save_npz


def contexts(grams: np.ndarray, plan: KnPlan) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(unique contexts w1..w_{k-1}, each k-gram's context index, each context's owner
    shard, its position among the contexts sent to that owner) of k-grams, k >= 3."""
    uniq, inverse = rows.group(grams[:, :-1], plan.bits)
    owner = shard_of_pair(uniq[:, -2], uniq[:, -1], plan.num_shards, plan.shard_seed).astype(np.int64)
    order = np.argsort(owner, kind="stable")
    starts = np.searchsorted(owner[order], np.arange(plan.num_shards))
    pos = np.empty(len(uniq), np.int64)
    pos[order] = np.arange(len(uniq)) - starts[owner[order]]
    return uniq, inverse, owner, pos


def k2_context_partials(shard: int, plan: KnPlan) -> dict:
    data = load_npz(plan.shard_data("k1", shard))
    g2, a2 = data["g2"], data["a2"]
    V = plan.vocab_size
    kept2 = data["k2"]
    s2 = np.bincount(g2[:, 0], weights=a2, minlength=V).astype(np.int64)
    n2 = np.stack([np.bincount(g2[:, 0], weights=c, minlength=V) for c in rows.count_classes(a2, kept2).T],
                  axis=1).astype(np.int64)
    m2 = np.bincount(g2[:, 0], weights=np.where(kept2, 0, a2), minlength=V).astype(np.int64)
    out: list[dict] = [{} for _ in range(plan.num_shards)]
    routes = {}  # per k-gram: the owner of its context and the context's row there (for K4)
    for k in range(3, plan.order + 1):
        g, a, kept = data[f"g{k}"], data[f"a{k}"], data[f"k{k}"]
        uniq, inverse, owner, pos = contexts(g, plan)
        routes[f"o{k}"], routes[f"p{k}"] = owner[inverse].astype(np.int32), pos[inverse]
        S = rows.sum_by(inverse, len(uniq), a)
        N = np.stack([rows.sum_by(inverse, len(uniq), c) for c in rows.count_classes(a, kept).T], axis=1)
        M = rows.sum_by(inverse, len(uniq), np.where(kept, 0, a))
        for d in range(plan.num_shards):
            sel = owner == d
            out[d].update({f"h{k}": uniq[sel], f"S{k}": S[sel], f"N{k}": N[sel], f"M{k}": M[sel]})
    for d in range(plan.num_shards):
        save_npz(plan.exchange("k2", shard, d), **out[d])
    save_npz(plan.shard_data("k2", shard), S=s2, N=n2, M=m2, **routes)
    marker = {"shard": shard}
    write_json(plan.marker("k2", shard), marker)
    return marker


def k3_context_totals(shard: int, plan: KnPlan) -> dict:
    disc = load_npz(plan.globals1)["discounts"]
    own = load_npz(plan.shard_data("k1", shard))
    parts = [load_npz(plan.exchange("k2", s, shard)) for s in range(plan.num_shards)]
    answers: list[dict] = [{} for _ in range(plan.num_shards)]
    backoffs = {}
    for k in range(3, plan.order + 1):
        h = np.concatenate([p[f"h{k}"] for p in parts]) if parts else np.zeros((0, k - 1), np.uint32)
        sizes = [len(p[f"h{k}"]) for p in parts]
        uniq, inverse = rows.group(h.reshape(-1, k - 1), plan.bits)
        S = rows.sum_by(inverse, len(uniq), np.concatenate([p[f"S{k}"] for p in parts]))
        N = np.concatenate([p[f"N{k}"] for p in parts]).reshape(-1, 3)
        Nt = np.stack([rows.sum_by(inverse, len(uniq), N[:, j]) for j in range(3)], axis=1)
        M = rows.sum_by(inverse, len(uniq), np.concatenate([p[f"M{k}"] for p in parts]))
        gamma = gammas(disc[k - 1], S, Nt, M)
        bounds = np.concatenate([[0], np.cumsum(sizes)])
        for s in range(plan.num_shards):
            idx = inverse[bounds[s]:bounds[s + 1]]
            answers[s].update({f"S{k}": S[idx], f"G{k}": gamma[idx]})
        mine = rows.find(own[f"g{k - 1}"], uniq, plan.bits)
        # an own n-gram that is no context (e.g. it ends in </s>) has no gamma: 0, no backoff
        backoffs[f"b{k - 1}"] = np.append(gamma, 0.0)[np.where(mine >= 0, mine, len(gamma))]
    for s in range(plan.num_shards):
        save_npz(plan.exchange("k3", shard, s), **answers[s])
    save_npz(plan.shard_data("k3", shard), **backoffs)
    marker = {"shard": shard}
    write_json(plan.marker("k3", shard), marker)
    return marker


def gammas(d: np.ndarray, S: np.ndarray, N: np.ndarray, M: np.ndarray | None = None) -> np.ndarray:
    """Interpolation weight of contexts: (D1 N1 + D2 N2 + D3 N3+ + M) / S (0 where S = 0);
    N counts the kept continuations, M is the adjusted count of the pruned ones."""
    mass = N[:, 0] * d[0] + N[:, 1] * d[1] + N[:, 2] * d[2]
    if M is not None:
        mass = mass + M
    return np.divide(mass, S, out=np.zeros(len(S)), where=S > 0)
