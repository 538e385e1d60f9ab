"""ngram_counts: n-grams as text -> exact counts, unknown words, the literal <unk>."""
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reference_builder import build_model_inmemory
from ngram.backend import open_backend
from ngram.counting import ngram_counts
from ngram.errors import InvalidQueryError, ValueKindError


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
    with pytest.raises(InvalidQueryError, match="has no words"):
        ngram_counts(backend, [b"a", b"  "])
    assert len(ngram_counts(backend, [])) == 0


def test_a_backoff_model_has_no_counts(tmp_path):
    from ngram.arpa import import_arpa
    arpa = tmp_path / "m.arpa"
    arpa.write_text("\\data\\\nngram 1=3\n\n\\1-grams:\n-1\t<unk>\n-99\t<s>\n-1\t</s>\n\n\\end\\\n")
    import_arpa(arpa, tmp_path / "m", quantization="none")
    with open_backend(tmp_path / "m") as b, pytest.raises(ValueKindError, match="counts model"):
        ngram_counts(b, [b"a"])


# -- the <unk> rule against a plain-Python count of the corpus as the builder maps it ----
_WORDS = ["a", "b", "c", "d", "e", "<unk>"]


def _mapped_reference(lines: list[list[str]], min_count: int, order: int):
    """(vocabulary, n-gram counts) of the corpus with every word under min_count written as
    <unk>, as the builder maps it (a literal <unk> is that same entry)."""
    freq = Counter(w for line in lines for w in line)
    vocab = {w for w, c in freq.items() if c >= min_count} | {"<unk>", "<s>", "</s>"}
    ref: Counter = Counter()
    for line in lines:
        toks = ["<s>"] + [w if w in vocab else "<unk>" for w in line] + ["</s>"]
        for n in range(1, order + 1):
            for i in range(len(toks) - n + 1):
                ref[tuple(toks[i:i + n])] += 1
    return vocab, ref


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.lists(st.sampled_from(_WORDS + ["r1", "r2", "r3"]), min_size=1, max_size=6),
                      min_size=1, max_size=12),
       queries=st.lists(st.lists(st.sampled_from(_WORDS + ["r1", "r2", "zz", "<s>", "</s>"]), min_size=1, max_size=3),
                        min_size=1, max_size=30))
def test_counts_follow_the_literal_unk_rule_with_cutoffs(tmp_path_factory, lines, queries):
    """With --min-word-count 2 the rare words become <unk>: a literal <unk> in a query
    counts them together with the corpus's literal <unk>; a rare or unseen word gives 0."""
    out = tmp_path_factory.mktemp("cut") / "m"
    build_model_inmemory("\n".join(" ".join(l) for l in lines).encode() + b"\n", out, order=3, num_shards=2,
                         min_word_count=2)
    vocab, ref = _mapped_reference(lines, 2, 3)
    want = [0 if any(w not in vocab for w in q) else ref.get(tuple(q), 0) for q in queries]
    with open_backend(out) as b:
        assert ngram_counts(b, [" ".join(q) for q in queries]).tolist() == want
