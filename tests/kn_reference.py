"""A plain-Python interpolated modified Kneser-Ney estimator, written from the formulas
(Chen & Goodman 1998 eq. 26; lmplz's conventions, see docs/KNESER_NEY.md), for tests.

Dictionaries of tuples of words, float64 throughout: slow and obvious on purpose.
"""
from __future__ import annotations

import math
from collections import Counter, defaultdict

BOS, EOS, UNK = "<s>", "</s>", "<unk>"


class DiscountError(ValueError):
    pass


def raw_counts(sentences: list[list[str]], order: int) -> list[Counter]:
    """counts[k-1][gram] for k = 1..order over sentences padded as <s> w.. </s>."""
    counts = [Counter() for _ in range(order)]
    for words in sentences:
        s = [BOS] + list(words) + [EOS]
        for k in range(1, order + 1):
            for i in range(len(s) - k + 1):
                counts[k - 1][tuple(s[i:i + k])] += 1
    return counts


def adjusted_counts(counts: list[Counter]) -> list[dict]:
    order = len(counts)
    adj = [dict() for _ in range(order)]
    adj[order - 1] = dict(counts[order - 1])
    for k in range(order - 1, 0, -1):
        left = Counter(g[1:] for g in counts[k])  # distinct left extensions
        for g, c in counts[k - 1].items():
            adj[k - 1][g] = c if g[0] == BOS else left.get(g, 0)
    adj[0][(BOS,)] = 0
    return adj


def discounts(adj: list[dict], fallback: tuple[float, float, float] | None = None) -> list[tuple[float, ...]]:
    out = []
    for k, level in enumerate(adj, start=1):
        t = Counter(a for a in level.values() if 1 <= a <= 4)
        try:
            for j in (1, 2, 3):
                if t[j] == 0:
                    raise DiscountError(f"order {k}: no {k}-grams with adjusted count {j}")
            y = t[1] / (t[1] + 2 * t[2])
            d = tuple(j - (j + 1) * y * t[j + 1] / t[j] for j in (1, 2, 3))
            for j, dj in enumerate(d, start=1):
                if not 0 <= dj <= j:
                    raise DiscountError(f"order {k}: discount D{j} = {dj} out of range")
        except DiscountError:
            if fallback is None:
                raise
            d = tuple(fallback)
        out.append(d)
    return out


def estimate(sentences: list[list[str]], order: int, vocab: list[str] | None = None,
             fallback=None, prune: tuple[int, ...] = (), limit_vocab: set[str] | None = None
             ) -> tuple[dict, list]:
    """{gram: (log10 prob, log10 backoff)} of every n-gram, and the discounts per order.
    `vocab`: extra words of the vocabulary (they get the uniform share, like <unk>).
    `prune`: thresholds per order 1..N (lmplz --prune): an n-gram of order >= 2 with raw
    count <= t leaves the model, its adjusted count joining its context's gamma.
    `limit_vocab` (lmplz --limit_vocab_file): an n-gram of any order holding a word outside
    it (specials allowed) is pruned the same way; the uniform share counts the allowed words."""
    counts = raw_counts(sentences, order)
    t = list(prune) or [0]
    t = (t + [t[-1]] * order)[:order]

    def kept(g):
        if limit_vocab is not None and any(w not in limit_vocab and w not in (UNK, BOS, EOS) for w in g):
            return False
        return len(g) == 1 or counts[len(g) - 1][g] > t[len(g) - 1]

    adj = adjusted_counts(counts)
    disc = discounts(adj, fallback)
    words = {g[0] for g in counts[0]} | {UNK, BOS, EOS} | set(vocab or ())
    for w in words:
        adj[0].setdefault((w,), 0)

    def d(k, a):
        return 0.0 if a == 0 else disc[k - 1][min(a, 3) - 1]

    stats = [defaultdict(lambda: [0, 0, 0, 0, 0]) for _ in range(order)]  # h -> S, N1, N2, N3+, pruned
    for k in range(1, order + 1):
        for g, a in adj[k - 1].items():
            st = stats[k - 1][g[:-1]]
            st[0] += a
            if not kept(g):
                st[4] += a
            elif a > 0:
                st[min(a, 3)] += 1
    gamma = [{h: (sum(d(k, j) * st[j] for j in (1, 2, 3)) + st[4]) / st[0] for h, st in stats[k - 1].items()}
             for k in range(1, order + 1)]
    nonbos = len([w for w in words if kept((w,))]) - 1  # --limit-vocab: the allowed words only (lmplz)
    prob: list[dict] = [dict() for _ in range(order)]
    for (w,), a in adj[0].items():
        if w == BOS:
            prob[0][(w,)] = 1.0
        else:
            prob[0][(w,)] = (a - d(1, a)) / stats[0][()][0] + gamma[0][()] / nonbos
    for k in range(2, order + 1):
        for g, a in adj[k - 1].items():
            h = g[:-1]
            prob[k - 1][g] = (a - d(k, a)) / stats[k - 1][h][0] + gamma[k - 1][h] * prob[k - 2][g[1:]]
    model = {}
    for k in range(1, order + 1):
        for g, p in prob[k - 1].items():
            if not kept(g):
                continue
            b = 0.0
            if k < order and g[-1] not in (EOS, UNK) and g in gamma[k]:
                # D = 0 (a degenerate count-of-counts) leaves no mass to back off with
                b = math.log10(gamma[k][g]) if gamma[k][g] > 0 else -math.inf
            model[g] = (min(0.0, math.log10(p)), b)
    return model, disc


def score(model: dict, history: tuple, word: str) -> float:
    """log10 p(word | history) under the backoff model (history: up to order-1 words)."""
    order = max(len(g) for g in model)
    history = tuple(history)[-(order - 1):] if order > 1 else ()
    total = 0.0
    for start in range(len(history) + 1):
        g = history[start:] + (word,)
        if g in model:
            return total + model[g][0]
        ctx = history[start:]
        if ctx and ctx in model:
            total += model[ctx][1]
    return total + model[(UNK,)][0]
