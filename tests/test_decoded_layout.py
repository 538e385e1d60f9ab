"""The decoded layout's tables (ngram.decoded_trie, ngram.kernels.decoded_table): exact
keys although a slot stores only a fingerprint (every key of small key spaces probed,
against a Python set), every stored n-gram found with its values, the memory bound."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ngram.decoded_trie import DecodedTrie, _key_shape, _pack, _ranks, available_memory_bytes, check_fits
from ngram.kernels import decoded_table as DT
from ngram.model import Model
from reference_builder import build_model_inmemory
from sample_corpus import KENLM_TEST_MODELS, open_kenlm_test_models


def _table(pairs, parent_ids, vocab, load, scale=7):
    """One order's table over the (parent, word) pairs, built as from_shard builds it;
    pair i's value is scale * i."""
    n = len(pairs)
    parents = np.array([p for p, _ in pairs], np.int64)
    words = np.array([w for _, w in pairs], np.int64)
    nslots = max(int(n / load) + 1, 1)
    wb, b, t, fb = _key_shape(parent_ids, vocab, nslots)
    home, fp, at = np.empty(n, np.int64), np.empty(n, np.uint64), np.empty(n, np.int64)
    longest, last = DT.place_level(parents, words, wb, b, (b + 1) // 2, t, nslots, fb, home, fp, at)
    meta = np.zeros((3, DT.M_FIELDS), np.int64)
    meta[0, DT.G_ORDER], meta[0, DT.G_VOCAB], meta[0, DT.G_NCOLS] = 2, vocab, 1
    row = meta[2]
    row[DT.M_NSLOTS], row[DT.M_FB], row[DT.M_WB], row[DT.M_B], row[DT.M_T], row[DT.M_S] = (
        nslots, fb, wb, b, t, (b + 1) // 2)
    ranks, (values,), (width,) = _ranks(np.arange(n, dtype=np.uint64)[:, None] * np.uint64(scale), 1)
    row[DT.M_TW] = width
    slots = _pack(row, max(nslots, last + 1) + 1, at, home, fp, ranks, fb, fb + max(longest + 1, 0).bit_length())
    row[DT.M_BASE] = 0
    row[DT.M_VT] = len(slots)
    return np.concatenate([slots, values, np.zeros(2, np.uint64)]), meta, at


@settings(deadline=None, max_examples=60)
@given(parent_ids=st.integers(1, 40), vocab=st.integers(3, 40), load=st.sampled_from([0.05, 0.5, 0.8, 0.9, 0.95]),
       data=st.data())
def test_fingerprinted_keys_are_exact_over_the_whole_key_space(parent_ids, vocab, load, data):
    """Every (parent, word) of the key space is probed: found iff stored, at its own slot,
    with its own value. Small tables give few fingerprint bits, the hardest case."""
    space = [(p, w) for p in range(parent_ids) for w in range(vocab)]
    chosen = data.draw(st.lists(st.sampled_from(space), unique=True, max_size=len(space)))
    words, meta, at = _table(chosen, parent_ids, vocab, load)
    slot_of = {pair: int(a) for pair, a in zip(chosen, at)}
    assert len(set(slot_of.values())) == len(chosen)
    for p, w in space:
        got = DT.find_child(words, meta, 2, p, w)
        if (p, w) in slot_of:
            assert got == slot_of[p, w]
            assert DT.node_raw(words, meta, 2, got, 0) == 7 * chosen.index((p, w))
        else:
            assert got == -1, (p, w)
    assert DT.find_child(words, meta, 2, 0, vocab) == -1  # a word id outside the vocabulary
    assert DT.find_child(words, meta, 2, 0, -1) == -1


@settings(deadline=None, max_examples=15)
@given(seed=st.integers(0, 2**32 - 1), load=st.sampled_from([0.5, 0.8, 0.95]))
def test_fingerprints_of_wide_keys_are_exact(seed, load):
    """Keys wider than 32 bits (parents up to 2^24, words up to 2^20: the home takes only
    the hash's top 32 bits): stored keys found with their values (64-bit ones here),
    random other keys absent."""
    rng = np.random.default_rng(seed)
    parent_ids, vocab = int(rng.integers(2**20, 2**24)), int(rng.integers(2**16, 2**20))
    keys = set()
    while len(keys) < 3000:
        keys.add((int(rng.integers(parent_ids)), int(rng.integers(vocab))))
    pairs = sorted(keys)
    scale = 2**33 + 1
    words, meta, at = _table(pairs, parent_ids, vocab, load, scale)
    assert meta[2, DT.M_T] > 0 and meta[2, DT.M_TW] == 64
    for i, ((p, w), a) in enumerate(zip(pairs, at)):
        assert DT.find_child(words, meta, 2, p, w) == a
        assert DT.node_raw(words, meta, 2, a, 0) == scale * i
        # neighbours of a stored key (same parent or word) are the likeliest aliases
        for q in ((p, (w + 1) % vocab), ((p + 1) % parent_ids, w), (p ^ 1, w ^ 1)):
            if q not in keys:
                assert DT.find_child(words, meta, 2, *q) == -1, q
    for _ in range(3000):
        q = (int(rng.integers(parent_ids)), int(rng.integers(vocab)))
        assert (DT.find_child(words, meta, 2, *q) >= 0) == (q in keys)


NAMES = KENLM_TEST_MODELS


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    out = {k: (m, m.shards[0]) for k, m in open_kenlm_test_models(tmp_path_factory).items()}
    yield out
    for m, _ in out.values():
        m.close()


@pytest.mark.parametrize("load", [0.5, 0.8, 0.95])
def test_decoded_trie_holds_every_ngram(models, load):
    for (name, q), (model, table) in models.items():
        decoded = DecodedTrie.from_shard(table, load)
        words, meta = decoded.args
        uni, levels = table.decode()
        V = table.vocab_size
        for c in range(2):
            assert [DT.node_raw(words, meta, 1, w, c) for w in range(V)] == uni[:, c].tolist()
        node_of = {(w,): w for w in range(V)}
        for k, (grams, raw) in enumerate(levels, start=2):
            for g, r in zip(grams.tolist(), raw.tolist()):
                c = DT.find_child(words, meta, k, node_of[tuple(g[1:])], g[0])
                assert c >= 0, (name, k, g)
                assert [DT.node_raw(words, meta, k, c, col) for col in range(2)] == r
                node_of[tuple(g)] = c
            assert decoded.ngrams[k - 1] == len(grams)
            assert len({node_of[tuple(g)] for g in grams.tolist()}) == len(grams)
        assert decoded.nbytes <= DecodedTrie.bytes_needed(table, load)


def test_decoded_trie_of_a_split_counts_shard(tmp_path):
    """Any shard decodes (the server's decoded layout): a count's 64 bits survive."""
    build_model_inmemory(b"a b c\na b d\n" * 3, tmp_path / "m", order=3, num_shards=2)
    m = Model.open(tmp_path / "m")
    for t in m.shards.values():
        d = DecodedTrie.from_shard(t)
        assert d.value_kind == "counts" and d.absent == 0
        words, meta = d.args
        assert [DT.node_raw(words, meta, 1, w, 0) for w in range(t.vocab_size)] == t.decode()[0][:, 0].tolist()
        assert d.nbytes <= DecodedTrie.bytes_needed(t)  # a bound known before decoding
    with pytest.raises(ValueError, match="load factor"):
        DecodedTrie.from_shard(m.shards[0], load_factor=1.0)
    with pytest.raises(MemoryError, match=r"needs 2.00 GiB of RAM, and only 1.00 GiB is available"):
        check_fits(2 << 30, 1 << 30, "model shards [0]")
    check_fits(1 << 30, None, "where /proc/meminfo says nothing")  # no refusal
    assert available_memory_bytes() > 0
    with pytest.raises(ValueError, match="layout 'probing'"):
        Model.open(tmp_path / "m", layout="probing")
    m.close()


def test_a_column_of_many_distinct_values_is_stored_raw():
    """Past MAX_TABLE distinct 32-bit values (unquantized probabilities) a column keeps
    the raw values in its slots, no table; every value still reads back."""
    from ngram.decoded_trie import MAX_TABLE
    pairs = [(p, w) for p in range(100) for w in range(60)][:MAX_TABLE + 500]
    words, meta, at = _table(pairs, 100, 60, 0.8, scale=3)
    assert meta[2, DT.M_TW] == 0
    for i, ((p, w), a) in enumerate(zip(pairs, at)):
        assert DT.find_child(words, meta, 2, p, w) == a
        assert DT.node_raw(words, meta, 2, a, 0) == 3 * i
