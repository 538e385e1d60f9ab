"""Models built from random small corpora against a plain-Python reference: every count,
every chain, absent n-grams, Stupid Backoff scores (pairs and sentences) and perplexity.

Corpora use few distinct words so that n-grams repeat; orders 1..6, 1..7 shards, with
and without word and n-gram cutoffs, shard formats 1 and 2.
"""
import math
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import given, settings, strategies as st

from reference_builder import build_model_inmemory
from ngram.backend import LocalBackend
from ngram.model import Model
from ngram.scoring import Scorer
from reference import STUPID_BACKOFF_ALPHA, UNK_ID as UNK, CountsReference

ALPHA = STUPID_BACKOFF_ALPHA


ALPHABET = ["a", "b", "c", "d", "e", "f"]
sentences_st = st.lists(st.lists(st.sampled_from(ALPHABET), min_size=0, max_size=10), min_size=1, max_size=25).filter(any)


@st.composite
def cases(draw):
    order = draw(st.integers(1, 6))
    cut = draw(st.booleans())
    cutoffs = [1] + [draw(st.integers(1, 3)) if cut else 1 for _ in range(order - 1)]
    return dict(sentences=draw(sentences_st), order=order, num_shards=draw(st.integers(1, 7)),
                min_count=draw(st.sampled_from([1, 1, 2])), cutoffs=cutoffs, seed=draw(st.integers(0, 2**32 - 1)),
                value_context=draw(st.sampled_from(["auto", "always", "never"])),
                format_version=draw(st.sampled_from([1, 2])))  # shard formats (docs/FORMAT_V2.md)


def build(case, tmp: str) -> tuple[Model, CountsReference]:
    text = "\n".join(" ".join(s) for s in case["sentences"]).encode()
    out = Path(tmp) / "model"
    build_model_inmemory(text, out, order=case["order"], num_shards=case["num_shards"],
                         min_word_count=case["min_count"], cutoffs=case["cutoffs"],
                         value_context=case["value_context"], format_version=case["format_version"])
    naive = CountsReference(case["sentences"], case["order"], case["min_count"], case["cutoffs"])
    return Model.open(out, verify=True), naive


def as_batch(grams, width):
    ids = np.zeros((len(grams), width), np.int32)
    for b, g in enumerate(grams):
        ids[b, :len(g)] = g
    return ids, np.array([len(g) for g in grams], np.int32)


SETTINGS = settings(max_examples=40, deadline=None)


@SETTINGS
@given(cases())
def test_counts_chains_and_absent_ngrams(case):
    rng = np.random.default_rng(case["seed"])
    with tempfile.TemporaryDirectory() as tmp:
        model, naive = build(case, tmp)
        N = model.order
        assert len(model.vocab) == naive.vocab_size
        assert [model.vocab.id(w) for w in naive.ids] == list(naive.ids.values())
        stored = list(naive.counts)
        randoms = [tuple(rng.integers(0, naive.vocab_size, rng.integers(1, N + 1)).tolist()) for _ in range(200)]
        grams = stored + randoms
        ids, lengths = as_batch(grams, N)
        chains = model.lookup(ids, lengths)
        want_counts = np.zeros((len(grams), N), np.uint64)
        for b, g in enumerate(grams):
            want_counts[b, :len(g)] = naive.chain(g)
        np.testing.assert_array_equal(chains.counts, want_counts)
        assert chains.match_len.tolist() == [naive.match_len(g) for g in grams]
        # every stored n-gram is found whole, with its exact count
        assert (chains.match_len[:len(stored)] == lengths[:len(stored)]).all()
        assert chains.counts[np.arange(len(stored)), lengths[:len(stored)] - 1].tolist() == \
            [naive.count(g) for g in stored]
        info = model.info()
        assert sum(info["ngrams"][1:]) == len(stored) - sum(1 for g in stored if len(g) == 1)
        model.close()
        # the decoded layout (hash tables in RAM) holds the same n-grams
        decoded = Model.open(model.path, layout="decoded")
        got = decoded.lookup(ids, lengths)
        np.testing.assert_array_equal(got.counts, want_counts)
        assert got.match_len.tolist() == chains.match_len.tolist()
        assert all(t.layout_name == "decoded" and t.memory_bytes > t.nbytes for t in decoded.shards.values())
        decoded.close()


@SETTINGS
@given(cases(), st.booleans(), st.booleans())
def test_stupid_backoff_pairs_sentences_and_perplexity(case, bos, eos):
    rng = np.random.default_rng(case["seed"])
    with tempfile.TemporaryDirectory() as tmp:
        model, naive = build(case, tmp)
        scorer = Scorer(LocalBackend(model), alpha=ALPHA)
        N, V = model.order, naive.vocab_size
        # pairs: corpus windows (long matches) and random ids; contexts longer than N-1 too
        ctx = np.zeros((300, N + 1), np.int32)
        clen = rng.integers(0, N + 2, 300).astype(np.int32)
        words = rng.integers(0, V, 300).astype(np.int32)
        for b in range(300):
            s = naive.sentences[rng.integers(len(naive.sentences))]
            if b % 2 and len(s) > clen[b]:
                start = rng.integers(0, len(s) - clen[b])
                ctx[b, :clen[b]] = s[start:start + clen[b]]
                words[b] = s[start + clen[b]]
            else:
                ctx[b, :clen[b]] = rng.integers(0, V, clen[b])
        log10, length = scorer.score_pairs(ctx, clen, words)
        want = [naive.sb(ctx[b, :clen[b]].tolist(), int(words[b])) for b in range(300)]
        np.testing.assert_allclose(log10, [math.log10(s) for s, _ in want], rtol=0, atol=1e-9)
        assert length.tolist() == [m for _, m in want]

        sentences = [" ".join(s) for s in case["sentences"]] + ["", "zz a  b", "a\tzz\r", "b b b b b b b b"]
        got = scorer.score_sentences(sentences, bos=bos, eos=eos)
        assert len(got) == len(sentences)
        log_sum = iv_sum = 0.0
        tokens = oovs = 0
        for text, g in zip(sentences, got):
            ref = naive.score_sentence([naive.ids.get(w, UNK) for w in text.split()], bos, eos)
            np.testing.assert_allclose(g.log10, [r[0] for r in ref], rtol=0, atol=1e-9)
            assert g.ngram_length.tolist() == [r[1] for r in ref]
            assert g.oov.tolist() == [r[2] for r in ref]
            log_sum += sum(r[0] for r in ref)
            iv_sum += sum(r[0] for r in ref if not r[2])
            tokens += len(ref)
            oovs += sum(r[2] for r in ref)
        ppl = scorer.perplexity(sentences, bos=bos, eos=eos)
        assert ppl["tokens"] == tokens and ppl["oov"] == oovs
        if tokens:
            assert math.isclose(ppl["perplexity"], 10 ** (-log_sum / tokens), rel_tol=1e-9)
        if tokens > oovs:
            assert math.isclose(ppl["perplexity_excluding_oov"], 10 ** (-iv_sum / (tokens - oovs)), rel_tol=1e-9)
        model.close()


def test_reader_does_not_import_the_writer():
    # opening and querying a model needs the format, layout and kernels, never the
    # modules that write models (issue 12: the layout lives in one module both follow)
    import subprocess
    import sys
    code = ("import sys, ngram.model, ngram.shard, ngram.decoded_trie; "
            "print(sorted(m for m in sys.modules if m.startswith('ngram.') and "
            "m.split('.')[-1] in ('writer', 'shard_writer', 'model_writer', 'value_columns', 'quantize')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
