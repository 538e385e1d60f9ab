"""The builder's key kernels against plain numpy: packing, sorting, merging, suffixes."""
import numpy as np
import pytest

from builder import keys as K


def random_grams(rng, n, k, vocab_size, skew=True):
    if skew:  # frequency-like ids: many small ones make long ties in the top bits
        ids = (rng.zipf(1.3, size=(n, k)) - 1) % vocab_size
    else:
        ids = rng.integers(0, vocab_size, size=(n, k))
    return ids.astype(np.int32)


def keys_of(grams, layout):
    k = grams.shape[1]
    ids = grams.reshape(-1)
    offsets = np.arange(0, len(ids) + 1, k, dtype=np.int64)
    return K.window_keys(ids, offsets, k, layout)


@pytest.mark.parametrize("vocab_size", [5, 253_000, 2**31 - 1])
@pytest.mark.parametrize("k", [2, 3, 5, 8])
def test_sort_unique_matches_numpy(vocab_size, k):
    rng = np.random.default_rng(k * 7 + vocab_size % 97)
    layout = K.KeyLayout.for_vocab(vocab_size)
    grams = random_grams(rng, 5000, k, vocab_size, skew=vocab_size < 2**31)
    uk, uc = K.sort_unique(keys_of(grams, layout), k, layout)
    expect, counts = np.unique(grams.astype(np.int64)[:, ::-1], axis=0, return_counts=True)
    got = K.unpack(uk, k, layout).astype(np.int64)
    assert np.array_equal(got[:, ::-1], expect)
    assert np.array_equal(uc, counts.astype(np.uint64))
    assert np.array_equal(np.lexsort(got.T), np.arange(len(got)))  # the trie's order


def test_merge_all_sums_counts():
    rng = np.random.default_rng(1)
    layout = K.KeyLayout.for_vocab(1000)
    parts, allg = [], []
    for _ in range(5):
        g = random_grams(rng, 300, 4, 1000)
        allg.append(g)
        parts.append(K.sort_unique(keys_of(g, layout), 4, layout))
    mk, mc = K.merge_all(parts)
    ek, ec = K.sort_unique(keys_of(np.concatenate(allg), layout), 4, layout)
    assert np.array_equal(mk, ek) and np.array_equal(mc, ec)


def test_has_suffix_and_shards():
    layout = K.KeyLayout.for_vocab(70000)
    tri = np.array([[1, 2, 3], [9, 2, 3], [1, 5, 6], [4, 4, 7]], np.int32)
    bi = np.array([[2, 3], [4, 7]], np.int32)
    tk, _ = K.sort_unique(keys_of(tri, layout), 3, layout)
    bk, _ = K.sort_unique(keys_of(bi, layout), 2, layout)
    mask = K.has_suffix(tk, 3, layout, bk)
    kept = {tuple(r) for r in K.unpack(tk[mask], 3, layout).tolist()}
    assert kept == {(1, 2, 3), (9, 2, 3), (4, 4, 7)}
    prev, last = K.last_two_words(tk, layout)
    g = K.unpack(tk, 3, layout)
    assert np.array_equal(prev, g[:, 1]) and np.array_equal(last, g[:, 2])
