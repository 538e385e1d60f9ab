"""builder/kernels/row_hash.py (the KN stages' group-by and join of n-gram rows) against
plain-Python dictionaries, on rows with many repeats and hash-colliding small ids."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from builder.kernels.row_hash import context_stats, find_rows, group_rows, sum_stats

rows_st = st.integers(1, 4).flatmap(lambda m: st.lists(st.tuples(*[st.integers(0, 5)] * m), max_size=300))


def as_array(rows, m):
    return np.array(rows, np.uint32).reshape(-1, m)


@settings(max_examples=60, deadline=None)
@given(rows=rows_st)
def test_group_rows_numbers_groups_by_first_appearance(rows):
    m = len(rows[0]) if rows else 2
    first, inverse = group_rows(as_array(rows, m))
    seen: dict = {}
    for r in rows:
        seen.setdefault(r, len(seen))
    assert inverse.tolist() == [seen[r] for r in rows]
    assert [rows[i] for i in first.tolist()] == list(seen)


@settings(max_examples=60, deadline=None)
@given(rows=rows_st, queries=st.lists(st.integers(0, 5), max_size=40))
def test_find_rows_finds_each_query_or_minus_one(rows, queries):
    m = len(rows[0]) if rows else 2
    table = list(dict.fromkeys(rows))  # unique rows
    qs = [tuple((q + j) % 6 for j in range(m)) for q in queries] + table[:5]
    got = find_rows(as_array(qs, m), as_array(table, m))
    index = {r: i for i, r in enumerate(table)}
    assert got.tolist() == [index.get(q, -1) for q in qs]


@settings(max_examples=60, deadline=None)
@given(data=st.lists(st.tuples(st.integers(0, 7), st.integers(0, 6), st.booleans()), max_size=200))
def test_context_stats_and_their_sums_match_python(data):
    groups = 8
    inverse = np.array([g for g, _, _ in data], np.int64)
    adjusted = np.array([a for _, a, _ in data], np.int64)
    kept = np.array([k for _, _, k in data], bool)
    S, N, M = context_stats(inverse, groups, adjusted, kept)
    for g in range(groups):
        mine = [(a, k) for h, a, k in data if h == g]
        assert S[g] == sum(a for a, _ in mine)
        assert M[g] == sum(a for a, k in mine if not k)
        assert N[g].tolist() == [sum(1 for a, k in mine if k and min(a, 3) == j) for j in (1, 2, 3)]
    # partials of the same groups from two halves sum to the whole
    half = len(data) // 2
    parts = [context_stats(inverse[s], groups, adjusted[s], kept[s]) for s in (slice(0, half), slice(half, None))]
    S2, N2, M2 = sum_stats(np.tile(np.arange(groups), 2), groups, np.concatenate([p[0] for p in parts]),
                           np.concatenate([p[1] for p in parts]), np.concatenate([p[2] for p in parts]))
    assert S2.tolist() == S.tolist() and N2.tolist() == N.tolist() and M2.tolist() == M.tolist()
