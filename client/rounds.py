"""Decoder rounds: many (context, word) pairs -> the n-grams to ask for, each once.

A decoder expands many hypotheses that share contexts, so a round repeats n-grams; they
are removed here (one np.unique over canonical rows) before the single round of RPCs,
and the answers are spread back with the inverse index.
"""
from __future__ import annotations

import numpy as np

from ngram.errors import InvalidQueryError


def pair_ngrams(contexts, context_lengths, words, order: int) -> tuple[np.ndarray, np.ndarray]:
    """(ids[P, order], lengths[P]): each pair's context (its last order-1 words, left-
    aligned, oldest first) followed by its word; padding is 0."""
    ctx = np.asarray(contexts, dtype=np.int32)
    clen = np.asarray(context_lengths, dtype=np.int32)
    w = np.asarray(words, dtype=np.int32)
    if ctx.ndim != 2 or clen.shape != (len(ctx),) or w.shape != (len(ctx),):
        raise InvalidQueryError(f"contexts must be [P, C] with context_lengths [P] and words [P]; "
                                f"got {ctx.shape}, {clen.shape}, {w.shape}")
    if len(clen) and (clen.min() < 0 or clen.max() > ctx.shape[1]):
        raise InvalidQueryError(f"context_lengths must be in 0..{ctx.shape[1]}")
    keep = np.minimum(clen, order - 1)           # words of context that matter
    P = len(w)
    out = np.zeros((P, order), np.int32)
    k = np.arange(order - 1)[None, :]
    src = (clen - keep)[:, None] + k              # take the last `keep` context words
    valid = k < keep[:, None]
    if ctx.shape[1]:
        vals = np.take_along_axis(ctx, np.clip(src, 0, ctx.shape[1] - 1), axis=1)
        out[:, :order - 1][valid] = vals[valid]
    out[np.arange(P), keep] = w
    return out, (keep + 1).astype(np.int32)


def unique_rows(ids: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(first, inverse): ids[first] are the distinct n-grams; row b equals first[inverse[b]]."""
    if len(lengths) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    w = ids.shape[1]
    canon = np.where(np.arange(w)[None, :] < lengths[:, None], ids, -1)
    rows = np.ascontiguousarray(np.column_stack([canon, lengths]).astype(np.int32))
    keys = rows.view(np.dtype((np.void, 4 * (w + 1)))).ravel()
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    return first, inverse.ravel()
