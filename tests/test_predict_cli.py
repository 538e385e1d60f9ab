"""`ngram index-successors`, `ngram predict`, `ngram complete` (run as real commands) and
`complete()`: a one-word completion is the prediction; a completion's score is the sum of
the scorer's scores of its words; ARPA import and build add the index by default."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from reference_builder import build_model_inmemory
from client import Client
from ngram.backend import LocalBackend
from ngram.model import Model
from ngram.scoring import Scorer

REPO = Path(__file__).resolve().parent.parent
TEXT = b"the cat sat on the mat\nthe dog sat on the log\nthe cat ran to the dog\na cat sat\n"


def run(*args, ok=True) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    p = subprocess.run([sys.executable, "-m", "ngram.predict_cli", *map(str, args)], capture_output=True,
                       env=env, timeout=300, text=True)
    if ok:
        assert p.returncode == 0, p.stderr
    return p


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli") / "m"
    build_model_inmemory(TEXT, d, order=3, num_shards=2)
    before = json.loads((d / "manifest.json").read_text())["model_id"]
    run("index-successors", d)
    assert json.loads((d / "manifest.json").read_text())["model_id"] == before
    return d


def test_predict_prints_tab_separated_and_json(model):
    out = run("predict", model, "on the", "-k", "2").stdout.splitlines()
    assert out == ["on the\tlog\t-0.301030", "on the\tmat\t-0.301030"]
    data = json.loads(run("predict", model, "the", "-k", "3", "--prefix", "d", "--json").stdout)
    assert [p["word"] for p in data[0]["predictions"]] == ["dog"]


def test_predict_errors_are_one_line(model):
    p = run("predict", model, "zebra", ok=False)
    assert p.returncode == 1 and "zebra" in p.stderr and "Traceback" not in p.stderr
    p = run("predict", model, "the", "-k", "0", ok=False)
    assert p.returncode == 2


def test_one_word_completion_is_the_prediction_and_scores_add_up(model):
    with Client.open(model) as c:
        words, scores = c.predict(np.array([[1, int(c.vocab.id("the"))]], np.int32), np.array([2], np.int32), 4)
        one = c.complete("the", k=4, max_words=1)
        assert [(tuple(x.words), x.log10) for x in one] == [
            ((c.vocab.word(int(w)),) if w != 2 else (), float(s)) for w, s in zip(words[0], scores[0])]
        scorer = Scorer(LocalBackend(Model.open(model)))
        for comp in c.complete("the", k=3, max_words=3):
            ctx = [1, int(c.vocab.id("the"))]
            total = 0.0
            for w in list(comp.words) + (["</s>"] if comp.ended else []):
                wid = int(c.vocab.id(w))
                s, _ = scorer.score_pairs(np.array([ctx], np.int32), np.array([len(ctx)], np.int32),
                                          np.array([wid], np.int32))
                total += float(s[0])
                ctx.append(wid)
            assert total == pytest.approx(comp.log10, abs=1e-12)


def test_complete_command(model):
    out = run("complete", model, "the cat", "-k", "2", "--max-words", "2").stdout.splitlines()
    assert len(out) == 2 and all(line.startswith("the cat\t") for line in out)


def test_build_command_adds_the_index_when_asked_and_not_by_default(tmp_path):
    src = tmp_path / "c.txt"
    src.write_bytes(TEXT)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    for name, flags in (("plain", []), ("m", ["--successors"])):
        p = subprocess.run([sys.executable, "-m", "ngram.cli", "build", str(src), "--out", str(tmp_path / name),
                            "--order", "3", "--shards", "2", "--quiet", "--workers", "1", *flags],
                           capture_output=True, env=env, timeout=300, text=True)
        assert p.returncode == 0, p.stderr
    assert "successors" not in json.loads((tmp_path / "plain" / "manifest.json").read_text())
    assert "successors" in json.loads((tmp_path / "m" / "manifest.json").read_text())
    assert run("predict", tmp_path / "m", "on the", "-k", "1").stdout.startswith("on the\t")
