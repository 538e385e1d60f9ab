"""The one-stream kernels (ngram.kernels.sentence) over the compressed shard and over the
decoded trie, against the batched lookup + stream scoring path on random token streams.
(The decoded tables themselves: tests/test_decoded_layout.py.)"""
from __future__ import annotations


import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ngram.backoff_scoring import stream_log10
from ngram.decoded_trie import DecodedTrie
from ngram.kernels.backoff import stream_rows
from ngram.kernels.sentence import score_stream_compressed, score_stream_decoded
from sample_corpus import KENLM_TEST_MODELS, open_kenlm_test_models

NAMES = KENLM_TEST_MODELS


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    out = {k: (m, m.shards[0], DecodedTrie.from_shard(m.shards[0]))
           for k, m in open_kenlm_test_models(tmp_path_factory).items()}
    return out


def _batched(model, tokens, first):
    pos = np.arange(len(tokens), dtype=np.int64)
    ids, lengths = stream_rows(tokens, pos, model.order)
    ch = model.lookup(ids, lengths)
    prob, length = stream_log10(ch.match_len, ch.prob, ch.backoff, pos, model.order)
    return prob[first:], length[first:]


@settings(deadline=None, max_examples=60)
@given(name=st.sampled_from(NAMES), q=st.sampled_from(["none", "8"]), data=st.data())
def test_stream_kernels_equal_batched_path(models, name, q, data):
    model, table, decoded = models[name, q]
    V = len(model.vocab)
    tokens = np.array(data.draw(st.lists(st.integers(0, V - 1), max_size=40)), np.int32)
    first = data.draw(st.integers(0, len(tokens)))
    want_p, want_n = _batched(model, tokens, first)
    for kernel, args in ((score_stream_compressed, (table.data, table.layout)),
                         (score_stream_decoded, decoded.args)):
        p = np.full(len(tokens) - first, np.nan)
        n = np.full(len(tokens) - first, -1, np.int32)
        kernel(*args, tokens, first, p, n)
        np.testing.assert_allclose(p, want_p, atol=1e-9, err_msg=kernel.__name__)
        assert np.array_equal(n, want_n), kernel.__name__


@settings(deadline=None, max_examples=40)
@given(name=st.sampled_from(NAMES), q=st.sampled_from(["none", "8"]), data=st.data())
def test_decoded_batch_lookup_equals_compressed(models, name, q, data):
    """The batched kernel over the decoded table (ngram.kernels.decoded_lookup): every
    chain value, blank nodes (backoff without prob) included, and every match length."""
    model, table, decoded = models[name, q]
    V, N = len(model.vocab), model.order
    rows = data.draw(st.lists(st.lists(st.integers(0, V - 1), min_size=1, max_size=N), max_size=60))
    # stored n-grams too, so that long chains are walked
    uni, levels = table.decode()
    for grams, _ in levels:
        rows += grams[:data.draw(st.integers(0, 30))].tolist()
    ids = np.zeros((len(rows), N), np.int32)
    for b, r in enumerate(rows):
        ids[b, :len(r)] = r
    lengths = np.array([len(r) for r in rows], np.int32)
    want = model.lookup(ids, lengths)
    table.decoded = decoded
    try:
        got = model.lookup(ids, lengths)
    finally:
        table.decoded = None
    assert got.match_len.tolist() == want.match_len.tolist()
    np.testing.assert_array_equal(got.prob, want.prob)  # NaN == NaN here
    np.testing.assert_array_equal(got.backoff, want.backoff)
