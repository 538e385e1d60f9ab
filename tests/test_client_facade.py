"""`Client` over a cluster equals `Client` over the model directory; decoder rounds."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from client import Client
from client.rounds import pair_ngrams, unique_rows
from cluster_harness import Cluster, corpus_text
from reference import count_ngrams

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def remote_client(model_dir, tmp_path_factory):
    with Cluster(model_dir, tmp_path_factory.mktemp("c"), replicas=1, layout=[[0, 1], [2, 3]]) as c:
        with Client.open(c.path) as client:
            yield client


def test_count_matches_a_plain_python_counter(remote_client):
    lines = [l.split() for l in corpus_text().decode().splitlines()]
    ref = Counter({" ".join(g): c for g, c in count_ngrams(lines, 3, bos="<s>", eos="</s>").items()})
    grams = [g for g, _ in ref.most_common(300)] + ["zzqx unseen", "of the zzqx"]
    got = remote_client.count(grams)
    # <s> is counted per sentence as a unigram by the builder's own rule; skip it.
    for g, c in zip(grams, got):
        if g != "<s>":
            assert int(c) == ref.get(g, 0), g
    assert remote_client.count("zzqx") == 0


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), pairs=st.integers(1, 2000))
def test_lookup_round_equals_local_and_dedupes(remote_client, local, seed, pairs):
    rng = np.random.default_rng(seed)
    ids, _ = local.vocab.encode_lines(corpus_text(300))
    # Few distinct contexts and words: a decoder round repeats itself a lot.
    starts = rng.integers(0, len(ids) - 8, 50)[rng.integers(0, 50, pairs)]
    ctx = ids[starts[:, None] + np.arange(6)[None, :]].astype(np.int32)
    clen = rng.integers(0, 7, pairs).astype(np.int32)
    words = ids[rng.integers(0, len(ids), 30)][rng.integers(0, 30, pairs)].astype(np.int32)
    got = remote_client.lookup_round(ctx, clen, words)
    full, lengths = pair_ngrams(ctx, clen, words, local.order)
    assert got.equals(local.lookup(full, lengths))
    assert remote_client.last_round_unique == len(unique_rows(full, lengths)[0]) <= pairs


def test_pair_ngrams_takes_the_last_words_of_the_context():
    ids, lengths = pair_ngrams(np.array([[5, 6, 7, 8, 9], [5, 6, 0, 0, 0], [0, 0, 0, 0, 0]]),
                               np.array([5, 2, 0]), np.array([3, 4, 2]), order=4)
    assert ids.tolist() == [[7, 8, 9, 3], [5, 6, 4, 0], [2, 0, 0, 0]]
    assert lengths.tolist() == [4, 3, 1]


def test_partial_lookup_on_a_local_model_is_complete(model_dir, local):
    with Client.open(model_dir) as c:
        ids, lengths = np.array([[5, 6]], np.int32), np.array([2], np.int32)
        chains, mask, errors = c.lookup_partial(ids, lengths)
        assert mask.all() and not errors and chains.equals(local.lookup(ids, lengths))


def test_scoring_goes_through_the_core_scorer(remote_client, model_dir):
    sents = corpus_text(40).decode().splitlines()
    with Client.open(model_dir) as lc:
        want = lc.score_sentences(sents)
        ppl, want_ppl = remote_client.perplexity(sents), lc.perplexity(sents)  # dicts
        assert ppl.keys() == want_ppl.keys()
        assert all(np.isclose(ppl[k], want_ppl[k]) for k in ppl)
    got = remote_client.score_sentences(sents)
    for a, b in zip(got, want):
        assert np.allclose(a, b)



def test_local_client_in_the_decoded_layout(remote_client, model_dir, tmp_path):
    sents = corpus_text(40).decode().splitlines()
    with Client.open(model_dir, layout="decoded") as dc:
        assert {t.layout_name for t in dc.backend.model.shards.values()} == {"decoded"}
        got = dc.score_sentences(sents)
    want = remote_client.score_sentences(sents)
    assert all(np.array_equal(a.log10, b.log10) and np.array_equal(a.ngram_length, b.ngram_length)
               for a, b in zip(got, want))
    cluster_file = tmp_path / "cluster.json"
    cluster_file.write_text("{}")
    with pytest.raises(ValueError, match="chosen by its servers"):
        Client.open(cluster_file, layout="decoded")
