"""Exactness against KenLM's lmplz, small version (the full one: bench/bench_kn.py
exactness, on the en-dev slice): 400 lines of that slice, with lmplz's ARPA files made
once by tests/fixtures/make_kn_fixture.py (also with lmplz's --prune and --limit_vocab_file).
Same n-grams, every log10 probability and
backoff within 1e-4 (the exact float32 model, --quantize none)."""
from __future__ import annotations

import lzma
from pathlib import Path

import pytest

from builder.config import BuildConfig
from builder.executors import LocalExecutor
from builder.kn.options import KnOptions
from builder.pipeline import build
from ngram.arpa import export_arpa, read_arpa
from tests.fixtures.make_kn_fixture import allowed_words

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def table(path) -> dict:
    a = read_arpa(path)
    words = [w.decode() for w in a.words]
    out = {(w,): (float(p), float(b)) for w, p, b in zip(words, a.unigram_prob, a.unigram_backoff)}
    for lv in a.levels:
        for g, p, b in zip(lv.grams.tolist(), lv.prob.tolist(), lv.backoff.tolist()):
            out[tuple(words[i] for i in g)] = (p, b)
    return out


@pytest.fixture(scope="module")
def executor():
    ex = LocalExecutor(2)
    yield ex
    ex.close()


@pytest.mark.parametrize("prune,limit_vocab,arpa", [((), False, "kn_small.4.arpa.xz"),
                                                     ((0, 0, 1), False, "kn_small.4.prune-0-0-1.arpa.xz"),
                                                     ((), True, "kn_small.4.limit-vocab.arpa.xz")])
def test_same_model_as_lmplz(executor, tmp_path, prune, limit_vocab, arpa):
    corpus = tmp_path / "corpus.txt"
    corpus.write_bytes(lzma.decompress((FIXTURES / "kn_small.txt.xz").read_bytes()))
    allowed = None
    if limit_vocab:  # lmplz --limit_vocab_file of the words seen twice or more (as the fixture script)
        allowed = tmp_path / "allowed.txt"
        allowed.write_bytes(b"\n".join(allowed_words(corpus.read_bytes())) + b"\n")
    cfg = BuildConfig(inputs=[str(corpus)], out_dir=str(tmp_path / "m"), order=4, num_shards=3, progress=False,
                      memory=256 << 20, workers=2,
                      kn=KnOptions(quantize="none", prune=prune, limit_vocab=str(allowed) if allowed else None))
    build(cfg, executor=executor)
    export_arpa(tmp_path / "m", tmp_path / "m.arpa")
    got, want = table(tmp_path / "m.arpa"), table(FIXTURES / arpa)
    assert set(got) == set(want), sorted(set(got) ^ set(want))[:5]
    worst = max(max(abs(got[g][0] - p), abs(got[g][1] - b)) for g, (p, b) in want.items())
    assert worst <= 1e-4, worst
