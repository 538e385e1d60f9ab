"""Round trips of the succinct codecs (ngram/kernels/codecs.py) against the plain values.

Each sequence is laid out as in a shard: one word buffer (word 0 unused, two padding
words at the end, since decoders read one word ahead) and word offsets into it.
"""
import numpy as np
from hypothesis import given, settings, strategies as st
from numba import njit

from ngram.kernels import codecs as C
from ngram.kernels.bits import read_bits

SETTINGS = settings(max_examples=60, deadline=None)
EDGES = [0, 1, 2, 2**15 - 2, 2**15 - 1, 2**15, 2**16 - 1, 2**16, 2**31, 2**40 - 1]


def pack(*parts):
    """(buffer, offsets): parts concatenated after a zero word, with trailing padding."""
    offsets, words = [], [np.zeros(1, np.uint64)]
    at = 1
    for p in parts:
        offsets.append(at)
        words.append(np.ascontiguousarray(p, np.uint64))
        at += len(p)
    words.append(np.zeros(2, np.uint64))
    return np.concatenate(words), offsets


@njit
def ef_decode_all(buf, L, lo, hi, hi_words, d, ndir, rank, n):
    """Pairs (v[i], v[i+1]) as the lookup kernel reads child ranges; v[n-1] also alone."""
    out = np.empty(n, np.int64)
    p = C.ef_select(buf, hi, hi_words, d, ndir, rank, n - 1)
    out[n - 1] = ((p - (n - 1)) << L) | np.int64(read_bits(buf, lo * 64 + (n - 1) * L, L))
    for i in range(n - 1):
        a, b = C.ef_pair(buf, L, lo, hi, hi_words, d, ndir, rank, i)
        out[i] = a
        out[i + 1] = b
    return out


@njit
def nib_decode_all(buf, nib, mant, d, W, n):
    out = np.empty(n, np.int64)
    for j in range(n):
        out[j] = C.nib_get(buf, nib, mant, d, W, j)
    return out


@njit
def gamma_decode_all(buf, un, mant, d, un_words, n):
    out = np.empty(n, np.int64)
    for j in range(n):
        out[j] = C.gamma_get(buf, un, mant, d, un_words, j)
    return out


@njit
def fixed_decode_all(buf, off, width, n):
    out = np.empty(n, np.int64)
    for j in range(n):
        out[j] = C.fixed_get(buf, off, width, j)
    return out


def ef_roundtrip(values):
    v = np.asarray(values, np.uint64)
    L = C.ef_low_bits(len(v), int(v[-1]) + 1)
    lo, hi, d = C.ef_encode(v, L)
    rank = C.fixed_encode(C.ef_rank_directory(hi), 32)
    buf, (o_lo, o_hi, o_d, o_rank) = pack(lo, hi, d, rank)
    got = ef_decode_all(buf, L, o_lo, o_hi, len(hi), o_d, len(d), o_rank, len(v))
    np.testing.assert_array_equal(got, v.astype(np.int64))


def nib_roundtrip(values):
    v = np.asarray(values, np.uint64)
    W = max(16, int(v.max()).bit_length()) if len(v) else 16
    nib, mant, d = C.nib_encode(v, W)
    buf, (o_nib, o_mant, o_d) = pack(nib, mant, d)
    np.testing.assert_array_equal(nib_decode_all(buf, o_nib, o_mant, o_d, W, len(v)), v.astype(np.int64))


def gamma_roundtrip(values):
    v = np.asarray(values, np.uint64)
    un, mant, d = C.gamma_encode(v)
    buf, (o_un, o_mant, o_d) = pack(un, mant, d)
    np.testing.assert_array_equal(gamma_decode_all(buf, o_un, o_mant, o_d, len(un), len(v)), v.astype(np.int64))


values = st.one_of(st.sampled_from(EDGES), st.integers(0, 40), st.integers(0, 2**20), st.integers(0, 2**40 - 1))


@SETTINGS
@given(st.lists(values, min_size=1, max_size=700))
def test_ef_round_trip(xs):
    ef_roundtrip(sorted(xs))


@SETTINGS
@given(st.lists(st.tuples(st.integers(0, 2**16), st.integers(1, 300)), min_size=1, max_size=20))
def test_ef_runs_of_equal_values(runs):
    # many children under one parent and none under the next: long runs of equal pointers
    ef_roundtrip(sorted(v for v, times in runs for _ in range(times)))


def test_ef_long_zero_runs_between_samples():
    # gaps of ~10^6 between clusters put thousands of zero words between two select
    # samples, which makes select use the rank directory
    rng = np.random.default_rng(1)
    v = np.sort(np.concatenate([rng.integers(0, 50, 300), 10**6 + rng.integers(0, 50, 300),
                                7 * 10**6 + rng.integers(0, 5, 600)]))
    ef_roundtrip(v)
    ef_roundtrip(np.array([0, 0], np.uint64))
    ef_roundtrip(np.array([0], np.uint64))
    ef_roundtrip(np.array([2**40, 2**40 + 1], np.uint64))


@SETTINGS
@given(st.lists(values, min_size=1, max_size=700))
def test_nib_round_trip(xs):
    nib_roundtrip(xs)


def test_nib_bucket_edges_single_and_blocks():
    for x in EDGES:
        nib_roundtrip([x])
    # several directory blocks of raw (bucket 15) values, then small ones: directory offsets
    nib_roundtrip([2**15 - 1] * 300 + list(range(300)) + [2**15 - 2] * 5)
    # several 1024-element superblocks, the widest (raw) values: the 16-bit relative
    # directory offsets at their largest
    nib_roundtrip([2**62 - 1] * 2100 + list(range(3000)) + [2**62 - 1] * 1030)


@SETTINGS
@given(st.lists(st.one_of(st.integers(0, 3), st.sampled_from(EDGES), st.integers(0, 2**62 - 1)),
                min_size=1, max_size=700))
def test_gamma_round_trip(xs):
    gamma_roundtrip(xs)


def test_gamma_single_values_and_mostly_zero():
    for x in EDGES + [2**62 - 1]:
        gamma_roundtrip([x])
    gamma_roundtrip([0] * 1000 + [5] + [0] * 600)


@SETTINGS
@given(st.integers(1, 63).flatmap(  # read_bits reads at most 63 bits
    lambda w: st.tuples(st.just(w), st.lists(st.integers(0, 2**w - 1), min_size=1, max_size=500))))
def test_fixed_round_trip(case):
    width, xs = case
    v = np.asarray(xs, np.uint64)
    buf, (off,) = pack(C.fixed_encode(v, width))
    got = fixed_decode_all(buf, off, width, len(v))
    np.testing.assert_array_equal(got.view(np.uint64), v)


@SETTINGS
@given(st.lists(st.one_of(st.integers(0, 3), st.integers(0, 2**40)), min_size=0, max_size=600))
def test_value_codecs_share_one_contract(xs):
    # every value codec: encode -> fields that random access reads back; `bits` is its
    # size (what the writer compares to choose), and encode_codes picks the smallest
    from ngram.value_columns import VALUE_CODECS, DataWords, codes_bits, encode_codes
    codes = np.array(xs, np.uint64)
    for code, codec in VALUE_CODECS.items():
        data = DataWords()
        fields = codec.encode(codes, data) if len(codes) and codes.max() else encode_codes(codes, data)
        buf = data.finish()
        assert [codec.get(buf, fields, j) if fields["codec"] == code else VALUE_CODECS[fields["codec"]].get(
            buf, fields, j) for j in range(len(codes))] == xs
    data = DataWords()
    fields = encode_codes(codes, data)
    assert codes_bits(codes) == min(c.bits(codes) for c in VALUE_CODECS.values()) if len(codes) and codes.max() \
        else codes_bits(codes) == 0
    if len(codes) and codes.max():
        assert VALUE_CODECS[fields["codec"]].bits(codes) == codes_bits(codes)
