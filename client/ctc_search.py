"""CTC prefix beam search over many utterances at once, with word-level LM fusion.

The search semantics are pyctcdecode 0.5.0's (so equal parameters give equal best
paths): a beam is (text, partial word, last label); each frame extends every beam by
every label whose log-probability reaches `token_min_logp` (and the frame's best);
extensions that meet (same text, partial word, last label) are merged by log-sum-exp;
a beam's score is its acoustic score plus the LM score of its complete words
(alpha * ln p(words) + beta per word, an unknown-word offset for words outside the
unigram list) plus a partial-word score (the offset when the partial word starts no
unigram); then beams further than `beam_prune_logp` below the best are dropped and the
best `beam_width` kept. At the end the pending word and </s> are scored.

What is ours is the representation: texts are nodes of a word trie and partial words
nodes of a character trie (ints), so one frame of every utterance is a few whole-array
numpy operations, and the words completed in a frame by any beam of any utterance are
scored by the LMEngine in one round.
"""
from __future__ import annotations

import math
import numpy as np

from client.beam import LMEngine

AVG_WORD_CHARS = 6         # partial words longer than this get a proportionally larger offset
LN10 = 1.0 / math.log10(math.e)


class _Grow:
    """A growable 1-d numpy array."""

    def __init__(self, dtype, fill=0):
        self.a = np.full(64, fill, dtype)
        self.n = 0
        self.fill = fill

    def extend(self, values) -> np.ndarray:
        values = np.asarray(values)
        k = len(values)
        while self.n + k > len(self.a):
            self.a = np.concatenate([self.a, np.full(len(self.a), self.fill, self.a.dtype)])
        ids = np.arange(self.n, self.n + k)
        self.a[self.n:self.n + k] = values
        self.n += k
        return ids

    @property
    def v(self) -> np.ndarray:
        return self.a[:self.n]


class UnigramTrie:
    """The unigrams as a trie over label ids (single-character labels): child lookups
    for a whole array of (node, label) at once; node 0 is "", -1 is "starts no unigram"."""

    def __init__(self, unigrams: list[str], labels: list[str]):
        self.L = len(labels)
        index = {c: i for i, c in enumerate(labels) if len(c) == 1}
        nodes: dict[str, int] = {"": 0}
        keys, vals, words = [], [], []
        for w in unigrams:
            node = 0
            for k in range(len(w)):
                c = index.get(w[k])
                if c is None:
                    break
                nxt = nodes.get(w[:k + 1])
                if nxt is None:
                    nxt = nodes[w[:k + 1]] = len(nodes)
                    keys.append(node * self.L + c)
                    vals.append(nxt)
                node = nxt
            else:
                words.append(node)
        order = np.argsort(np.array(keys, np.int64))
        self.keys = np.array(keys, np.int64)[order]
        self.vals = np.array(vals, np.int64)[order]
        self.is_word = np.zeros(len(nodes), bool)
        self.is_word[np.array(words, np.int64)] = True

    def children(self, nodes: np.ndarray, labels: np.ndarray) -> np.ndarray:
        key = nodes * self.L + labels
        at = np.minimum(np.searchsorted(self.keys, key), max(len(self.keys) - 1, 0))
        found = (nodes >= 0) & (len(self.keys) > 0)
        if len(self.keys):
            found &= self.keys[at] == key
        return np.where(found, self.vals[at] if len(self.vals) else -1, -1)


class WordScorer:
    """The per-decoder word knowledge: unigram prefixes, unknown-word offsets, hotwords."""

    def __init__(self, engine: LMEngine | None, unigrams: list[str] | None, unk_offset: float,
                 hotwords=None, hotword_weight: float = 10.0, trie: UnigramTrie | None = None):
        self.engine = engine
        self.trie = trie  # given when every label is one character: no string searches
        self.unk_offset = float(unk_offset)
        self.unigrams = sorted(unigrams) if unigrams else []
        self._uni_array = None
        words = [w for h in (hotwords or []) for w in h.strip().split()]
        self.hotwords = set(words)
        self.hotword_weight = float(hotword_weight)
        self._hot_min: dict[str, int] = {}
        for w in words:
            for i in range(1, len(w) + 1):
                p = w[:i]
                self._hot_min[p] = min(self._hot_min.get(p, len(w)), len(w))

    def _lookup(self, strs: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(starts a unigram, is a unigram) of each string, by sorted search: s starts a
        unigram iff one sorts in [s, s + the largest code point)."""
        n = len(self.unigrams)
        if n == 0:
            z = np.zeros(len(strs), bool)
            return z, z
        if self._uni_array is None:
            self._uni_array = np.array(self.unigrams, dtype=str)
        self._uni = self._uni_array
        arr = np.array(strs, dtype=str)
        lo = np.searchsorted(self._uni, arr)
        hi = np.searchsorted(self._uni, np.array([x + "\U0010ffff" for x in strs], dtype=str))
        member = (lo < n) & (self._uni[np.minimum(lo, n - 1)] == arr)
        return hi > lo, member

    def partials(self, lengths: np.ndarray, prefix: np.ndarray | None, strs: list[str] | None) -> np.ndarray:
        """Partial-word scores of new partial words (their lengths in characters): the
        offset when no unigram starts with it (`prefix`, else searched for in `strs`),
        scaled up past AVG_WORD_CHARS characters; a hotword prefix's share of the
        hotword weight instead (needs `strs`)."""
        if self.engine is None:
            partial = np.zeros(len(lengths))
        else:
            if prefix is None:
                prefix, _ = self._lookup(strs)
            partial = self.unk_offset * (~prefix).astype(np.float64)
            long = lengths > AVG_WORD_CHARS
            partial[long] = partial[long] * lengths[long] / AVG_WORD_CHARS
        if self._hot_min:
            for i, s in enumerate(strs):
                if s in self._hot_min:
                    partial[i] = self.hotword_weight * len(s) / self._hot_min[s]
        return partial

    def words(self, strs: list[str], member: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(LM ids, unknown) of words: unknown is outside the unigram list (when there is
        one) or outside the model's vocabulary; both get the unknown-word offset.
        `member`: whether each is a unigram, if known."""
        lm_ids = self.engine.word_ids(strs) if self.engine else np.zeros(len(strs), np.int64)
        if len(self.unigrams):
            if member is None:
                _, member = self._lookup(strs)
            return lm_ids, ~member | (lm_ids == 0)
        return lm_ids, lm_ids == 0


class Search:
    """One decode call: the tries, the beams of every utterance, and the frame step."""

    def __init__(self, labels: list[str], words: WordScorer, alpha: float, beta: float, bos: bool):
        self.labels = labels
        self.L = len(labels)
        self.blank = labels.index("")
        self.space = labels.index(" ") if " " in labels else -1
        self.w = words
        self.engine = words.engine
        self.alpha, self.beta = float(alpha), float(beta)
        self.bos = bos
        # character trie of partial words; node 0 is ""
        self.p_child = np.full((64, self.L), -1, np.int32)
        self.p_parent, self.p_char, self.p_len = _Grow(np.int64, -1), _Grow(np.int64), _Grow(np.int64)
        self._strs: dict[int, str] = {0: ""}  # strings of partial words, made when needed
        self.p_partial = _Grow(np.float64)
        self.p_lmid = _Grow(np.int64)
        self.p_unk = _Grow(bool, True)
        self.p_hot = _Grow(np.int64)
        self.p_utrie = _Grow(np.int64)  # node in the unigram trie (-1: starts no unigram)
        for g in (self.p_partial, self.p_lmid, self.p_unk, self.p_hot, self.p_utrie,
                  self.p_parent, self.p_char, self.p_len):
            g.extend([g.fill])
        self.p_lmid.a[0] = 0  # "" is no word: <unk>
        # word trie of texts, one root per utterance
        self.t_parent, self.t_part = _Grow(np.int64, -1), _Grow(np.int64)
        self.t_state, self.t_raw = _Grow(np.int64), _Grow(np.float64)
        self.t_hot, self.t_lm = _Grow(np.int64), _Grow(np.float64)
        self.t_hist, self.t_utt = _Grow(np.int64), _Grow(np.int64)
        self.t_index: dict[int, int] = {}
        self._hist_index: dict[tuple, int] = {}
        self._hist_words: list[tuple] = []
        # frames of completed words: a persistent list per beam
        self.f_parent, self.f_start, self.f_end = _Grow(np.int64), _Grow(np.int64), _Grow(np.int64)

    # -- tries -------------------------------------------------------------------------
    def roots(self, n: int) -> np.ndarray:
        ids = self.t_parent.extend(np.full(n, -1))
        self.t_part.extend(np.zeros(n))
        self.t_state.extend(self.engine.start_states(n, self.bos) if self.engine else np.zeros(n))
        for g in (self.t_raw, self.t_hot, self.t_lm):
            g.extend(np.zeros(n))
        self.t_hist.extend([self._hist(u, ()) for u in range(n)])
        self.t_utt.extend(np.arange(n))
        return ids

    def _hist(self, utt: int, words: tuple) -> int:
        key = (utt,) + words
        h = self._hist_index.get(key)
        if h is None:
            h = self._hist_index[key] = len(self._hist_words)
            self._hist_words.append(words)
        return h

    def part_children(self, parents: np.ndarray, chars: np.ndarray) -> np.ndarray:
        out = self.p_child[parents, chars]
        miss = np.flatnonzero(out < 0)
        if len(miss):
            keys, inv = np.unique(parents[miss] * self.L + chars[miss], return_inverse=True)
            out[miss] = self._new_parts(keys // self.L, keys % self.L)[inv.ravel()]
        return out

    def _new_parts(self, parents: np.ndarray, chars: np.ndarray) -> np.ndarray:
        label_len = np.fromiter(map(len, self.labels), np.int64, self.L)
        lengths = self.p_len.v[parents] + label_len[chars]
        # strings only where a rule needs them: no label trie, or hotwords
        strs = None
        if self.w.trie is None or self.w.hotwords:
            strs = [self.part_str(p) + self.labels[c] for p, c in zip(parents.tolist(), chars.tolist())]
        prefix = None
        if self.w.trie is not None:
            utrie = self.w.trie.children(self.p_utrie.v[parents], chars)
            self.p_utrie.extend(utrie)
            prefix = utrie >= 0
        ids = self.p_partial.extend(self.w.partials(lengths, prefix, strs))
        self.p_parent.extend(parents)
        self.p_char.extend(chars)
        self.p_len.extend(lengths)
        self.p_lmid.extend(np.full(len(ids), -1))  # looked up when the part is first a word
        self.p_unk.extend(np.ones(len(ids), bool))
        self.p_hot.extend([x in self.w.hotwords for x in strs] if self.w.hotwords else np.zeros(len(ids)))
        while len(self.p_child) < self.p_partial.n:
            self.p_child = np.concatenate([self.p_child, np.full_like(self.p_child, -1)])
        self.p_child[parents, chars] = ids
        return ids

    def part_str(self, p: int) -> str:
        """The string of partial word p (walks up to the nearest one already made)."""
        s = self._strs.get(p)
        if s is None:
            tail, q = [], p
            while (s := self._strs.get(q)) is None:
                tail.append(self.labels[int(self.p_char.a[q])])
                q = int(self.p_parent.a[q])
            s = self._strs[p] = s + "".join(reversed(tail))
        return s

    def ensure_words(self, parts: np.ndarray) -> None:
        """Look up the LM ids of partial words about to be scored as words."""
        todo = np.unique(parts[self.p_lmid.v[parts] < 0])
        if len(todo):
            member = None
            if self.w.trie is not None:
                u = self.p_utrie.v[todo]
                member = (u >= 0) & self.w.trie.is_word[np.maximum(u, 0)]
            lm_ids, unknown = self.w.words([self.part_str(p) for p in todo.tolist()], member)
            self.p_lmid.a[todo] = lm_ids
            self.p_unk.a[todo] = unknown

    def _word_score(self, log10: np.ndarray, parts: np.ndarray, end: np.ndarray | None = None) -> np.ndarray:
        """alpha * ln p + beta per word, as pyctcdecode adds it up (offset, </s>, scale)."""
        s = np.where(self.p_unk.v[parts], log10 + self.w.unk_offset, log10)
        if end is not None:
            s = s + end
        return self.alpha * s * LN10 + self.beta

    def text_children(self, texts: np.ndarray, parts: np.ndarray) -> np.ndarray:
        """The text nodes `text + " " + part` (parts non-empty); new ones are scored by the
        LM in one round for all of them."""
        keys, inv = np.unique((texts << 32) | parts, return_inverse=True)
        ids = np.fromiter((self.t_index.get(k, -1) for k in keys.tolist()), np.int64, len(keys))
        new = np.flatnonzero(ids < 0)
        if len(new):
            par, prt = keys[new] >> 32, keys[new] & 0xFFFFFFFF
            self.ensure_words(prt)
            got = self.t_parent.extend(par)
            self.t_part.extend(prt)
            hot = self.t_hot.v[par] + self.p_hot.v[prt]
            if self.engine is not None:
                log10, nxt = self.engine.extend(self.t_state.v[par], self.p_lmid.v[prt])
                raw = self.t_raw.v[par] + self._word_score(log10, prt)
            else:
                nxt, raw = np.zeros(len(new), np.int64), np.zeros(len(new))
            self.t_state.extend(nxt)
            self.t_raw.extend(raw)
            self.t_hot.extend(hot)
            self.t_lm.extend(raw + self.w.hotword_weight * hot)
            self.t_hist.extend(self._hists(par, prt))
            self.t_utt.extend(self.t_utt.v[par])
            ids[new] = got
            for k, i in zip(keys[new].tolist(), got.tolist()):
                self.t_index[k] = i
        return ids[inv.ravel()]

    def _hists(self, parents: np.ndarray, parts: np.ndarray) -> list[int]:
        keep = max(1, (self.engine.order if self.engine else 1) - 1)
        hist, utt = self.t_hist.v[parents].tolist(), self.t_utt.v[parents].tolist()
        return [self._hist(u, (self._hist_words[h] + (w,))[-keep:])
                for h, u, w in zip(hist, utt, parts.tolist())]

    def text(self, node: int) -> str:
        words = []
        while self.t_parent.a[node] >= 0:
            words.append(self.part_str(int(self.t_part.a[node])))
            node = int(self.t_parent.a[node])
        return " ".join(reversed(words))

    def frames(self, node: int) -> list[tuple[int, int]]:
        out = []
        while node >= 0:
            out.append((int(self.f_start.a[node]), int(self.f_end.a[node])))
            node = int(self.f_parent.a[node])
        return out[::-1]
