"""The one-stream kernels (ngram.kernels.sentence) over the compressed shard and over the
decoded trie, against the batched lookup + stream scoring path on random token streams,
and the decoded trie against the shard's own decoding."""
from __future__ import annotations


import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ngram.arpa import import_arpa
from ngram.backoff_scoring import stream_log10
from ngram.decoded_trie import DecodedTrie, available_memory_bytes, check_fits
from ngram.kernels.backoff import stream_rows
from ngram.kernels.decoded_table import EMPTY, find_child
from ngram.kernels.sentence import score_stream_compressed, score_stream_decoded
from ngram.model import Model
from sample_corpus import ARPA_DIR

ARPA = ARPA_DIR
NAMES = ["kenlm-test", "kenlm-test_nounk", "kenlm-toy0", "kenlm-toy1"]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    out = {}
    for name in NAMES:
        for q in ("none", "8"):
            d = tmp_path_factory.mktemp(f"{name}-{q}") / "m"
            import_arpa(ARPA / f"{name}.arpa", d, num_shards=1, quantization=q)
            m = Model.open(d)
            out[name, q] = (m, m.shards[0], DecodedTrie.from_shard(m.shards[0]))
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


def test_decoded_trie_holds_every_ngram(models):
    for (name, q), (model, table, decoded) in models.items():
        uni, levels = table.decode()
        V, nodes = table.vocab_size, decoded.nodes
        assert np.array_equal(nodes[:V, 1:3].view(np.uint32), uni.astype(np.uint32))
        assert (nodes[:V, 3] == -1).all()
        # every stored n-gram is found from its parent, with its values
        node_of = {(w,): w for w in range(V)}
        for k, (grams, raw) in enumerate(levels, start=2):
            for g, r in zip(grams.tolist(), raw.tolist()):
                parent = node_of[tuple(g[1:])]
                c = find_child(nodes, V, parent, g[0])
                assert c >= V and nodes[c, 3] == parent and nodes[c, 0] == g[0], (name, k, g)
                assert nodes[c, 1:3].view(np.uint32).tolist() == [v & 0xFFFFFFFF for v in r]
                node_of[tuple(g)] = c
            assert decoded.ngrams[k - 1] == len(grams)
        assert (nodes[V:, 3] != EMPTY).sum() == sum(decoded.ngrams[1:])
        assert find_child(nodes, V, 0, -5) == -1
        assert decoded.nbytes == nodes.nbytes


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


def test_decoded_trie_of_a_split_counts_shard(tmp_path):
    """Any shard decodes (the server's decoded layout): a count's 64 bits survive."""
    from reference_builder import build_model_inmemory
    build_model_inmemory(b"a b c\na b d\n" * 3, tmp_path / "m", order=3, num_shards=2)
    m = Model.open(tmp_path / "m")
    for t in m.shards.values():
        d = DecodedTrie.from_shard(t)
        assert d.value_kind == "counts" and d.absent == 0
        assert np.array_equal(d.nodes[:t.vocab_size, 1:3].copy().view(np.uint64)[:, 0], t.decode()[0][:, 0])
        assert DecodedTrie.bytes_needed(t) == d.nbytes  # known before decoding
    with pytest.raises(ValueError, match="load factor"):
        DecodedTrie.from_shard(m.shards[0], load_factor=1.0)
    with pytest.raises(MemoryError, match=r"needs 2.00 GiB of RAM, and only 1.00 GiB is available"):
        check_fits(2 << 30, 1 << 30, "model shards [0]")
    check_fits(1 << 30, None, "where /proc/meminfo says nothing")  # no refusal
    assert available_memory_bytes() > 0
    with pytest.raises(ValueError, match="layout 'probing'"):
        Model.open(tmp_path / "m", layout="probing")
    m.close()


def test_kernel_ids_are_the_vocabulary_ids():
    import ngram.kernels.sentence as K
    import ngram.vocab as V

    assert (K.UNK_ID, K.BOS_ID, K.EOS_ID) == (V.UNK_ID, V.BOS_ID, V.EOS_ID)
