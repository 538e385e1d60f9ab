"""Arrays on the wire: exact round trips, little-endian bytes, and refusals of bad messages."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
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
