"""Top-k continuation kernels over a successor index (ngram.successors; docs/PREDICTION.md).

An index part holds, for contexts of some lengths, the context rows `ctx[n, W]` (level j
at rows [level_bounds[j], level_bounds[j+1]), sorted by their first j words), each
context's list `words/values[starts[i]:starts[i+1]]` sorted by value descending, ties by
word id ascending, and the same words sorted ascending in `byword` (membership tests).
Levels 0 and 1 live in the common part, levels >= 2 in a shard's part.

A word's score comes from the longest context suffix whose list holds it (the model's
own rule, as `Scorer.score_pairs` computes it, bit for bit):
  counts:  log10 c(ctx_j w) - log10 c(ctx_j) + (L - j) log10 alpha   (j = 0: - log10 total;
           a word with count 0: - log10 total + L log10 alpha); a level whose context
           count is 0 (a cutoff pruned it) is skipped, as the scorer skips it;
  backoff: prob(ctx_j w) + backoff(ctx_{j+1}) + ... + backoff(ctx_L)   (float64, in order).
The lists of one context's chain are merged: each list is read as a prefix, a word
already in a longer active list is skipped there, and the best head (score desc, word
asc) is taken until k are out. Every index was bounds-checked when the file was opened.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .backoff import MISSING_UNK_PROB
from .bits import JIT

MAX_LEVELS = 17  # contexts of length 0..16 (ngram.limits.MAX_ORDER - 1 and the empty one)


@njit(**JIT)
def find_context(ctx, lo, hi, query, q0, j):
    """Row in ctx[lo:hi] whose first j words equal query[q0:q0+j], or -1 (rows sorted)."""
    while lo < hi:
        mid = (lo + hi) // 2
        cmp = 0
        for i in range(j):
            a = ctx[mid, i]
            b = query[q0 + i]
            if a != b:
                cmp = -1 if a < b else 1
                break
        if cmp == 0:
            return mid
        if cmp < 0:
            lo = mid + 1
        else:
            hi = mid
    return -1


@njit(**JIT)
def _entry_score(is_counts, value, j, L, ctx_chain_row, log_total, log_alpha):
    if is_counts:
        c = np.float64(value)
        if j == 0:
            if c > 0:
                s = np.log10(c) - log_total
                return s + L * log_alpha
            return -log_total + L * log_alpha
        s = np.log10(c) - np.log10(np.float64(ctx_chain_row[j - 1]))
        return s + (L - j) * log_alpha
    p = np.float64(value)
    if np.isnan(p):
        p = MISSING_UNK_PROB
    for i in range(j + 1, L + 1):
        p += np.float64(ctx_chain_row[i - 1])
    return p


@njit(**JIT)
def top_k_kernel(ctx_ids, ctx_lengths, ctx_chain, rows,
                 c_ctx, c_bounds, c_starts, c_words, c_values, c_byword,
                 s_ctx, s_bounds, s_starts, s_words, s_values, s_byword,
                 allowed, is_counts, log_total, log_alpha, min_score, out_words, out_scores):
    """For each row b in `rows`: the top k = out_words.shape[1] continuations of context
    ctx_ids[b, :ctx_lengths[b]] (already cut to at most N-1 words; ctx_chain[b, i-1] is
    the count or backoff of its suffix of length i). c_* is the common part (levels 0
    and 1), s_* the part of the shard that holds the contexts of length >= 2."""
    k = out_words.shape[1]
    lo_e = np.zeros(MAX_LEVELS, np.int64)
    hi_e = np.zeros(MAX_LEVELS, np.int64)
    pos = np.zeros(MAX_LEVELS, np.int64)
    active = np.zeros(MAX_LEVELS, np.bool_)
    for r in range(rows.shape[0]):
        b = rows[r]
        L = ctx_lengths[b]
        for t in range(k):
            out_words[b, t] = -1
            out_scores[b, t] = -np.inf
        for j in range(L + 1):
            active[j] = False
            if j >= 1 and is_counts and ctx_chain[b, j - 1] == 0:
                continue  # a pruned context: the scorer backs off past it
            if j <= 1:
                if j + 1 >= c_bounds.shape[0]:
                    continue
                ci = find_context(c_ctx, c_bounds[j], c_bounds[j + 1], ctx_ids[b], L - j, j)
                if ci < 0:
                    continue
                lo_e[j] = c_starts[ci]
                hi_e[j] = c_starts[ci + 1]
            else:
                if j + 1 >= s_bounds.shape[0]:
                    continue
                ci = find_context(s_ctx, s_bounds[j], s_bounds[j + 1], ctx_ids[b], L - j, j)
                if ci < 0:
                    continue
                lo_e[j] = s_starts[ci]
                hi_e[j] = s_starts[ci + 1]
            pos[j] = lo_e[j]
            active[j] = True
        t = 0
        while t < k:
            best_j = -1
            best_w = np.int64(0)
            best_s = -np.inf
            for j in range(L + 1):
                if not active[j]:
                    continue
                # advance past words filtered out or claimed by a longer active list
                while pos[j] < hi_e[j]:
                    w = c_words[pos[j]] if j <= 1 else s_words[pos[j]]
                    ok = allowed[w]
                    if ok:
                        for jj in range(j + 1, L + 1):
                            if active[jj]:
                                if jj <= 1:
                                    found = _contains(c_byword, lo_e[jj], hi_e[jj], w)
                                else:
                                    found = _contains(s_byword, lo_e[jj], hi_e[jj], w)
                                if found:
                                    ok = False
                                    break
                    if ok:
                        break
                    pos[j] += 1
                if pos[j] >= hi_e[j]:
                    continue
                if j <= 1:
                    w = c_words[pos[j]]
                    s = _entry_score(is_counts, c_values[pos[j]], j, L, ctx_chain[b], log_total, log_alpha)
                else:
                    w = s_words[pos[j]]
                    s = _entry_score(is_counts, s_values[pos[j]], j, L, ctx_chain[b], log_total, log_alpha)
                if best_j < 0 or s > best_s or (s == best_s and w < best_w):
                    best_j, best_w, best_s = j, w, s
            if best_j < 0 or best_s < min_score:
                break
            out_words[b, t] = best_w
            out_scores[b, t] = best_s
            pos[best_j] += 1
            t += 1


@njit(**JIT)
def _contains(arr, lo, hi, w):
    """w in arr[lo:hi] (sorted ascending)."""
    end = hi
    while lo < hi:
        mid = (lo + hi) // 2
        if arr[mid] < w:
            lo = mid + 1
        else:
            hi = mid
    return lo < end and arr[lo] == w
