"""Exact backoff (ARPA / Kneser-Ney) scoring over lookup chains, KenLM's semantics.

For word w after context c (at most N-1 words), with m the length of the longest
suffix of (c, w) that has a probability (KenLM's "n-gram length"):

    log10 p(w | c) = prob(last m words of (c, w)) + sum_{j = m}^{|c|} backoff(last j words of c)

Backoffs of context suffixes that are not in the model count 0. Blank nodes (missing
ARPA suffixes) carry no probability and a zero backoff, so they change nothing but the
reported length: KenLM counts a blank as matched (its ``FixSRI`` stores the backed-off
probability in it), a plain reader does not; we report the plain reader's length, which
is the same wherever the ARPA file lists every suffix (all lmplz and SRILM output).

An unknown word is id 0, ``<unk>``; a model without ``<unk>`` gets it at -100 on import.
"""
from __future__ import annotations

import numpy as np

from .kernels.backoff import MISSING_UNK_PROB, score_pairs, score_stream
from .errors import InvalidArgumentError

__all__ = ["MISSING_UNK_PROB", "backoff_log10", "stream_log10"]


def backoff_log10(full, full_lengths: np.ndarray, ctx, ctx_lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scores of a batch of (context..., word) n-grams.

    ``full``: the Chains of each n-gram (context..., word); ``ctx``: the Chains of its
    context (any width; only suffixes up to ``ctx_lengths[b]`` are read; rows with
    context length 0 are not read at all). Returns ``(log10 float64[B], ngram_length
    int32[B])``.
    """
    match_len = np.ascontiguousarray(full.match_len, dtype=np.int32)
    B = len(match_len)
    ctx_lengths = np.ascontiguousarray(ctx_lengths, dtype=np.int32)
    if len(ctx_lengths) != B:
        raise InvalidArgumentError(f"{B} n-grams but {len(ctx_lengths)} context lengths")
    full_lengths = np.asarray(full_lengths)
    if len(full_lengths) != B:
        raise InvalidArgumentError(f"{B} n-grams but {len(full_lengths)} lengths")
    if B and (ctx_lengths >= full_lengths).any():
        raise InvalidArgumentError("a context must be shorter than its n-gram")
    out = np.empty(B, np.float64)
    out_len = np.empty(B, np.int32)
    bo = ctx.backoff if ctx is not None and ctx.backoff is not None else np.zeros((B, 1), np.float32)
    score_pairs(match_len, np.ascontiguousarray(full.prob, dtype=np.float32),
                  np.ascontiguousarray(bo, dtype=np.float32), ctx_lengths, out, out_len)
    return out, out_len


def stream_log10(match_len: np.ndarray, prob: np.ndarray, backoff: np.ndarray, pos: np.ndarray,
                 order: int) -> tuple[np.ndarray, np.ndarray]:
    """Scores of every token of concatenated token streams whose rows were looked up as
    the n-grams ending at each token (row p = the last min(pos[p] + 1, N) tokens of its
    stream up to p; ``pos[p]`` its position in the stream). One lookup scores a whole
    sentence, or many: the chain of token p-1 is the context chain of token p."""
    T = len(match_len)
    out = np.empty(T, np.float64)
    out_len = np.empty(T, np.int32)
    score_stream(match_len, prob, backoff, np.ascontiguousarray(pos, dtype=np.int64), order - 1, out, out_len)
    return out, out_len
