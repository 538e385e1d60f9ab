"""client/spelling/search.py: the beam search's best path equals an exhaustive search over
every path of small random lattices (hypothesis), with each word's LM score asked alone in
plain Python; the model is asked about (tokens + 1) rounds per batch, whatever the batch
size; counts (Stupid Backoff) and backoff (ARPA import) models."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from client.beam import LMEngine
from client.client import Client
from client.spelling.engine import ArrayLMEngine
from client.spelling.rescore import rescore_spans
from client.spelling.search import BeamSearch
from client.spelling.types import EDIT, MERGE, ORIGINAL, SPLIT, Arc
from cluster_harness import small_model
from ngram.arpa import import_arpa
from ngram.errors import InvalidQueryError
from ngram.limits import MAX_SPELL_SEARCH_ROUNDS
from ngram.vocab import BOS_ID, EOS_ID

sys.path.insert(0, str(Path(__file__).resolve().parent / "fixtures"))
import make_ctc_expected as mk  # noqa: E402


@pytest.fixture(scope="module", params=["counts", "arpa"])
def client(request, tmp_path_factory):
    if request.param == "counts":
        c = Client.open(small_model(order=3, num_shards=2))
    else:
        d = tmp_path_factory.mktemp("spell-search")
        mk.write_arpa(d / "small.arpa")
        import_arpa(d / "small.arpa", d / "m", num_shards=2, quantization="none")
        c = Client.open(d / "m")
    yield c
    c.close()


def _common_words(client: Client, n: int = 40) -> list[str]:
    """Frequent vocabulary words (so that n-grams of them exist) plus one unknown word."""
    v = client.vocab
    ids = np.argsort(-np.asarray(v.counts))[:n] if getattr(v, "counts", None) is not None else np.arange(3, n + 3)
    return [v.word(int(i)) for i in ids if int(i) > EOS_ID][:n - 1] + ["qzxv"]


def _word_score(client: Client, history: list[int], word: int, float32: bool) -> float:
    """log10 p(word | history), the model asked about this one pair."""
    ctx = history[max(0, len(history) - (client.order - 1)):]
    ids = np.array([ctx + [0] * (client.order - 1 - len(ctx))], np.int32)
    v = float(client.scorer.score_pairs(ids, np.array([len(ctx)]), np.array([word]))[0][0])
    return float(np.float32(v)) if float32 else v


def _path_score(client: Client, path: list[Arc], lam: float, float32: bool) -> float:
    hist, total = [BOS_ID], 0.0
    for a in path:
        for w in a.lm_words:
            wid = int(client.vocab.id(w))
            total += _word_score(client, hist, wid, float32)
            hist.append(wid)
        total += lam * a.error_log10
    return total + _word_score(client, hist, EOS_ID, float32)


def _all_paths(arcs: list[Arc], n: int, p: int = 0):
    if p == n:
        yield []
        return
    for a in arcs:
        if a.first == p:
            for rest in _all_paths(arcs, n, a.last):
                yield [a] + rest


@st.composite
def lattices(draw, words: list[str]):
    n = draw(st.integers(0, 4))
    arcs = []
    pick = st.sampled_from(words)
    err = st.floats(-5.0, 0.0, allow_nan=False)
    for p in range(n):
        arcs.append(Arc(p, p + 1, ("t",), (draw(pick),), draw(st.floats(-0.5, 0.0)), ORIGINAL))
        for _ in range(draw(st.integers(0, 3))):
            w = draw(pick)
            arcs.append(Arc(p, p + 1, (w,), (w,), draw(err), EDIT, 1))
        if draw(st.booleans()):
            a, b = draw(pick), draw(pick)
            arcs.append(Arc(p, p + 1, (a, b), (a, b), draw(err), SPLIT, 1))
        if p + 1 < n and draw(st.booleans()):
            w = draw(pick)
            arcs.append(Arc(p, p + 2, (w,), (w,), draw(err), MERGE, 1))
    return n, arcs


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(data=st.data(), lam=st.sampled_from([0.5, 1.0, 2.0]), engine_class=st.sampled_from([LMEngine, ArrayLMEngine]))
def test_best_path_equals_exhaustive_search(client, data, lam, engine_class):
    words = _common_words(client)
    batch = data.draw(st.lists(lattices(words), min_size=1, max_size=4))
    engine = engine_class(client)
    got = BeamSearch(engine, lam=lam, beam=10_000, prune_log10=None, max_rounds=None).search(
        [a for _, a in batch], [n for n, _ in batch])
    for (n, arcs), res in zip(batch, got):
        scores = [_path_score(client, path, lam, engine.float32) for path in _all_paths(arcs, n)]
        best = max(scores)
        assert res.score == pytest.approx(best, abs=1e-9)
        # the path found is a real path of the lattice with that score
        assert [a.first for a in res.arcs] == [0, *[a.last for a in res.arcs]][:len(res.arcs)]
        assert (res.arcs[-1].last if res.arcs else 0) == n
        assert _path_score(client, list(res.arcs), lam, engine.float32) == pytest.approx(best, abs=1e-9)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(data=st.data())
def test_narrow_beam_finds_a_valid_path_never_better_than_the_best(client, data):
    words = _common_words(client)
    batch = data.draw(st.lists(lattices(words), min_size=1, max_size=3))
    lat, lens = [a for _, a in batch], [n for n, _ in batch]
    wide = BeamSearch(LMEngine(client), beam=10_000, prune_log10=None).search(lat, lens)
    narrow = BeamSearch(LMEngine(client), beam=1, prune_log10=None).search(lat, lens)
    for w, nr, n in zip(wide, narrow, lens):
        assert nr.score <= w.score + 1e-9
        assert (nr.arcs[-1].last if nr.arcs else 0) == n


@pytest.mark.parametrize("batch_size", [1, 7, 60])
def test_rounds_per_batch_are_the_positions_not_the_hypotheses(client, batch_size):
    words = _common_words(client)
    rng = np.random.default_rng(batch_size)
    n_tokens = 12
    lat = []
    for _ in range(batch_size):
        arcs = []
        for p in range(n_tokens):
            chosen = rng.choice(len(words), 6, replace=False)
            arcs.append(Arc(p, p + 1, ("x",), (words[chosen[0]],), -0.1, ORIGINAL))
            arcs += [Arc(p, p + 1, (words[i],), (words[i],), -2.0, EDIT, 1) for i in chosen[1:]]
            arcs.append(Arc(p, p + 1, ("a", "b"), (words[chosen[1]], words[chosen[2]]), -3.0, SPLIT, 1))
            if p + 1 < n_tokens:
                arcs.append(Arc(p, p + 2, ("m",), (words[chosen[3]],), -3.0, MERGE, 1))
        lat.append(arcs)
    engine = ArrayLMEngine(client)
    res = BeamSearch(engine, beam=16).search(lat, [n_tokens] * batch_size)
    assert engine.rounds <= MAX_SPELL_SEARCH_ROUNDS  # not one per position
    assert all(r.arcs[-1].last == n_tokens for r in res)
    # confidence rescoring: one more round for every span of every sentence
    spans = []
    for s, r in enumerate(res):
        k = next(i for i, a in enumerate(r.arcs) if a.last == a.first + 1)
        f = r.arcs[k].first
        spans.append((s, k, [(" ".join(a.words), (a,)) for a in lat[s] if a.first == f and a.last == f + 1]))
    paths = [r.arcs for r in res]
    before = engine.rounds
    post = rescore_spans(engine, 1.0, paths, spans)
    assert engine.rounds <= before + 1
    assert all(abs(sum(v.posterior for v in vs) - 1.0) < 1e-9 for vs in post)


def test_rescore_spans_posterior_is_the_full_path_softmax(client):
    """A variant's posterior equals its share of 10**(full path score) among the variants."""
    words = _common_words(client)[:8]
    arcs = [Arc(p, p + 1, (w,), (w,), -1.0 - 0.1 * p, EDIT) for p, w in enumerate(words[:5])]
    variants = [(w, (Arc(2, 3, (w,), (w,), -0.5 * i, EDIT),)) for i, w in enumerate(words[3:7])]
    engine = LMEngine(client)
    (post,) = rescore_spans(engine, 1.5, [tuple(arcs)], [(0, 2, variants)])
    full = [_path_score(client, arcs[:2] + list(v) + arcs[3:], 1.5, engine.float32) for _, v in variants]
    p = 10.0 ** (np.array(full) - max(full))
    p /= p.sum()
    want = sorted(zip(p.tolist(), [t for t, _ in variants]), reverse=True)
    assert [v.text for v in post] == [t for _, t in want]
    assert [v.posterior for v in post] == pytest.approx([x for x, _ in want], abs=1e-9)


def test_a_position_without_arcs_is_a_clear_error(client):
    engine = LMEngine(client)
    with pytest.raises(InvalidQueryError, match="position 1"):
        BeamSearch(engine).search([[Arc(0, 1, ("a",), ("the",), 0.0, ORIGINAL)]], [2])
    with pytest.raises(InvalidQueryError, match="does not fit"):
        BeamSearch(engine).search([[Arc(0, 3, ("a",), ("the",), 0.0, MERGE)]], [2])


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.lists(st.tuples(st.integers(0, 30), st.integers(0, 60)), min_size=1, max_size=40),
                      min_size=1, max_size=6),
       cache=st.sampled_from([5, 1 << 20]))
def test_array_engine_answers_as_lm_engine(client, steps, cache):
    """Same log10 and same next contexts, step after step, with and without cache clears."""
    base, fast = LMEngine(client), ArrayLMEngine(client, cache_pairs=cache)
    sb, sf = list(base.start_states(31)), list(fast.start_states(31))
    for step in steps:
        idx = [i for i, _ in step]
        words = [w * 3 % len(client.vocab) for _, w in step]
        lb, nb = base.extend([sb[i] for i in idx], words)
        assert fast.scores([sf[i] for i in idx], words).tolist() == lb.tolist()  # may ask, names no states
        lf, nf = fast.extend([sf[i] for i in idx], words)
        assert lf.tolist() == lb.tolist()
        assert [fast.context(int(x)) for x in nf] == [base.context(int(x)) for x in nb]
        for j, i in enumerate(idx):
            sb[i], sf[i] = int(nb[j]), int(nf[j])
        assert fast.rounds <= base.rounds + (2 if cache == 5 else 0) * len(steps)
    mid = fast.next_states(np.asarray(sf[:5]), np.arange(3, 8))
    assert [fast.context(int(m)) for m in mid] == [
        (fast.context(s) + (w,))[-(client.order - 1):] for s, w in zip(sf[:5], range(3, 8))]


def test_positions_without_a_choice_cost_no_round(client):
    """A position whose only arc is one word is passed in the round of the position
    before it (its state is named client-side): rounds = positions with a choice."""
    words = _common_words(client)
    n_tokens, single = 7, {2, 5}
    lat = []
    for s in range(2):
        arcs = []
        for p in range(n_tokens):
            arcs.append(Arc(p, p + 1, ("x",), (words[(p * 7 + s) % 30],), -0.1, ORIGINAL))
            if p not in single:
                arcs += [Arc(p, p + 1, (w,), (w,), -2.0, EDIT, 1) for w in words[p + s:p + s + 2]]
                if p + 1 < n_tokens:
                    arcs.append(Arc(p, p + 2, ("m",), (words[p + 9],), -3.0, MERGE, 1))
        lat.append(arcs)
    engine = ArrayLMEngine(client)
    got = BeamSearch(engine, lam=1.25, beam=10_000, prune_log10=None, max_rounds=None).search(lat, [n_tokens] * 2)
    assert engine.rounds <= n_tokens - len(single) + 1  # the seed round, then at most one per position with a choice
    for arcs, r in zip(lat, got):  # still the exhaustive best
        best = max(_path_score(client, path, 1.25, engine.float32) for path in _all_paths(arcs, n_tokens))
        assert r.score == pytest.approx(best, abs=1e-9)


def test_scores_when_the_cache_arrays_grow_during_the_call(client):
    """Regression: `scores` indexed the answer array it had before the round grew it."""
    fast, base = ArrayLMEngine(client), LMEngine(client)
    words = np.arange(3, min(len(client.vocab), 2503))
    states = np.full(len(words), fast.start_states(1)[0])
    assert fast.scores(states, words).tolist() == base.extend(states, words)[0].tolist()


def test_state_hash_collisions_fall_back_to_exact_keys(client, monkeypatch):
    """Contexts are keyed by a 64-bit hash; with a hash that collides all the time the
    engine must still name every context exactly (it turns to byte keys)."""
    import client.spelling.engine as engine_module
    monkeypatch.setattr(engine_module, "_row_hash", lambda rows: (rows[:, -1].astype(np.int64) % 3))
    fast, base = ArrayLMEngine(client), LMEngine(client)
    sf, sb = fast.start_states(40), base.start_states(40)
    rng = np.random.default_rng(3)
    for _ in range(4):
        words = rng.integers(3, min(len(client.vocab), 200), 40)
        lf, nf = fast.extend(sf, words)
        lb, nb = base.extend(sb, words)
        assert lf.tolist() == lb.tolist()
        assert [fast.context(int(x)) for x in nf] == [base.context(int(x)) for x in nb]
        sf, sb = nf, nb
    assert not fast._hashed


def _long_lattices(client, n_sentences: int, n_tokens: int, seed: int) -> list[list[Arc]]:
    words = _common_words(client)
    rng = np.random.default_rng(seed)
    lat = []
    for _ in range(n_sentences):
        arcs = []
        for p in range(n_tokens):
            chosen = rng.choice(len(words) - 1, 5, replace=False)
            arcs.append(Arc(p, p + 1, ("x",), (words[chosen[0]],), -0.2, ORIGINAL))
            arcs += [Arc(p, p + 1, (words[i],), (words[i],), float(rng.uniform(-3, -0.5)), EDIT, 1)
                     for i in chosen[1:]]
            if rng.random() < 0.3:
                arcs.append(Arc(p, p + 1, ("a", "b"), (words[chosen[1]], words[chosen[2]]), -2.5, SPLIT, 1))
            if p + 1 < n_tokens and rng.random() < 0.3:
                arcs.append(Arc(p, p + 2, ("m",), (words[chosen[3]],), -2.5, MERGE, 1))
        lat.append(arcs)
    return lat


@pytest.mark.parametrize("n_tokens", [20, 80])
def test_rounds_per_request_are_bounded_whatever_its_length(client, n_tokens):
    """One request (one sentence) costs at most MAX_SPELL_SEARCH_ROUNDS rounds at any
    length; when the cap did not decide (`capped == 0`) the result is the uncapped
    search's, which is exact (the per-position beam search)."""
    for seed in range(3):
        lat = _long_lattices(client, 1, n_tokens, seed)
        capped_engine, free_engine = ArrayLMEngine(client), ArrayLMEngine(client)
        capped = BeamSearch(capped_engine, beam=8)
        got = capped.search(lat, [n_tokens])
        assert capped_engine.rounds <= MAX_SPELL_SEARCH_ROUNDS
        assert capped.rounds_used == capped_engine.rounds
        free = BeamSearch(free_engine, beam=8, max_rounds=None)
        want = free.search(lat, [n_tokens])
        assert free.capped == 0
        if capped.capped == 0:
            assert got == want
        assert got[0].arcs[-1].last == n_tokens

