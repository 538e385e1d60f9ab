"""The declared Backend interface: every backend implements it, consumers use nothing else.

Local, cached and remote backends are checked against the same protocol and give the
same answers; the one (context, word) -> n-gram rule is checked against plain Python.
"""
from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reference_builder import build_model_inmemory
from client import Client
from client.cache import CachedBackend
from client.policy import CallPolicy
from client.remote import open_remote_backend
from cluster_harness import Cluster
from ngram.backend import Backend, LocalBackend, LocalRoundStream, RoundStream, open_backend
from ngram.errors import InvalidArgumentError, InvalidQueryError, RoundStreamClosedError
from ngram.query import pair_ngrams, unique_rows
from ngram.scoring import Scorer
from ngram.tokenizer import Tokenizer

pytestmark = pytest.mark.timeout(180)
REPO = Path(__file__).resolve().parents[1]
TEXT = b"The cat sat on the mat\nthe CAT ate\nA dog sat on the mat\n"


@pytest.fixture(scope="module")
def lower_model(tmp_path_factory):
    out = tmp_path_factory.mktemp("iface") / "lower"
    build_model_inmemory(TEXT, out, order=3, num_shards=3, lowercase=True)
    return out


@pytest.fixture(scope="module")
def backends(lower_model, tmp_path_factory):
    """The same lowercase model as a local, a cached and a remote backend."""
    with Cluster(lower_model, tmp_path_factory.mktemp("c"), layout=[[0, 1], [2]]) as cluster:
        local = open_backend(lower_model)
        remote = open_remote_backend(cluster.path, policy=CallPolicy(timeout=5.0))
        cached = CachedBackend(open_backend(lower_model), capacity=50)
        try:
            yield {"local": local, "remote": remote, "cached": cached, "cluster": cluster}
        finally:
            for b in (local, remote, cached):
                b.close()


def test_every_backend_implements_the_protocol(backends):
    for name in ("local", "remote", "cached"):
        b = backends[name]
        assert isinstance(b, Backend), name
        assert isinstance(b.tokenizer, Tokenizer) and b.tokenizer.lowercase, name
        with b.stream_rounds(max_inflight=2, timeout=5.0) as rounds:
            assert isinstance(rounds, RoundStream), name


def test_every_backend_gives_the_same_answers(backends):
    ids, lengths = backends["local"].tokenizer.ngram_ids(backends["local"].vocab, ["the cat", "sat on the", "zz"], 3)
    want = backends["local"].lookup(ids, lengths)
    for name in ("remote", "cached"):
        b = backends[name]
        assert b.lookup(ids, lengths).equals(want), name
        chains, mask, errors = b.lookup_partial(ids, lengths)
        assert chains.equals(want) and mask.all() and errors == {}, name
        with b.stream_rounds() as rounds:
            assert rounds.submit(ids, lengths).result(10).equals(want), name


def test_scorer_reads_the_tokenizer_of_every_backend(backends):
    """Scorer read `getattr(backend, "manifest", None)`: a backend without that attribute
    silently scored a lowercase model's "THE CAT" as unknown words. Now it reads
    `backend.tokenizer`, which every backend must have."""
    want = Scorer(backends["local"]).score_sentences(["the cat sat"])[0]
    assert want.num_oov == 0
    for name in ("local", "remote", "cached"):
        got = Scorer(backends[name]).score_sentences(["THE Cat SAT"])[0]
        assert np.array_equal(got.log10, want.log10) and got.num_oov == 0, name


def test_count_lowercases_for_a_lowercase_model_everywhere(backends, lower_model):
    """`ngram count` and Client.count did not lowercase a query for a lowercase model."""
    import os
    import subprocess
    import sys
    assert Client(backends["cached"]).count(["THE cat", "the mat"]).tolist() == [2, 2]
    assert Client(backends["remote"]).count("THE CAT") == 2
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-m", "ngram.cli", "count", str(lower_model), "THE CAT"],
                         capture_output=True, env=env, timeout=120, check=True).stdout
    assert out == b"THE CAT\t2\n"


def test_local_lookup_partial_answers_everything(backends):
    b = backends["local"]
    ids, lengths = np.array([[3, 4, 0], [5, 0, 0]], np.int32), np.array([2, 1], np.int32)
    chains, mask, errors = b.lookup_partial(ids, lengths)
    assert mask.dtype == bool and mask.tolist() == [True, True] and errors == {}
    assert chains.equals(b.lookup(ids, lengths))
    with pytest.raises(InvalidQueryError, match="exceeds the model order"):
        b.lookup_partial(ids, np.array([4, 1], np.int32))


def test_local_rounds_are_answered_in_process(backends):
    b = backends["local"]
    rng = np.random.default_rng(3)
    ctx = rng.integers(0, len(b.vocab), (40, 4)).astype(np.int32)
    clen = rng.integers(0, 5, 40).astype(np.int32)
    words = rng.integers(0, len(b.vocab), 40).astype(np.int32)
    with b.stream_rounds(max_inflight=1, timeout=0.001) as rounds:
        assert isinstance(rounds, LocalRoundStream)
        futures = [rounds.submit_pairs(ctx, clen, words) for _ in range(3)]
        want = b.lookup(*pair_ngrams(ctx, clen, words, b.order))
        assert all(f.done() and f.result().equals(want) for f in futures)
        with pytest.raises(InvalidQueryError):  # a bad round fails at submit, as remotely
            rounds.submit(np.array([[1, 2]]), np.array([3]))
    with pytest.raises(RoundStreamClosedError):
        rounds.submit(ctx[:, :2], np.ones(40, np.int32))
    with pytest.raises(InvalidArgumentError, match="max_inflight"):
        b.stream_rounds(max_inflight=0)
    with pytest.raises(InvalidArgumentError, match="timeout"):
        b.stream_rounds(timeout=0)


def test_client_uses_the_backends_rounds_and_partial_lookups(backends):
    """Client probed with getattr for lookup_partial/open_stream; it now calls the interface."""
    c = Client(backends["cached"])
    ids, lengths = np.array([[3, 4, 0]], np.int32), np.array([2], np.int32)
    chains, mask, errors = c.lookup_partial(ids, lengths)
    assert mask.all() and not errors
    with c.stream_rounds(max_inflight=3) as rounds:
        assert isinstance(rounds, LocalRoundStream)
        assert rounds.submit(ids, lengths).result().equals(chains)


def test_cache_keeps_only_answered_rows_of_a_partial_lookup(lower_model, tmp_path):
    """CachedBackend forwarded lookup_partial through __getattr__, bypassing the cache; now
    it answers hits from the cache and caches only what a shard answered."""
    with Cluster(lower_model, tmp_path, layout=[[0], [1], [2]]) as cluster:
        remote = open_remote_backend(cluster.path, policy=CallPolicy(timeout=2.0, max_attempts=1))
        with CachedBackend(remote, capacity=100) as cached:
            ids, lengths = remote.tokenizer.ngram_ids(remote.vocab, ["the cat", "sat on", "on the", "a dog",
                                                                     "cat sat", "the mat", "cat ate"], 3)
            full = remote.lookup(ids, lengths)
            cluster.kill(1)
            chains, mask, errors = cached.lookup_partial(ids, lengths)
            assert list(errors) == [1] and not mask.all() and mask.any()
            assert chains.take(np.flatnonzero(mask)).equals(full.take(np.flatnonzero(mask)))
            assert (cached.hits, cached.misses) == (0, len(lengths))
            chains, mask2, errors = cached.lookup_partial(ids, lengths)
            assert mask2.tolist() == mask.tolist() and list(errors) == [1]
            assert (cached.hits, cached.misses) == (int(mask.sum()), 2 * len(lengths) - int(mask.sum()))


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 6), st.lists(st.tuples(st.lists(st.integers(0, 99), max_size=8), st.integers(0, 99)),
                                   min_size=0, max_size=20))
def test_pair_ngrams_matches_plain_python(order, pairs):
    width = max([len(c) for c, _ in pairs] + [0])
    ctx = np.full((len(pairs), width), 7, np.int32)  # junk beyond each context's length
    for p, (c, _) in enumerate(pairs):
        ctx[p, :len(c)] = c
    clen = np.array([len(c) for c, _ in pairs], np.int32)
    words = np.array([w for _, w in pairs], np.int32)
    ids, lengths = pair_ngrams(ctx, clen, words, order)
    for p, (c, w) in enumerate(pairs):
        gram = c[max(0, len(c) - (order - 1)):] + [w] if order > 1 else [w]
        assert lengths[p] == len(gram) and ids[p, :len(gram)].tolist() == gram and not ids[p, len(gram):].any()
    first, inverse = unique_rows(ids, lengths)
    keys = [tuple(ids[p, :lengths[p]]) for p in range(len(pairs))]
    assert len(first) == len(set(keys)) and all(keys[first[inverse[p]]] == keys[p] for p in range(len(pairs)))


def test_pair_ngrams_refuses_bad_pairs_and_keeps_wide_ids_wide():
    with pytest.raises(InvalidQueryError, match="shapes"):
        pair_ngrams(np.zeros((2, 3), np.int32), np.zeros(3, np.int32), np.zeros(2, np.int32), 3)
    with pytest.raises(InvalidQueryError, match=r"context_lengths\[1\] = 4 is outside 0..3"):
        pair_ngrams(np.zeros((2, 3), np.int32), np.array([1, 4]), np.zeros(2, np.int32), 3)
    with pytest.raises(InvalidQueryError, match="integer"):
        pair_ngrams(np.zeros((1, 3)), np.array([1]), np.array([1]), 3)
    ids, _ = pair_ngrams(np.array([[2**32 + 5]], np.int64), np.array([1]), np.array([1]), 3)
    assert ids[0, 0] == 2**32 + 5  # not wrapped to word 5: check_batch will name it


def test_scorer_and_client_build_pairs_with_the_one_rule(backends):
    b = backends["local"]
    rng = np.random.default_rng(5)
    ctx = rng.integers(0, len(b.vocab), (30, 5)).astype(np.int32)
    clen = rng.integers(0, 6, 30).astype(np.int32)
    words = rng.integers(0, len(b.vocab), 30).astype(np.int32)
    scorer = Scorer(b)
    got = scorer.score_pairs(ctx, clen, words)
    ids, lengths = pair_ngrams(ctx, clen, words, b.order)
    want = scorer.score_ngrams(ids, lengths)
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
    assert np.array_equal(Client(b).score_round(ctx, clen, words), want[0])


def test_no_consumer_probes_a_backend():
    """No getattr/hasattr on a backend, no __getattr__ forwarding, in the interface's modules."""
    for rel in ("ngram/scoring.py", "ngram/counting.py", "ngram/backend.py", "client/client.py", "client/cache.py"):
        tree = ast.parse((REPO / rel).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("getattr", "hasattr"):
                pytest.fail(f"{rel}:{node.lineno}: {node.func.id}() call")
            if isinstance(node, ast.FunctionDef) and node.name == "__getattr__":
                pytest.fail(f"{rel}:{node.lineno}: __getattr__ forwarding")
