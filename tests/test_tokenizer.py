"""ngram.tokenizer: the one rule for text -> words -> ids, against plain-Python references."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ngram.errors import InvalidQueryError, ModelFormatError
from ngram.tokenizer import ASCII_WHITESPACE, Tokenizer
from ngram.vocab import UNK, Vocabulary

WORDS = ["a", "b", "the", "a\u00a0b", "\u00fcber", "Stra\u00dfe", "x\x1cy", "\u00e9t\u00e9", "<unk>", "<s>", "</s>"]
VOCAB = Vocabulary.from_words(WORDS)
PLAIN, LOWER = Tokenizer(), Tokenizer(lowercase=True)

# Text made of the vocabulary's words and of every kind of separator Python knows: ASCII
# whitespace, Unicode spaces (no-break, em, ideographic, line separator), control
# characters str.split() treats as spaces (\x1c-\x1f, \x85), upper case, unknown words.
_PIECES = WORDS + ["A", "THE", "\u00dcBER", "zzz", "\u0130", "\u00a0", "\u2003", "\u3000", "\u2028",
                   "\x1c", "\x1f", "\x85", "\x00"] + [chr(c) for c in ASCII_WHITESPACE]
texts = st.lists(st.sampled_from(_PIECES), max_size=12).map("".join)


def reference_ids(words: list[bytes]) -> list[int]:
    index = {VOCAB.word_bytes(i): i for i in range(len(VOCAB))}
    return [index.get(w, 0) for w in words]


@settings(max_examples=300, deadline=None)
@given(texts, st.booleans())
def test_split_is_bytes_split_of_the_utf8_text(text, lowercase):
    tok = LOWER if lowercase else PLAIN
    want = (text.lower() if lowercase else text).encode("utf-8").split()
    assert tok.split(text) == want
    assert tok.split(text.encode("utf-8")) == want


@settings(max_examples=200, deadline=None)
@given(st.lists(texts, max_size=8), st.booleans())
def test_encode_maps_each_text_to_the_ids_of_its_words(batch, lowercase):
    tok = LOWER if lowercase else PLAIN
    ids, lengths = tok.encode(VOCAB, batch)
    want = [reference_ids(tok.split(t)) for t in batch]
    assert lengths.tolist() == [len(w) for w in want]
    assert ids.tolist() == [i for w in want for i in w]
    for t, w in zip(batch, want):
        assert tok.ids(VOCAB, t).tolist() == w


def test_no_break_space_and_unicode_spaces_stay_inside_words():
    assert PLAIN.split("a\u00a0b") == ["a\u00a0b".encode()]
    assert PLAIN.ids(VOCAB, "a\u00a0b").tolist() == [VOCAB.id("a\u00a0b")]
    assert PLAIN.split("x\x1cy a\u2003b") == ["x\x1cy".encode(), "a\u2003b".encode()]
    assert PLAIN.split("a\tb\x0bthe\x0c\r\nb") == [b"a", b"b", b"the", b"b"]


def test_unknown_words_can_be_told_from_a_literal_unk():
    ids, lengths = PLAIN.encode(VOCAB, ["<unk> zzz a"], unknown_id=-1)
    assert ids.tolist() == [0, -1, VOCAB.id("a")] and lengths.tolist() == [3]
    assert PLAIN.ids(VOCAB, "<unk> zzz").tolist() == [0, 0]
    assert VOCAB.id(UNK) == 0


def test_lowercase_is_unicode_lowercase_of_the_whole_text():
    assert LOWER.split("THE \u00dcBER Stra\u00dfe") == [b"the", "\u00fcber".encode(), "stra\u00dfe".encode()]
    assert LOWER.split(b"\xff THE") == [b"\xff", b"the"]  # bytes that are not UTF-8 are kept as given
    assert PLAIN.split(b"\xff THE") == [b"\xff", b"THE"]


def test_a_newline_inside_one_text_is_whitespace():
    ids, lengths = PLAIN.encode(VOCAB, ["a\nb", "", " \n ", "the"])
    assert lengths.tolist() == [2, 0, 0, 1]
    assert ids.tolist() == [VOCAB.id("a"), VOCAB.id("b"), VOCAB.id("the")]


def test_a_lone_surrogate_is_an_invalid_query():
    with pytest.raises(InvalidQueryError, match="lone surrogate U\\+DCFF at character 2"):
        PLAIN.split("a \udcff")
    with pytest.raises(InvalidQueryError, match="U\\+D800"):
        LOWER.encode(VOCAB, ["a", "\ud800"])
    assert PLAIN.split("a \udcff".encode("utf-8", "surrogateescape")) == [b"a", b"\xff"]
    with pytest.raises(InvalidQueryError, match="str or bytes"):
        PLAIN.split(3)


def test_ngram_ids_left_aligns_and_names_bad_ngrams():
    ids, lengths = PLAIN.ngram_ids(VOCAB, ["a b", "the", "zzz a\u00a0b the".encode()], order=3)
    assert lengths.tolist() == [2, 1, 3] and ids.dtype == np.int32 and lengths.dtype == np.int32
    a, b, the, nb = (VOCAB.id(w) for w in ("a", "b", "the", "a\u00a0b"))
    assert ids.tolist() == [[a, b, 0], [the, 0, 0], [0, nb, the]]
    with pytest.raises(InvalidQueryError, match=r"n-gram 2 \(' \\t '\) has no words"):
        PLAIN.ngram_ids(VOCAB, ["a", " \t "], order=3)
    with pytest.raises(InvalidQueryError, match=r"n-gram 1 \('a b a b'\) has 4 words; the model's order is 3"):
        PLAIN.ngram_ids(VOCAB, ["a b a b"], order=3)
    ids, lengths = PLAIN.ngram_ids(VOCAB, [], order=3)
    assert ids.shape == (0, 3) and lengths.shape == (0,)


def test_from_manifest_reads_the_tokenizer_block():
    assert Tokenizer.from_manifest({}) == Tokenizer()
    block = {"kind": "whitespace", "lowercase": True, "min_word_count": 2, "max_vocab": None,
             "jsonl_field": "text", "on_bad_bytes": "replace"}
    tok = Tokenizer.from_manifest({"tokenizer": block})
    assert tok.lowercase and tok.min_word_count == 2 and tok.jsonl_field == "text"
    with pytest.raises(ModelFormatError, match="does not know: \\['normalize'\\]"):
        Tokenizer.from_manifest({"tokenizer": {"lowercase": False, "normalize": "nfc"}})
    with pytest.raises(ModelFormatError, match="kind 'sentencepiece'"):
        Tokenizer.from_manifest({"tokenizer": {"kind": "sentencepiece"}})
    with pytest.raises(ModelFormatError, match="lowercase"):
        Tokenizer.from_manifest({"tokenizer": {"lowercase": "yes"}})
    with pytest.raises(ModelFormatError, match="must be an object"):
        Tokenizer.from_manifest({"tokenizer": []})


def test_as_manifest_gives_back_the_block_the_builder_writes(tmp_path):
    """The builder will write its block through Tokenizer.as_manifest: the model id hashes
    it, so it must be the block builder/pipeline.py writes today, key for key."""
    import json

    from reference_builder import build_model_inmemory
    for i, kw in enumerate([{}, {"lowercase": True, "min_word_count": 2}]):
        out = tmp_path / f"m{i}"
        build_model_inmemory(b"a b c\na b\n", out, order=2, num_shards=1, **kw)
        block = json.loads((out / "manifest.json").read_text())["tokenizer"]
        assert Tokenizer.from_manifest({"tokenizer": block}).as_manifest() == block
    block = {"kind": "whitespace", "lowercase": False, "min_word_count": 1, "max_vocab": None,
             "jsonl_field": "text", "on_bad_bytes": "skip"}
    assert Tokenizer.from_manifest({"tokenizer": block}).as_manifest() == block
