"""Scoring over any backend: Stupid Backoff for counts models, exact backoff for ARPA ones.

The backend is any `ngram.backend.Backend` (its `order`, `vocab`, `value_kind`,
`tokenizer` and `lookup`); text is split by the model's tokenizer (ngram.tokenizer). Scoring a batch of sentences costs one lookup for all of it:
row p of the batch is the n-gram ending at token p, and its chain holds the counts of
every suffix, which for the n-gram ending at p-1 are exactly the counts of token p's
context suffixes. Sentences start with <s> as context and end by scoring </s>, as
KenLM's `query` does.

Stupid Backoff (Brants et al. 2007), for n-gram w_1..w_n whose longest stored suffix
has length m (see ngram/kernels/stupid_backoff.py):

    m >= 2:  alpha^(n-m) * c(w_{n-m+1}..w_n) / c(w_{n-m+1}..w_{n-1})
    m == 1:  alpha^(n-1) * c(w_n) / total      total = vocab.total_tokens
    m == 0:  alpha^(n-1) * 1 / total           (an add-one floor for words never seen)

Words scored with m == 0, and every <unk>, are OOVs. Scores are log10; none is -inf.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from typing import TYPE_CHECKING

from .chains import BACKOFF, COUNTS, Chains
from .errors import InvalidArgumentError, ValueKindError
from .kernels.stupid_backoff import stupid_backoff_kernel
from .limits import DEFAULT_ALPHA
from .query import check_batch, pair_ngrams
from .vocab import BOS_ID, EOS_ID, UNK_ID

if TYPE_CHECKING:
    from .backend import Backend


@dataclass(frozen=True)
class SentenceScore:
    """Per scored word (</s> included): log10 score, OOV flag, n-gram length used."""

    log10: np.ndarray
    oov: np.ndarray
    ngram_length: np.ndarray

    @property
    def total(self) -> float:
        return float(self.log10.sum())

    @property
    def num_oov(self) -> int:
        return int(self.oov.sum())

    def __len__(self) -> int:
        return len(self.log10)

    def __array__(self, dtype=None, copy=None):
        # np.asarray(score) is the per-word log10 array
        return self.log10 if dtype is None else self.log10.astype(dtype)


@dataclass
class PerplexityStats:
    """Sums that give KenLM's query summary; add the stats of several batches with +."""

    log10_total: float = 0.0
    log10_in_vocab: float = 0.0
    tokens: int = 0
    oov: int = 0

    def __add__(self, other: "PerplexityStats") -> "PerplexityStats":
        return PerplexityStats(self.log10_total + other.log10_total, self.log10_in_vocab + other.log10_in_vocab,
                               self.tokens + other.tokens, self.oov + other.oov)

    def as_dict(self) -> dict:
        iv = self.tokens - self.oov
        return {
            "perplexity": 10.0 ** (-self.log10_total / self.tokens) if self.tokens else math.nan,
            "perplexity_excluding_oov": 10.0 ** (-self.log10_in_vocab / iv) if iv else math.nan,
            "oov": self.oov, "tokens": self.tokens,
            "log10_total": self.log10_total, "log10_in_vocab": self.log10_in_vocab,
        }


@dataclass
class _Stream:
    """Scored tokens of a batch of sentences, flat; sentence i owns [bounds[i], bounds[i+1])."""

    log10: np.ndarray
    oov: np.ndarray
    ngram_length: np.ndarray
    bounds: np.ndarray

    def stats(self) -> PerplexityStats:
        return PerplexityStats(float(self.log10.sum()), float(self.log10[~self.oov].sum()),
                               len(self.log10), int(self.oov.sum()))


class Scorer:
    """Scores (context, word) pairs and sentences over a backend."""

    def __init__(self, backend: "Backend", alpha: float = DEFAULT_ALPHA):
        if not 0.0 < alpha <= 1.0:
            raise InvalidArgumentError(f"alpha must be in (0, 1], not {alpha}")
        self.backend = backend
        self.alpha = float(alpha)
        self.order = int(backend.order)
        self.vocab = backend.vocab
        self.tokenizer = backend.tokenizer
        self.value_kind = backend.value_kind
        if self.value_kind not in (COUNTS, BACKOFF):
            raise ValueKindError(f"unknown value kind {self.value_kind!r}")

    # -- pairs -------------------------------------------------------------------------
    def score_pairs(self, context_ids, context_lengths, word_ids) -> tuple[np.ndarray, np.ndarray]:
        """log10 p(word | context) of each pair and the n-gram length used.

        context_ids[b, :context_lengths[b]] is the context, oldest word first; only its
        last order-1 words matter. Returns (log10 float64[B], ngram_length int32[B])."""
        return self.score_ngrams(*pair_ngrams(context_ids, context_lengths, word_ids, self.order))

    def score_ngrams(self, ids, lengths) -> tuple[np.ndarray, np.ndarray]:
        """log10 p(last word | the words before it) of each left-aligned n-gram
        (ids[b, :lengths[b]], lengths 1..order), and the n-gram length used. One lookup:
        the n-grams and, for those with a context, their contexts."""
        ids, n = check_batch(ids, lengths, self.order, len(self.vocab))
        B, W = ids.shape
        k = n - 1
        has_ctx = np.flatnonzero(k > 0)
        ctx = np.where(np.arange(W)[None, :] < k[has_ctx, None], ids[has_ctx], 0)
        chains = self._lookup(np.concatenate([ids, ctx]).astype(np.int32), np.concatenate([n, k[has_ctx]]))
        ctx_rows = np.full(B, -1, np.int64)
        ctx_rows[has_ctx] = B + np.arange(len(has_ctx))
        return self._score(chains, B, n, ctx_rows, k)

    # -- sentences ---------------------------------------------------------------------
    def score_sentences(self, sentences: list[str | bytes], bos: bool = True, eos: bool = True
                        ) -> list[SentenceScore]:
        s = self._score_stream(sentences, bos, eos)
        b = s.bounds
        return [SentenceScore(s.log10[b[i]:b[i + 1]], s.oov[b[i]:b[i + 1]], s.ngram_length[b[i]:b[i + 1]])
                for i in range(len(b) - 1)]

    def stats(self, sentences: list[str | bytes], bos: bool = True, eos: bool = True) -> PerplexityStats:
        return self._score_stream(sentences, bos, eos).stats()

    def perplexity(self, sentences: list[str | bytes], bos: bool = True, eos: bool = True) -> dict:
        """KenLM's summary: perplexity including and excluding OOVs, OOVs, tokens (words
        and </s>), plus the log10 sums."""
        return self.stats(sentences, bos, eos).as_dict()

    def _score_stream(self, sentences, bos: bool, eos: bool) -> _Stream:
        tokens, pos, starts = self._tokens(sentences, bos, eos)
        T, N = len(tokens), self.order
        # row p: the n-gram ending at token p, at most N tokens of its sentence
        n = np.minimum(pos + 1, N).astype(np.int32)
        cols = np.arange(N)
        src = (np.arange(T) - n + 1)[:, None] + cols[None, :]
        ids = np.where(cols[None, :] < n[:, None], tokens[np.clip(src, 0, max(T - 1, 0))], 0).astype(np.int32)
        k = np.minimum(pos, N - 1).astype(np.int32)  # context length of token p
        ctx_rows = np.where(k > 0, np.arange(T) - 1, -1)
        scored = pos >= 1 if bos else np.ones(T, bool)
        if T:
            log10, length = self._score(self._lookup(ids, n), T, n, ctx_rows, k)
        else:
            log10, length = np.zeros(0), np.zeros(0, np.int32)
        oov = (tokens == UNK_ID) | (length == 0)
        before = np.concatenate([[0], np.cumsum(scored)])
        return _Stream(log10[scored], oov[scored], length[scored], before[starts])

    def _tokens(self, sentences, bos: bool, eos: bool):
        """(tokens int32[T], position in sentence int64[T], sentence starts int64[S+1]) of
        the sentences with <s>/</s> added; blank sentences keep their boundaries."""
        ids, nw = self.tokenizer.encode(self.vocab, sentences)
        offs = np.concatenate([[0], np.cumsum(nw)])
        L = nw + int(bos) + int(eos)
        starts = np.concatenate([[0], np.cumsum(L)])
        T = int(starts[-1])
        tokens = np.empty(T, np.int32)
        sid = np.repeat(np.arange(len(nw)), nw)
        word_pos = np.arange(len(ids)) - offs[sid]
        tokens[starts[sid] + int(bos) + word_pos] = ids
        if bos:
            tokens[starts[:-1][L > 0]] = BOS_ID
        if eos:
            tokens[starts[1:][L > 0] - 1] = EOS_ID
        pos = np.arange(T) - np.repeat(starts[:-1], L)
        return tokens, pos, starts

    # -- shared ------------------------------------------------------------------------
    def _lookup(self, ids: np.ndarray, lengths: np.ndarray) -> Chains:
        return self.backend.lookup(ids, lengths)

    def _score(self, chains: Chains, B: int, n: np.ndarray, ctx_rows: np.ndarray, k: np.ndarray):
        """Scores of rows 0..B-1 of `chains` (lengths n), whose context chains are rows
        ctx_rows (-1: none) of the same chains, with context lengths k."""
        n = np.ascontiguousarray(n, np.int32)
        k = np.ascontiguousarray(k, np.int32)
        if self.value_kind == COUNTS:
            out = np.empty(B, np.float64)
            out_len = np.empty(B, np.int32)
            total = max(int(self.vocab.total_tokens), 1)
            counts = np.ascontiguousarray(chains.counts)
            stupid_backoff_kernel(counts[:B], np.ascontiguousarray(chains.match_len[:B], np.int32), n, counts,
                                  np.ascontiguousarray(ctx_rows, np.int64), k, math.log10(total),
                                  math.log10(self.alpha), out, out_len)
            return out, out_len
        from .backoff_scoring import backoff_log10  # the ARPA side; loaded only for backoff models
        return backoff_log10(chains.take(np.arange(B)), n, chains.take(np.maximum(ctx_rows, 0)), k)
