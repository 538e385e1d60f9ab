"""Lookup batches: validation (shapes, lengths, ids, with errors that say which), the one
(context, word) -> n-gram rule, and deduplication of a batch's rows."""
from __future__ import annotations

import numpy as np

from .errors import InvalidQueryError
from .kernels.batch_ops import first_bad_query


def check_batch(ids, lengths, order: int, vocab_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (ids int32[B, W], lengths int32[B]) as C-contiguous arrays, or raise
    InvalidQueryError naming the first problem."""
    ids = np.asarray(ids)
    lengths = np.asarray(lengths)
    if ids.ndim != 2:
        raise InvalidQueryError(f"ids must be a 2-D array [batch, width], got shape {ids.shape}")
    if lengths.ndim != 1 or len(lengths) != ids.shape[0]:
        raise InvalidQueryError(f"lengths must be 1-D with one entry per row of ids ({ids.shape[0]}), "
                                f"got shape {lengths.shape}")
    if ids.dtype.kind not in "iu" or lengths.dtype.kind not in "iu":
        raise InvalidQueryError(f"ids and lengths must be integer arrays, got {ids.dtype} and {lengths.dtype}")
    if len(lengths) == 0:
        return np.zeros((0, max(ids.shape[1], 1)), np.int32), np.zeros(0, np.int32)
    if ids.dtype not in (np.int32, np.int64) or not ids.flags.c_contiguous:
        ids = np.ascontiguousarray(ids, dtype=np.int64)  # exact for any integer id, for the check
    kind, b, c = first_bad_query(ids, np.ascontiguousarray(lengths, dtype=np.int64), order, vocab_size)
    if kind in (1, 2, 3):
        limit = "the model order %d" % order if kind == 2 else "the width %d of ids" % ids.shape[1]
        if kind == 1:
            raise InvalidQueryError(f"lengths[{b}] = {int(lengths[b])}: every n-gram needs at least one word")
        raise InvalidQueryError(f"lengths[{b}] = {int(lengths[b])} exceeds {limit}")
    if kind == 4:
        raise InvalidQueryError(f"ids[{b}, {c}] = {int(ids[b, c])} is outside the vocabulary of {vocab_size} words")
    return np.ascontiguousarray(ids, dtype=np.int32), np.ascontiguousarray(lengths, dtype=np.int32)


def pair_ngrams(contexts, context_lengths, words, order: int) -> tuple[np.ndarray, np.ndarray]:
    """(ids int32[P, order], lengths int32[P]): each (context, word) pair as the n-gram a
    model is asked for: the last min(context length, order-1) context words (left-aligned,
    oldest first), then the word; padding 0. `contexts[p, :context_lengths[p]]` is pair
    p's context, oldest word first. The one copy of this rule (Scorer, Client, streams)."""
    ctx = np.asarray(contexts)
    clen = np.asarray(context_lengths)
    w = np.asarray(words)
    if ctx.ndim != 2 or clen.shape != (len(ctx),) or w.shape != (len(ctx),):
        raise InvalidQueryError(f"need contexts[P, C], context_lengths[P] and words[P]; "
                                f"got shapes {ctx.shape}, {clen.shape}, {w.shape}")
    if any(a.dtype.kind not in "iu" for a in (ctx, clen, w) if a.size):
        raise InvalidQueryError("contexts, context_lengths and words must be integer arrays")
    clen = clen.astype(np.int64)
    bad = np.flatnonzero((clen < 0) | (clen > ctx.shape[1]))
    if len(bad):
        p = int(bad[0])
        raise InvalidQueryError(f"context_lengths[{p}] = {int(clen[p])} is outside 0..{ctx.shape[1]}")
    keep = np.minimum(clen, order - 1)            # context words that matter
    P = len(w)
    # ids wider than int32 stay wide (check_batch then names an id out of range, rather
    # than a silent wrap-around to another word)
    wide = any(a.dtype.itemsize > 4 or a.dtype == np.uint32 for a in (ctx, w) if a.size)
    out = np.zeros((P, order), np.int64 if wide else np.int32)
    k = np.arange(order - 1)[None, :]
    valid = k < keep[:, None]
    if ctx.shape[1] and order > 1:
        src = np.clip((clen - keep)[:, None] + k, 0, ctx.shape[1] - 1)  # the last `keep` words
        out[:, :order - 1][valid] = np.take_along_axis(ctx, src, axis=1)[valid]
    out[np.arange(P), keep] = w
    return out, (keep + 1).astype(np.int32)


def unique_rows(ids: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(first, inverse): ids[first] are the distinct n-grams (padding ignored); row b is
    the n-gram of row first[inverse[b]]. A decoder round repeats many n-grams."""
    if len(lengths) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    w = ids.shape[1]
    canon = np.where(np.arange(w)[None, :] < lengths[:, None], ids, -1)
    rows = np.ascontiguousarray(np.column_stack([canon, lengths]).astype(np.int32))
    keys = rows.view(np.dtype((np.void, 4 * (w + 1)))).ravel()
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    return first, inverse.ravel()
