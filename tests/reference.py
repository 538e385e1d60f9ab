"""The plain-Python reference every test that needs an oracle uses: counts, chains,
Stupid Backoff and backoff (KenLM) scores, computed the obvious way with dicts and loops.

- `count_ngrams`: k-gram counts of tokenized sentences (tokens of any kind: str, bytes, ids);
- `apply_cutoffs`: the builder's cutoff rule (a k-gram below its cutoff is dropped, and so
  is every k-gram whose suffix was dropped);
- `CountsReference`: what a counts model built from a corpus holds (ids, counts, chains,
  match lengths) and its Stupid Backoff scores;
- `BackoffReference`: chains and KenLM's backoff scores of a parsed ARPA model.
"""
from __future__ import annotations

import math
from collections import Counter
from types import SimpleNamespace
from typing import Hashable, Iterable, Sequence

import numpy as np

UNK_ID, BOS_ID, EOS_ID = 0, 1, 2
STUPID_BACKOFF_ALPHA = 0.4


def count_ngrams(sentences: Iterable[Sequence[Hashable]], order: int, bos=None, eos=None,
                 orders: Iterable[int] | None = None) -> Counter:
    """{tuple of tokens: count} over every k-gram (k in `orders`, default 1..order) of
    each sentence, padded with `bos`/`eos` when given. Empty sentences are skipped."""
    counts: Counter = Counter()
    for sentence in sentences:
        if not len(sentence):
            continue
        toks = ([bos] if bos is not None else []) + list(sentence) + ([eos] if eos is not None else [])
        for k in (range(1, order + 1) if orders is None else orders):
            counts.update(tuple(toks[i:i + k]) for i in range(len(toks) - k + 1))
    return counts


def apply_cutoffs(counts: dict, cutoffs: Sequence[int]) -> dict:
    """The k-grams (k >= 2) that survive `cutoffs[k-1]`, shortest first, so that a k-gram
    whose suffix (w2..wk) was dropped is dropped too; unigrams are kept as they are."""
    kept = {g: c for g, c in counts.items() if len(g) == 1}
    for k in range(2, len(cutoffs) + 1):
        for g, c in counts.items():
            if len(g) == k and c >= cutoffs[k - 1] and (k == 2 or g[1:] in kept):
                kept[g] = c
    return kept


class CountsReference:
    """What a counts model built from `sentences` (lists of words) should hold."""

    def __init__(self, sentences: list[list[str]], order: int, min_count: int = 1, cutoffs: list[int] | None = None,
                 alpha: float = STUPID_BACKOFF_ALPHA):
        self.order, self.alpha = order, alpha
        cutoffs = cutoffs or [1] * order
        sentences = [s for s in sentences if s]
        words = Counter(w for s in sentences for w in s)
        kept = sorted((w for w, c in words.items() if c >= min_count), key=lambda w: (-words[w], w.encode()))
        self.ids = {w: i + 3 for i, w in enumerate(kept)}
        self.vocab_size = 3 + len(kept)
        unigram = Counter({UNK_ID: sum(c for w, c in words.items() if w not in self.ids),
                           BOS_ID: len(sentences), EOS_ID: len(sentences)})
        unigram.update({self.ids[w]: c for w, c in words.items() if w in self.ids})
        self.total = sum(unigram.values()) - unigram[BOS_ID]
        self.sentences = [[BOS_ID] + [self.ids.get(w, UNK_ID) for w in s] + [EOS_ID] for s in sentences]
        grams = count_ngrams(self.sentences, order, orders=range(2, order + 1))
        grams.update({(i,): c for i, c in unigram.items() if c > 0})
        self.counts = apply_cutoffs(grams, cutoffs)

    def count(self, gram) -> int:
        return self.counts.get(tuple(gram), 0)

    def chain(self, gram) -> list[int]:
        """Counts of the suffixes of `gram` of length 1..len(gram)."""
        return [self.count(gram[len(gram) - k:]) for k in range(1, len(gram) + 1)]

    def match_len(self, gram) -> int:
        return max([k for k in range(1, len(gram) + 1) if self.count(gram[len(gram) - k:])], default=0)

    def sb(self, ctx, w) -> tuple[float, int]:
        """Brants et al.'s Stupid Backoff: relative frequency if seen, else alpha * shorter;
        (score, length of the n-gram that answered)."""
        ctx = tuple(ctx)[max(0, len(ctx) - (self.order - 1)):] if self.order > 1 else ()
        if not ctx:
            c = self.count((w,))
            return (c / self.total, 1) if c else (1 / self.total, 0)
        c, cc = self.count(ctx + (w,)), self.count(ctx)
        if c and cc:
            return c / cc, len(ctx) + 1
        s, m = self.sb(ctx[1:], w)
        return self.alpha * s, m

    def score_sentence(self, ids, bos: bool, eos: bool) -> list[tuple[float, int, bool]]:
        """(log10 score, n-gram length, oov) per scored token."""
        toks = ([BOS_ID] if bos else []) + list(ids) + ([EOS_ID] if eos else [])
        out = []
        for p in range(1 if bos else 0, len(toks)):
            s, m = self.sb(toks[max(0, p - self.order + 1):p], toks[p])
            out.append((math.log10(s), m, toks[p] == UNK_ID or m == 0))
        return out


class BackoffReference:
    """Chains and KenLM scores of a parsed ARPA model (ngram.arpa.ArpaModel)."""

    def __init__(self, arpa):
        self.order = arpa.order
        self.words = arpa.words
        self.ids = {w: i for i, w in enumerate(arpa.words)}
        self.table = {}  # tuple of ids -> (prob or None for blank, backoff)
        for i, (p, b) in enumerate(zip(arpa.unigram_prob, arpa.unigram_backoff)):
            self.table[(i,)] = (float(p), float(b))
        for lev in arpa.levels:
            for g, p, b in zip(lev.grams.tolist(), lev.prob.tolist(), lev.backoff.tolist()):
                self.table[tuple(g)] = (None if math.isnan(p) else p, b)

    def lookup(self, ids: np.ndarray, lengths: np.ndarray):
        B, N = len(lengths), self.order
        match = np.zeros(B, np.int32)
        prob = np.full((B, N), np.nan, np.float32)
        back = np.zeros((B, N), np.float32)
        for r in range(B):
            gram = tuple(int(x) for x in ids[r, :lengths[r]])
            for k in range(1, len(gram) + 1):
                v = self.table.get(gram[len(gram) - k:])
                if v is None:
                    break  # a trie walk stops at the first absent suffix
                if v[0] is not None:
                    prob[r, k - 1] = v[0]
                    match[r] = k
                back[r, k - 1] = v[1]
        return SimpleNamespace(match_len=match, prob=prob, backoff=back)

    def score(self, context: list[int], word: int) -> tuple[float, int]:
        """KenLM: the longest n-gram ending in `word` with a probability, plus the
        backoffs of the context suffixes at least that long."""
        context = context[max(0, len(context) - (self.order - 1)):] if self.order > 1 else []
        m, p = 0, None
        for k in range(1, len(context) + 2):
            gram = tuple(context[len(context) - k + 1:]) + (word,)
            v = self.table.get(gram)
            if v is None:
                break
            if v[0] is not None:
                m, p = k, v[0]
        s = p
        for j in range(m, len(context) + 1):
            v = self.table.get(tuple(context[len(context) - j:]))
            if v is not None:
                s += v[1]
        return s, m

    def sentence(self, sentence: str, bos: bool = True, eos: bool = True) -> list[tuple[float, int]]:
        """(log10 p, n-gram length) of every word (and </s>) of a sentence; unknown words
        are <unk>."""
        toks = [self.ids.get(w.encode(), UNK_ID) for w in sentence.split()]
        ctx = [BOS_ID] if bos else []
        out = []
        for t in toks + ([EOS_ID] if eos else []):
            out.append(self.score(ctx, t))
            ctx.append(t)
        return out


# -- next-word prediction (ngram.predict; docs/PREDICTION.md) ---------------------------------
def sb_log10(ref: CountsReference, ctx, w) -> float:
    """Stupid Backoff in log10, with the arithmetic docs/PREDICTION.md documents (and
    ngram/kernels/stupid_backoff.py uses): the longest context suffix ctx_j whose count
    and whose (ctx_j, w) count are > 0 gives log10 c(ctx_j w) - log10 c(ctx_j) +
    (L - j) log10 alpha; else log10 c(w) - log10 total + L log10 alpha; an unseen word
    gets - log10 total + L log10 alpha."""
    ctx = tuple(ctx)[max(0, len(ctx) - (ref.order - 1)):] if ref.order > 1 else ()
    L, la = len(ctx), math.log10(ref.alpha)
    for j in range(L, 0, -1):
        cj = ctx[L - j:]
        cc, c = ref.count(cj), ref.count(cj + (w,))
        if cc and c:
            return (math.log10(c) - math.log10(cc)) + (L - j) * la
    c = ref.count((w,))
    lt = math.log10(max(ref.total, 1))
    return (math.log10(c) - lt if c else -lt) + L * la


def top_k(score, vocab_size: int, ctx, k: int, allowed=None, min_score=None) -> list[tuple[int, float]]:
    """The k best (word, score) of a context by brute force over the whole vocabulary:
    score descending, ties by word id ascending; `allowed(w)` filters words."""
    cands = [(w, score(ctx, w)) for w in range(vocab_size) if allowed is None or allowed(w)]
    if min_score is not None:
        cands = [c for c in cands if c[1] >= min_score]
    cands.sort(key=lambda t: (-t[1], t[0]))
    return cands[:k]


def normalized_arpa(sentences: list[list[str]], order: int, discount: float = 0.5) -> str:
    """ARPA text of a backoff model (absolute discounting, Katz backoff weights) whose
    every conditional distribution sums to 1 over its vocabulary, computed from the
    float32 values the file holds. Unigrams: c(w) / (T + 1), <unk> 1 / (T + 1), <s> -99."""
    f32 = lambda x: float(np.float32(x))  # noqa: E731
    counts = count_ngrams(sentences, order, bos="<s>", eos="</s>")
    uni = {g[0]: c for g, c in counts.items() if len(g) == 1 and g[0] != "<s>"}
    T = sum(uni.values())
    prob = {("<s>",): -99.0, ("<unk>",): f32(math.log10(1 / (T + 1)))}
    for w, c in uni.items():
        prob[(w,)] = f32(math.log10(c / (T + 1)))
    backoff: dict = {}

    def p_full(h: tuple, w: str) -> float:  # log10 p(w | h) of the orders built so far
        if h + (w,) in prob:
            return prob[h + (w,)]
        return backoff.get(h, 0.0) + p_full(h[1:], w) if h else prob.get((w,), -99.0)

    for n in range(2, order + 1):
        follow: dict = {}
        for g, c in counts.items():
            if len(g) == n:
                follow.setdefault(g[:-1], {})[g[-1]] = c
        new = {}
        for h, cont in follow.items():
            ch = sum(cont.values())
            for w, c in cont.items():
                new[h + (w,)] = f32(math.log10((c - discount) / ch))
        for h, cont in follow.items():
            left = 1 - sum(10 ** new[h + (w,)] for w in cont)
            lower = 1 - sum(10 ** p_full(h[1:], w) for w in cont)
            backoff[h] = f32(math.log10(left / lower))
        prob.update(new)
    lines = ["\\data\\"] + [f"ngram {n}={sum(1 for g in prob if len(g) == n)}" for n in range(1, order + 1)] + [""]
    for n in range(1, order + 1):
        lines.append(f"\\{n}-grams:")
        for g in sorted(g for g in prob if len(g) == n):
            bo = f"\t{backoff.get(g, 0.0):.9g}" if n < order else ""
            lines.append(f"{prob[g]:.9g}\t{' '.join(g)}{bo}")
        lines.append("")
    lines.append("\\end\\")
    return "\n".join(lines) + "\n"
