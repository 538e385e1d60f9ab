"""Backoff scoring kernels over lookup chains (KenLM's semantics; see
ngram.backoff_scoring). One sentence in one call: ngram.kernels.sentence."""
from __future__ import annotations

import numpy as np
from numba import njit

from .bits import JIT

MISSING_UNK_PROB = -100.0


@njit(**JIT)
def kenlm_log10(m, prob_row, ctx_backoff_row, ctx_len):
    """KenLM's log10 p: the probability of the longest match (length m; -100 for a word
    the model lacks, scored as a unigram) plus the backoffs of the context suffixes of
    length m..ctx_len."""
    if m >= 1:
        s = np.float64(prob_row[m - 1])
    else:
        s = MISSING_UNK_PROB
        m = 1
    for j in range(m, ctx_len + 1):
        s += ctx_backoff_row[j - 1]
    return s


@njit(**JIT)
def score_pairs(match_len, prob, ctx_backoff, ctx_lengths, out, out_len):
    W = ctx_backoff.shape[1]
    for b in range(match_len.shape[0]):
        out[b] = kenlm_log10(match_len[b], prob[b], ctx_backoff[b], min(ctx_lengths[b], W))
        out_len[b] = max(match_len[b], 1)


@njit(**JIT)
def score_stream(match_len, prob, backoff, pos, ctx_cap, out, out_len):
    """Rows are consecutive tokens of token streams (sentences); row p is the n-gram
    ending at token p, pos[p] the token's position in its stream. The context chain of
    row p is row p-1 (its suffixes of length <= min(pos[p], N-1))."""
    for p in range(match_len.shape[0]):
        # at a stream start (pos 0) the context is empty and backoff[p - 1] is not read
        out[p] = kenlm_log10(match_len[p], prob[p], backoff[p - 1], min(pos[p], ctx_cap))
        out_len[p] = max(match_len[p], 1)


@njit(**JIT)
def stream_rows(tokens, pos, order):
    """Left-aligned rows of the n-grams ending at each token (within its stream)."""
    T = tokens.shape[0]
    ids = np.zeros((T, order), np.int32)
    lengths = np.empty(T, np.int32)
    for p in range(T):
        n = min(pos[p] + 1, order)
        lengths[p] = n
        for i in range(n):
            ids[p, i] = tokens[p - n + 1 + i]
    return ids, lengths
