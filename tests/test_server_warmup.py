"""A server's warm-up must leave nothing for a first request to compile (lookup, packed
answer): a cold numba compile takes ~10 s, longer than a client's default deadline."""
from __future__ import annotations

import numpy as np

from ngram.kernels.batch_ops import gather_rows, radix_argsort, scatter_into
from ngram.kernels.lookup import lookup_kernel
from ngram.kernels.wire_pack import count_extents, pack_rows, unpack_rows
from ngram.sharding import routing_order
from ngram.wire.chains import decode_chains, encode_chains
from shard_server.engine import ShardEngine
from shard_server.server import warm_up


def _wire(a):
    """A read-only array, as a request's arrays are once decoded."""
    a = np.ascontiguousarray(a, "<i4")
    return np.frombuffer(a.tobytes(), "<i4").reshape(a.shape)


def test_requests_after_warm_up_compile_nothing(local):
    engine = ShardEngine(local)
    warm_up(engine)
    kernels = (lookup_kernel, radix_argsort, gather_rows, scatter_into, count_extents, pack_rows, unpack_rows)
    warmed = [set(k.signatures) for k in kernels]
    rng = np.random.default_rng(0)
    ids = rng.integers(3, len(local.vocab), size=(300, local.order)).astype("<i4")
    lengths = rng.integers(1, local.order + 1, size=300).astype("<i4")
    shards, order, bounds = routing_order(ids, lengths, local.num_shards, local.shard_seed)
    shard = int(shards[order[0]])
    mine = order[bounds[shard]:bounds[shard + 1]]  # the router's rows for it, in routing order
    assert len(mine) > 2
    for rows in (mine, mine[::-1]):  # as the router sends them, then out of order
        chains = engine.lookup(local.model_id, shard, _wire(ids[rows]), _wire(lengths[rows]))
        resp = encode_chains(1, shard, chains, packed=True)  # the answer, packed, and the client's decoding
        assert decode_chains(resp, len(rows), local.order, local.value_kind).equals(chains)
    assert [set(k.signatures) for k in kernels] == warmed
