"""Stupid Backoff (Brants et al. 2007) over lookup chains, one pass over a whole batch.

Row b is an n-gram of length n = lengths[b] with chain counts[b] (count of each suffix)
and match length match_len[b]; its context chain is row ctx_rows[b] of ctx_counts (-1:
no context). Scores are log10 of

    alpha^(n-m) * c(suffix of length m) / c(context suffix of length m-1)   m >= 2
    alpha^(n-1) * c(word) / total                                          m == 1
    alpha^(n-1) * 1 / total                                                m == 0

m starts at the match length and drops while the context count is 0, which only happens
when a count cutoff pruned a context that its continuation survived.
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(nogil=True, cache=True)
def stupid_backoff_kernel(counts, match_len, lengths, ctx_counts, ctx_rows, ctx_lengths,
                          log_total, log_alpha, out, out_len):
    for b in range(counts.shape[0]):
        n = lengths[b]
        r = ctx_rows[b]
        m = min(match_len[b], n, ctx_lengths[b] + 1 if r >= 0 else 1)
        while m >= 2 and (counts[b, m - 1] == 0 or ctx_counts[r, m - 2] == 0):
            m -= 1
        if m >= 2:
            s = np.log10(np.float64(counts[b, m - 1])) - np.log10(np.float64(ctx_counts[r, m - 2]))
        elif m == 1 and counts[b, 0] > 0:
            s = np.log10(np.float64(counts[b, 0])) - log_total
        else:
            m = 0
            s = -log_total
        out[b] = s + (n - max(m, 1)) * log_alpha
        out_len[b] = m
