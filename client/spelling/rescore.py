"""The confidences of a best path's changes: the posterior of every way to cover a
changed span, the rest of the path fixed (`rescore_spans`), in one model round for a
whole batch, or none when the search asked the pairs ahead (`rescore_pairs` names them).
Python loops over items run here only, over the few changed spans."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from client.beam import LMEngine
from client.spelling.search import _intern_many, _scores
from client.spelling.types import Arc
from ngram.vocab import BOS_ID, EOS_ID


@dataclass(frozen=True)
class Variant:
    """One way to cover a span of a sentence's best path: its display text and posterior."""
    text: str
    posterior: float


def rescore_spans(engine: LMEngine, lam: float, paths: list[tuple[Arc, ...]],
                  spans: list[tuple[int, int, list[tuple[str, tuple[Arc, ...]]]]]) -> list[list[Variant]]:
    """Posteriors of the ways to cover spans of best paths, the rest of each path fixed.

    `spans[i] = (sentence, index of the span's first arc in its path (a span is one arc of
    the path), variants)`, each variant a display text and the arcs covering the span.
    A variant's score is its LM score with the rest of the path unchanged (its words,
    the order-1 words after them, and </s> if they reach the end) plus lam times its
    error_log10; posterior = its share of 10**score among the span's variants (equal
    display texts summed). All variants of all spans cost one model round.
    """
    states, words, owner, errs, var_index = rescore_pairs(engine, paths, spans)
    log10 = _scores(engine, states, words)
    total = np.zeros(len(var_index))
    np.add.at(total, owner, log10)
    total += lam * np.asarray(errs)
    out: list[list[Variant]] = [[] for _ in spans]
    by_span: dict[int, list[int]] = {}
    for v, (i, _t) in enumerate(var_index):
        by_span.setdefault(i, []).append(v)
    for i, vs in by_span.items():
        sc = total[vs]
        p = 10.0 ** (sc - sc.max())
        p /= p.sum()
        mass: dict[str, float] = {}
        for v, pv in zip(vs, p.tolist()):
            mass[var_index[v][1]] = mass.get(var_index[v][1], 0.0) + pv
        out[i] = sorted((Variant(t, m) for t, m in mass.items()), key=lambda x: -x.posterior)
    return out


def rescore_pairs(engine: LMEngine, paths: list[tuple[Arc, ...]],
                  spans: list[tuple[int, int, list[tuple[str, tuple[Arc, ...]]]]]):
    """The (state, word) pairs `rescore_spans` asks (states, words), the variant owning
    each pair, each variant's error_log10 sum and (span, text) of each variant."""
    width = engine.width
    states, words, owner, errs = [], [], [], []
    var_index = []
    for i, (s, k, variants) in enumerate(spans):
        path = paths[s]
        before = [w for a in path[:k] for w in a.lm_words]
        after = [w for a in path[k + 1:] for w in a.lm_words][:width]
        reaches_end = sum(len(a.lm_words) for a in path[k + 1:]) <= width
        ids_before = [BOS_ID] + engine.word_ids(before).tolist() if before else [BOS_ID]
        ids_after = engine.word_ids(after).tolist()
        for text, arcs in variants:
            v = len(var_index)
            var_index.append((i, text))
            ctx = ids_before[-width:] if width else []
            mine = [w for a in arcs for w in a.lm_words]
            seq = engine.word_ids(mine).tolist() + ids_after + ([EOS_ID] if reaches_end else [])
            for w in seq:
                states.append(tuple(ctx))
                words.append(w)
                owner.append(v)
                ctx = (ctx + [w])[-width:] if width else []
            errs.append(sum(a.error_log10 for a in arcs))
    return (_intern_many(engine, states), np.asarray(words, np.int64), np.asarray(owner, np.int64),
            np.asarray(errs, np.float64), var_index)
