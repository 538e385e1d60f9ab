"""client/spelling/lattice.py: the candidate lattice on real small models."""
from __future__ import annotations

import pytest

from cluster_harness import small_model
from client.spelling.candidates import CandidateIndex
from client.spelling.error_model import ErrorModel
from client.spelling.lattice import CandidateGenerator
from client.spelling.text import tokenize
from client.spelling.types import EDIT, MERGE, ORIGINAL, REAL_WORD, SPLIT
from ngram.backend import LocalBackend
from ngram.model import Model


@pytest.fixture(scope="module")
def backend():
    b = LocalBackend(Model.open(small_model()))
    yield b
    b.model.close()


@pytest.fixture(scope="module")
def gen(backend):
    return CandidateGenerator(backend)


def _by_token(arcs, j):
    return [a for a in arcs if a.first == j]


def test_every_token_has_its_original_arc_first(gen):
    toks = tokenize("And teh LORD said , 42 unto Cian xqzv !")
    arcs = gen.arcs(toks)
    for j, t in enumerate(toks):
        mine = _by_token(arcs, j)
        assert mine[0].kind == ORIGINAL and mine[0].words == (t.text,) and mine[0].last == j + 1
        assert mine[0].error_log10 == gen.keep_original_log10
    assert [a.first for a in arcs] == sorted(a.first for a in arcs)
    for j in (4, 5, 9):   # punctuation and numbers: the original only
        assert len(_by_token(arcs, j)) == 1


def test_edits_restore_case_and_score_with_the_error_model(gen, backend):
    em = ErrorModel.load()
    arcs = gen.arcs(tokenize("teh Teh TEH"))
    for j, want in enumerate(["the", "The", "THE"]):
        edits = [a for a in _by_token(arcs, j) if a.kind in (EDIT, REAL_WORD)]
        best = max(edits, key=lambda a: a.error_log10)
        assert best.words == (want,) and best.distance == 1
        assert best.lm_words[0] in backend.vocab
        assert best.error_log10 == pytest.approx(float(em.log10(["teh"], ["the"])[0]))
    # an ORIGINAL arc: the typed word as the model spells it ("THE" is unknown, "the" most frequent)
    assert "THE" not in backend.vocab
    assert gen.arcs(tokenize("THE"))[0].lm_words == ("the",)
    assert gen.arcs(tokenize("The"))[0].lm_words == ("The",)
    assert gen.arcs(tokenize("TEH"))[0].lm_words == ("TEH",)    # no such word in any case: <unk>


def test_real_word_alternatives_are_near_vocabulary_words(gen, backend):
    arcs = gen.arcs(tokenize("form the said"))
    for j, typed in enumerate(["form", "the", "said"]):
        alts = [a for a in _by_token(arcs, j) if a.kind != ORIGINAL]
        assert all(a.kind in (REAL_WORD, SPLIT) for a in alts)
        for a in alts:
            if a.kind == REAL_WORD:
                assert a.distance <= gen.real_word_max_distance and a.lm_words[0] != typed
                assert a.lm_words[0] in backend.vocab
        assert len([a for a in alts if a.kind == REAL_WORD]) <= gen.max_real_word_candidates
    assert ("from",) in [a.words for a in _by_token(arcs, 0)]


def test_splits_and_merges(gen):
    arcs = gen.arcs(tokenize("Andthe LORD said unto him self"))
    splits = [a for a in arcs if a.kind == SPLIT]
    assert any(a.first == 0 and a.words == ("And", "the") and a.lm_words == ("And", "the") for a in splits)
    merges = [a for a in arcs if a.kind == MERGE]
    assert [(a.first, a.last, a.words) for a in merges] == [(4, 6, ("himself",))]
    assert merges[0].error_log10 == gen.error_model.space_inserted_log10


def test_lattice_is_bounded(gen):
    toks = tokenize(" ".join(["teh", "bretheren", "sayd", "untoo", "hym", "andthe", "LORDE", "behelod"] * 3))
    arcs = gen.arcs(toks)
    per_token = 1 + gen.max_candidates + gen.max_splits
    assert len(arcs) <= len(toks) * per_token + len(toks) - 1
    for j in range(len(toks)):
        assert len(_by_token(arcs, j)) <= per_token + 1


def test_batch_equals_one_by_one_and_cache_changes_nothing(backend):
    texts = ["And teh LORD sayd unto Cian", "", "Behold , the man is become as one of us", "andthe him self"]
    cold = CandidateGenerator(backend)
    batch = cold.arcs_batch([tokenize(t) for t in texts])
    fresh = [CandidateGenerator(backend).arcs(tokenize(t)) for t in texts]
    assert batch == fresh
    assert cold.arcs_batch([tokenize(t) for t in texts]) == batch   # now from the cache


def test_bad_input_gives_original_arcs_only(gen):
    assert gen.arcs([]) == []
    assert gen.arcs_batch([]) == []
    text = "a\ud800b \x00\x07 \u4e2d\u6587 \u0391\u03b8\u03b7\u03bd\u03b1 " + "x" * 200
    toks = tokenize(text)
    arcs = gen.arcs(toks)
    for j, t in enumerate(toks):
        if t.text in ("\ud800", "\x00", "\x07", "\u4e2d\u6587", "\u0391\u03b8\u03b7\u03bd\u03b1", "x" * 200):
            assert [a.kind for a in _by_token(arcs, j)] == [ORIGINAL]


def test_works_from_a_vocabulary_and_on_a_backoff_model(tmp_path, backend):
    from ngram.arpa import import_arpa
    from sample_corpus import ARPA_DIR
    by_vocab = CandidateGenerator(backend.vocab, CandidateIndex.build(backend.vocab))
    assert by_vocab.arcs(tokenize("teh LORD")) == CandidateGenerator(backend).arcs(tokenize("teh LORD"))
    import_arpa(ARPA_DIR / "kenlm-test.arpa", tmp_path / "m", num_shards=1, quantization="none")
    arpa = LocalBackend(Model.open(tmp_path / "m"))
    try:
        words = [arpa.vocab.word(i) for i in range(3, len(arpa.vocab))]
        word = next(w for w in words if w.isalpha() and len(w) >= 5)
        typo = word[0] + word[2] + word[1] + word[3:]
        arcs = CandidateGenerator(arpa).arcs(tokenize(typo))
        assert (word,) in [a.lm_words for a in arcs if a.kind == EDIT]
    finally:
        arpa.model.close()


def test_threads_share_a_generator_whose_cache_keeps_overflowing(backend):
    from concurrent.futures import ThreadPoolExecutor

    texts = ["And teh LORD sayd unto Cian", "Behold , the man is become as one of us", "andthe him self",
             "In the begining God created the heaven and the erth", "THE LORD is my shepherd"] * 4
    want = [CandidateGenerator(backend).arcs(tokenize(t)) for t in texts]
    shared = CandidateGenerator(backend, cache_texts=8)   # replaced every few calls, while others read it
    with ThreadPoolExecutor(4) as pool:
        for _ in range(3):
            assert list(pool.map(lambda t: shared.arcs(tokenize(t)), texts)) == want


def test_cluster_backend_gives_the_local_lattice(tmp_path):
    """Over a cluster the vocabulary is the client's and a backoff model's unigram
    frequencies come from the shards (one round): the arcs equal the local ones."""
    import numpy as np

    from client.client import Client
    from client.spelling.candidates import word_log10_frequencies
    from cluster_harness import Cluster
    from ngram.arpa import import_arpa
    from sample_corpus import ARPA_DIR
    import_arpa(ARPA_DIR / "kenlm-test.arpa", tmp_path / "m", num_shards=2, quantization="none")
    local = LocalBackend(Model.open(tmp_path / "m"))
    words = [local.vocab.word(i) for i in range(3, len(local.vocab))]
    texts = [" ".join(words[i:i + 8]) for i in range(0, len(words), 8)]
    texts += [" ".join(w[:1] + w[2:] + w[1:2] if len(w) > 3 else w for w in t.split()) for t in texts]
    try:
        with Cluster(tmp_path / "m", tmp_path / "cluster") as cluster, Client.open(cluster.path) as remote:
            np.testing.assert_array_equal(word_log10_frequencies(remote.backend), word_log10_frequencies(local))
            want = CandidateGenerator(local).arcs_batch([tokenize(t) for t in texts])
            assert CandidateGenerator(remote).arcs_batch([tokenize(t) for t in texts]) == want
            assert sum(a.kind != ORIGINAL for s in want for a in s) > 0
    finally:
        local.model.close()


def test_warm_up_leaves_the_caches_alone(backend):
    g = CandidateGenerator(backend)
    g.warm_up()
    assert g._cache == {} and g._forms == {}
    assert g.arcs(tokenize("teh LORD")) == CandidateGenerator(backend).arcs(tokenize("teh LORD"))
