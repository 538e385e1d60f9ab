"""The CTC step's whole-array pieces against plain-Python references (hypothesis):
merging equal extensions, and pruning/sorting beams per utterance."""
from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings, strategies as st

from client.ctc_search import UnigramTrie
from client.ctc_step import Params, _merge, _select


def _dict_merge(keys, scores):
    """Sequential dict merging: position of the first member, fields of the last one,
    scores added in order with log(1 + exp(.))."""
    d = {}
    for i, (k, s) in enumerate(zip(keys, scores)):
        if k not in d:
            d[k] = (i, s)
        else:
            a = d[k][1]
            hi, lo = max(a, s), min(a, s)
            d[k] = (i, hi + math.log(1 + math.exp(lo - hi)))
    firsts = {}
    for i, k in enumerate(keys):
        firsts.setdefault(k, i)
    return [d[k][0] for k in firsts], [d[k][1] for k in firsts]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.floats(-50, 0)), min_size=1, max_size=40))
def test_merge_keeps_first_position_and_last_members_fields(items):
    keys = np.array([k for k, _ in items], np.int64)
    scores = np.array([s for _, s in items])
    last, merged = _merge(keys, scores)
    exp_last, exp_scores = _dict_merge(keys.tolist(), scores.tolist())
    assert last.tolist() == exp_last
    np.testing.assert_allclose(merged, exp_scores, rtol=0, atol=1e-12)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(-30, 0)), min_size=1, max_size=40),
       st.integers(1, 6), st.sampled_from([-5.0, -10.0, -100.0]))
def test_select_prunes_and_sorts_per_utterance(items, width, prune):
    items = sorted(items, key=lambda x: x[0])  # beams come grouped by utterance
    utt = np.array([u for u, _ in items], np.int64)
    score = np.array([float(s) for _, s in items])
    got = _select(utt, score, Params(width, prune, -5.0, False)).tolist()
    exp = []
    for u in sorted(set(utt.tolist())):
        idx = [i for i in range(len(items)) if utt[i] == u]
        best = max(score[i] for i in idx)
        kept = [i for i in idx if score[i] >= best + prune]
        exp += sorted(kept, key=lambda i: -score[i])[:width]  # stable: ties keep their order
    assert got == exp


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text("abc'", min_size=1, max_size=5), max_size=20), st.text("abcd", max_size=6))
def test_unigram_trie_equals_string_prefix_search(words, probe):
    labels = ["", " ", "'", "a", "b", "c", "d"]
    trie = UnigramTrie(sorted(set(words)), labels)
    node = np.zeros(1, np.int64)
    for k, ch in enumerate(probe):
        node = trie.children(node, np.array([labels.index(ch)]))
        starts = any(w.startswith(probe[:k + 1]) for w in words)
        assert (node[0] >= 0) == starts
        if starts:
            assert bool(trie.is_word[node[0]]) == (probe[:k + 1] in words)
