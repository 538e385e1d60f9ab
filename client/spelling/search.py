"""Beam search over the candidate lattices of a batch of sentences, on one LMEngine, in
a few model rounds.

A hypothesis stands at a token position with an LM state (client.beam: its last order-1
words) and a score

    log10 P_LM(words so far) + lam * sum of its arcs' error_log10

(`error_log10` is log10 P(typed | intended); on ORIGINAL arcs, the keep-the-original
prior). Step p takes every live hypothesis of every sentence at position p and extends
it by every arc starting at p (an arc ends at p+1, or p+2 for a merge), scoring every
(state, word) pair: the word, a split arc's second word, the words of following
positions with a single one-word arc (no choice there), and </s> where an extension
lands on its sentence's end (states are named client-side: `engine.next_states`).
Before a position is extended its hypotheses are recombined (Viterbi: of those with the
same LM state only the best survives, exact, as the future depends only on the state)
and pruned to `beam` per sentence and to those within `prune_log10` of the sentence's
best. With an unbounded beam the search is exhaustive (tests/test_spell_search.py checks
it against enumerating every path).

Rounds. The steps run locally over a PairTable (search_table.py) of the answers held:
a seed round asks every arc's words in the context of each sentence's typed words; a
pass runs all steps, scoring a pair not held by an estimate and noting it pending; if
none was pending the result is exactly the step-by-step search's, else one round asks
them all (and `prefetch`'s pairs) and the next pass redoes the steps from the first
that used an estimate (those before it are kept). Each round makes that step exact, so
`max_rounds=None` ends exact in at most positions + 1 rounds (2-3 in practice);
`max_rounds` (MAX_SPELL_SEARCH_ROUNDS) caps it, and a batch still pending then takes
the last pass's best path (`capped` counts those sentences). `max_rounds=0` is the
eager search: each step asks its missing pairs at once (one round per position with a
choice; cheaper on an in-process model, where a round is a call).

Everything per step is whole-array numpy (with engine.ArrayLMEngine; a plain LMEngine
interns next states one by one). The confidences of changes: rescore.py.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from client.beam import LMEngine
from client.spelling.search_table import PairTable
from client.spelling.types import ORIGINAL, Arc
from ngram.errors import InvalidArgumentError, InvalidQueryError
from ngram.limits import (DEFAULT_SPELL_BEAM, DEFAULT_SPELL_LAMBDA, DEFAULT_SPELL_PRUNE_LOG10,
                          MAX_SPELL_SEARCH_ROUNDS)
from ngram.vocab import EOS_ID


@dataclass(frozen=True)
class SearchResult:
    """The best path of one sentence: its arcs in order and its total score."""
    arcs: tuple[Arc, ...]
    score: float


@dataclass
class _Batch:
    """The arcs of every sentence as flat arrays, sorted by (sentence, first token)."""
    arcs: list[Arc]
    sent: np.ndarray
    first: np.ndarray
    last: np.ndarray
    w1: np.ndarray      # LM id of the first word
    w2: np.ndarray      # LM id of the second word of a split, else -1
    err: np.ndarray     # error_log10
    lo: np.ndarray      # [S, P+1] arcs of (sentence, position) are lo..hi
    hi: np.ndarray
    single: np.ndarray  # [S, P+1] the one arc of a position with one one-word, one-token arc, else -1
    walk: np.ndarray    # [S, P+1] the arc the seed round walks (ORIGINAL one-token first, then best error)


def _batch(engine: LMEngine, lattices: list[list[Arc]], lengths: list[int]) -> _Batch:
    arcs: list[Arc] = []
    sents: list[int] = []
    for s, lat in enumerate(lattices):
        for a in lat:
            if not (0 <= a.first < a.last <= lengths[s]) or not 1 <= len(a.lm_words) <= 2:
                raise InvalidQueryError(f"sentence {s}: arc {a} does not fit its {lengths[s]} tokens")
            arcs.append(a)
            sents.append(s)
    S, P = len(lattices), max(lengths, default=0) + 1
    sent = np.asarray(sents, np.int64)
    first = np.fromiter((a.first for a in arcs), np.int64, len(arcs))
    order = np.lexsort((first, sent))
    arcs = [arcs[i] for i in order.tolist()]
    sent, first = sent[order], first[order]
    last = np.fromiter((a.last for a in arcs), np.int64, len(arcs))
    err = np.fromiter((a.error_log10 for a in arcs), np.float64, len(arcs))
    words = [a.lm_words[0] for a in arcs] + [a.lm_words[1] for a in arcs if len(a.lm_words) == 2]
    ids = engine.word_ids(words).astype(np.int64)
    w1 = ids[:len(arcs)]
    two = np.fromiter((len(a.lm_words) == 2 for a in arcs), bool, len(arcs))
    w2 = np.full(len(arcs), -1, np.int64)
    w2[two] = ids[len(arcs):]
    key = sent * P + first
    cells = np.arange(S * P, dtype=np.int64)
    lo = np.searchsorted(key, cells, "left").reshape(S, P)
    hi = np.searchsorted(key, cells, "right").reshape(S, P)
    single = np.where(hi - lo == 1, lo, -1)
    one = single >= 0
    at = single[one]
    one[one] = (last[at] == first[at] + 1) & (w2[at] < 0)
    single = np.where(one, single, -1)
    rank = (np.fromiter((a.kind == ORIGINAL for a in arcs), np.float64, len(arcs)) * 4
            + (last == first + 1) * 2 + np.clip(err, -1e9, 0) / 1e9)
    o = np.lexsort((-rank, key))  # arcs are sorted by key: the best of a cell comes first
    walk = np.where(hi > lo, o[np.minimum(lo, len(o) - 1)], -1) if len(o) else np.full_like(lo, -1)
    return _Batch(arcs, sent, first, last, w1, w2, err, lo, hi, single, walk)


def _select(sent, state, score, beam: int, prune_log10: float | None) -> np.ndarray:
    """Indices of the survivors: the best per (sentence, state), then the best `beam`
    per sentence, within `prune_log10` of the sentence's best."""
    if len(sent) == 0:
        return np.zeros(0, np.int64)
    o = np.lexsort((-score, state, sent))
    s, st = sent[o], state[o]
    head = np.ones(len(o), bool)
    head[1:] = (s[1:] != s[:-1]) | (st[1:] != st[:-1])
    o = o[head]
    o = o[np.lexsort((-score[o], sent[o]))]
    s = sent[o]
    start = np.ones(len(o), bool)
    start[1:] = s[1:] != s[:-1]
    group_first = np.maximum.accumulate(np.where(start, np.arange(len(o)), 0))
    keep = (np.arange(len(o)) - group_first) < beam
    if prune_log10 is not None:
        keep &= score[o] >= score[o][group_first] - prune_log10
    return o[keep]


def _next_states(eng: LMEngine, states: np.ndarray, words: np.ndarray) -> np.ndarray:
    """The states after (state, word) pairs, named without the model."""
    if hasattr(eng, "next_states"):
        return eng.next_states(states, words)
    return np.fromiter((eng.intern(eng.context(s) + (w,)) for s, w in zip(states.tolist(), words.tolist())),
                       np.int64, len(states))


def _scores(eng: LMEngine, states: np.ndarray, words: np.ndarray) -> np.ndarray:
    return eng.scores(states, words) if hasattr(eng, "scores") else eng.extend(states, words)[0]


def _context_rows(eng: LMEngine, states: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The contexts of states as left-aligned rows and lengths."""
    if hasattr(eng, "context_rows"):
        return eng.context_rows(states)
    W = max(eng.width, 1)
    ctx = [eng.context(s) for s in np.asarray(states).tolist()]
    rows = np.full((len(ctx), W), -1, np.int64)
    for i, c in enumerate(ctx):
        rows[i, :len(c)] = c
    return rows, np.fromiter(map(len, ctx), np.int64, len(ctx))


def _intern_many(eng: LMEngine, contexts: list[tuple[int, ...]]) -> np.ndarray:
    if hasattr(eng, "intern_many"):
        return eng.intern_many(contexts)
    return np.fromiter(map(eng.intern, contexts), np.int64, len(contexts))


class BeamSearch:
    """The search of a batch of lattices; `engine.rounds` counts the model rounds.

    `max_rounds`: the rounds one `search` may ask (None: until exact; 0: eager, a round
    at each step that needs one, the per-position search; see the module docstring). `self.rounds_used` and `self.capped` (sentences of the last search
    decided with estimates left) describe the last search."""

    def __init__(self, engine: LMEngine, *, lam: float = DEFAULT_SPELL_LAMBDA, beam: int = DEFAULT_SPELL_BEAM,
                 prune_log10: float | None = DEFAULT_SPELL_PRUNE_LOG10,
                 max_rounds: int | None = MAX_SPELL_SEARCH_ROUNDS):
        if beam < 1:
            raise InvalidArgumentError(f"beam must be >= 1, got {beam}")
        if max_rounds is not None and max_rounds < 0:
            raise InvalidArgumentError(f"max_rounds must be >= 0 or None, got {max_rounds}")
        self.engine, self.lam, self.beam, self.prune_log10 = engine, float(lam), int(beam), prune_log10
        self.max_rounds = max_rounds
        self.rounds_used = 0
        self.capped = 0

    def search(self, lattices: list[list[Arc]], lengths: list[int], prefetch=None) -> list[SearchResult]:
        """The best path of each sentence (`lengths[s]` tokens, arcs `lattices[s]`;
        a position no arc leaves makes the sentence unsolvable: an InvalidQueryError).
        `prefetch(paths) -> (states, words)`: pairs the caller will ask after the search
        for these best paths (the confidences); each round after the first asks them
        too, for the pass's best paths, so they are cached if the paths stand."""
        S = len(lattices)
        self.rounds_used = self.capped = 0
        if S == 0:
            return []
        eng = self.engine
        b = _batch(eng, lattices, lengths)
        n = np.asarray(lengths, np.int64)
        table = PairTable(lambda st: _context_rows(eng, st), eng.width, estimates=self.max_rounds != 0)
        if self.max_rounds != 0:
            self._ask(table, *_seed_pairs(eng, b, n))
        run = _Pass(self, b, n, table)
        start = 0
        while True:
            first_estimated = run.run(start)
            if first_estimated is None:
                break
            if self.max_rounds is not None and self.rounds_used >= self.max_rounds:
                self.capped = int(len(np.unique(run.pending_sents)))
                break
            states, words = run.pending()
            if prefetch is not None:
                more = prefetch([r.arcs for r in run.results()])
                states, words = np.concatenate([states, more[0]]), np.concatenate([words, more[1]])
            self._ask(table, states, words)
            start = first_estimated
        return run.results()

    def _ask(self, table: PairTable, states: np.ndarray, words: np.ndarray) -> None:
        """One model round (none if the engine's cache holds every pair)."""
        if len(states):
            keys = np.unique((np.asarray(states, np.int64) << 32) | np.asarray(words, np.int64))
            states, words = keys >> 32, keys & 0xFFFFFFFF
            table.add(states, words, _scores(self.engine, states, words))
            self.rounds_used += 1


def _seed_pairs(eng: LMEngine, b: _Batch, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The first round's pairs: every arc's words (and </s>) in the context of each
    sentence's walk through its ORIGINAL arcs (where none, its best-error one-token arc)."""
    S = len(n)
    state = eng.start_states(S)
    pos = np.zeros(S, np.int64)
    states, words = [], []
    while True:
        s = np.flatnonzero(pos < n)
        if len(s) == 0:
            break
        p = pos[s]
        lo, hi = b.lo[s, p], b.hi[s, p]
        count = hi - lo
        if np.any(count == 0):
            raise InvalidQueryError(f"sentence {int(s[np.flatnonzero(count == 0)[0]])}: "
                                    f"no arc leaves token position {int(p[np.flatnonzero(count == 0)[0]])}")
        rep = np.repeat(np.arange(len(s)), count)
        arc = np.repeat(lo, count) + (np.arange(len(rep)) - np.repeat(np.cumsum(count) - count, count))
        st = state[s][rep]
        states.append(st)
        words.append(b.w1[arc])
        split = np.flatnonzero(b.w2[arc] >= 0)
        cur = _next_states(eng, st, b.w1[arc])
        states.append(cur[split])
        words.append(b.w2[arc[split]])
        cur[split] = _next_states(eng, cur[split], b.w2[arc[split]])
        # on through the positions without a choice after each arc, and </s> at the end,
        # as the step will ask them
        asent, q = s[rep], b.last[arc].copy()
        while True:
            m = np.flatnonzero((q < n[asent]) & (b.single[asent, np.minimum(q, b.lo.shape[1] - 1)] >= 0))
            if len(m) == 0:
                break
            only = b.single[asent[m], q[m]]
            states.append(cur[m])
            words.append(b.w1[only])
            cur[m] = _next_states(eng, cur[m], b.w1[only])
            q[m] += 1
        end = np.flatnonzero(q == n[asent])
        states.append(cur[end])
        words.append(np.full(len(end), EOS_ID, np.int64))
        walk = b.walk[s, p]
        nxt = _next_states(eng, state[s], b.w1[walk])
        two = np.flatnonzero(b.w2[walk] >= 0)
        nxt[two] = _next_states(eng, nxt[two], b.w2[walk[two]])
        state[s] = nxt
        pos[s] = b.last[walk]
    states.append(state)
    words.append(np.full(S, EOS_ID, np.int64))
    st, w = np.concatenate(states), np.concatenate(words)
    keys = np.unique((st << 32) | w)
    return keys >> 32, keys & 0xFFFFFFFF


class _Pass:
    """The beam search over the lattices with the scores of a PairTable. `run(start)`
    redoes the steps from token position `start` on (the steps before it kept: they used
    only answers); it returns the first position whose step used an estimate, or None
    when none did (then the result is the exact beam search's)."""

    def __init__(self, search: BeamSearch, b: _Batch, n: np.ndarray, table: PairTable):
        self.search, self.b, self.n, self.table = search, b, n, table
        S = len(n)
        self.parents: list[np.ndarray] = [np.full(S, -1, np.int64)]
        self.arcs_of: list[np.ndarray] = [np.full(S, -1, np.int64)]
        self.n_hyps = S
        # hypotheses waiting at each position: (producing step, sent, state, score, hyp id)
        self.waiting: dict[int, list[tuple]] = {
            0: [(-1, np.arange(S), search.engine.start_states(S), np.zeros(S), np.arange(S))]}
        self.best_score = np.full(S, -np.inf)
        self.best_hyp = np.full(S, -1, np.int64)
        self.snapshots: dict[int, tuple] = {}

    def pending(self) -> tuple[np.ndarray, np.ndarray]:
        keys = np.unique((np.concatenate(self.pend_states) << 32) | np.concatenate(self.pend_words))
        return keys >> 32, keys & 0xFFFFFFFF

    def _restore(self, start: int) -> None:
        if start not in self.snapshots:
            return
        n_lists, self.n_hyps, best_score, best_hyp = self.snapshots[start]
        del self.parents[n_lists:], self.arcs_of[n_lists:]
        self.best_score, self.best_hyp = best_score.copy(), best_hyp.copy()
        for q in list(self.waiting):
            if q >= start:
                self.waiting[q] = [c for c in self.waiting[q] if c[0] < start]

    def run(self, start: int) -> int | None:
        self._restore(start)
        self.pend_states, self.pend_words, self.pend_sents = [], [], []
        first_estimated = None
        for p in range(start, int(self.n.max()) + 1):
            self.snapshots[p] = (len(self.parents), self.n_hyps, self.best_score.copy(), self.best_hyp.copy())
            if self._step(p) and first_estimated is None:
                first_estimated = p
        self.pending_sents = np.concatenate(self.pend_sents) if self.pend_sents else np.zeros(0, np.int64)
        return first_estimated

    def _step(self, p: int) -> bool:
        """Extends the hypotheses at position p; True if a pair it needed was estimated."""
        chunks = [c[1:] for c in self.waiting.get(p, [])]
        if not chunks:
            return False
        se, b, n, eng = self.search, self.b, self.n, self.search.engine
        P = b.lo.shape[1]
        sent, state, score, hid = (np.concatenate(c) for c in zip(*chunks))
        keep = _select(sent, state, score, se.beam, se.prune_log10)
        sent, state, score, hid = sent[keep], state[keep], score[keep], hid[keep]
        done = n[sent] == p
        # extensions of the hypotheses not at their end: one row per (hypothesis, arc)
        go = np.flatnonzero(~done)
        lo, hi = b.lo[sent[go], p], b.hi[sent[go], p]
        count = hi - lo
        if np.any(count == 0):
            s = int(sent[go][np.flatnonzero(count == 0)[0]])
            raise InvalidQueryError(f"sentence {s}: no arc leaves token position {p}")
        rep = np.repeat(go, count)
        arc = np.repeat(lo, count) + (np.arange(len(rep)) - np.repeat(np.cumsum(count) - count, count))
        E = len(rep)
        esent = sent[rep]
        new_ids = np.arange(self.n_hyps, self.n_hyps + E)
        self.n_hyps += E
        self.parents.append(hid[rep])
        self.arcs_of.append(arc)
        # pairs of the step: [owner extension, state, word, error]; the states after each
        # word are named client-side, so an extension runs on through positions with a
        # single arc (no choice to make there) and scores </s> when it lands on its
        # sentence's end, all in this step
        split = np.flatnonzero(b.w2[arc] >= 0)
        cur = _next_states(eng, state[rep], b.w1[arc])
        owners, states, words, errs = [np.arange(E), split], [state[rep], cur[split]], \
            [b.w1[arc], b.w2[arc[split]]], [se.lam * b.err[arc], np.zeros(len(split))]
        cur[split] = _next_states(eng, cur[split], b.w2[arc[split]])
        cur_id, q = new_ids.copy(), b.last[arc].copy()
        while True:
            m = np.flatnonzero((q < n[esent]) & (b.single[esent, np.minimum(q, P - 1)] >= 0))
            if len(m) == 0:
                break
            only = b.single[esent[m], q[m]]
            owners.append(m)
            states.append(cur[m])
            words.append(b.w1[only])
            errs.append(se.lam * b.err[only])
            hop_ids = np.arange(self.n_hyps, self.n_hyps + len(m))
            self.n_hyps += len(m)
            self.parents.append(cur_id[m])
            self.arcs_of.append(only)
            cur_id[m] = hop_ids
            cur[m] = _next_states(eng, cur[m], b.w1[only])
            q[m] += 1
        end = np.flatnonzero(q == n[esent])
        fin = np.flatnonzero(done)  # only sentences of no tokens end where they start
        owners += [end, E + np.arange(len(fin))]
        states += [cur[end], state[fin]]
        words += [np.full(len(end) + len(fin), EOS_ID, np.int64)]
        errs += [np.zeros(len(end) + len(fin))]
        all_states, all_words = np.concatenate(states), np.concatenate(words)
        if se.max_rounds == 0:  # eager: this step's round, now (the engine's cache answers the rest)
            rounds = eng.rounds
            log10, held = _scores(eng, all_states, all_words), np.ones(len(all_words), bool)
            se.rounds_used += eng.rounds - rounds
        else:
            log10, held = self.table.get(all_states, all_words)
        estimated = not held.all()
        if estimated:
            miss = np.flatnonzero(~held)
            self.pend_states.append(all_states[miss])
            self.pend_words.append(all_words[miss])
            own = np.concatenate(owners)[miss]
            self.pend_sents.append(np.concatenate([esent, sent[fin]])[own])
        total = np.concatenate([score[rep], score[fin]])
        np.add.at(total, np.concatenate(owners), log10 + np.concatenate(errs))
        ends = np.concatenate([end, E + np.arange(len(fin))])
        if len(ends):
            es = np.concatenate([esent, sent[fin]])[ends]
            eid = np.concatenate([cur_id, hid[fin]])[ends]
            o = np.lexsort((-total[ends], es))
            head = np.ones(len(o), bool)
            head[1:] = es[o][1:] != es[o][:-1]
            top, sc = es[o[head]], total[ends][o[head]]
            better = sc > self.best_score[top]
            self.best_score[top[better]] = sc[better]
            self.best_hyp[top[better]] = eid[o[head]][better]
        live = np.flatnonzero(q < n[esent])
        for to in np.unique(q[live]).tolist():
            m = live[q[live] == to]
            self.waiting.setdefault(to, []).append((p, esent[m], cur[m], total[m], cur_id[m]))
        return estimated

    def results(self) -> list[SearchResult]:
        parent, arc_of = np.concatenate(self.parents), np.concatenate(self.arcs_of)
        out = []
        for s in range(len(self.n)):
            path, h = [], int(self.best_hyp[s])
            while h >= 0 and arc_of[h] >= 0:
                path.append(self.b.arcs[int(arc_of[h])])
                h = int(parent[h])
            out.append(SearchResult(tuple(reversed(path)), float(self.best_score[s])))
        return out
