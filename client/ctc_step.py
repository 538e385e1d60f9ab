"""One CTC frame for every live utterance, and the final (end of utterance) step, as
whole-array operations over the beams of all utterances (see client/ctc_search.py)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from client.ctc_search import LN10, Search


@dataclass
class Beams:
    """Beams of all utterances, grouped by utterance (ascending), best first within one."""

    utt: np.ndarray     # utterance index
    text: np.ndarray    # word-trie node
    part: np.ndarray    # character-trie node of the partial word (0: none)
    last: np.ndarray    # last label (-1: none yet)
    logit: np.ndarray   # acoustic log score
    pstart: np.ndarray  # frames of the partial word (-1: none)
    pend: np.ndarray
    fnode: np.ndarray   # frames of the completed words (-1: none)
    score: np.ndarray   # combined score (acoustic + LM)

    def take(self, idx) -> "Beams":
        return Beams(*(getattr(self, f)[idx] for f in self.__dataclass_fields__))

    @staticmethod
    def cat(a: "Beams", b: "Beams") -> "Beams":
        return Beams(*(np.concatenate([getattr(a, f), getattr(b, f)]) for f in a.__dataclass_fields__))


@dataclass
class Params:
    beam_width: int
    beam_prune_logp: float
    token_min_logp: float
    prune_history: bool


def start(search: Search, n: int) -> Beams:
    roots = search.roots(n)
    z = np.zeros(n, np.int64)
    return Beams(np.arange(n), roots, z.copy(), z - 1, np.zeros(n), z - 1, z - 1, z - 1, np.zeros(n))


def _log_add(acc: np.ndarray, v: np.ndarray) -> np.ndarray:
    hi, lo = np.maximum(acc, v), np.minimum(acc, v)
    return hi + np.log(1 + np.exp(lo - hi))


def _merge(keys: np.ndarray, scores: np.ndarray):
    """Extensions with equal keys merged: (position: first member, fields: last member,
    merged score), groups in order of first appearance. Sequential dict merging keeps
    the first position but the last member's fields; the fields matter (the final step
    scores the last member's pending word), so this is kept."""
    order = np.argsort(keys, kind="stable")          # members of a group stay in order
    sk = keys[order]
    starts = np.flatnonzero(np.concatenate([[True], sk[1:] != sk[:-1]]))
    ends = np.concatenate([starts[1:], [len(sk)]])
    first, last = order[starts], order[ends - 1]
    acc = scores[first].copy()
    sizes = ends - starts
    for r in range(1, int(sizes.max(initial=1))):   # add members in order, as sequential merging does
        g = np.flatnonzero(sizes > r)
        acc[g] = _log_add(acc[g], scores[order[starts[g] + r]])
    pos = np.argsort(first)
    return last[pos], acc[pos]


def _select(utt: np.ndarray, score: np.ndarray, p: Params) -> np.ndarray:
    """Indices kept: within beam_prune_logp of the utterance's best, best beam_width,
    best first per utterance (ties keep their order)."""
    if len(utt) == 0:
        return np.zeros(0, np.int64)
    bounds = np.flatnonzero(np.diff(utt)) + 1
    starts = np.concatenate([[0], bounds])
    best = np.maximum.reduceat(score, starts)
    sizes = np.diff(np.concatenate([starts, [len(utt)]]))
    keep = np.flatnonzero(score >= np.repeat(best, sizes) + p.beam_prune_logp)
    order = keep[np.lexsort((keep, -score[keep], utt[keep]))]
    u = utt[order]
    first_of = np.concatenate([[0], np.flatnonzero(np.diff(u)) + 1])
    rank = np.arange(len(u)) - np.repeat(first_of, np.diff(np.concatenate([first_of, [len(u)]])))
    return order[rank < p.beam_width]


def _label_order(cols: np.ndarray, sel: np.ndarray, best: np.ndarray, floor: float) -> np.ndarray:
    """rank[u, label]: the order labels are tried in each utterance's frame. pyctcdecode
    iterates a Python set of the selected labels; extensions with exactly equal scores
    (common with low-precision logits) keep that order, so it is reproduced here: one
    small set per utterance and frame, nothing per beam."""
    rank = np.zeros(sel.shape, np.int64)
    for u in range(len(cols)):
        labels = list(set(np.where(cols[u] >= floor)[0]) | {best[u]})
        rank[u, labels] = np.arange(len(labels))
    return rank


def step(s: Search, beams: Beams, X: np.ndarray, t: int, active: int, p: Params) -> Beams:
    """Frame t for utterances 0..active-1 (their beams come first in `beams`)."""
    live = int(np.searchsorted(beams.utt, active))
    done = beams.take(slice(live, None))
    b0 = beams.take(slice(0, live))
    cols = X[:active, t, :]
    sel = cols >= p.token_min_logp
    best = cols.argmax(axis=1)
    sel[np.arange(active), best] = True
    rank = _label_order(cols, sel, best, p.token_min_logp)
    bi, ci = np.nonzero(sel[b0.utt])                   # by beam, then label
    group = b0.utt[bi] * s.L + rank[b0.utt[bi], ci]    # by utterance, then label, then beam:
    small = group.astype(np.int16) if active * s.L < 1 << 15 else group
    order = np.argsort(small, kind="stable")           # a radix sort for int16 keys
    b, c = bi[order], ci[order].astype(np.int64)
    u = b0.utt[b]
    logit = b0.logit[b] + X[u, t, c]
    last, part, text = b0.last[b], b0.part[b], b0.text[b]
    is_a = (c == s.blank) | (last == c)                # blank or repeat: same prefix
    is_b = ~is_a & (c == s.space)                      # space: the partial word is complete
    is_c = ~is_a & ~is_b                               # a new character of the partial word
    new_part = np.where(is_b, 0, part)
    new_part[is_c] = s.part_children(part[is_c], c[is_c])
    new_text = text.copy()
    ends = np.flatnonzero(is_b & (part != 0))
    if len(ends):
        new_text[ends] = s.text_children(text[ends], part[ends])
    ps, pe = b0.pstart[b].copy(), b0.pend[b].copy()
    rep = is_a & (c != s.blank)
    pe[rep] = t + 1
    ps[is_b], pe[is_b] = -1, -1
    ps[is_c] = np.where(ps[is_c] < 0, t, ps[is_c])
    pe[is_c] = t + 1
    n_text, n_part = s.t_parent.n + 1, s.p_partial.n + 1
    if n_text * n_part * (s.L + 1) >= 1 << 62:
        raise OverflowError("CTC search tries too large for one decode call; decode fewer utterances at once")
    keys = (new_text * n_part + new_part) * (s.L + 1) + c
    first, merged = _merge(keys, logit)
    g_text, g_part = new_text[first], new_part[first]
    lm = s.t_lm.v[g_text]
    lm = np.where(g_part != 0, lm + s.p_partial.v[g_part], lm)
    score = merged + lm
    kept = _select(u[first], score, p)
    g = first[kept]
    fnode = b0.fnode[b[g]]
    event = np.flatnonzero(is_b[g] & (part[g] != 0))
    if len(event):
        src = b[g[event]]
        fnode = fnode.copy()
        fnode[event] = s.f_parent.extend(fnode[event])
        s.f_start.extend(b0.pstart[src])
        s.f_end.extend(b0.pend[src])
    new = Beams(u[g], new_text[g], new_part[g], c[g], merged[kept], ps[g], pe[g], fnode, score[kept])
    if p.prune_history:
        new = new.take(_history_unique(s, new))
    return Beams.cat(new, done)


def _history_unique(s: Search, beams: Beams) -> np.ndarray:
    """First beam (best) of each (recent words, partial word, last label) per utterance."""
    hist = s.t_hist.v[beams.text]
    keys = np.stack([hist, beams.part, beams.last])
    _, first = np.unique(keys, axis=1, return_index=True)
    return np.sort(first)


def finish(s: Search, beams: Beams, p: Params):
    """The end of every utterance: the pending word and </s> scored, beams merged by
    final text, pruned and sorted. Returns (Beams, final text keys, end states)."""
    has = beams.part != 0
    # merge key: the final text; a word not yet in the trie gets a key of its own
    keys = beams.text.copy()
    idx = np.flatnonzero(has)
    if len(idx):
        pair = (beams.text[idx] << 32) | beams.part[idx]
        known = np.fromiter((s.t_index.get(k, -1) for k in pair.tolist()), np.int64, len(pair))
        uniq, inv = np.unique(pair, return_inverse=True)
        keys[idx] = np.where(known >= 0, known, -1 - inv.ravel())
    # beams of one utterance are contiguous and merge only with each other
    _, inv_u = np.unique(np.stack([beams.utt, keys]), axis=1, return_inverse=True)
    first, merged = _merge(inv_u.ravel(), beams.logit)
    g = beams.take(first)
    s.ensure_words(g.part[g.part != 0])
    word = np.where(g.part != 0, s.p_lmid.v[g.part], 0)
    if s.engine is not None:
        log10, nxt = s.engine.extend(s.t_state.v[g.text], word)
        end = s.engine.end_scores(nxt) if s.bos else np.zeros(len(nxt))
        s_unk = np.where(g.part != 0, s.p_unk.v[g.part], True)
        w = np.where(s_unk, log10 + s.w.unk_offset, log10)
        w = w + end
        raw = s.t_raw.v[g.text] + (s.alpha * w * LN10 + s.beta)
    else:
        nxt, raw = np.zeros(len(g.text), np.int64), np.zeros(len(g.text))
    hot = s.t_hot.v[g.text] + np.where(g.part != 0, s.p_hot.v[g.part], 0)
    score = merged + (raw + s.w.hotword_weight * hot)
    kept = _select(g.utt, score, p)
    out = g.take(kept)
    out.logit = merged[kept]
    out.score = score[kept]
    return out, nxt[kept]

