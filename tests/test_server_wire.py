"""Arrays on the wire: exact round trips, little-endian bytes, and refusals of bad messages."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ngram.chains import Chains
from ngram.wire import WireFormatError, decode_array, encode_array, pb
from ngram.wire.chains import decode_chains, encode_chains

DTYPES = st.sampled_from([np.int32, np.uint32, np.int64, np.uint64, np.float32, np.int8, np.uint8])


@given(hnp.arrays(DTYPES, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=6)))
def test_round_trip(a):
    m = pb.Array.FromString(encode_array(a).SerializeToString())
    b = decode_array(m)
    assert b.dtype == a.dtype.newbyteorder("<") and b.shape == a.shape
    assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f")


def test_big_endian_input_goes_out_little_endian():
    m = encode_array(np.array([1, 2], dtype=">u4"))
    assert m.dtype == "<u4" and m.data == b"\1\0\0\0\2\0\0\0"


@pytest.mark.parametrize("msg, kw, words", [
    (pb.Array(data=b"\0" * 8, shape=[3], dtype="<i4"), {}, "bytes"),
    (pb.Array(data=b"\0" * 8, shape=[2], dtype="O"), {}, "dtype"),
    (pb.Array(data=b"\0" * 8, shape=[2], dtype="<i4"), {"dtype": "<u8"}, "expected"),
    (pb.Array(data=b"\0" * 8, shape=[2], dtype="<i4"), {"ndim": 2}, "2-d"),
    (pb.Array(data=b"", shape=[-1], dtype="<i4"), {}, "negative"),
])
def test_bad_arrays_are_refused(msg, kw, words):
    with pytest.raises(WireFormatError, match=words):
        decode_array(msg, **kw)


@pytest.mark.parametrize("shape", [[2**32, 2**32], [2**62, 4], [2**63 - 1, 2**63 - 1, 0, 3], [3, 2**40, 2**40]])
def test_shape_whose_element_count_overflows_int64_is_refused(shape):
    # issue 11: np.prod wrapped around (2**32 x 2**32 -> 0 elements), passed the byte count
    # check, and the reshape's ValueError became INTERNAL instead of INVALID_ARGUMENT
    data = b"" if 0 in shape else b"\0" * 16
    with pytest.raises(WireFormatError, match="too big for any array"):
        decode_array(pb.Array(data=data, shape=shape, dtype="<i4"))
    with pytest.raises(WireFormatError, match="dimensions, at most"):
        decode_array(pb.Array(data=b"", shape=[0, 2**40] * 20, dtype="<i4"))


def test_chains_round_trip_and_shape_check():
    c = Chains(np.array([1, 2], np.int32), counts=np.arange(8, dtype=np.uint64).reshape(2, 4))
    r = encode_chains(5, 3, c)
    assert (r.request_id, r.shard) == (5, 3)
    assert decode_chains(r, 2, 4, "counts").equals(c)
    with pytest.raises(WireFormatError):
        decode_chains(r, 3, 4, "counts")
    b = Chains(np.array([1], np.int32), prob=np.array([[np.nan, -1, 0]], np.float32),
               backoff=np.zeros((1, 3), np.float32))
    assert decode_chains(encode_chains(0, 0, b), 1, 3, "backoff").equals(b)


def _chains_from(rows, kind, width):
    """Chains whose rows end in empty values past a random extent, as lookups' do."""
    B = len(rows)
    out = Chains.empty(B, width, kind)
    for b, (extent, match, vals) in enumerate(rows):
        extent = min(extent, width)
        for k in range(extent):
            v = vals[k % len(vals)]
            if kind == "counts":
                out.counts[b, k] = v
            else:
                out.prob[b, k] = np.nan if v % 3 == 0 else -v / 7  # blank nodes: NaN prob, a backoff
                out.backoff[b, k] = -(v % 5) / 3
        present = out.counts[b] != 0 if kind == "counts" else ~np.isnan(out.prob[b]) | (out.backoff[b] != 0)
        true_extent = int(np.flatnonzero(present)[-1]) + 1 if present.any() else 0
        out.match_len[b] = min(match, true_extent)  # never past the row's last value
    return out


@settings(deadline=None)  # the first example loads (or compiles) the packing kernels
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6),
                          st.lists(st.one_of(st.integers(0, 300), st.integers(0, 2**64 - 1)), min_size=1,
                                   max_size=6)), max_size=40),
       st.sampled_from(["counts", "backoff"]), st.integers(1, 6))
def test_packed_round_trip(rows, kind, width):
    c = _chains_from(rows, kind, width)
    r = pb.LookupResponse.FromString(encode_chains(4, 1, c, packed=True).SerializeToString())
    assert r.packed and (r.request_id, r.shard) == (4, 1)
    got = decode_chains(r, len(rows), width, kind)
    assert got.equals(c)
    assert got.match_len.dtype == np.int32 and got.arrays().keys() == c.arrays().keys()


def test_packed_counts_take_the_narrowest_type():
    c = Chains(np.array([2, 1], np.int32), counts=np.array([[5, 200, 0], [7, 0, 0]], np.uint64))
    assert encode_chains(0, 0, c, packed=True).counts.dtype == "|u1"
    c.counts[0, 0] = 70000
    r = encode_chains(0, 0, c, packed=True)
    assert r.counts.dtype == "<u4" and list(r.counts.shape) == [3] and not r.HasField("extent")
    assert decode_chains(r, 2, 3, "counts").equals(c)


def test_malformed_packed_responses_are_refused():
    c = Chains(np.array([2, 1], np.int32), counts=np.array([[5, 9, 0], [7, 0, 0]], np.uint64))
    good = encode_chains(0, 0, c, packed=True)
    cases = []
    r = pb.LookupResponse(); r.CopyFrom(good); r.counts.CopyFrom(encode_array(np.array([5, 9], np.uint8)))
    cases.append((r, "sum to 3"))
    r = pb.LookupResponse(); r.CopyFrom(good); r.extent.CopyFrom(encode_array(np.array([4, 1], np.uint8)))
    cases.append((r, "above the order"))
    r = pb.LookupResponse(); r.CopyFrom(good); r.counts.CopyFrom(encode_array(np.array([5, 9, 7], np.float32)))
    cases.append((r, "unsigned"))
    r = pb.LookupResponse(); r.CopyFrom(good); r.match_len.CopyFrom(encode_array(np.array([2, 1, 1], np.uint8)))
    cases.append((r, "expected 2"))
    for resp, words in cases:
        with pytest.raises(WireFormatError, match=words):
            decode_chains(resp, 2, 3, "counts")


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6),
                          st.lists(st.integers(1, 2**40), min_size=6, max_size=6)), min_size=1, max_size=30),
       st.sampled_from(["counts", "backoff"]), st.integers(1, 5), st.booleans(), st.data())
def test_answer_written_into_rows_with_repeats(rows, kind, width, packed, data):
    """decode_chains_into: unique answer u goes to every row whose useq is u, at that row
    (packed answers, and dense ones from a server that predates packing)."""
    from ngram.wire.chains import decode_chains_into
    c = _chains_from(rows, kind, width)
    U = len(rows)
    repeats = data.draw(st.lists(st.integers(1, 3), min_size=U, max_size=U))
    useq = np.repeat(np.arange(U), repeats) + 5  # unique rows 5.. (a later shard's part)
    B = len(useq) + 3
    dest = np.array(data.draw(st.permutations(range(B))))[:len(useq)]
    out = Chains.uninitialized(B, width, kind)
    for a in out.arrays().values():
        a[...] = 7  # garbage every written row must lose
    resp = pb.LookupResponse.FromString(encode_chains(0, 0, c, packed=packed).SerializeToString())
    decode_chains_into(resp, U, width, kind, dest, useq, 5, out)
    assert out.take(dest).equals(c.take(useq - 5))
