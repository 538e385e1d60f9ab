"""Scorer details the property tests do not reach: tokenizer settings, sentence mapping,
input validation, and opening backends."""
import numpy as np
import pytest

from reference_builder import build_model_inmemory
from ngram.backend import Backend, LocalBackend, open_backend
from ngram.errors import InvalidQueryError, ModelFormatError, NgramError
from ngram.model import Model
from ngram.scoring import Scorer
from reference import BackoffReference
from sample_corpus import sample_text

TEXT = b"the cat sat on the mat\nThe Dog sat\nthe cat ate\n"


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("scoring")
    build_model_inmemory(TEXT, d / "cased", order=3, num_shards=2)
    build_model_inmemory(TEXT, d / "lower", order=3, num_shards=2, lowercase=True)
    return d


def scorer(models, name):
    return Scorer(LocalBackend(Model.open(models / name)))


def test_lowercase_models_lowercase_the_input(models):
    lower, cased = scorer(models, "lower"), scorer(models, "cased")
    a, b = lower.score_sentences(["THE CAT sat", "the cat sat"])
    assert np.array_equal(a.log10, b.log10) and not a.oov.any()
    c = cased.score_sentences(["THE CAT sat"])[0]
    assert c.oov.tolist() == [True, True, False, False]


def test_sentences_map_back_to_their_input_including_blank_ones(models):
    s = scorer(models, "cased")
    got = s.score_sentences(["the cat", "", "  \t", "the\ncat", b"the cat"])
    assert [len(g) for g in got] == [3, 1, 1, 3, 3]  # words and </s>
    assert np.array_equal(got[0].log10, got[3].log10) and np.array_equal(got[0].log10, got[4].log10)
    assert np.array_equal(got[1].log10, got[2].log10)
    assert [len(g) for g in s.score_sentences(["", "the"], bos=False, eos=False)] == [0, 1]
    assert s.perplexity([])["tokens"] == 0


def test_pairs_agree_with_sentences(models):
    s = scorer(models, "cased")
    sent = s.score_sentences(["the cat sat on the mat"])[0]
    ids = [1] + s.vocab.ids("the cat sat on the mat".split()).tolist() + [2]
    ctx = np.array([ids[max(0, p - 2):p] + [0] * (2 - min(p, 2)) for p in range(1, len(ids))], np.int32)
    log10, length = s.score_pairs(ctx, np.minimum(np.arange(1, len(ids)), 2), np.array(ids[1:], np.int32))
    np.testing.assert_allclose(log10, sent.log10, atol=1e-12)
    assert length.tolist() == sent.ngram_length.tolist() == [2, 3, 3, 3, 3, 3, 3]


def test_bad_pairs_are_refused(models):
    s = scorer(models, "cased")
    with pytest.raises(InvalidQueryError, match="shapes"):
        s.score_pairs(np.zeros((2, 2), np.int32), np.zeros(3, np.int32), np.zeros(2, np.int32))
    with pytest.raises(InvalidQueryError, match=r"context_lengths\[1\] = 3"):
        s.score_pairs(np.zeros((2, 2), np.int32), np.array([0, 3]), np.zeros(2, np.int32))
    with pytest.raises(InvalidQueryError, match="outside the vocabulary"):
        s.score_pairs(np.zeros((1, 2), np.int32), np.array([1]), np.array([999], np.int32))
    with pytest.raises(ValueError, match="alpha"):
        Scorer(s.backend, alpha=0)


def test_open_backend(models, tmp_path):
    with open_backend(models / "cased") as b:
        assert isinstance(b, LocalBackend) and isinstance(b, Backend)
        assert (b.order, b.num_shards, b.value_kind) == (3, 2, "counts") and b.manifest["model_id"] == b.model_id
    with pytest.raises(ModelFormatError, match="no-such"):
        open_backend(tmp_path / "no-such")
    bogus = tmp_path / "cluster.json"
    bogus.write_text("{}")
    with pytest.raises(NgramError):  # handed to the `cluster` backend entry point, which refuses it
        open_backend(bogus)


def test_a_large_batch_is_scored_in_one_lookup(tmp_path):
    build_model_inmemory(sample_text(2000), tmp_path / "m", order=4, num_shards=3)
    calls = []
    backend = LocalBackend(Model.open(tmp_path / "m"))
    lookup = backend.lookup
    backend.lookup = lambda ids, lengths: calls.append(len(lengths)) or lookup(ids, lengths)
    sents = sample_text(3000).decode().splitlines()
    ppl = Scorer(backend).perplexity(sents)
    assert len(calls) == 1 and calls[0] == ppl["tokens"] + len(sents)  # one row per token and <s>
    assert 1 < ppl["perplexity_excluding_oov"] < ppl["perplexity"]


TINY_ARPA = """
\\data\\
ngram 1=6
ngram 2=5
ngram 3=2

\\1-grams:
-1.0\t<unk>\t0
-99\t<s>\t-0.5
-0.8\t</s>\t0
-0.6\ta\t-0.3
-0.7\tb\t-0.2
-0.9\tc\t-0.1

\\2-grams:
-0.3\t<s> a\t-0.25
-0.4\ta b\t-0.15
-0.5\tb c\t0
-0.35\tb </s>\t0
-0.45\ta a\t0

\\3-grams:
-0.1\t<s> a b
-0.2\ta b c

\\end\\
"""


def test_backoff_models_use_exact_backoff(tmp_path):
    from ngram.arpa import import_arpa, read_arpa
    (tmp_path / "tiny.arpa").write_text(TINY_ARPA.lstrip())
    import_arpa(tmp_path / "tiny.arpa", tmp_path / "m", num_shards=2, quantization="none")
    s = Scorer(open_backend(tmp_path / "m"))
    reference = BackoffReference(read_arpa(tmp_path / "tiny.arpa"))
    sents = ["a b c", "a a b", "c b a zz", "", "b c c a b"]
    for text, got in zip(sents, s.score_sentences(sents)):
        want = reference.sentence(text)
        np.testing.assert_allclose(got.log10, [w for w, _ in want], atol=1e-6)
        assert got.ngram_length.tolist() == [m for _, m in want]
        assert got.oov.tolist() == [w == "zz" for w in text.split()] + [False]
    a, b, c, zz = s.vocab.ids(["a", "b", "c", "zz"]).tolist()
    log10, length = s.score_pairs(np.array([[1, a], [a, b], [0, 0]], np.int32), np.array([2, 2, 0]),
                                  np.array([b, c, zz], np.int32))
    np.testing.assert_allclose(log10, [-0.1, -0.2, -1.0], atol=1e-6)
    assert length.tolist() == [3, 3, 1]
