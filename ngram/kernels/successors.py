"""Top-k continuation kernels over a successor index (ngram.successors; docs/PREDICTION.md).

An index part holds, for contexts of some lengths, the context rows `ctx[n, W]` (level j
at rows [level_bounds[j], level_bounds[j+1]), grouped by hash bucket: level j's bucket
table buckets[bucket_offsets[j]:bucket_offsets[j+1]] holds 2^b + 1 row bounds, so a
context is found with a hash and a short scan, not a binary search of cache misses), each
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
def context_hash(query, q0, j):
    """64-bit hash of the j words query[q0:q0+j] (the bucket of a context)."""
    h = np.uint64(0x9E3779B97F4A7C15) ^ np.uint64(j)
    for i in range(j):
        h = (h ^ np.uint64(query[q0 + i])) * np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(31)
    h ^= h >> np.uint64(29)
    h *= np.uint64(0x94D049BB133111EB)
    h ^= h >> np.uint64(32)
    return h


@njit(**JIT)
def context_buckets(ctx, lengths, bits, out):
    """out[i]: the bucket (low `bits` bits of the hash) of context row i."""
    for i in range(ctx.shape[0]):
        out[i] = np.int64(context_hash(ctx[i], 0, lengths[i]) & np.uint64((1 << bits[i]) - 1))


@njit(**JIT)
def find_context(ctx, buckets, b0, b1, query, q0, j):
    """Row of the context query[q0:q0+j] among the level's rows, or -1: its hash bucket
    (buckets[b0:b1], 2^bits + 1 row bounds) is scanned."""
    nb = b1 - b0 - 1
    if nb <= 0:
        return -1
    bucket = np.int64(context_hash(query, q0, j) & np.uint64(nb - 1))
    for row in range(buckets[b0 + bucket], buckets[b0 + bucket + 1]):
        same = True
        for i in range(j):
            if ctx[row, i] != query[q0 + i]:
                same = False
                break
        if same:
            return row
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
                 c_ctx, c_bounds, c_boff, c_buckets, c_starts, c_words, c_values, c_byword,
                 s_ctx, s_bounds, s_boff, s_buckets, s_starts, s_words, s_values, s_byword,
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
                if j + 1 >= c_boff.shape[0]:
                    continue
                ci = find_context(c_ctx, c_buckets, c_boff[j], c_boff[j + 1], ctx_ids[b], L - j, j)
                if ci < 0:
                    continue
                lo_e[j] = c_starts[ci]
                hi_e[j] = c_starts[ci + 1]
            else:
                if j + 1 >= s_boff.shape[0]:
                    continue
                ci = find_context(s_ctx, s_buckets, s_boff[j], s_boff[j + 1], ctx_ids[b], L - j, j)
                if ci < 0:
                    continue
                lo_e[j] = s_starts[ci]
                hi_e[j] = s_starts[ci + 1]
            pos[j] = lo_e[j]
            active[j] = True
        # Lazy merge: a list's head is checked (filter, claimed by a longer active list)
        # only when its score would beat the best head so far; lists are sorted, so a
        # head that cannot win bounds everything after it.
        t = 0
        while t < k:
            best_j = -1
            best_w = np.int64(0)
            best_s = -np.inf
            for j in range(L, -1, -1):
                if not active[j]:
                    continue
                while pos[j] < hi_e[j]:
                    if j <= 1:
                        w = np.int64(c_words[pos[j]])
                        s = _entry_score(is_counts, c_values[pos[j]], j, L, ctx_chain[b], log_total, log_alpha)
                    else:
                        w = np.int64(s_words[pos[j]])
                        s = _entry_score(is_counts, s_values[pos[j]], j, L, ctx_chain[b], log_total, log_alpha)
                    if best_j >= 0 and (s < best_s or (s == best_s and w > best_w)):
                        break  # cannot win this round: not checked yet
                    if _valid(j, L, w, lo_e, hi_e, active, c_byword, s_byword, allowed):
                        best_j, best_w, best_s = j, w, s
                        break
                    pos[j] += 1
            if best_j < 0 or best_s < min_score:
                break
            out_words[b, t] = best_w
            out_scores[b, t] = best_s
            pos[best_j] += 1
            t += 1


@njit(**JIT)
def _valid(j, L, w, lo_e, hi_e, active, c_byword, s_byword, allowed):
    """Word w of level j's list may be emitted: allowed, and in no longer active list."""
    if not allowed[w]:
        return False
    for jj in range(j + 1, L + 1):
        if active[jj]:
            if jj <= 1:
                if _contains(c_byword, lo_e[jj], hi_e[jj], w):
                    return False
            elif _contains(s_byword, lo_e[jj], hi_e[jj], w):
                return False
    return True


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
