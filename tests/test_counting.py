"""ngram_counts: n-grams as text -> exact counts, unknown words, the literal <unk>."""
import pytest

from reference_builder import build_model_inmemory
from ngram.backend import open_backend
from ngram.counting import ngram_counts
from ngram.errors import InvalidQueryError


@pytest.fixture(scope="module")
def backend(tmp_path_factory):
    out = tmp_path_factory.mktemp("counting") / "m"
    build_model_inmemory(b"a b <unk> c\na b\nx y a b\n", out, order=3, num_shards=3)
    with open_backend(out) as b:
        yield b


def test_counts_unknown_words_and_literal_unk(backend):
    lines = [b"a b", b"a\tb", b"x y a", b"<unk> c", b"<unk> zz", b"zz", b"b <unk>", b"c a", b"<s> a b", b"b </s>"]
    assert ngram_counts(backend, lines).tolist() == [3, 3, 1, 1, 0, 0, 1, 0, 2, 2]


def test_bad_lines_are_refused(backend):
    with pytest.raises(InvalidQueryError, match="order is 3"):
        ngram_counts(backend, [b"a b", b"a b a b"])
    with pytest.raises(InvalidQueryError, match="blank"):
        ngram_counts(backend, [b"a", b"  "])
    assert len(ngram_counts(backend, [])) == 0
