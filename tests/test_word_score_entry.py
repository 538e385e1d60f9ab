"""The integer-only per-word entry of the kenlm facade (ngram.context_states,
ngram.kernels.word_score_entry): the table of interned contexts against a plain dict, and
the entry's scores against SentenceScorer.word_in_context (the tuple path)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import client.kenlm_compat as kenlm
from ngram.arpa import import_arpa
from ngram.backend import open_backend
from ngram.context_states import BAD_KEY, NO_KEY, TABLE, ContextTable, WordEntry
from ngram.errors import InvalidArgumentError
from ngram.kernels import word_score_entry as K
from ngram.sentence_scoring import SentenceScorer
from sample_corpus import ARPA_DIR


@settings(max_examples=30, deadline=None)
@given(st.lists(st.lists(st.integers(0, 40), max_size=K.CONTEXT_WIDTH + 3), max_size=120))
def test_table_interns_like_a_dict_and_keeps_keys_when_it_grows(contexts):
    table = ContextTable(capacity=4, limit=64)  # grows 4 -> 8 -> ... -> 64, then full
    reference: dict[tuple, int] = {(): 0, (1,): 1}
    for c in contexts:
        words = tuple(c)[-K.CONTEXT_WIDTH:]
        key = table.intern(tuple(c))
        if words in reference:
            assert key == reference[words]
        elif len(reference) >= 64:
            assert key == NO_KEY  # full at its limit: nothing added
        else:
            assert key == len(reference)  # keys are dense, in order of first sight
            reference[words] = key
    for words, key in reference.items():
        assert table.words(key) == words
    assert len(table) == len(reference)


@pytest.fixture(scope="module")
def scorers(tmp_path_factory):
    d = tmp_path_factory.mktemp("entry") / "m"
    import_arpa(ARPA_DIR / "kenlm-test.arpa", d, num_shards=1, quantization="none")
    backend = open_backend(d)
    return [SentenceScorer(backend, layout) for layout in ("compressed", "decoded")]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 200), st.booleans()), min_size=1, max_size=60), st.data())
def test_entry_equals_the_tuple_path(scorers, steps, data):
    """Walks of random words (some unknown, some repeated: cache hits) from <s> or the
    null context: the same float32 value, length and next context as word_in_context."""
    for scorer in scorers:
        entry = WordEntry.for_scorer(scorer)
        vocab = [scorer.vocab.word(i) for i in range(len(scorer.vocab))] + ["zzz_oov"]
        ctx, key = (1,), 1
        for i, restart in steps:
            word = vocab[i % len(vocab)]
            if restart:
                ctx, key = ((1,), 1) if data.draw(st.booleans()) else ((), 0)
            want = scorer.word_in_context(ctx, word)
            wid = scorer.vocab.id(word)
            by_text = entry.call_new(key, word)
            by_id = entry.call(key, wid)
            assert by_id[:2] == by_text[:2] == want[:2] and by_text[3] == want[2] == wid
            assert by_id[2] == by_text[2] and TABLE.words(by_id[2]) == want[3][-(scorer.order - 1):]
            ctx, key = want[3], by_id[2]


def test_a_key_that_no_model_wrote_is_refused_not_read(scorers):
    entry = WordEntry.for_scorer(scorers[0])
    for bad in (-1, -(1 << 40), len(TABLE), 1 << 50):
        assert entry.call(bad, 5)[2] == BAD_KEY
    state = kenlm.State()
    state._ctx = len(TABLE) + 10
    with pytest.raises(InvalidArgumentError, match="context key"):
        kenlm.Model(ARPA_DIR / "kenlm-test.arpa").BaseScore(state, "looking", kenlm.State())


def test_states_holding_tuples_score_as_keys(scorers):
    """A State whose words were set as a tuple (or kept as one when the table is full)
    scores as the interned one, and compares equal to it."""
    m = kenlm.Model(ARPA_DIR / "kenlm-test.arpa")
    a, b = kenlm.State(), kenlm.State()
    m.BeginSentenceWrite(a)
    out_a = kenlm.State()
    m.BaseScore(a, "looking", out_a)
    b.words = out_a.words  # a tuple now
    assert b == out_a and type(b._ctx) is tuple and type(out_a._ctx) is int
    for w in ("on", "a", "zzz_oov"):
        x, y = kenlm.State(), kenlm.State()
        assert m.BaseScore(b, w, x) == m.BaseScore(out_a, w, y) and x == y
    fresh = kenlm.State()  # never written: the null context, as kenlm's
    null = kenlm.State()
    m.NullContextWrite(null)
    assert m.BaseScore(fresh, "looking", kenlm.State()) == m.BaseScore(null, "looking", kenlm.State())
    assert fresh == null and np.isfinite(m.BaseScore(fresh, "on", kenlm.State()))
