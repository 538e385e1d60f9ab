"""`Speller`: context-aware spelling correction of a batch of texts over one model.

    with Speller("model_dir") as sp:                # or a cluster file, a Client, a backend
        sp.correct(["I cme form the door", "teh cat"])   # -> list[Correction]

A text is one sentence of the search (<s> text </s>): tokenized (text.py), given its
candidate lattice (lattice.py), and all texts of a call are searched together
(search.py). Over a remote backend (a cluster) a call costs at most
MAX_SPELL_SEARCH_ROUNDS + 1 model rounds (the search's, then one for the confidences,
which the search's later rounds ask ahead for their best paths: when the path stands,
the confidences cost no round), whatever the length or number of its texts; over an in-process model (`max_rounds`
"auto" -> 0) the search asks a round at each step that needs one, which costs less CPU
there (a round is a function call; the few-round search redoes steps). The
corrected text is the input with each changed span replaced; every other character
(whitespace included) is kept as it was.

Confidence of a change: the posterior of its replacement among every candidate for the
same span (the original included), the rest of the sentence fixed to the best path, from
the full LM score plus lam * log10 P(typed | intended) (rescore.rescore_spans). The
alternatives are the next candidates by that posterior.

Bad input: a text that is no str, holds a lone surrogate (not UTF-8 text), is longer
than MAX_SPELL_TEXT_CHARS characters or MAX_SPELL_TOKENS tokens, or a batch of more than
MAX_SPELL_BATCH_TEXTS texts is an InvalidQueryError naming the text; empty or
whitespace-only texts come back unchanged without asking the model; tokens the
vocabulary does not know and that have no candidates (other scripts, control
characters) are kept.
"""
from __future__ import annotations

import os
import re
import threading

import numpy as np

from client.beam import as_client
from client.spelling.engine import ArrayLMEngine
from client.spelling.lattice import CandidateGenerator
from client.spelling.rescore import rescore_pairs, rescore_spans
from client.spelling.search import BeamSearch
from client.spelling.text import tokenize
from client.spelling.types import MERGE, ORIGINAL, Alternative, Arc, Change, Correction, Token
from ngram.backend import LocalBackend
from ngram.errors import InvalidQueryError
from ngram.limits import (DEFAULT_SPELL_ALTERNATIVES, DEFAULT_SPELL_BEAM, DEFAULT_SPELL_LAMBDA,
                          DEFAULT_SPELL_PRUNE_LOG10, MAX_SPELL_BATCH_TEXTS, MAX_SPELL_SEARCH_ROUNDS,
                          MAX_SPELL_TEXT_CHARS, MAX_SPELL_TOKENS)

_SURROGATE = re.compile("[\ud800-\udfff]")
MAX_RESCORED_VARIANTS = 32  # candidates of one changed span whose posterior is computed (best error first)


class Speller:
    """Corrects texts with a model (see the module docstring). Thread-safe: each thread
    gets its own engine (engine.ArrayLMEngine) over the one Client. `generator`: a
    lattice.CandidateGenerator (made for the model from `generator_options` when not
    given). A model directory or cluster file is opened and closed by the Speller; a
    Client or backend passed in is the caller's and stays open."""

    def __init__(self, lm, *, lam: float = DEFAULT_SPELL_LAMBDA, beam: int = DEFAULT_SPELL_BEAM,
                 prune_log10: float | None = DEFAULT_SPELL_PRUNE_LOG10,
                 alternatives: int = DEFAULT_SPELL_ALTERNATIVES, max_rounds: int | None | str = "auto",
                 generator=None, **generator_options):
        self._owns_client = isinstance(lm, (str, os.PathLike))  # a Client or backend passed in stays open
        self.client = as_client(lm)
        try:
            self.lam, self.beam, self.prune_log10 = float(lam), int(beam), prune_log10
            self.alternatives = int(alternatives)
            if max_rounds == "auto":  # a round of an in-process model is a call: take one per step
                max_rounds = 0 if isinstance(self.client.backend, LocalBackend) else MAX_SPELL_SEARCH_ROUNDS
            self.max_rounds = max_rounds
            BeamSearch(None, lam=lam, beam=beam, prune_log10=prune_log10, max_rounds=max_rounds)  # checks them
            if generator is None:
                generator = CandidateGenerator(self.client.backend, **generator_options)
            self.generator = generator
        except BaseException:
            self.close()
            raise
        self._local = threading.local()
        self._engines: list[ArrayLMEngine] = []
        self._lock = threading.Lock()

    @property
    def engine(self) -> ArrayLMEngine:
        """This thread's engine (its cache of model answers persists across calls)."""
        e = getattr(self._local, "engine", None)
        if e is None:
            e = self._local.engine = ArrayLMEngine(self.client)
            with self._lock:
                self._engines.append(e)
        return e

    # -- the API -----------------------------------------------------------------------
    def correct_one(self, text: str) -> Correction:
        return self.correct([text])[0]

    def correct(self, texts: list[str]) -> list[Correction]:
        """One Correction per text, in order (see the module docstring)."""
        texts = check_texts(texts)
        tokens = [tokenize(t) for t in texts]
        for i, toks in enumerate(tokens):
            if len(toks) > MAX_SPELL_TOKENS:
                raise InvalidQueryError(f"texts[{i}]: {len(toks)} tokens, more than the "
                                        f"{MAX_SPELL_TOKENS} one text may have (split it into sentences)")
        todo = [i for i, toks in enumerate(tokens) if toks]
        lattices = [_complete(arcs, tokens[i]) for i, arcs in
                    zip(todo, self.generator.arcs_batch([tokens[i] for i in todo]))]
        engine = self.engine
        engine.trim()  # bounds the states a long-running speller holds
        search = BeamSearch(engine, lam=self.lam, beam=self.beam, prune_log10=self.prune_log10,
                            max_rounds=self.max_rounds)

        def changed_spans(paths):
            """The changed spans of every text's path, for rescore_spans."""
            spans, where = [], []
            for j, i in enumerate(todo):
                for k, arc in enumerate(paths[j]):
                    start, end = tokens[i][arc.first].start, tokens[i][arc.last - 1].end
                    if " ".join(arc.words) != texts[i][start:end]:
                        spans.append((j, k, _variants(arc, lattices[j], texts[i], start, end)))
                        where.append((j, start, end, " ".join(arc.words)))
            return spans, where

        def prefetch(paths):  # the confidences' pairs, asked with the search's later rounds
            spans, _ = changed_spans(paths)
            if not spans:
                return np.zeros(0, np.int64), np.zeros(0, np.int64)
            return rescore_pairs(engine, paths, spans)[:2]

        found = search.search(lattices, [len(tokens[i]) for i in todo], prefetch=prefetch)
        engine.capped_sentences += search.capped
        paths = [r.arcs for r in found]
        # the changed spans of every text, rescored together (in one round, or none when
        # the search's last round asked their pairs)
        spans, where = changed_spans(paths)
        posteriors = rescore_spans(engine, self.lam, paths, spans) if spans else []
        changes: dict[int, list[Change]] = {}
        for (j, start, end, replacement), variants in zip(where, posteriors):
            conf = next((v.posterior for v in variants if v.text == replacement), 0.0)
            alts = tuple(Alternative(v.text, v.posterior) for v in variants if v.text != replacement)
            changes.setdefault(j, []).append(Change(start, end, texts[todo[j]][start:end], replacement,
                                                    conf, alts[:self.alternatives]))
        out = [Correction(t, t, ()) for t in texts]
        for j, i in enumerate(todo):
            ch = tuple(changes.get(j, ()))
            out[i] = Correction(texts[i], apply_changes(texts[i], ch), ch)
        return out

    # -- lifecycle ---------------------------------------------------------------------
    def close(self) -> None:
        for e in getattr(self, "_engines", []):
            e.close()
        if self._owns_client:
            self.client.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def apply_changes(text: str, changes: tuple[Change, ...]) -> str:
    """`text` with each change's span [start, end) replaced (changes in input order)."""
    parts, at = [], 0
    for c in changes:
        parts += [text[at:c.start], c.replacement]
        at = c.end
    return "".join(parts) + text[at:]


def check_texts(texts) -> list[str]:
    """`texts` as a list, or InvalidQueryError naming the text that breaks a rule of
    `correct` (the one home of these rules; the service adds its stricter ones)."""
    if isinstance(texts, (str, bytes)):
        raise InvalidQueryError("correct() takes a list of texts, not one text (use correct_one)")
    texts = list(texts)
    if len(texts) > MAX_SPELL_BATCH_TEXTS:
        raise InvalidQueryError(f"texts: {len(texts)} texts in one call, over the limit of "
                                f"{MAX_SPELL_BATCH_TEXTS} per request")
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise InvalidQueryError(f"texts[{i}]: expected a string, got {type(t).__name__} (not str)")
        if len(t) > MAX_SPELL_TEXT_CHARS:
            raise InvalidQueryError(f"texts[{i}]: {len(t)} characters, over the limit of "
                                    f"{MAX_SPELL_TEXT_CHARS} per text")
        bad = _SURROGATE.search(t)
        if bad:
            raise InvalidQueryError(f"texts[{i}]: lone surrogate U+{ord(bad.group()):04X} at offset "
                                    f"{bad.start()}: not UTF-8 text")
    return texts


def _complete(arcs: list[Arc], tokens: list[Token]) -> list[Arc]:
    """The lattice plus a keep-the-token arc at each position no arc leaves (so every
    text has a path; the token is scored as the vocabulary spells it, <unk> if unknown)."""
    covered = {a.first for a in arcs}
    extra = [Arc(p, p + 1, (t.text,), (t.text,), 0.0, ORIGINAL) for p, t in enumerate(tokens) if p not in covered]
    return list(arcs) + extra


def _variants(chosen: Arc, arcs: list[Arc], text: str, start: int, end: int) -> list[tuple[str, tuple[Arc, ...]]]:
    """The ways to cover the tokens of `chosen`: every arc over the same tokens (the best
    MAX_RESCORED_VARIANTS by error, `chosen` always), and for a merge, the two tokens kept."""
    same = sorted((a for a in arcs if a.first == chosen.first and a.last == chosen.last and a is not chosen),
                  key=lambda a: -a.error_log10)[:MAX_RESCORED_VARIANTS - 1]
    out = [(" ".join(a.words), (a,)) for a in [chosen, *same]]
    if chosen.kind == MERGE or chosen.last - chosen.first == 2:
        keep = [next((a for a in arcs if a.kind == ORIGINAL and a.first == p and a.last == p + 1), None)
                for p in range(chosen.first, chosen.last)]
        if all(keep):
            out.append((text[start:end], tuple(keep)))
    return out
