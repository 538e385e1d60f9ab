"""client/spelling/candidates.py: the symmetric-delete index equals a brute-force scan."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cluster_harness import small_model
from client.spelling.candidates import CandidateIndex, is_key_word, word_log10_frequencies
from ngram.backend import LocalBackend
from ngram.errors import InvalidArgumentError, ModelFormatError
from ngram.model import Model
from ngram.vocab import Vocabulary
from spell_reference import brute_force_lookup

_ALPHABET = "abcdeAB'-é1"
_word = st.text(alphabet=_ALPHABET, min_size=1, max_size=7)


def _vocab(words, counts):
    return Vocabulary.from_words(list(words), list(counts))


def _check(index, vocab, queries, k, min_count):
    words = [vocab.word(i) for i in range(len(vocab))]
    counts = vocab.counts.tolist()
    got = index.lookup(queries, k)
    for q, row in zip(queries, got):
        assert row == brute_force_lookup(words, counts, q, k, min_count, is_key_word), q


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_word, min_size=1, max_size=40, unique=True), st.data())
def test_lookup_equals_brute_force_scan(words, data):
    counts = data.draw(st.lists(st.integers(0, 4), min_size=len(words), max_size=len(words)))
    vocab = _vocab(words, counts)
    build_k = data.draw(st.integers(0, 2))
    min_count = data.draw(st.integers(0, 3))
    index = CandidateIndex.build(vocab, max_distance=build_k, min_count=min_count)
    # queries: vocabulary words, words near them, and random strings
    queries = data.draw(st.lists(st.sampled_from(words) | _word | st.text(max_size=5), min_size=1, max_size=12))
    for k in range(build_k + 1):
        _check(index, vocab, queries, k, min_count)


def test_lookup_on_a_real_vocabulary_equals_brute_force():
    model = Model.open(small_model())
    try:
        vocab = model.vocab
        index = CandidateIndex.build(vocab, max_distance=2, min_count=2)
        rng = np.random.default_rng(7)
        words = [vocab.word(int(i)) for i in rng.integers(3, len(vocab), 12)]
        typos = [w[:1] + w[2:] if len(w) > 2 else w + "x" for w in words]
        _check(index, vocab, words + typos + ["teh", "Thsi", "", "x" * 40], 2, 2)
    finally:
        model.close()


def test_case_insensitive_keys_list_every_spelling():
    vocab = _vocab(["the", "The", "THE", "then", "Adam"], [50, 20, 3, 9, 4])
    index = CandidateIndex.build(vocab, min_count=1)
    key = int(index.find_keys(["the"])[0])
    assert [vocab.word(int(i)) for i in index.forms(key)] == ["the", "The", "THE"]  # most frequent first
    assert index.find_keys(["The", "adam", "nope"]).tolist()[1:] == [index.find_keys(["adam"])[0], -1]
    assert index.find_keys(["The"])[0] == -1     # keys are lowercase; callers lowercase first
    assert {vocab.word(i) for i, d in index.lookup(["Teh"])[0]} == {"the", "The", "THE", "then"}


def test_frequency_filter_and_bounds():
    vocab = _vocab(["the", "thy", "thee"], [10, 1, 2])
    index = CandidateIndex.build(vocab, min_count=2)
    assert [vocab.word(i) for i, _ in index.lookup(["thx"])[0]] == ["the", "thee"]
    assert index.find_keys(["thy"])[0] >= 0          # still a key (exact lookups), never a candidate
    with pytest.raises(InvalidArgumentError):
        index.lookup(["x"], 3)
    with pytest.raises(InvalidArgumentError):
        CandidateIndex.build(vocab, max_distance=3)
    assert index.lookup([]) == []


def test_backoff_model_frequencies_come_from_a_unigram_round(tmp_path):
    from ngram.arpa import import_arpa
    from sample_corpus import ARPA_DIR
    import_arpa(ARPA_DIR / "kenlm-test.arpa", tmp_path / "m", num_shards=2, quantization="none")
    backend = LocalBackend(Model.open(tmp_path / "m"))
    try:
        freq = word_log10_frequencies(backend)
        ids = np.arange(len(backend.vocab), dtype=np.int32)[:, None]
        prob = backend.lookup(ids, np.ones(len(ids), np.int32)).prob[:, 0]
        np.testing.assert_array_equal(freq, np.where(np.isnan(prob), -np.inf, prob.astype(np.float64)))
        index = CandidateIndex.for_backend(backend)   # ARPA models carry no counts: nothing filtered
        assert index.key_indexed.all()
    finally:
        backend.model.close()


def test_counts_model_frequencies_are_unigram_shares():
    backend = LocalBackend(Model.open(small_model()))
    try:
        freq = word_log10_frequencies(backend)
        v = backend.vocab
        i = v.id("the")
        assert freq[i] == pytest.approx(np.log10(int(v.counts[i]) / v.total_tokens))
    finally:
        backend.model.close()


def test_saved_index_maps_back_and_refuses_damage(tmp_path):
    model = Model.open(small_model())
    try:
        index = CandidateIndex.build(model.vocab, model_id=model.model_id)
        path = tmp_path / "spell.idx"
        size = index.save(path)
        assert size == path.stat().st_size
        loaded = CandidateIndex.load(path, model_id=model.model_id)
        queries = ["teh", "bretheren", "Abrham", "lord", "x"]
        assert loaded.lookup(queries) == index.lookup(queries)
        with pytest.raises(ModelFormatError, match="built for model"):
            CandidateIndex.load(path, model_id="other")
        data = bytearray(path.read_bytes())
        path.with_name("short.idx").write_bytes(bytes(data[:len(data) // 2]))
        with pytest.raises(ModelFormatError):
            CandidateIndex.load(path.with_name("short.idx"))
        rng = np.random.default_rng(3)
        for trial in range(20):   # flipped bytes: an error, or (without checksums) answers; never a crash
            bad = bytearray(data)
            for p in rng.integers(64, len(bad), 4):
                bad[int(p)] ^= 0xFF
            p = tmp_path / f"bad{trial}.idx"
            p.write_bytes(bytes(bad))
            with pytest.raises(ModelFormatError):
                CandidateIndex.load(p)
            try:
                CandidateIndex.load(p, verify=False).lookup(queries)
            except ModelFormatError:
                pass
    finally:
        model.close()


def test_full_key_table_is_refused_not_probed_forever(tmp_path):
    """A key table without an empty slot would make a lookup of a missing word probe forever."""
    from ngram.format import write_container
    vocab = _vocab(["the", "then"], [3, 3])
    index = CandidateIndex.build(vocab, min_count=1)
    arrays = dict(index.arrays)
    arrays["key_table"] = np.ones_like(arrays["key_table"])
    write_container(tmp_path / "full.idx", b"SPL1", arrays, {"spelling": index.meta})
    with pytest.raises(ModelFormatError):
        CandidateIndex.load(tmp_path / "full.idx")
