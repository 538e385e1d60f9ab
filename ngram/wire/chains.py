"""Chains <-> LookupResponse: the one place that knows which arrays a response carries.

Dense: match_len int32[B] and the value arrays [B, N]. Packed (asked for by the request):
match_len uint8[B], and each value array 1-d holding only the first extent[b] values of
every row (ngram.kernels.wire_pack); extent travels only where it differs from match_len.
"""
from __future__ import annotations

import numpy as np

from ngram.chains import COUNTS, Chains
from ngram.kernels.wire_pack import backoff_extents, count_extents, pack_rows, unpack_rows
from ngram.wire import ngram_pb2 as pb
from ngram.wire.arrays import WireFormatError, decode_array, encode_array

_UNSIGNED = ("|u1", "<u2", "<u4", "<u8")


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
        extent = count_extents(counts)
        flat = pack_rows(counts, extent)
        top = int(flat.max()) if len(flat) else 0
        narrow = next(t for t in (np.uint8, np.uint16, np.uint32, np.uint64) if top <= np.iinfo(t).max)
        arrays = {"counts": flat.astype(narrow)}
    else:
        prob = np.ascontiguousarray(chains.prob, dtype=np.float32)
        backoff = np.ascontiguousarray(chains.backoff, dtype=np.float32)
        extent = backoff_extents(prob, backoff)
        arrays = {"prob": pack_rows(prob, extent), "backoff": pack_rows(backoff, extent)}
    resp = pb.LookupResponse(request_id=request_id, shard=shard, packed=True, match_len=encode_array(match_len),
                             **{k: encode_array(v) for k, v in arrays.items()})
    if not np.array_equal(extent, match_len):
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


def _decode_packed(resp: pb.LookupResponse, batch: int, width: int, value_kind: str) -> Chains:
    match_len = decode_array(resp.match_len, "match_len", dtype="|u1", ndim=1)
    extent = decode_array(resp.extent, "extent", dtype="|u1", ndim=1) if resp.HasField("extent") else match_len
    if match_len.shape != (batch,) or extent.shape != (batch,):
        raise WireFormatError(f"packed response for {match_len.shape[0]} n-grams (extent "
                              f"{extent.shape[0]}), expected {batch}")
    if batch and (int(extent.max()) > width or (match_len > extent).any()):
        raise WireFormatError(f"packed response: extents above the order {width} or below match_len")
    total = int(extent.sum(dtype=np.int64))
    out = Chains.empty(batch, width, value_kind)
    names = ("counts",) if value_kind == COUNTS else ("prob", "backoff")
    for name in names:
        msg = getattr(resp, name)
        flat = decode_array(msg, name, ndim=1)
        if name == "counts" and msg.dtype not in _UNSIGNED:
            raise WireFormatError(f"counts: dtype {msg.dtype!r}, expected an unsigned integer type")
        if name != "counts" and msg.dtype != "<f4":
            raise WireFormatError(f"{name}: dtype {msg.dtype!r}, expected '<f4'")
        if len(flat) != total:
            raise WireFormatError(f"{name}: {len(flat)} packed values, the extents sum to {total}")
        dense = getattr(out, name)
        unpack_rows(flat.astype(dense.dtype, copy=False), extent, dense)
    out.match_len = match_len.astype(np.int32)
    return out
