"""`python -m client.demo` on a tiny model, and Client scoring remote == local."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from client import Client, demo
from cluster_harness import Cluster, corpus_text
from sample_corpus import ROOT

pytestmark = pytest.mark.timeout(120)
TEXT = corpus_text(200)
SENTENCES = [s.decode() for s in TEXT.splitlines()[:5]] + ["zzqx unseen words here"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from reference_builder import build_model_inmemory
    out = tmp_path_factory.mktemp("tiny") / "m"
    build_model_inmemory(TEXT, out, order=3, num_shards=2)
    return out


def _gone(pid: int) -> bool:
    """Not running (absent, a zombie, or the pid now belongs to something else)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True
    return stat.split(") ")[1].startswith("Z") or b"shard_server" not in cmd


def _pids(lines: list[str]) -> list[int]:
    line = next(l for l in lines if l.startswith("cluster up:"))
    return [int(p) for p in line.split("pids ")[1].split(";")[0].split(",")]


def test_demo_runs_end_to_end(tiny, tmp_path):
    args = [sys.executable, "-m", "client.demo", str(tiny), "--pairs", "5000",
            "--workdir", str(tmp_path)] + [a for s in SENTENCES[:3] for a in ("-s", s)]
    r = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=100)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert any(l.startswith("decoder round: 5000 pairs -> ") for l in lines), r.stdout
    assert "remote == local: OK" in lines and "stopped 2 server(s)" in lines
    # the scores and perplexity it prints are the local model's (demo's format: %9.3f, %.4g)
    with Client.open(tiny) as local:
        want = local.score_sentences(SENTENCES[:3])
        want_ppl = local.perplexity(SENTENCES[:3])
    per_sentence = [l for l in lines if l.startswith("  log10 ")]
    assert len(per_sentence) == 3, r.stdout
    for line, sentence, w in zip(per_sentence, SENTENCES, want):
        total, text = line[len("  log10 "):].split(None, 1)
        assert text == sentence and float(total) == pytest.approx(w.total, abs=1e-3)
    ppl_line = next(l for l in lines if l.startswith("  perplexity: "))
    shown = dict(kv.split("=") for kv in ppl_line[len("  perplexity: "):].split(", "))
    assert float(shown["perplexity"]) == pytest.approx(want_ppl["perplexity"], rel=1e-3)
    assert int(shown["tokens"]) == want_ppl["tokens"]
    assert all(_gone(p) for p in _pids(lines))
    assert not (tmp_path / "cluster.json").exists()


def test_demo_stops_the_cluster_on_error(tiny, tmp_path, monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("injected failure")
    monkeypatch.setattr(demo, "_score", boom)
    lines: list[str] = []
    with pytest.raises(RuntimeError, match="injected"):
        demo.run(tiny, pairs=100, workdir=tmp_path, out=lines.append)
    assert "stopped 2 server(s)" in lines
    assert all(_gone(p) for p in _pids(lines))


def test_remote_scores_equal_local(tiny, tmp_path):
    with Cluster(tiny, tmp_path, replicas=1) as c:
        with Client.open(c.path) as remote, Client.open(tiny) as local:
            got, want = remote.score_sentences(SENTENCES), local.score_sentences(SENTENCES)
            assert len(got) == len(want) == len(SENTENCES)
            for g, w in zip(got, want):
                assert np.array_equal(g.log10, w.log10) and np.array_equal(g.oov, w.oov)
                assert np.array_equal(g.ngram_length, w.ngram_length)
            ppl, want_ppl = remote.perplexity(SENTENCES), local.perplexity(SENTENCES)
            assert ppl == want_ppl and ppl["perplexity"] > 1
            rng = np.random.default_rng(0)
            ctx = rng.integers(0, len(local.vocab), (300, 2)).astype(np.int32)
            clen = rng.integers(0, 3, 300).astype(np.int32)
            words = rng.integers(0, len(local.vocab), 300).astype(np.int32)
            ctx, clen, words = ctx[np.r_[:300, :100]], clen[np.r_[:300, :100]], words[np.r_[:300, :100]]
            r = remote.score_round(ctx, clen, words)
            assert r.shape == (400,) and np.array_equal(r, local.score_round(ctx, clen, words))
            assert np.array_equal(r[300:], r[:100])  # duplicates scored once, spread back
            # score_round agrees with the core Scorer's own pair scores
            direct, _ = local.scorer.score_pairs(ctx, clen, words)
            assert np.allclose(r, direct)
