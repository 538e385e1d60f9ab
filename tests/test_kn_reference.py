"""Properties of the plain-Python Kneser-Ney reference (tests/kn_reference.py) on tiny
corpora: every context's distribution sums to 1, discounts in range, backoffs only on
contexts. The builder is checked against this reference in test_kn_build.py."""
from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from tests import kn_reference as ref

FALLBACK = (0.5, 1.0, 1.5)
WORDS = ["a", "b", "c", "d", "e"]
corpora = st.lists(st.lists(st.sampled_from(WORDS), min_size=0, max_size=7), min_size=1, max_size=10)


PRUNES = st.sampled_from([(), (0, 1), (0, 0, 1), (0, 1, 2)])


def _estimate(sentences, order, prune=()):
    try:
        return ref.estimate(sentences, order, prune=prune)
    except ref.DiscountError:
        return ref.estimate(sentences, order, fallback=FALLBACK, prune=prune)


def _predictable(model):
    return sorted({g[0] for g in model if len(g) == 1} - {ref.BOS})


@settings(max_examples=60, deadline=None)
@given(corpora, st.integers(1, 4), PRUNES)
def test_every_context_sums_to_one(sentences, order, prune):
    model, _ = _estimate(sentences, order, prune[:order])
    words = _predictable(model)
    histories = {()} | {g for g in model if len(g) < order}
    for h in histories:
        total = sum(10 ** ref.score(model, h, w) for w in words)
        assert math.isclose(total, 1.0, abs_tol=1e-6), (h, total)


@settings(max_examples=60, deadline=None)
@given(corpora, st.integers(1, 4))
def test_discounts_in_range_or_fallback(sentences, order):
    _, disc = _estimate(sentences, order)
    for d in disc:
        assert d == FALLBACK or all(0 <= dj <= j for j, dj in enumerate(d, start=1))


def test_discount_error_names_the_order():
    try:
        ref.estimate([["a", "b"]], 2)
    except ref.DiscountError as e:
        assert "order" in str(e)
    else:
        raise AssertionError("one sentence has no count-of-counts for discounts")


def test_hand_computed_bigram_model():
    # corpus: "a b" twice, "a" once
    model, disc = ref.estimate([["a", "b"], ["a", "b"], ["a"]], 2, fallback=FALLBACK)
    # unigram adjusted counts: a <- {<s>}: 1, b <- {a}: 1, </s> <- {b, a}: 2: t3 = 0, so
    # the unigrams take the fallback D = 0.5, 1, 1.5; S = 4, N1 = 2, N2 = 1:
    # gamma = (0.5 * 2 + 1 * 1) / 4 = 0.5; |V'| = 4 (<unk> a b </s>)
    assert disc[0] == FALLBACK
    assert math.isclose(10 ** model[("a",)][0], 0.5 / 4 + 0.5 / 4)
    assert math.isclose(10 ** model[("</s>",)][0], 1.0 / 4 + 0.5 / 4)
    assert math.isclose(10 ** model[("<unk>",)][0], 0.5 / 4)
    # bigram counts <s> a: 3, a b: 2, b </s>: 2, a </s>: 1: t = 1, 2, 1, 0
    y = 1 / (1 + 2 * 2)
    d1, d2 = 1 - 2 * y * 2 / 1, 2 - 3 * y * 1 / 2
    assert math.isclose(disc[1][0], d1) and math.isclose(disc[1][1], d2)
    # p(b | a): S(a) = 3 (a b: 2, a </s>: 1), N1 = 1, N2 = 1
    gamma_a = (d1 + d2) / 3
    assert math.isclose(10 ** model[("a", "b")][0], (2 - d2) / 3 + gamma_a * 10 ** model[("b",)][0])
    assert math.isclose(10 ** model[("a",)][1], gamma_a)


def test_pruned_ngram_mass_goes_to_its_context():
    sents = [["a", "b"], ["a", "b"], ["a", "c"], ["b", "c"]]
    full, _ = ref.estimate(sents, 2, fallback=FALLBACK)
    pruned, _ = ref.estimate(sents, 2, fallback=FALLBACK, prune=(0, 1))
    assert ("a", "c") in full and ("a", "c") not in pruned and ("a", "b") in pruned
    assert pruned[("a",)][1] > full[("a",)][1]  # a larger backoff: the pruned mass
    # p(c | a) now backs off: gamma(a) p(c)
    assert math.isclose(ref.score(pruned, ("a",), "c"), pruned[("a",)][1] + pruned[("c",)][0])
