"""Next-word prediction (ngram.predict, ngram.successors) against the brute-force
reference of tests/reference.py: top-k words and scores exact, counts and backoff
models, 1..7 shards; the index's file rules (model id, corrupt and missing files)."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reference_builder import build_model_inmemory
from ngram.arpa import import_arpa
from ngram.arpa.reader import read_arpa
from ngram.backend import LocalBackend
from ngram.errors import InvalidQueryError, ModelFormatError
from ngram.model import Model
from ngram.predict import Predictor
from ngram.scoring import Scorer
from ngram.successors import COMMON_NAME, successor_file_name, write_index
from reference import BackoffReference, CountsReference, normalized_arpa, sb_log10, top_k

WORDS = ["a", "b", "c", "d", "e", "f"]
sentences_st = st.lists(st.lists(st.sampled_from(WORDS), min_size=1, max_size=6), min_size=1, max_size=8)
SETTINGS = settings(max_examples=15, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def contexts_of(sentences, order, rng, vocab_size):
    """Every context the corpus has (cut at each position, with <s>), plus random ones."""
    out = [[]]
    for s in sentences:
        toks = [1] + s
        out += [toks[max(0, p - order):p] for p in range(1, len(toks) + 1)]
    out += [list(rng.integers(0, vocab_size, rng.integers(1, order + 1))) for _ in range(5)]
    W = max(len(c) for c in out)
    ids = np.zeros((len(out), max(W, 1)), np.int32)
    for i, c in enumerate(out):
        ids[i, :len(c)] = c
    return ids, np.array([len(c) for c in out], np.int32)


def check_against(pred, score, V, ids, lengths, k, **filters):
    allowed = filters.pop("allowed", None)
    words, scores = pred.predict(ids, lengths, k, **filters)
    for b in range(len(lengths)):
        ctx = [int(x) for x in ids[b, :lengths[b]]]
        want = top_k(score, V, ctx, k, allowed, filters.get("min_score"))
        got = [(int(w), float(s)) for w, s in zip(words[b], scores[b]) if w >= 0]
        assert got == want, (ctx, got, want)
        assert (words[b, len(want):] == -1).all() and np.isneginf(scores[b, len(want):]).all()


def counts_setup(tmp_path, sentences, order, shards, cutoffs=None):
    text = "\n".join(" ".join(s) for s in sentences).encode() + b"\n"
    d = tmp_path / f"m{order}-{shards}"
    shutil.rmtree(d, ignore_errors=True)
    build_model_inmemory(text, d, order=order, num_shards=shards, cutoffs=cutoffs)
    write_index(d)
    model = Model.open(d, verify=True)
    ref = CountsReference(sentences, order, cutoffs=cutoffs)
    assert all(int(model.vocab.ids([w])[0]) == i for w, i in ref.ids.items())
    return model, ref


@SETTINGS
@given(sentences=sentences_st, order=st.integers(1, 4), shards=st.integers(1, 7), k=st.integers(1, 12),
       seed=st.integers(0, 2 ** 16))
def test_counts_top_k_matches_reference(tmp_path, sentences, order, shards, k, seed):
    model, ref = counts_setup(tmp_path, [[w for w in s] for s in sentences], order, shards)
    pred = Predictor.open(model)
    try:
        V = len(model.vocab)
        ids, lengths = contexts_of(ref.sentences, order, np.random.default_rng(seed), V)
        score = lambda c, w: sb_log10(ref, c, w)  # noqa: E731
        check_against(pred, score, V, ids, lengths, k, allowed=lambda w: w not in (0, 1))
        check_against(pred, score, V, ids, lengths, k, exclude_special=False)
        # the scores are the scorer's, bit for bit
        words, scores = pred.predict(ids, lengths, k)
        flat = words.reshape(-1) >= 0
        rows = np.repeat(np.arange(len(lengths)), k)[flat]
        log10, _ = Scorer(LocalBackend(model)).score_pairs(ids[rows], lengths[rows], words.reshape(-1)[flat])
        assert np.array_equal(log10, scores.reshape(-1)[flat])
    finally:
        pred.close()
        model.close()


@SETTINGS
@given(sentences=sentences_st, shards=st.integers(1, 7), prefix=st.sampled_from(["a", "b", "c", "</", "z"]),
       cut=st.integers(1, 3))
def test_counts_filters_and_cutoffs(tmp_path, sentences, shards, prefix, cut):
    order = 3
    model, ref = counts_setup(tmp_path, sentences, order, shards, cutoffs=[1, cut, 1])
    pred = Predictor.open(model)
    try:
        V = len(model.vocab)
        ids, lengths = contexts_of(ref.sentences, order, np.random.default_rng(cut), V)
        score = lambda c, w: sb_log10(ref, c, w)  # noqa: E731
        words_of = {i: w for w, i in ref.ids.items()} | {2: "</s>"}
        check_against(pred, score, V, ids, lengths, 5, prefix=prefix,
                      allowed=lambda w: words_of.get(w, "").startswith(prefix))
        check_against(pred, score, V, ids, lengths, 8, min_score=-1.0, allowed=lambda w: w not in (0, 1))
    finally:
        pred.close()
        model.close()


def backoff_setup(tmp_path, sentences, order, shards):
    arpa = tmp_path / f"a{order}-{shards}.arpa"
    arpa.write_text(normalized_arpa(sentences, order))
    d = tmp_path / f"b{order}-{shards}"
    shutil.rmtree(d, ignore_errors=True)
    import_arpa(arpa, d, num_shards=shards, quantization="none")
    write_index(d)
    return Model.open(d, verify=True), BackoffReference(read_arpa(arpa))


@SETTINGS
@given(sentences=sentences_st, order=st.integers(1, 4), shards=st.integers(1, 7), k=st.integers(1, 12),
       seed=st.integers(0, 2 ** 16))
def test_backoff_top_k_matches_reference_and_is_normalized(tmp_path, sentences, order, shards, k, seed):
    model, ref = backoff_setup(tmp_path, sentences, order, shards)
    pred = Predictor.open(model)
    try:
        V = len(model.vocab)
        sents = [[1] + [int(model.vocab.ids([w])[0]) for w in s] for s in sentences]
        ids, lengths = contexts_of(sents, order, np.random.default_rng(seed), V)
        score = lambda c, w: ref.score(list(c), w)[0]  # noqa: E731
        check_against(pred, score, V, ids, lengths, k, allowed=lambda w: w not in (0, 1))
        # the full next-word distribution: every word, summing to 1
        words, scores = pred.predict(ids, lengths, V, exclude_special=False)
        assert (words >= 0).all()
        total = (10.0 ** scores).sum(axis=1)
        assert np.abs(total - 1).max() < 1e-6, total
    finally:
        pred.close()
        model.close()


# -- the index's files -----------------------------------------------------------------------
@pytest.fixture
def indexed(tmp_path):
    d = tmp_path / "m"
    build_model_inmemory(b"the cat sat\nthe dog sat on the mat\na cat\n", d, order=3, num_shards=2)
    before = json.loads((d / "manifest.json").read_text())
    write_index(d)
    return d, before


def test_index_keeps_the_model_id_and_lists_its_files(indexed):
    d, before = indexed
    after = json.loads((d / "manifest.json").read_text())
    assert after["model_id"] == before["model_id"]
    assert set(after["successors"]["files"]) == {COMMON_NAME, successor_file_name(0, 2), successor_file_name(1, 2)}
    assert after["files"] == before["files"]
    Model.open(d, verify=True).close()  # the lookup files verify as before


def test_model_without_index_answers_lookups_and_says_how_to_add_it(tmp_path):
    d = tmp_path / "m"
    build_model_inmemory(b"the cat sat\n", d, order=2, num_shards=1)
    model = Model.open(d)
    assert model.lookup(np.array([[3, 4]], np.int32), np.array([2], np.int32)).match_len.shape == (1,)
    with pytest.raises(ModelFormatError, match="ngram index-successors"):
        Predictor.open(model)


@pytest.mark.parametrize("name", [COMMON_NAME, successor_file_name(1, 2)])
def test_corrupt_successor_file_is_refused(indexed, name):
    d, _ = indexed
    path = d / name
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF
    path.write_bytes(bytes(data))
    model = Model.open(d)
    with pytest.raises(ModelFormatError, match="corrupt|checksum"):
        Predictor.open(model)


def test_missing_successor_file_is_refused(indexed):
    d, _ = indexed
    (d / successor_file_name(0, 2)).unlink()
    with pytest.raises(ModelFormatError, match="missing"):
        Predictor.open(Model.open(d))


def rewrite_common(d, change):
    """Rewrite successors-common.bin with `change` applied to its arrays and a matching
    CRC and manifest digest, so only the structure checks can catch it."""
    from ngram.format import open_container, write_container
    from ngram.manifest import file_digest
    from ngram.successors import SUCCESSOR_KIND
    path = d / COMMON_NAME
    c = open_container(path, SUCCESSOR_KIND)
    arrays = {k: np.array(v) for k, v in c.arrays.items()}
    meta = {k: v for k, v in c.header.items() if k not in ("arrays", "kind")}
    c.close()
    change(arrays)
    write_container(path, SUCCESSOR_KIND, arrays, meta)
    manifest = json.loads((d / "manifest.json").read_text())
    manifest["successors"]["files"][COMMON_NAME] = file_digest(path)
    (d / "manifest.json").write_text(json.dumps(manifest))


def test_bad_level_offsets_in_an_unverified_file_are_refused(indexed):
    d, _ = indexed
    rewrite_common(d, lambda a: a["rec_base"].__setitem__(1, 10 ** 6))
    with pytest.raises(ModelFormatError, match="monotone cover"):
        Predictor.open(Model.open(d), verify=False)


def test_inconsistent_record_offsets_with_a_valid_checksum_are_refused(indexed):
    """A level table claiming one context fewer: the checksums match, the deep check
    (Elias-Fano offsets against the records) refuses it."""
    d, _ = indexed
    rewrite_common(d, lambda a: a["meta"].__setitem__((1, 0), a["meta"][1, 0] - 1))
    with pytest.raises(ModelFormatError, match="corrupt successor index"):
        Predictor.open(Model.open(d), verify=True)


@pytest.mark.parametrize("k", [0, 1001, -1, 2.5, True])
def test_k_out_of_range_is_an_invalid_query(indexed, k):
    d, _ = indexed
    pred = Predictor.open(Model.open(d))
    with pytest.raises(InvalidQueryError, match="k ="):
        pred.predict(np.zeros((1, 1), np.int32), np.array([1], np.int32), k)


def test_bad_contexts_are_invalid_queries(indexed):
    d, _ = indexed
    pred = Predictor.open(Model.open(d))
    with pytest.raises(InvalidQueryError, match="outside the vocabulary"):
        pred.predict(np.array([[10 ** 6]], np.int64), np.array([1], np.int32), 3)
    with pytest.raises(InvalidQueryError, match="context_lengths"):
        pred.predict(np.zeros((1, 2), np.int32), np.array([3], np.int32), 3)
    with pytest.raises(InvalidQueryError, match="shapes"):
        pred.predict(np.zeros(3, np.int32), np.array([1, 1, 1], np.int32), 3)


@pytest.mark.parametrize("block", [None, [], {"files": 3}, {"files": {}}, {"files": {"successors-common.bin": {}}}])
def test_bad_successors_block_is_refused(indexed, block):
    d, _ = indexed
    manifest = json.loads((d / "manifest.json").read_text())
    manifest["successors"] = block
    (d / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelFormatError, match="successors block"):
        Predictor.open(Model.open(d))


def test_random_byte_flips_never_crash(indexed):
    """Any flipped byte of a successor file is refused on open (checksums), or, with
    verification off, refused by the bounds checks or read without leaving an array."""
    d, _ = indexed
    rng = np.random.default_rng(7)
    name = successor_file_name(1, 2)
    good = (d / name).read_bytes()
    ids = np.array([[1, 3], [3, 4]], np.int32)
    for _ in range(40):
        data = bytearray(good)
        for pos in rng.integers(0, len(data), 3):
            data[pos] ^= int(rng.integers(1, 256))
        (d / name).write_bytes(bytes(data))
        model = Model.open(d)
        for verify in (True, False):
            try:
                pred = Predictor.open(model, verify=verify)
            except ModelFormatError:
                continue
            assert not verify or bytes(data) == good
            pred.predict(ids, np.array([2, 2], np.int32), 5)
        model.close()
    (d / name).write_bytes(good)
