"""client/spelling/speller.py: `Speller.correct` on real models built by the repo's
builder (counts) and imported from ARPA (backoff): spans map back to the input exactly
(hypothesis, with noisy texts and odd whitespace), confidences and alternatives are
posteriors, a batch costs at most (longest text's tokens + 1) model rounds whatever its
size, batched equals one by one, a real cluster of gRPC servers answers as the local
model, and bad input gets a clear answer or a clear error."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from client.spelling.speller import Speller, apply_changes
from client.spelling.text import tokenize
from cluster_harness import Cluster, corpus_text, small_model
from ngram.limits import MAX_SPELL_SEARCH_ROUNDS
from ngram.arpa import import_arpa
from ngram.errors import InvalidQueryError
from ngram.limits import MAX_SPELL_BATCH_TEXTS, MAX_SPELL_TEXT_CHARS, MAX_SPELL_TOKENS

sys.path.insert(0, str(Path(__file__).resolve().parent / "fixtures"))
import make_ctc_expected as mk  # noqa: E402

LINES = 3000
SENTENCES = [s for s in corpus_text(LINES).decode().splitlines() if 5 <= len(s.split()) <= 25][:200]


@pytest.fixture(scope="module")
def model():
    return small_model(order=4, num_shards=2, lines=LINES)


@pytest.fixture(scope="module")
def speller(model):
    with Speller(model) as sp:
        yield sp


@pytest.fixture(scope="module")
def arpa_speller(tmp_path_factory):
    d = tmp_path_factory.mktemp("spell-arpa")
    mk.write_arpa(d / "small.arpa")
    import_arpa(d / "small.arpa", d / "m", num_shards=2, quantization="none")
    with Speller(d / "m") as sp:
        yield sp


def _check_spans(c) -> None:
    """Every change names its span of the input, in order, without overlap, and applying
    them rebuilds `corrected`; outside the spans every character is the input's."""
    at = 0
    kept = []
    for ch in c.changes:
        assert at <= ch.start < ch.end <= len(c.text)
        assert c.text[ch.start:ch.end] == ch.original != ch.replacement
        assert 0.0 <= ch.confidence <= 1.0 + 1e-12
        assert all(a.text != ch.replacement for a in ch.alternatives)
        assert [a.confidence for a in ch.alternatives] == sorted((a.confidence for a in ch.alternatives), reverse=True)
        assert ch.confidence + sum(a.confidence for a in ch.alternatives) <= 1.0 + 1e-9
        kept.append(c.text[at:ch.start])
        at = ch.end
    kept.append(c.text[at:])
    assert apply_changes(c.text, c.changes) == c.corrected
    # the kept stretches appear in order in the output, the replacements between them
    rebuilt = "".join(k + (ch.replacement if i < len(c.changes) else "")
                      for i, (k, ch) in enumerate(zip(kept, list(c.changes) + [None])))
    assert rebuilt == c.corrected


def _noisy(rng_draw, sentence: str) -> str:
    """A corpus sentence with character edits and odd whitespace, drawn by hypothesis."""
    chars = list(sentence)
    for _ in range(rng_draw(st.integers(0, 4))):
        if not chars:
            break
        i = rng_draw(st.integers(0, len(chars) - 1))
        op = rng_draw(st.sampled_from(["del", "ins", "sub", "swap", "space"]))
        c = rng_draw(st.sampled_from("aeiounrstlhd"))
        if op == "del":
            del chars[i]
        elif op == "ins":
            chars.insert(i, c)
        elif op == "sub":
            chars[i] = c
        elif op == "swap" and i + 1 < len(chars):
            chars[i], chars[i + 1] = chars[i + 1], chars[i]
        elif op == "space":
            chars[i] = rng_draw(st.sampled_from([" ", "  ", "\t", " \u00a0", ""]))
    lead = rng_draw(st.sampled_from(["", " ", "\t ", "\n"]))
    trail = rng_draw(st.sampled_from(["", " ", "  \t", "\r"]))
    return lead + "".join(chars) + trail


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(data=st.data())
def test_spans_map_back_to_the_input_exactly(speller, data):
    texts = [_noisy(data.draw, data.draw(st.sampled_from(SENTENCES)))
             for _ in range(data.draw(st.integers(1, 5)))]
    got = speller.correct(texts)
    assert [c.text for c in got] == texts
    for c in got:
        _check_spans(c)


def test_fixes_typos_and_real_word_errors_in_context(speller):
    """Errors in frequent words of the model's own corpus get fixed, case kept."""
    wrong = ["And the LORD siad unto Moses , Speak unto the children of Israel",
             "And the LORD said untoo Moses",
             "And Teh LORD said unto Moses",
             "And the LORD sad unto Moses"]  # "sad" is a vocabulary word: a real-word error
    right = ["And the LORD said unto Moses , Speak unto the children of Israel",
             "And the LORD said unto Moses",
             "And The LORD said unto Moses",
             "And the LORD said unto Moses"]
    got = speller.correct(wrong)
    assert [c.corrected for c in got] == right
    assert [(ch.original, ch.replacement) for ch in got[0].changes] == [("siad", "said")]
    assert got[3].changes[0].original == "sad" and got[3].changes[0].start == wrong[3].index("sad")
    for c in got:
        _check_spans(c)


def test_correct_text_is_left_alone(speller):
    got = speller.correct(SENTENCES[:40])
    unchanged = sum(c.corrected == c.text for c in got)
    assert unchanged >= 36, [c.changes for c in got if c.changes]


@pytest.mark.parametrize("n", [1, 40])
def test_rounds_per_call_are_about_the_tokens_not_the_texts(speller, n):
    texts = [_typo(s) for s in SENTENCES[100:100 + n]]
    eng = speller.engine
    before = eng.rounds
    speller.correct(texts)
    longest = max(len(tokenize(t)) for t in texts)
    assert eng.rounds - before <= longest + 1  # positions (</s> with the last), then one for confidences


def _typo(s: str) -> str:
    w = s.split()
    i = max(range(len(w)), key=lambda k: len(w[k]))
    w[i] = w[i][:1] + w[i][2:]
    return " ".join(w)


def test_a_client_passed_in_stays_open(model):
    from client.client import Client
    with Client.open(model) as c:
        with Speller(c) as sp:
            want = sp.correct_one("And the LORD siad unto Moses")
        assert c.count("the LORD") > 0  # still open
        with Speller(c.backend) as sp:
            assert sp.correct_one("And the LORD siad unto Moses") == want
        assert c.count("the LORD") > 0


def test_batched_equals_one_by_one(model):
    texts = [_typo(s) for s in SENTENCES[20:32]] + ["", "teh"]
    with Speller(model) as a, Speller(model) as b:
        assert a.correct(texts) == [b.correct_one(t) for t in texts]


def test_remote_cluster_equals_local(model, tmp_path):
    """Over a real cluster: the uncapped few-round search equals the local per-step one;
    with the cap, every request costs at most MAX_SPELL_SEARCH_ROUNDS + 1 rounds (RPCs
    per shard) and equals the local answer unless the cap decided (`capped_sentences`)."""
    texts = [_typo(s) for s in SENTENCES[40:60]]
    cluster = Cluster(model, tmp_path).start()
    try:
        with Speller(cluster.path, max_rounds=None) as exact, Speller(cluster.path) as remote, \
                Speller(model) as local:
            assert local.max_rounds == 0 and remote.max_rounds == MAX_SPELL_SEARCH_ROUNDS
            want = local.correct(texts)
            assert exact.correct(texts) == want
            decided_by_cap = 0
            for t, w in zip(texts, want):
                rounds, capped = remote.engine.rounds, remote.engine.capped_sentences
                got = remote.correct_one(t)
                assert remote.engine.rounds - rounds <= MAX_SPELL_SEARCH_ROUNDS + 1
                if remote.engine.capped_sentences == capped:
                    assert got == w
                else:
                    decided_by_cap += 1
            assert decided_by_cap <= len(texts) // 2
    finally:
        cluster.stop()


def test_a_long_text_costs_a_few_rounds_whatever_its_length(model):
    """Regression: the search asked one round per token position (~16 for 20 words)."""
    text = " ".join(_typo(s) for s in SENTENCES[60:70])
    assert len(tokenize(text)) > 60
    with Speller(model, max_rounds=MAX_SPELL_SEARCH_ROUNDS) as sp:
        before = sp.engine.rounds
        sp.correct_one(text)
        assert sp.engine.rounds - before <= MAX_SPELL_SEARCH_ROUNDS + 1


def test_backoff_model_corrects_and_keeps_spans(arpa_speller):
    sents = [s for s in mk.training_sentences()[:300] if 6 <= len(s) <= 20][:20]
    texts = [_typo(" ".join(s)) for s in sents]
    got = arpa_speller.correct(texts)
    for c in got:
        _check_spans(c)
    fixed = sum(c.corrected == " ".join(s) for c, s in zip(got, sents))
    assert fixed >= len(texts) // 2


def test_bad_input_is_a_clear_answer_or_a_clear_error(speller):
    odd = ["", "   \t\n ", "\x00\x07 the \x1b[31m LORD", "Привет мир , как дела", "你好世界",
           "the \u200b LORD", "\ufeffAnd the LORD"]
    got = speller.correct(odd)
    for c, t in zip(got, odd):
        assert c.text == t
        _check_spans(c)
    assert got[0].corrected == "" and got[1].corrected == odd[1] and not got[1].changes
    assert got[3].corrected == odd[3] and got[4].corrected == odd[4]
    with pytest.raises(InvalidQueryError, match=r"texts\[1\].*surrogate"):
        speller.correct(["fine", "bad \udcff byte"])
    with pytest.raises(InvalidQueryError, match=r"texts\[0\].*characters"):
        speller.correct(["a" * (MAX_SPELL_TEXT_CHARS + 1)])
    with pytest.raises(InvalidQueryError, match="tokens"):
        speller.correct([" ".join(["the"] * (MAX_SPELL_TOKENS + 1))])
    with pytest.raises(InvalidQueryError, match="texts in one call"):
        speller.correct([""] * (MAX_SPELL_BATCH_TEXTS + 1))
    with pytest.raises(InvalidQueryError, match="not str"):
        speller.correct([b"bytes"])
    with pytest.raises(InvalidQueryError, match="list of texts"):
        speller.correct("one text")
    # the speller still works after each error
    assert speller.correct_one("And the LORD siad").corrected == "And the LORD said"


def test_a_long_running_speller_holds_bounded_states(model):
    """The engine forgets its states between calls once it holds more than its bound,
    and answers the same afterwards."""
    texts = [_typo(s) for s in SENTENCES[60:90]]
    with Speller(model) as sp, Speller(model) as unbounded:
        sp.engine.cache_pairs = 300
        got = [sp.correct_one(t) for t in texts]
        want = [unbounded.correct_one(t) for t in texts]
        assert got == want
        assert unbounded.engine._n_states > 3 * 300 and sp.engine._n_states < unbounded.engine._n_states
