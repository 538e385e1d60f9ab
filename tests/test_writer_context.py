"""Context coding of value columns (ngram.value_columns.context_ranks) against a naive
reference: per parent symbol, symbols by falling frequency (ties by symbol)."""
from __future__ import annotations

from collections import Counter

import numpy as np
from hypothesis import given, settings, strategies as st

from ngram.value_columns import context_ranks as _context_ranks

pairs_st = st.lists(st.tuples(st.integers(0, 6), st.integers(0, 9)), min_size=1, max_size=200)


def naive(pairs, n_parent):
    lists = {}
    for p in range(n_parent):
        c = Counter(s for q, s in pairs if q == p)
        lists[p] = sorted(c, key=lambda s: (-c[s], s))
    offsets = np.cumsum([0] + [len(lists[p]) for p in range(n_parent)])
    symbols = [s for p in range(n_parent) for s in lists[p]]
    ranks = [lists[p].index(s) for p, s in pairs]
    return offsets, symbols, ranks


@settings(max_examples=200, deadline=None)
@given(pairs_st, st.sampled_from([0, 1 << 22]))
def test_context_ranks_match_naive(pairs, dense_limit):
    psym = np.array([p for p, _ in pairs], np.int64)
    sym = np.array([s for _, s in pairs], np.int64)
    offsets, symbols, ranks = _context_ranks(psym, sym, 7, dense_limit=dense_limit)
    want_off, want_sym, want_rank = naive(pairs, 7)
    assert offsets.tolist() == want_off.tolist()
    assert symbols.tolist() == want_sym
    assert ranks.tolist() == want_rank
    # decoding: the symbol is symbols[offsets[parent] + rank]
    assert (symbols[offsets[psym] + ranks.astype(np.int64)] == sym).all()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.integers(0, 40), st.integers(0, 2**64 - 1), st.integers(60000, 70000)),
                min_size=1, max_size=300))
def test_distinct_equals_numpy_unique(values):
    from ngram.value_columns import distinct as _distinct
    raw = np.array(values, np.uint64)
    uniq, inv, freq = _distinct(raw)
    want_u, want_inv, want_f = np.unique(raw, return_inverse=True, return_counts=True)
    assert uniq.dtype == raw.dtype
    assert uniq.tolist() == want_u.tolist() and freq.tolist() == want_f.tolist()
    assert inv.reshape(-1).tolist() == want_inv.reshape(-1).tolist()
