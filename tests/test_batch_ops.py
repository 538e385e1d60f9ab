"""The batch kernels around a lookup against numpy's own operations."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings, strategies as st

from ngram.kernels.batch_ops import first_bad_query, gather_rows, radix_argsort
from ngram.shard import unsort_outputs

keys_st = st.lists(st.one_of(st.integers(0, 2**64 - 1), st.integers(0, 5), st.sampled_from([2**63, 2**48 - 1])),
                   max_size=300)


@settings(max_examples=200, deadline=None)
@given(keys_st)
def test_radix_argsort_is_a_stable_argsort(keys):
    k = np.array(keys, dtype=np.uint64)
    assert np.array_equal(radix_argsort(k), np.argsort(k, kind="stable"))


@settings(max_examples=60, deadline=None)
@given(st.integers(512, 5000), st.integers(0, 2**32 - 1), st.sampled_from(["full", "few", "top", "low"]))
def test_radix_argsort_large_batches_are_stable_argsorts(n, seed, kind):
    # the radix path (at least SMALL_SORT keys): full-width keys, many ties, keys that
    # differ only in their top or their low digits (skipped passes)
    rng = np.random.default_rng(seed)
    k = rng.integers(0, 2**64 - 1, n, dtype=np.uint64, endpoint=True)
    if kind == "few":
        k = rng.choice(k[:7], n)
    elif kind == "top":
        k = (k >> np.uint64(59)) << np.uint64(59)
    elif kind == "low":
        k = k & np.uint64(0x3FFF)
    assert np.array_equal(radix_argsort(k), np.argsort(k, kind="stable"))


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 50), st.integers(1, 6), st.integers(0, 2**32 - 1))
def test_gather_then_scatter_restores_rows(b, w, seed):
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, 100, size=(b, w)).astype(np.int32)
    lengths = rng.integers(1, w + 1, size=b).astype(np.int32)
    order = rng.permutation(b)
    gi, gl = gather_rows(ids, lengths, order)
    assert np.array_equal(gi, ids[order]) and np.array_equal(gl, lengths[order])
    raw = rng.integers(0, 2**63, size=(b, w, 2)).astype(np.uint64)
    match = np.empty(b, np.int32)
    out = np.empty_like(raw)
    unsort_outputs(order, lengths[order], np.ascontiguousarray(raw[order]), match, out)
    assert np.array_equal(out, raw) and np.array_equal(match, lengths)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(-2, 7), st.lists(st.integers(-3, 12), min_size=4, max_size=4)), max_size=20))
def test_first_bad_query_finds_the_first_problem(rows):
    order, vocab, width = 3, 10, 4
    ids = np.array([r[1] for r in rows], dtype=np.int64).reshape(-1, width)
    lengths = np.array([r[0] for r in rows], dtype=np.int64)
    expect = (0, -1, -1)
    for b, (n, row) in enumerate(rows):
        if n < 1:
            expect = (1, b, 0)
        elif n > order:
            expect = (2, b, 0)
        else:
            bad = [c for c in range(n) if not 0 <= row[c] < vocab]
            if not bad:
                continue
            expect = (4, b, bad[0])
        break
    assert tuple(first_bad_query(ids, lengths, order, vocab)) == expect


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 40), st.integers(1, 5), st.integers(0, 2**32 - 1))
def test_scatter_into_equals_fancy_assignment(b, w, seed):
    from ngram.kernels.batch_ops import scatter_into
    rng = np.random.default_rng(seed)
    rows = rng.permutation(b + 3)[:b]
    for src, dst in [(rng.random((b, w)).astype(np.float32), np.zeros((b + 3, w), np.float32)),
                     (rng.integers(0, 9, b).astype(np.int32), np.zeros(b + 3, np.int32))]:
        want = dst.copy()
        want[rows] = src
        scatter_into(rows, src, dst)
        assert np.array_equal(dst, want)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(st.integers(0, 3), min_size=1, max_size=4), max_size=80),
       st.integers(1, 5), st.integers(0, 2**32 - 1))
def test_plan_sends_each_run_of_repeats_once(rows, num_shards, seed):
    """client.router.plan against a naive reference: every row is answered by a unique row
    holding the same n-gram (padding aside), in its shard's part; adjacent repeats in
    routing order are merged, nothing else is."""
    from client import router
    from ngram.sharding import routing_order, shard_of

    rng = np.random.default_rng(seed)
    ids = rng.integers(0, 4, (len(rows), 4)).astype(np.int32)  # junk in the padding
    for b, r in enumerate(rows):
        ids[b, :len(r)] = r
    lengths = np.array([len(r) for r in rows], np.int32)
    plan = router.plan(ids, lengths, num_shards, 7)
    gram = [tuple(r) for r in rows]
    _, order, _ = routing_order(ids, lengths, num_shards, 7) if rows else (None, np.zeros(0, int), None)
    assert np.array_equal(plan.order, order)
    sent = [tuple(plan.ids[u, :plan.lengths[u]]) for u in range(len(plan.lengths))]
    runs = [g for i, g in enumerate(gram[r] for r in order) if i == 0 or g != gram[order[i - 1]]]
    assert sent == runs  # the naive run-length dedup of the sorted n-grams
    owner = shard_of(ids, lengths, num_shards, 7) if rows else []
    for p in plan.parts:
        assert p.i1 > p.i0 and p.u1 > p.u0
        for i in range(p.i0, p.i1):
            r = plan.order[i]
            assert owner[r] == p.shard and p.u0 <= plan.useq[i] < p.u1 and sent[plan.useq[i]] == gram[r]
    assert sum(p.i1 - p.i0 for p in plan.parts) == len(rows)
