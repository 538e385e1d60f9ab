"""A server's warm-up must leave nothing for a first request to compile (lookup, packed
answer): a cold numba compile takes ~10 s, longer than a client's default deadline."""
from __future__ import annotations

import numpy as np
import pytest

from client import router
from ngram.chains import Chains
from ngram.kernels.batch_ops import gather_rows, gather_unique, radix_argsort, scatter_into
from ngram.kernels.decoded_lookup import decoded_lookup_kernel
from ngram.kernels.lookup import lookup_kernel
from ngram.kernels.wire_pack import count_pack_plan, pack_rows_into, unpack_scatter
from ngram.model import Model
from ngram.wire.chains import decode_chains_into, encode_chains
from shard_server.engine import ShardEngine
from shard_server.server import warm_up


def _wire(a):
    """A read-only array, as a request's arrays are once decoded."""
    a = np.ascontiguousarray(a, "<i4")
    return np.frombuffer(a.tobytes(), "<i4").reshape(a.shape)


@pytest.mark.parametrize("layout", ["compressed", "decoded"])
def test_requests_after_warm_up_compile_nothing(model_dir, layout):
    local = Model.open(model_dir, layout=layout)
    engine = ShardEngine(local)
    warm_up(engine)
    kernels = (lookup_kernel, decoded_lookup_kernel, radix_argsort, gather_rows, scatter_into, count_pack_plan,
               pack_rows_into, gather_unique, unpack_scatter)
    warmed = [set(k.signatures) for k in kernels]
    rng = np.random.default_rng(0)
    ids = rng.integers(3, len(local.vocab), size=(300, local.order)).astype("<i4")
    lengths = rng.integers(1, local.order + 1, size=300).astype("<i4")
    ids[1::2], lengths[1::2] = ids[::2], lengths[::2]  # repeats, as decoders send them
    plan = router.plan(ids, lengths, local.num_shards, local.shard_seed)  # the client's side
    part = max(plan.parts, key=lambda p: p.u1 - p.u0)
    assert part.u1 - part.u0 > 2
    mine = plan.order[part.i0:part.i1]
    sent = (plan.ids[part.u0:part.u1], plan.lengths[part.u0:part.u1])
    for rows in (np.arange(len(sent[1])), np.arange(len(sent[1]))[::-1]):  # in routing order, then not
        chains = engine.lookup(local.model_id, part.shard, _wire(sent[0][rows]), _wire(sent[1][rows]))
        resp = encode_chains(1, part.shard, chains, packed=True)  # the answer, packed
    out = Chains.uninitialized(len(ids), local.order, local.value_kind)
    decode_chains_into(resp, part.u1 - part.u0, local.order, local.value_kind, mine[::-1].copy(),
                       plan.useq[part.i0:part.i1], part.u0, out)  # (rows reversed with the answer)
    assert [set(k.signatures) for k in kernels] == warmed
    assert out.take(mine).equals(local.lookup(ids[mine], lengths[mine]))  # (in-process: may compile)
    local.close()
