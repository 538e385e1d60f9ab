"""client.beam.LMEngine: batched, deduplicated, cached rounds give exactly what a naive
per-hypothesis scorer gives (hypothesis property tests), on a counts model and an ARPA
backoff model."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from client.beam import NULL_STATE, START_STATE, LMEngine
from client.client import Client
from cluster_harness import small_model
from ngram.arpa import import_arpa
from ngram.vocab import BOS_ID, EOS_ID

sys.path.insert(0, str(Path(__file__).resolve().parent / "fixtures"))
import make_ctc_expected as mk  # noqa: E402


@pytest.fixture(scope="module", params=["counts", "arpa"])
def client(request, tmp_path_factory):
    if request.param == "counts":
        c = Client.open(small_model(order=4, num_shards=2))
    else:
        d = tmp_path_factory.mktemp("beam")
        mk.write_arpa(d / "small.arpa")
        import_arpa(d / "small.arpa", d / "m", num_shards=2, quantization="none")
        c = Client.open(d / "m")
    yield c
    c.close()


def _naive(client: Client, hyp: list[int], float32: bool) -> list[float]:
    """Each word of a hypothesis scored alone with its whole history (<s> first)."""
    out = []
    for k in range(len(hyp)):
        ctx = [BOS_ID] + hyp[:k]
        ctx = ctx[max(0, len(ctx) - (client.order - 1)):]
        ids = np.array([ctx + [0] * (client.order - 1 - len(ctx))], np.int32)
        log10, _ = client.scorer.score_pairs(ids, np.array([len(ctx)]), np.array([hyp[k]]))
        v = float(log10[0])
        out.append(float(np.float32(v)) if float32 else v)
    return out


hyps = st.lists(st.lists(st.integers(0, 60), min_size=1, max_size=7), min_size=1, max_size=12)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(hyps=hyps, cache=st.sampled_from([3, 50, 1 << 20]))
def test_batched_rounds_equal_naive_scoring(client, hyps, cache):
    engine = LMEngine(client, cache_pairs=cache)
    vocab_ids = np.arange(len(client.vocab))
    # small ids collide often (shared contexts); map them onto real words, 0 stays <unk>
    hyps = [[int(vocab_ids[min(w * 7, len(vocab_ids) - 1)]) if w else 0 for w in h] for h in hyps]
    states = engine.start_states(len(hyps))
    got = [[] for _ in hyps]
    for k in range(max(map(len, hyps))):
        live = [i for i, h in enumerate(hyps) if k < len(h)]
        log10, nxt = engine.extend(states[live], [hyps[i][k] for i in live])
        for j, i in enumerate(live):
            got[i].append(float(log10[j]))
        states[live] = nxt
        assert engine.rounds <= k + 1  # one round per step at most
    for i, h in enumerate(hyps):
        assert got[i] == _naive(client, h, engine.float32)
        expect_ctx = tuple(([BOS_ID] + h)[-(client.order - 1):])
        assert engine.context(int(states[i])) == expect_ctx
    # the state is shared by equal contexts
    ctxs = [engine.context(int(s)) for s in states]
    assert len(set(ctxs)) == len(set(states.tolist()))
    distinct = {(tuple(([BOS_ID] + h[:k])[-(client.order - 1):]), h[k]) for h in hyps for k in range(len(h))}
    if cache > len(distinct):
        assert engine.pairs_asked == len(distinct)  # each distinct pair asked once
        before = engine.rounds
        again = engine.extend(engine.start_states(len(hyps)), [h[0] for h in hyps])[0]
        assert engine.rounds == before  # all cached: no round
        assert again.tolist() == [g[0] for g in got]


def test_end_scores_and_null_context(client):
    engine = LMEngine(client)
    words = engine.word_ids(["the", "of"])
    log10, nxt = engine.extend(np.array([NULL_STATE, START_STATE]), words)
    assert engine.context(int(nxt[0])) == (int(words[0]),)
    assert engine.context(int(nxt[1])) == (BOS_ID, int(words[1]))
    end = engine.end_scores(nxt)
    naive = [_naive(client, [int(words[1]), EOS_ID], engine.float32)[1]]
    assert end[1] == naive[0] and np.all(end < 0)


def test_prefetch_answers_a_later_round(client):
    engine = LMEngine(client)
    words = engine.word_ids(["the", "and", "of"])
    states = engine.start_states(3)
    engine.prefetch(states, words)
    rounds = engine.rounds
    log10, _ = engine.extend(states, words)
    assert engine.rounds == rounds  # the prefetched round answered it
    assert log10.tolist() == LMEngine(client).extend(states, words)[0].tolist()
    engine.close()
