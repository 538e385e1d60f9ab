"""`CandidateGenerator`: the candidate lattice of a sentence, as `Arc`s (types.py).

For each token:
- ORIGINAL, always (also for a word outside the vocabulary): the typed text, with the
  keep-the-original prior as its error_log10. Its `lm_words` is the typed word as the
  vocabulary spells it: the exact form if the vocabulary has it, else the form of the
  same letters in the typed case pattern, else the most frequent form ("THE" -> "the"
  when the model never saw "THE"), else the typed text (the model's <unk>).
- EDIT: vocabulary words within the edit distance of a word the vocabulary lacks (or
  holds fewer than min_count times); REAL_WORD: the same for a word the vocabulary holds,
  within `real_word_max_distance` (default 1: "form" -> "from", "then" -> "than").
  Words of at most `short_word_chars` (2) letters get distance 1 (at distance 2 a
  two-letter word is near every word of up to four letters). Kept: the `max_candidates`
  best by error_log10 + log10 frequency.
- SPLIT: one token -> two vocabulary words ("inthe" -> "in the"); MERGE: two adjacent
  tokens -> one vocabulary word ("some thing" -> "something").
Tokens that are not Latin-letter words (punctuation, numbers, other scripts, code) get
only their ORIGINAL arc. Words are matched case-insensitively and the typed case is
restored in `words` ("Teh" -> "The", "TEH" -> "THE").

One batch costs a few kernel calls (exact ids, keys, candidate lookup, error scores)
for the typed words not seen before, plus Python per arc; the arcs of a typed text are
kept (up to `cache_texts` texts), so a frequent word costs a dict lookup and its Arcs.
A generator may be shared by threads (the kernels release the GIL).
"""
from __future__ import annotations

import re

import numpy as np

from ngram.limits import SPELL_CACHE_TEXTS, SPELL_MAX_CANDIDATES, SPELL_MAX_DISTANCE
from client.client import Client
from ngram.vocab import UNK_ID, Vocabulary

from .candidates import CandidateIndex, code_points, is_key_word
from .error_model import ErrorModel
from .text import apply_case, apply_case_words, case_pattern, lookup_form
from .types import EDIT, MERGE, ORIGINAL, REAL_WORD, SPLIT, Arc, Token

_SURROGATE = re.compile("[\ud800-\udfff]")


class CandidateGenerator:
    """Arcs of sentences over one model's vocabulary: a Vocabulary, a Backend or a Client
    (without `index`, one is built: from a backend, ranked by its unigram frequencies)."""

    def __init__(self, vocab_or_backend, index: CandidateIndex | None = None, error_model: ErrorModel | None = None,
                 *, max_distance: int = SPELL_MAX_DISTANCE, max_candidates: int = SPELL_MAX_CANDIDATES,
                 keep_original_log10: float | None = None, real_word_max_distance: int = 1,
                 short_word_chars: int = 2, max_real_word_candidates: int = 6, max_splits: int = 3,
                 split_min_log10: float = -6.5, split_letter_min_log10: float = -2.5,
                 splits: bool = True, merges: bool = True, cache_texts: int = SPELL_CACHE_TEXTS):
        if isinstance(vocab_or_backend, Vocabulary):
            backend, self.vocab = None, vocab_or_backend
        else:
            backend = vocab_or_backend.backend if isinstance(vocab_or_backend, Client) else vocab_or_backend
            self.vocab = backend.vocab
        if index is None:
            index = CandidateIndex.for_backend(backend) if backend is not None else CandidateIndex.build(self.vocab)
        self.index = index
        self.error_model = error_model or ErrorModel.load()
        self.max_distance = min(int(max_distance), index.max_distance)
        self.max_candidates = int(max_candidates)
        self.keep_original_log10 = (self.error_model.no_error_log10 if keep_original_log10 is None
                                    else float(keep_original_log10))
        self.real_word_max_distance = min(int(real_word_max_distance), self.max_distance)
        self.short_word_chars = int(short_word_chars)
        self.splits = splits
        self.merges = merges
        self.max_real_word_candidates = int(max_real_word_candidates)
        self.max_splits = int(max_splits)
        self.split_min_log10 = float(split_min_log10)
        self.split_letter_min_log10 = float(split_letter_min_log10)
        self.cache_texts = int(cache_texts)
        # Caches, safe to share between threads: only read with .get, written whole
        # entries, and replaced (not cleared) when full.
        self._cache: dict[str, tuple] = {}   # typed text -> (arc templates, lowercased if it may merge)
        self._forms: dict[int, tuple] = {}   # key -> its vocabulary spellings

    # -- public ---------------------------------------------------------------------------
    def warm_up(self) -> None:
        """Load (or compile) every kernel the lattice uses, so a service's first request
        does not pay for it (about a second); the caches are left as they were."""
        words = ["warmup"]
        self.index.find_keys(words)
        m = self.index.lookup_keys(words)
        chars, offsets = code_points(words)
        self.error_model.pairs_log10(chars, offsets, self.index.key_chars, self.index.key_offsets,
                                     np.zeros(len(m.key), np.int64), m.key)
        self._exact_ids(words)

    def arcs(self, tokens: list[Token]) -> list[Arc]:
        return self.arcs_batch([tokens])[0]

    def arcs_batch(self, sentences: list[list[Token]]) -> list[list[Arc]]:
        """The arcs of each sentence, by first token; a token's ORIGINAL arc comes first,
        then its other arcs best first (merges follow the arcs of their first token)."""
        cache = self._cache
        entries, missing = {}, set()
        for sent in sentences:
            for t in sent:
                if t.text not in entries:
                    got = cache.get(t.text)
                    if got is None:
                        missing.add(t.text)
                    else:
                        entries[t.text] = got
        entries.update(self._prepare(missing))
        merges = self._merges(sentences, entries) if self.merges else {}
        out = []
        for n, sent in enumerate(sentences):
            arcs: list[Arc] = []
            for j, tok in enumerate(sent):
                for words, lm, err, kind, dist in entries[tok.text][0]:
                    arcs.append(Arc(j, j + 1, words, lm, err, kind, dist))
            merged = merges.get(n)
            if merged:
                arcs = sorted(arcs + merged, key=lambda a: a.first)  # stable: keeps each token's order
            out.append(arcs)
        return out

    # -- per distinct typed text ----------------------------------------------------------
    def _prepare(self, texts: set[str]) -> dict[str, tuple]:
        """For new typed texts: (arc templates (words, lm_words, error_log10, kind,
        distance), the lowercased text if it may merge), also kept in the cache."""
        if not texts:
            return {}
        texts = sorted(texts)
        forms = [lookup_form(t) for t in texts]
        lowered = [f.lower() for f in forms]
        correctable = [is_key_word(w) for w in lowered]
        exact = self._exact_ids(forms)
        keys = np.full(len(texts), -1, np.int32)
        sel = [i for i, c in enumerate(correctable) if c]
        if sel:
            keys[sel] = self.index.find_keys([lowered[i] for i in sel])
        ranked = self._rank(sorted({lowered[i] for i in sel}))
        new = {}
        for i, text in enumerate(texts):
            found = [self._original(text, forms[i], int(exact[i]), int(keys[i]))]
            if correctable[i]:
                found += self._edits(text, ranked[lowered[i]])
            new[text] = (tuple(found), lowered[i] if correctable[i] else None)
        cache = self._cache
        if len(cache) + len(new) > self.cache_texts:
            cache = self._cache = {}
        cache.update(new)
        return new

    def _exact_ids(self, forms: list[str]) -> np.ndarray:
        ids = np.zeros(len(forms), np.int32)
        ok = [i for i, f in enumerate(forms) if not _SURROGATE.search(f)]
        if ok:
            ids[ok] = self.vocab.ids([forms[i] for i in ok])
        return ids

    def _key_forms(self, key: int) -> tuple[tuple[str, str], ...]:
        """(spelling, case pattern) of each vocabulary form of a key, most frequent first."""
        got = self._forms.get(key)
        if got is None:
            got = tuple((w, case_pattern(w)) for w in (self.vocab.word(int(f)) for f in self.index.forms(key)))
            forms = self._forms
            if len(forms) >= self.cache_texts:
                forms = self._forms = {}
            forms[key] = got
        return got

    def _form(self, typed: str, key: int) -> str:
        """The vocabulary spelling of a key for a word typed as `typed`: the exact typed
        form, else the most frequent form in the typed case pattern, else the most frequent."""
        forms = self._key_forms(key)
        if len(forms) == 1:
            return forms[0][0]
        pattern = case_pattern(typed)
        best = None
        for f, p in forms:
            if f == typed:
                return f
            if best is None and p == pattern:
                best = f
        return best or forms[0][0]

    def _original(self, text: str, form: str, exact: int, key: int) -> tuple:
        if exact != UNK_ID or form == "<unk>" or key < 0:
            lm = form
        else:
            lm = self._form(form, key)
        return ((text,), (lm,), self.keep_original_log10, ORIGINAL, 0)

    def _edits(self, text: str, ranked: tuple) -> list[tuple]:
        edits, splits, real = ranked
        kind = REAL_WORD if real else EDIT
        found = []
        for key, dist, err in edits:
            lm = self._form(text, key)
            found.append(((apply_case(text, lm),), (lm,), err, kind, dist))
        for left, right, err in splits:
            lm = (self._form(text, left), self._form(text.lower(), right))
            found.append((apply_case_words(text, lm), lm, err, SPLIT, 1))
        found.sort(key=lambda t: -t[2])
        return found

    def _merges(self, sentences: list[list[Token]], entries: dict[str, tuple]) -> dict[int, list[Arc]]:
        """MERGE arcs of every sentence (one key lookup for the whole batch), by sentence."""
        where, joined = [], []
        for n, sent in enumerate(sentences):
            lowered = [entries[t.text][1] for t in sent]
            for j in range(len(sent) - 1):
                if lowered[j] is not None and lowered[j + 1] is not None:
                    where.append((n, j))
                    joined.append(lowered[j] + lowered[j + 1])
        out: dict[int, list[Arc]] = {}
        if not joined:
            return out
        for (n, j), key in zip(where, self.index.find_keys(joined).tolist()):
            if key >= 0 and self.index.key_indexed[key]:
                text = sentences[n][j].text
                lm = self._form(text, key)
                out.setdefault(n, []).append(Arc(j, j + 2, (apply_case(text, lm),), (lm,),
                                                 self.error_model.space_inserted_log10, MERGE, 1))
        return out

    def _rank(self, words: list[str]) -> dict[str, tuple]:
        """Ranked edit candidates and splits of each typed (lowercased) word, with
        whether it is itself a vocabulary word."""
        if not words:
            return {}
        ix = self.index
        own = ix.find_keys(words)
        real = (own >= 0) & ix.key_indexed[np.maximum(own, 0)].astype(bool)
        lengths = np.fromiter(map(len, words), np.int64, len(words))
        k = np.where(lengths <= self.short_word_chars, min(1, self.max_distance), self.max_distance)
        k = np.where(real, np.minimum(k, self.real_word_max_distance), k)
        k = np.where(real & (lengths < 2), -1, k)   # no alternatives to a correct one-letter word
        m = ix.lookup_keys(words, k)
        keep = m.key != own[m.query]
        q, key, dist = m.query[keep], m.key[keep], m.distance[keep]
        tchars, toffs = code_points(words)
        err = self.error_model.pairs_log10(tchars, toffs, ix.key_chars, ix.key_offsets, q, key)
        rank = err + ix.key_log10[key]
        order = np.lexsort((-rank, q))
        q, key, dist, err = q[order], key[order], dist[order], err[order]
        starts = np.searchsorted(q, np.arange(len(words)))
        pos = np.arange(len(q)) - starts[q] if len(q) else np.zeros(0, np.int64)
        top = pos < np.where(real[q], self.max_real_word_candidates, self.max_candidates)
        edits: list[list] = [[] for _ in words]
        for qi, ki, di, ei in zip(q[top].tolist(), key[top].tolist(), dist[top].tolist(), err[top].tolist()):
            edits[qi].append((ki, di, ei))
        splits = self._splits(words, real) if self.splits else [[] for _ in words]
        return {w: (tuple(e), tuple(s), r) for w, e, s, r in zip(words, edits, splits, real.tolist())}

    def _splits(self, words: list[str], real: np.ndarray) -> list[list[tuple[int, int, float]]]:
        """Two-word splits of typed words the vocabulary lacks; each part a frequent word
        (a one-letter part a very frequent one: "a", not "n")."""
        parts, owner = [], []
        for n, w in enumerate(words):
            if real[n]:
                continue
            for cut in range(1, len(w)):
                if w[cut - 1] not in "'-" and w[cut] not in "'-":
                    parts += [w[:cut], w[cut:]]
                    owner.append(n)
        out: list[list] = [[] for _ in words]
        if not owner:
            return out
        keys = self.index.find_keys(parts)
        lengths = np.fromiter(map(len, parts), np.int64, len(parts))
        freq = np.where(keys >= 0, self.index.key_log10[np.maximum(keys, 0)], -np.inf)
        good = (keys >= 0) & (freq >= np.where(lengths == 1, self.split_letter_min_log10, self.split_min_log10))
        good &= self.index.key_indexed[np.maximum(keys, 0)].astype(bool)
        both = good[0::2] & good[1::2]
        err = self.error_model.space_dropped_log10
        freq = self.index.key_log10
        for n, left, right in zip(np.asarray(owner)[both].tolist(), keys[0::2][both].tolist(),
                                  keys[1::2][both].tolist()):
            out[n].append((left, right, err))
        # the most frequent pairs of words first (a long word splits many ways)
        return [sorted(o, key=lambda t: -(freq[t[0]] + freq[t[1]]))[:self.max_splits] for o in out]
