"""Chains <-> LookupResponse: the one place that knows which arrays a response carries.

Dense: match_len int32[B] and the value arrays [B, N]. Packed (asked for by the request):
match_len uint8[B], and each value array 1-d holding only the first extent[b] values of
every row (ngram.kernels.wire_pack); extent travels only where it differs from match_len.
"""
from __future__ import annotations

import numpy as np

from ngram.chains import COUNTS, Chains
from ngram.kernels.wire_pack import (backoff_extents, count_pack_plan, pack_rows, pack_rows_into, unpack_rows,
                                    unpack_scatter)
from ngram.wire import ngram_pb2 as pb
from ngram.wire.arrays import WireFormatError, decode_array, encode_array

_UNSIGNED = ("|u1", "<u2", "<u4", "<u8")
NARROW_COUNT_TYPES = [(t, int(np.iinfo(t).max)) for t in (np.uint8, np.uint16, np.uint32, np.uint64)]


def encode_chains(request_id: int, shard: int, chains: Chains, packed: bool = False) -> pb.LookupResponse:
    if packed:
        return _encode_packed(request_id, shard, chains)
    resp = pb.LookupResponse(request_id=request_id, shard=shard,
                             match_len=encode_array(chains.match_len))
    for name in ("counts", "prob", "backoff"):
        arr = getattr(chains, name)
        if arr is not None:
            getattr(resp, name).CopyFrom(encode_array(arr))
    return resp


def _encode_packed(request_id: int, shard: int, chains: Chains) -> pb.LookupResponse:
    match_len = np.asarray(chains.match_len).astype(np.uint8)
    if chains.counts is not None:
        counts = np.ascontiguousarray(chains.counts, dtype=np.uint64)
        extent, total, top, same = count_pack_plan(counts, match_len)
        narrow = next(t for t, limit in NARROW_COUNT_TYPES if top <= limit)
        flat = np.empty(total, narrow)
        pack_rows_into(counts, extent, flat)
        arrays = {"counts": flat}
    else:
        prob = np.ascontiguousarray(chains.prob, dtype=np.float32)
        backoff = np.ascontiguousarray(chains.backoff, dtype=np.float32)
        extent = backoff_extents(prob, backoff)
        arrays = {"prob": pack_rows(prob, extent), "backoff": pack_rows(backoff, extent)}
        same = np.array_equal(extent, match_len)
    resp = pb.LookupResponse(request_id=request_id, shard=shard, packed=True, match_len=encode_array(match_len),
                             **{k: encode_array(v) for k, v in arrays.items()})
    if not same:
        resp.extent.CopyFrom(encode_array(extent))
    return resp


def decode_chains(resp: pb.LookupResponse, batch: int, width: int, value_kind: str) -> Chains:
    """Decode and check a response for `batch` n-grams of `width` (dense: views, no copies)."""
    if resp.packed:
        return _decode_packed(resp, batch, width, value_kind)
    match_len = decode_array(resp.match_len, "match_len", dtype="<i4", ndim=1)
    if value_kind == COUNTS:
        arrays = {"counts": decode_array(resp.counts, "counts", dtype="<u8", ndim=2)}
    else:
        arrays = {"prob": decode_array(resp.prob, "prob", dtype="<f4", ndim=2),
                  "backoff": decode_array(resp.backoff, "backoff", dtype="<f4", ndim=2)}
    if match_len.shape != (batch,) or any(a.shape != (batch, width) for a in arrays.values()):
        raise WireFormatError(f"response shapes {match_len.shape}, "
                              f"{[a.shape for a in arrays.values()]} do not fit a batch of "
                              f"{batch} x {width}")
    return Chains(match_len, **arrays)


def _packed_arrays(resp: pb.LookupResponse, batch: int, width: int, value_kind: str):
    """(match_len, extent, {name: flat values}) of a packed response, checked."""
    match_len = decode_array(resp.match_len, "match_len", dtype="|u1", ndim=1)
    extent = decode_array(resp.extent, "extent", dtype="|u1", ndim=1) if resp.HasField("extent") else match_len
    if match_len.shape != (batch,) or extent.shape != (batch,):
        raise WireFormatError(f"packed response for {match_len.shape[0]} n-grams (extent "
                              f"{extent.shape[0]}), expected {batch}")
    if batch and (int(extent.max()) > width or (match_len > extent).any()):
        raise WireFormatError(f"packed response: extents above the order {width} or below match_len")
    total = int(extent.sum(dtype=np.int64))
    flats = {}
    for name in (("counts",) if value_kind == COUNTS else ("prob", "backoff")):
        msg = getattr(resp, name)
        flat = decode_array(msg, name, ndim=1)
        if name == "counts" and msg.dtype not in _UNSIGNED:
            raise WireFormatError(f"counts: dtype {msg.dtype!r}, expected an unsigned integer type")
        if name != "counts" and msg.dtype != "<f4":
            raise WireFormatError(f"{name}: dtype {msg.dtype!r}, expected '<f4'")
        if len(flat) != total:
            raise WireFormatError(f"{name}: {len(flat)} packed values, the extents sum to {total}")
        flats[name] = flat
    return match_len, extent, flats


def _decode_packed(resp: pb.LookupResponse, batch: int, width: int, value_kind: str) -> Chains:
    match_len, extent, flats = _packed_arrays(resp, batch, width, value_kind)
    out = Chains.empty(batch, width, value_kind)
    for name, flat in flats.items():
        dense = getattr(out, name)
        unpack_rows(flat.astype(dense.dtype, copy=False), extent, dense)
    out.match_len = match_len.astype(np.int32)
    return out


_EMPTY = {"counts": 0, "prob": np.nan, "backoff": 0.0}


def decode_chains_into(resp: pb.LookupResponse, batch: int, width: int, value_kind: str,
                       rows: np.ndarray, useq: np.ndarray, u0: int, out: Chains) -> None:
    """Decode and check an answer for `batch` unique n-grams (u0, u0 + 1, ...) and write
    it at out's rows: row rows[i] gets unique n-gram useq[i] (client.router.Plan). Every
    value of those rows is written, so `out` needs no pre-filling."""
    if not resp.packed:  # a server that predates packed answers
        part = decode_chains(resp, batch, width, value_kind)
        out.scatter(rows, part.take(np.asarray(useq) - u0))
        return
    match_len, extent, flats = _packed_arrays(resp, batch, width, value_kind)
    for name, flat in flats.items():
        dense = getattr(out, name)
        # always a (writable) copy in the output's type: one compiled signature whatever
        # the narrow wire type, so no first answer of a new type waits for numba
        unpack_scatter(flat.astype(dense.dtype), extent, match_len, rows, useq, u0, _EMPTY[name], dense,
                       out.match_len)
