"""The vocabulary: id order, cutoffs into <unk>, the numba tokenizer, persistence."""
from collections import Counter

import pytest
from hypothesis import given, settings, strategies as st

from ngram.errors import ModelFormatError
from ngram.vocab import BOS_ID, EOS_ID, UNK_ID, Vocabulary, build_vocabulary

WORDS = [b"the", b"cat", b"sat", b"on", b"mat", b"a", b"\xc3\xa9t\xc3\xa9", b"<", b"zz"]


def test_ids_by_descending_count_then_bytes():
    counts = {b"b": 3, b"a": 3, b"c": 5, b"B": 3, b"d": 1}
    v = build_vocabulary(counts, num_sentences=2)
    assert [v.word_bytes(i) for i in range(len(v))] == [b"<unk>", b"<s>", b"</s>", b"c", b"B", b"a", b"b", b"d"]
    assert v.counts.tolist() == [0, 2, 2, 5, 3, 3, 3, 1]
    assert (UNK_ID, BOS_ID, EOS_ID) == (0, 1, 2)
    assert v.total_tokens == 2 + 5 + 3 + 3 + 3 + 1  # </s> counts, <s> does not


def test_min_count_and_max_size_go_to_unk():
    counts = {b"x": 10, b"y": 4, b"z": 2, b"w": 1, b"<unk>": 3}
    v = build_vocabulary(counts, num_sentences=1, min_count=2)
    assert list(v)[3:] == ["x", "y", "z"] and v.counts[UNK_ID] == 3 + 1
    v = build_vocabulary(counts, num_sentences=1, max_size=5)  # 3 specials + 2 words
    assert list(v)[3:] == ["x", "y"] and v.counts[UNK_ID] == 3 + 2 + 1
    assert v.id("z") == UNK_ID and "z" not in v and "<unk>" in v


def test_encode_lines_blank_lines_tabs_cr_and_unknown_words():
    v = Vocabulary.from_words(WORDS)
    ids, offs = v.encode_lines(b"the cat\n\n  \t \r\nsat\ton\r\nthe dog \x0bmat\n")
    w = {x: v.id(x) for x in WORDS}
    assert offs.tolist() == [0, 4, 8, 13]
    assert ids.tolist() == [BOS_ID, w[b"the"], w[b"cat"], EOS_ID, BOS_ID, w[b"sat"], w[b"on"], EOS_ID,
                            BOS_ID, w[b"the"], UNK_ID, w[b"mat"], EOS_ID]
    ids, offs = v.encode_lines(b"\xc3\xa9t\xc3\xa9 <", boundaries=False)
    assert ids.tolist() == [w[b"\xc3\xa9t\xc3\xa9"], w[b"<"]] and offs.tolist() == [0, 2]
    ids, offs = v.encode_lines(b"")
    assert len(ids) == 0 and offs.tolist() == [0]


def test_from_words_places_specials_and_rejects_bad_words():
    v = Vocabulary.from_words([b"x", b"</s>", b"y"], [5, 7, 1])
    assert list(v) == ["<unk>", "<s>", "</s>", "x", "y"] and v.counts.tolist() == [0, 0, 7, 5, 1]
    for bad in ([b"a b"], [b""], [b"a", b"a"]):
        with pytest.raises(ValueError):
            Vocabulary.from_words(bad)


def test_save_open_round_trip(tmp_path):
    v = build_vocabulary(Counter({w: i + 1 for i, w in enumerate(WORDS)}), num_sentences=4)
    v.save(tmp_path / "vocab.bin")
    r = Vocabulary.open(tmp_path / "vocab.bin")
    r.verify()
    assert list(r) == list(v) and r.counts.tolist() == v.counts.tolist()
    assert r.ids(WORDS + [b"nope"]).tolist() == v.ids(WORDS + [b"nope"]).tolist()
    (tmp_path / "vocab.bin").write_bytes((tmp_path / "vocab.bin").read_bytes()[:-5])
    with pytest.raises(ModelFormatError, match="vocab.bin"):
        Vocabulary.open(tmp_path / "vocab.bin")


word = st.binary(min_size=1, max_size=6).filter(lambda b: len(b.split()) == 1 and b.split()[0] == b)


@settings(max_examples=60, deadline=None)
@given(st.lists(word, min_size=1, max_size=60, unique=True),
       st.lists(st.one_of(word, st.sampled_from([b"", b"a b", b"\t", b"<s>", b"<unk>"])), max_size=80))
def test_batch_ids_equal_a_dict(words, queries):
    v = Vocabulary.from_words(words)
    ref = {v.word_bytes(i): i for i in range(len(v))}
    want = [ref.get(q, UNK_ID) for q in queries]
    assert v.ids(queries).tolist() == want
    assert [v.id(q) for q in queries] == want


def test_ids_when_an_empty_and_a_two_word_query_cancel_out():
    # regression: ids once checked only the token count, so these two shifted every id
    v = Vocabulary.from_words([b"x"])
    assert v.ids([b"", b"x", b"a b"]).tolist() == [UNK_ID, 3, UNK_ID]


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.binary(min_size=1, max_size=3).filter(lambda w: w.split() == [w]), st.integers(0, 5),
                       max_size=30),
       st.integers(0, 3), st.one_of(st.none(), st.integers(0, 12)))
def test_build_vocabulary_matches_naive_order(counts, min_count, max_size):
    v = build_vocabulary(counts, num_sentences=4, min_count=min_count, max_size=max_size)
    specials = (b"<unk>", b"<s>", b"</s>")
    ranked = sorted(((w, c) for w, c in counts.items() if w not in specials), key=lambda wc: (-wc[1], wc[0]))
    kept = [wc for wc in ranked if wc[1] >= min_count]
    if max_size is not None:
        kept = kept[:max(0, max_size - 3)]
    assert [v.word_bytes(i) for i in range(3, len(v))] == [w for w, _ in kept]
    assert v.counts[3:].tolist() == [c for _, c in kept]
    assert v.counts[UNK_ID] == counts.get(b"<unk>", 0) + sum(c for _, c in ranked) - sum(c for _, c in kept)


@pytest.mark.parametrize("words, message", [
    ([b"a", b"b", b"a"], "duplicate word b'a'"),
    ([b"a", b"b c"], "invalid word b'b c'"),
    ([b"a", b""], "invalid word b''"),
    ([b"x\ty", b"a"], "invalid word b'x\\\\ty'"),
])
def test_from_words_refuses_duplicates_and_whitespace(words, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        Vocabulary.from_words(words)


@settings(deadline=None, max_examples=40)
@given(st.lists(word, min_size=0, max_size=60, unique=True), st.lists(word, max_size=12))
def test_packed_vocabulary_gives_the_same_arrays_and_ids(words, sentence):
    import numpy as np

    from ngram.kernels.vocab_kernels import encode_words, packed_views

    v = Vocabulary.from_words(words)
    packed = v.packed()
    assert packed is v.packed()  # built once
    strings, offsets, table = packed_views(packed)
    assert np.array_equal(strings, v.strings) and np.array_equal(offsets, v.offsets)
    assert np.array_equal(table, v.table)
    data = b" ".join(sentence)
    want = encode_words(data, v.strings, v.offsets, v.table, UNK_ID, BOS_ID, EOS_ID, True, True)
    assert np.array_equal(encode_words(data, strings, offsets, table, UNK_ID, BOS_ID, EOS_ID, True, True), want)
