"""Chains <-> LookupResponse: the one place that knows which arrays a response carries."""
from __future__ import annotations

from ngram.chains import COUNTS, Chains
from ngram.wire import ngram_pb2 as pb
from ngram.wire.arrays import WireFormatError, decode_array, encode_array


def encode_chains(request_id: int, shard: int, chains: Chains) -> pb.LookupResponse:
    resp = pb.LookupResponse(request_id=request_id, shard=shard,
                             match_len=encode_array(chains.match_len))
    for name in ("counts", "prob", "backoff"):
        arr = getattr(chains, name)
        if arr is not None:
            getattr(resp, name).CopyFrom(encode_array(arr))
    return resp


def decode_chains(resp: pb.LookupResponse, batch: int, width: int, value_kind: str) -> Chains:
    """Decode and check a response for `batch` n-grams of `width`; views, no copies."""
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
