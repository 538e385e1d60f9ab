"""`ngram build --smoothing kneser-ney`: the builder's estimate against the plain-Python
reference (tests/kn_reference.py) on tiny corpora, contexts summing to 1, the model
usable by `ngram score`, the kenlm facade and `ngram export-arpa`, and bad input."""
from __future__ import annotations

import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from builder.config import BuildConfig
from builder.errors import BuildError
from builder.executors import DaskExecutor, LocalExecutor
from builder.kn.options import DEFAULT_FALLBACK, KnOptions
from builder.pipeline import build
from ngram.arpa import export_arpa, read_arpa
from tests import kn_reference as ref


@pytest.fixture(scope="module")
def executor():
    ex = LocalExecutor(2)
    yield ex
    ex.close()


def kn_build(lines, out, executor, order=3, shards=3, fallback=True, quantize="none", prune=(), memory=256 << 20,
             limit_vocab=None, **kw):
    corpus = out.with_suffix(".txt")
    text = "".join(line + "\n" for line in lines)
    if not corpus.exists() or corpus.read_text(encoding="utf-8") != text:  # --resume checks its mtime
        corpus.write_text(text, encoding="utf-8")
    cfg = BuildConfig(inputs=[str(corpus)], out_dir=str(out), order=order, num_shards=shards, progress=False,
                      memory=memory, workers=2,
                      kn=KnOptions(quantize=quantize, discount_fallback=DEFAULT_FALLBACK if fallback else None,
                                  prune=tuple(prune), limit_vocab=limit_vocab), **kw)
    return build(cfg, executor=executor)


def arpa_table(model_dir, tmp_path) -> dict:
    """{words tuple: (log10 prob, log10 backoff)} of a backoff model, via export-arpa."""
    path = tmp_path / "export.arpa"
    export_arpa(model_dir, path)
    a = read_arpa(path)
    words = [w.decode() for w in a.words]
    out = {(w,): (float(p), float(b)) for w, p, b in zip(words, a.unigram_prob, a.unigram_backoff)}
    for lv in a.levels:
        for g, p, b in zip(lv.grams.tolist(), lv.prob.tolist(), lv.backoff.tolist()):
            out[tuple(words[i] for i in g)] = (p, b)
    return out


def assert_same_model(got: dict, want: dict, tol: float) -> None:
    assert set(got) == set(want), sorted(set(got) ^ set(want))[:5]
    for g, (p, b) in want.items():
        assert abs(got[g][0] - p) <= tol and abs(got[g][1] - b) <= tol, (g, got[g], (p, b))


def random_corpus(rng: random.Random, lines: int, words: int) -> list[str]:
    vocab = [f"w{i}" for i in range(words)]
    return [" ".join(rng.choices(vocab, k=rng.randint(0, 9))) or "w0" for _ in range(lines)]


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2 ** 20), order=st.integers(2, 5), shards=st.integers(1, 4),
       prune=st.sampled_from([(), (0, 1), (0, 0, 1)]))
@example(seed=510510, order=4, shards=4, prune=())  # a shard whose 3-grams are no context: none owned
def test_matches_reference_on_tiny_corpora(executor, tmp_path_factory, seed, order, shards, prune):
    rng = random.Random(seed)
    lines = random_corpus(rng, rng.randint(2, 40), rng.randint(2, 12))
    tmp = tmp_path_factory.mktemp("kn")
    prune = prune[:order]
    kn_build(lines, tmp / "m", executor, order=order, shards=shards, prune=prune)
    want, _ = ref.estimate([line.split() for line in lines], order, fallback=DEFAULT_FALLBACK, prune=prune)
    assert_same_model(arpa_table(tmp / "m", tmp), want, 1e-5)


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2 ** 20), order=st.integers(2, 4), prune=st.sampled_from([(), (0, 1)]))
def test_limit_vocab_matches_reference(executor, tmp_path_factory, seed, order, prune):
    """--limit-vocab (lmplz's --limit_vocab_file): n-grams with a word outside the list
    leave the model, its unigrams too; the mass stays in the backoffs, the uniform share
    counts the allowed words. The list holds a word the corpus lacks (ignored)."""
    rng = random.Random(seed)
    lines = random_corpus(rng, rng.randint(4, 40), rng.randint(4, 12))
    corpus_words = sorted({w for line in lines for w in line.split()})
    allowed = set(rng.sample(corpus_words, max(1, len(corpus_words) // 2))) | {"not-in-corpus"}
    tmp = tmp_path_factory.mktemp("kn")
    (tmp / "allowed.txt").write_text("  ".join(sorted(allowed)) + "\n")
    summary = kn_build(lines, tmp / "m", executor, order=order, shards=3, prune=prune[:order],
                       limit_vocab=str(tmp / "allowed.txt"))
    want, _ = ref.estimate([line.split() for line in lines], order, fallback=DEFAULT_FALLBACK, prune=prune[:order],
                           limit_vocab=allowed)
    got = arpa_table(tmp / "m", tmp)
    assert_same_model(got, want, 1e-5)
    assert summary["vocab_size"] == len({g for g in want if len(g) == 1})


# The count-of-counts of this corpus give D2 = 0 exactly at both orders; every continuation
# of the context "w2" has count 2, so it keeps no mass to back off with (found by a search
# over random corpora with tests/kn_reference.py).
ZERO_DISCOUNT_CORPUS = ["w1 w3", "w3 w3 w3", "w3 w3 w2", "w4", "w3", "w2", "w4 w1 w1", "w4 w1"]


def test_zero_discount_context_is_a_clear_error_not_a_backoff_of_0(executor, tmp_path):
    """A context whose continuations all have a discount of 0 got gamma 0 and was written
    with backoff 0 (log10 1): the probabilities after "w2" summed to more than 1. lmplz
    writes log10 0 = -inf, which no model or ARPA file of ours holds: a clear error naming
    the order and the discounts, nothing written, at any quantization."""
    want, disc = ref.estimate([line.split() for line in ZERO_DISCOUNT_CORPUS], 2)
    assert disc[1][1] == 0.0 and want[("w2",)][1] == -math.inf
    for quantize in ("none", "8"):
        with pytest.raises(BuildError, match=r"1-gram context.*order 2 are 0\.5, 0, 3.*-inf"):
            kn_build(ZERO_DISCOUNT_CORPUS, tmp_path / quantize, executor, order=2, fallback=False, quantize=quantize)
        assert not (tmp_path / quantize).exists()


@pytest.fixture(scope="module")
def built(executor, tmp_path_factory):
    """One order-4 model of a seeded corpus: (lines, model dir, its exported ARPA table)."""
    tmp = tmp_path_factory.mktemp("built")
    lines = random_corpus(random.Random(7), 80, 10)
    summary = kn_build(lines, tmp / "m", executor, order=4, shards=2)
    return lines, tmp / "m", arpa_table(tmp / "m", tmp), summary


def test_built_model_sums_to_one_in_every_context(built):
    _, _, model, _ = built
    words = sorted({g[0] for g in model if len(g) == 1} - {ref.BOS})
    for h in {()} | {g for g in model if len(g) < 4}:
        total = sum(10 ** ref.score(model, h, w) for w in words)
        assert math.isclose(total, 1.0, abs_tol=1e-5), (h, total)


def test_model_scores_in_facade_and_cli_as_its_arpa(built, tmp_path):
    import client.kenlm_compat as kenlm

    lines, model_dir, _, summary = built
    export_arpa(model_dir, tmp_path / "m.arpa")
    ours, arpa = kenlm.Model(str(model_dir)), kenlm.Model(str(tmp_path / "m.arpa"))
    for s in lines[:10] + ["w1 unseen w2", ""]:
        assert ours.score(s) == pytest.approx(arpa.score(s), abs=1e-5)
    want, _ = ref.estimate([line.split() for line in lines], 4, fallback=DEFAULT_FALLBACK)
    hist, total = ["<s>"], 0.0
    for w in lines[0].split() + ["</s>"]:
        total += ref.score(want, tuple(hist), w)
        hist.append(w)
    assert ours.score(lines[0]) == pytest.approx(total, abs=1e-5)
    out = subprocess.run([sys.executable, "-m", "ngram.cli", "score", str(model_dir), "-"],
                         input=lines[0] + "\n", capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert float(out.stdout.split()[1]) == pytest.approx(ours.score(lines[0]), abs=1e-4)  # "Total: X ..."
    assert summary["ngrams"][1] == len({w for line in lines for w in line.split()}) + 3


def test_quantized_model_is_close(executor, tmp_path):
    lines = random_corpus(random.Random(5), 80, 10)
    kn_build(lines, tmp_path / "q", executor, order=3, shards=2, quantize="16")
    want, _ = ref.estimate([line.split() for line in lines], 3, fallback=DEFAULT_FALLBACK)
    assert_same_model(arpa_table(tmp_path / "q", tmp_path), want, 1e-3)


def test_discount_error_names_order_and_statistic(executor, tmp_path):
    lines = ["a b c", "a b d", "a b e"]  # no bigram occurs exactly... every bigram count differs
    with pytest.raises(BuildError) as e:
        kn_build(lines, tmp_path / "m", executor, order=3, fallback=False)
    msg = str(e.value)
    assert "order" in msg and "--discount-fallback" in msg and "count-of-counts" in msg
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("lines", [["just one sentence here"], ["", "  ", ""]])
def test_one_sentence_or_blank_corpus_is_an_error(executor, tmp_path, lines):
    with pytest.raises(BuildError) as e:
        kn_build(lines, tmp_path / "m", executor)
    assert "sentence" in str(e.value)
    assert not (tmp_path / "m").exists()


def test_same_model_id_whatever_workers_memory_or_resume(tmp_path):
    lines = random_corpus(random.Random(11), 120, 12)
    ids = []
    for workers, memory in ((1, 256 << 20), (2, 8 << 20)):
        ex = LocalExecutor(workers)
        try:
            ids.append(kn_build(lines, tmp_path / f"m{workers}", ex, order=4, shards=3, memory=memory,
                                keep_work=True)["model_id"])
        finally:
            ex.close()
    assert ids[0] == ids[1]
    # an interrupted build: K3 of one shard and every K4 unfinished, no model published
    work = tmp_path / "m2.work"
    (work / "kn" / "k3" / "s00001.json").unlink()
    for marker in (work / "kn" / "k4").glob("*.json"):
        marker.unlink()
    shutil.rmtree(tmp_path / "m2")
    ex = LocalExecutor(2)
    try:
        resumed = kn_build(lines, tmp_path / "m2", ex, order=4, shards=3, memory=8 << 20, resume=True)
    finally:
        ex.close()
    assert resumed["model_id"] == ids[0]


def test_same_model_id_on_a_dask_local_cluster(executor, tmp_path):
    """The Dask executor runs the very same KN tasks: the same model id as local workers."""
    lines = random_corpus(random.Random(11), 120, 12)
    local = kn_build(lines, tmp_path / "local", executor, order=4, shards=3)["model_id"]
    dask = DaskExecutor("local", 2)
    try:
        assert kn_build(lines, tmp_path / "dask", dask, order=4, shards=3)["model_id"] == local
    finally:
        dask.close()


def test_build_killed_during_kn_stages_resumes_to_the_same_model(executor, tmp_path):
    """SIGKILL of the whole build (driver and workers) once the first KN stage has left
    outputs, then `--resume`: the same model id as an uninterrupted build."""
    lines = random_corpus(random.Random(5), 3000, 300)
    want = kn_build(lines, tmp_path / "ref", executor, order=5, shards=4)["model_id"]
    corpus = tmp_path / "ref.txt"  # kn_build wrote it
    args = [sys.executable, "-m", "ngram.cli", "build", str(corpus), "-o", str(tmp_path / "m"), "--order", "5",
            "--shards", "4", "--workers", "2", "--memory", "256M", "--smoothing", "kneser-ney", "--quantize", "none",
            "--discount-fallback", "--quiet", "--json-summary"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not list((tmp_path / "m.work" / "kn" / "k1").glob("*.json")):
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "no KN stage output within 120 s"
            time.sleep(0.005)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert not (tmp_path / "m").exists()  # killed before publishing
    r = subprocess.run([*args, "--resume"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["model_id"] == want
