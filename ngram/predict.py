"""Next-word prediction: the top k continuations of a batch of contexts, exact, with the
model's own scores (docs/PREDICTION.md; kernel: ngram.kernels.successors).

`predict(context_ids, context_lengths, k)` returns (word ids int32[B, k], log10 scores
float64[B, k]) ordered by score descending, ties by word id ascending; a row with fewer
than k candidates is padded with word -1 and score -inf. The scores equal
`Scorer.score_pairs` of the same (context, word) pairs bit for bit.
"""
from __future__ import annotations

import math

import numpy as np

from .chains import COUNTS
from .errors import InvalidQueryError
from .kernels.successors import top_k_kernel
from .limits import DEFAULT_ALPHA, MAX_PREDICT_K
from .sharding import shard_of_pair, shard_of_word
from .successor_build import unigram_values
from .successors import SuccessorIndex, SuccessorPart, empty_part
from .vocab import BOS_ID, UNK_ID


def check_k(k) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= int(k) <= MAX_PREDICT_K:
        raise InvalidQueryError(f"k = {k!r}: must be an integer in 1..{MAX_PREDICT_K}")
    return int(k)


def check_contexts(context_ids, context_lengths, order: int, vocab_size: int):
    """(ctx int32[B, W] holding the last min(length, N-1) words left-aligned, lengths
    int32[B]); W = max(N-1, 1). InvalidQueryError names the first bad row."""
    ids = np.asarray(context_ids)
    lengths = np.asarray(context_lengths)
    if ids.ndim != 2 or lengths.ndim != 1 or len(lengths) != len(ids):
        raise InvalidQueryError(f"need context_ids[B, C] and context_lengths[B]; got shapes {ids.shape}, "
                                f"{lengths.shape}")
    if (ids.size and ids.dtype.kind not in "iu") or (lengths.size and lengths.dtype.kind not in "iu"):
        raise InvalidQueryError("context_ids and context_lengths must be integer arrays")
    lengths = lengths.astype(np.int64)
    bad = np.flatnonzero((lengths < 0) | (lengths > ids.shape[1]))
    if len(bad):
        b = int(bad[0])
        raise InvalidQueryError(f"context_lengths[{b}] = {int(lengths[b])} is outside 0..{ids.shape[1]}")
    ids64 = ids.astype(np.int64)
    used = np.arange(ids.shape[1])[None, :] < lengths[:, None]
    out_of_range = used & ((ids64 < 0) | (ids64 >= vocab_size))
    if out_of_range.any():
        b, c = (int(x[0]) for x in np.nonzero(out_of_range))
        raise InvalidQueryError(f"context_ids[{b}, {c}] = {int(ids64[b, c])} is outside the vocabulary of "
                                f"{vocab_size} words")
    W = max(order - 1, 1)
    keep = np.minimum(lengths, order - 1)
    B = len(lengths)
    out = np.zeros((B, W), np.int32)
    if B and ids.shape[1]:
        src = (lengths - keep)[:, None] + np.arange(W)[None, :]
        take = np.arange(W)[None, :] < keep[:, None]
        out[take] = ids64[np.repeat(np.arange(B), W).reshape(B, W)[take], src[take]]
    return out, keep.astype(np.int32)


def allowed_words(vocab, prefix=None, exclude_special: bool = True) -> np.ndarray:
    """bool[V]: the words a prediction may return (a word prefix in the model's bytes;
    `exclude_special` drops <unk> and <s>, which never follow a context; </s> stays: it is
    the prediction that the sentence ends)."""
    V = len(vocab)
    allowed = np.ones(V, np.bool_)
    if prefix:
        p = prefix.encode("utf-8") if isinstance(prefix, str) else bytes(prefix)
        offsets = np.asarray(vocab.offsets, np.int64)
        strings = np.asarray(vocab.strings, np.uint8)
        allowed &= np.diff(offsets) >= len(p)
        cand = np.flatnonzero(allowed)
        for i, byte in enumerate(p):
            ok = strings[offsets[cand] + i] == byte
            cand = cand[ok]
        allowed[:] = False
        allowed[cand] = True
    if exclude_special:
        allowed[UNK_ID] = False
        allowed[BOS_ID] = False
    return allowed


def context_shards(ctx: np.ndarray, lengths: np.ndarray, num_shards: int, seed: int) -> np.ndarray:
    """Shard that answers each (cut) context: by its last two words when it has two or
    more, else by its last word (any shard could: the common part is everywhere)."""
    B = len(lengths)
    rows = np.arange(B)
    last = ctx[rows, np.maximum(lengths - 1, 0)]
    prev = ctx[rows, np.maximum(lengths - 2, 0)]
    shards = np.where(lengths >= 2, shard_of_pair(prev, last, num_shards, seed),
                      shard_of_word(np.where(lengths >= 1, last, 0), num_shards, seed))
    return shards.astype(np.int64)


def run_top_k(ctx, lengths, found, chain, rows, common: SuccessorPart, part: SuccessorPart, uni_values, allowed,
              value_kind: str, total_tokens: int, alpha: float, min_score, out_words, out_scores) -> None:
    """The kernel over rows `rows` of a checked batch, all routed to `part`'s shard."""
    top_k_kernel(ctx, lengths, found, chain, np.ascontiguousarray(rows, np.int64), common.arrays, part.arrays,
                 common.uni_order, uni_values, allowed, value_kind == COUNTS, math.log10(max(int(total_tokens), 1)),
                 math.log10(alpha), -np.inf if min_score is None else float(min_score), out_words, out_scores)


def context_chains(table, value_kind: str, ctx: np.ndarray, lengths: np.ndarray, rows: np.ndarray,
                   chain: np.ndarray, found: np.ndarray) -> None:
    """chain[b, i-1] for b in rows: count (counts) or log10 backoff (backoff models) of
    the suffix of length i of context b, and found[b]: the longest stored suffix (all
    shorter ones are stored too), from one lookup of the contexts on `table`, the shard
    they are routed to (it holds every context of length >= 2 routed there, and the
    unigram values of every word)."""
    rows = rows[lengths[rows] > 0]
    if len(rows):
        c = table.lookup_unchecked(np.ascontiguousarray(ctx[rows]), np.ascontiguousarray(lengths[rows]))
        W = chain.shape[1]
        if value_kind == COUNTS:
            vals = c.counts[:, :W]
            stored = vals > 0
        else:
            vals = c.backoff[:, :W]
            stored = ~np.isnan(c.prob[:, :W]) | (vals != 0)
        chain[rows] = vals
        stored &= np.arange(W)[None, :] < lengths[rows][:, None]
        found[rows] = np.where(stored.any(axis=1), W - np.argmax(stored[:, ::-1], axis=1), 0)


class Predictor:
    """Prediction over an opened Model and its SuccessorIndex (every shard, or the shards
    a server holds: then each context must belong to one of them)."""

    def __init__(self, model, index: SuccessorIndex, alpha: float = DEFAULT_ALPHA):
        self.model = model
        self.index = index
        self.alpha = float(alpha)
        self._empty = empty_part(model.order, model.value_kind)
        # the filters without a word prefix, built once (a bool per word)
        self._allowed = {x: allowed_words(model.vocab, None, x) for x in (False, True)}
        self.uni_values = unigram_values(next(iter(model.shards.values())), len(model.vocab), model.value_kind)

    @classmethod
    def open(cls, model, verify: bool = True, alpha: float = DEFAULT_ALPHA) -> "Predictor":
        return cls(model, SuccessorIndex.open(model.path, model.manifest, sorted(model.shards), verify), alpha)

    def predict(self, context_ids, context_lengths, k, prefix=None, min_score=None, exclude_special: bool = True,
                shard: int | None = None):
        """(words int32[B, k], log10 scores float64[B, k]); `shard` (a server's request):
        every context must be one that shard answers, else InvalidQueryError naming it."""
        k = check_k(k)
        m = self.model
        ctx, lengths = check_contexts(context_ids, context_lengths, m.order, len(m.vocab))
        B = len(lengths)
        out_words = np.full((B, k), -1, np.int32)
        out_scores = np.full((B, k), -np.inf, np.float64)
        if not B:
            return out_words, out_scores
        allowed = self._allowed[bool(exclude_special)] if not prefix else allowed_words(m.vocab, prefix,
                                                                                         exclude_special)
        chain = np.zeros(ctx.shape, np.uint64 if m.value_kind == COUNTS else np.float32)
        found = np.zeros(B, np.int64)
        shards = context_shards(ctx, lengths, m.num_shards, m.shard_seed)
        if shard is not None:
            wrong = np.flatnonzero((shards != shard) & (lengths >= 2))
            if len(wrong):
                b = int(wrong[0])
                raise InvalidQueryError(f"context {b} belongs to shard {int(shards[b])}, not to shard {shard}")
            shards[:] = shard
        for s in np.unique(shards):
            rows = np.flatnonzero(shards == s)
            if int(s) in self.index.parts:
                part, table = self.index.parts[int(s)], m.shards[int(s)]
            elif (lengths[rows] < 2).all():  # only the common part and unigrams are read
                part, table = self._empty, next(iter(m.shards.values()))
            else:
                raise InvalidQueryError(f"contexts routed to shard {int(s)}, which this process does not hold")
            context_chains(table, m.value_kind, ctx, lengths, rows, chain, found)
            run_top_k(ctx, lengths, found, chain, rows, self.index.common, part, self.uni_values, allowed, m.value_kind,
                      m.vocab.total_tokens, self.alpha, min_score, out_words, out_scores)
        return out_words, out_scores

    def close(self) -> None:
        self.index.close()
