"""client/spelling/text.py: tokens split like the corpus, spans exact, case restored."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from client.spelling.text import apply_case, apply_case_words, case_pattern, tokenize


def _texts(s: str) -> list[str]:
    return [t.text for t in tokenize(s)]


def test_tokenize_splits_punctuation_like_the_corpus():
    assert _texts("And Adam said, This is now bone of my bones.") == \
        "And Adam said , This is now bone of my bones .".split()
    assert _texts("Noah's wife (e.g. the well-known one) didn't; see sys.path 3.11!") == \
        ["Noah's", "wife", "(", "e.g", ".", "the", "well-known", "one", ")", "didn't", ";", "see", "sys.path",
         "3.11", "!"]
    assert _texts("'quoted' -- end...") == ["'", "quoted", "'", "-", "-", "end", ".", ".", "."]
    assert _texts("didn\u2019t") == ["didn\u2019t"]


def test_tokenize_bad_input_gives_tokens_not_errors():
    assert tokenize("") == []
    assert tokenize(" \t\n\u00a0\u2003 ") == []
    assert _texts("a\ud800b\x00c\x07") == ["a", "\ud800", "b", "\x00", "c", "\x07"]
    assert _texts("\u4e2d\u6587 \u0391\u03b8\u03b7\u03bd\u03b1 na\u0308ive") == ["\u4e2d\u6587", "\u0391\u03b8\u03b7\u03bd\u03b1",
                                                                             "na\u0308ive"]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF), max_size=60)
       | st.text(alphabet=" \t\n.,;:'-’!?()aeiouTHEthe0123\u00e9\u0301\u00a0\x00\x1f", max_size=60))
def test_spans_map_back_to_the_input_exactly(text):
    toks = tokenize(text)
    prev = 0
    for t in toks:
        assert text[t.start:t.end] == t.text
        assert t.start >= prev and t.end > t.start
        assert text[prev:t.start].strip() == ""   # only whitespace between tokens
        prev = t.end
    assert text[prev:].strip() == ""


def test_case_is_restored():
    assert apply_case("Teh", "the") == "The"
    assert apply_case("TEH", "the") == "THE"
    assert apply_case("teh", "the") == "the"
    assert apply_case("adma", "Adam") == "Adam"      # lowercase typing keeps the vocabulary's case
    assert apply_case("I", "a") == "A"
    assert apply_case("Teh", "'tis") == "'Tis"
    assert apply_case_words("Inthe", ("in", "the")) == ("In", "the")
    assert apply_case_words("INTHE", ("in", "the")) == ("IN", "THE")
    assert case_pattern("TEH") == "upper" and case_pattern("Teh") == "title" and case_pattern("3d") == "lower"
