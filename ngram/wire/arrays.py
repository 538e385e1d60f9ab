"""numpy arrays <-> wire `Array` messages (raw little-endian bytes, shape, dtype string).

Decoding is one `np.frombuffer` over the message's bytes (zero-copy, read-only view), so
no per-element Python runs on either side.
"""
from __future__ import annotations

import math

import numpy as np

from ngram.errors import WireFormatError
from ngram.wire import ngram_pb2 as pb

# Only these types cross the wire; anything else is a malformed request, not a crash.
ALLOWED_DTYPES = frozenset({"<i4", "<u4", "<i8", "<u8", "<f4", "<f8", "|i1", "|u1", "<u2"})

MAX_DIMS = 32  # numpy's limit (NPY_MAXDIMS of numpy 1.x; 2.x allows 64)

__all__ = ["ALLOWED_DTYPES", "WireFormatError", "decode_array", "encode_array"]


def encode_array(arr: np.ndarray) -> pb.Array:
    """Encode an array as little-endian C-order bytes plus shape and dtype."""
    a = np.asarray(arr)
    dt = a.dtype.newbyteorder("<") if a.dtype.itemsize > 1 else a.dtype
    a = a.astype(dt, order="C", copy=False)  # (ascontiguousarray would make 0-d 1-d)
    return pb.Array(data=a.tobytes(), shape=list(a.shape), dtype=a.dtype.str)


def decode_array(msg: pb.Array, name: str = "array", *, dtype: str | None = None,
                 ndim: int | None = None) -> np.ndarray:
    """Decode an Array message; `dtype`/`ndim` are what the caller requires.

    Raises WireFormatError naming the field when the message does not describe a valid
    array of that kind. The result is a read-only view of the message bytes.
    """
    if msg.dtype not in ALLOWED_DTYPES:
        raise WireFormatError(f"{name}: unsupported dtype {msg.dtype!r}")
    if dtype is not None and msg.dtype != dtype:
        raise WireFormatError(f"{name}: dtype {msg.dtype!r}, expected {dtype!r}")
    shape = tuple(msg.shape)
    if ndim is not None and len(shape) != ndim:
        raise WireFormatError(f"{name}: {len(shape)}-d shape {list(shape)}, expected {ndim}-d")
    if any(d < 0 for d in shape):
        raise WireFormatError(f"{name}: negative dimension in shape {list(shape)}")
    if len(shape) > MAX_DIMS:
        raise WireFormatError(f"{name}: {len(shape)} dimensions, at most {MAX_DIMS}")
    dt = np.dtype(msg.dtype)
    # In Python integers: a product of huge dimensions must not wrap around in int64 (a
    # shape of 2**32 x 2**32 multiplied to 0 and passed the byte-count check), and numpy
    # refuses a shape whose non-zero dimensions multiply past its index type, even when
    # another dimension is 0.
    if math.prod(d for d in shape if d) * dt.itemsize > np.iinfo(np.intp).max:
        raise WireFormatError(f"{name}: shape {list(shape)} is too big for any array")
    n = math.prod(shape)
    if n * dt.itemsize != len(msg.data):
        raise WireFormatError(
            f"{name}: {len(msg.data)} bytes do not match shape {list(shape)} of {msg.dtype}")
    return np.frombuffer(msg.data, dtype=dt, count=n).reshape(shape)
