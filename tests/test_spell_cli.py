"""`ngram spell` (run as a real command, `python -m client.spelling.cli spell`): one line
in, one line out, --json prints Correction.to_dict per line, --cluster over real
servers, undecodable input is a one-line error with exit 1, `spell serve` goes to the
service's command, and the entry point is registered."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from client.spelling.speller import Speller
from cluster_harness import Cluster, small_model

REPO = Path(__file__).resolve().parent.parent
LINES = ["And the LORD siad unto Moses ,", "", "  and he went out form the house\t", "Привет"]


def run(*args, stdin: bytes | None = None, ok=True) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    p = subprocess.run([sys.executable, "-m", "client.spelling.cli", *map(str, args)], input=stdin,
                       capture_output=True, env=env, timeout=300)
    if ok:
        assert p.returncode == 0, p.stderr.decode()
    return p


@pytest.fixture(scope="module")
def model():
    return small_model(order=4, num_shards=2, lines=3000)


@pytest.fixture(scope="module")
def expected(model):
    with Speller(model) as sp:
        return sp.correct(LINES)


def test_one_line_in_one_line_out(model, expected, tmp_path):
    f = tmp_path / "in.txt"
    f.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    out = run("spell", model, f).stdout.decode().split("\n")
    assert out == [c.corrected for c in expected] + [""]
    assert out[0] == "And the LORD said unto Moses ,"
    # stdin, last line without a newline
    out = run("spell", model, "-", stdin=("\n".join(LINES)).encode()).stdout.decode()
    assert out == "".join(c.corrected + "\n" for c in expected)


def test_json_prints_each_correction(model, expected):
    out = run("spell", model, "--json", stdin=("\n".join(LINES) + "\n").encode()).stdout.decode()
    rows = [json.loads(line) for line in out.splitlines()]
    assert rows == [json.loads(json.dumps(c.to_dict())) for c in expected]
    assert rows[0]["changes"][0]["original"] == "siad" and rows[0]["changes"][0]["start"] == LINES[0].index("siad")


def test_cluster_answers_as_the_model(model, expected, tmp_path):
    cluster = Cluster(model, tmp_path).start()
    try:
        out = run("spell", "--cluster", cluster.path, "--json",
                  stdin=("\n".join(LINES) + "\n").encode()).stdout.decode()
        assert [json.loads(line) for line in out.splitlines()] == [json.loads(json.dumps(c.to_dict())) for c in expected]
    finally:
        cluster.stop()


def test_errors_are_one_line(model, tmp_path):
    p = run("spell", model, stdin=b"fine line\nbad \xff byte\n", ok=False)
    assert p.returncode == 1
    err = p.stderr.decode()
    assert "<stdin>:2" in err and "not UTF-8" in err and "Traceback" not in err
    p = run("spell", tmp_path / "missing", ok=False)
    assert p.returncode == 1 and "Traceback" not in p.stderr.decode()
    p = run("spell", ok=False)
    assert p.returncode == 2


def test_serve_goes_to_the_service_command():
    pytest.importorskip("client.spelling.service_cli")
    p = run("spell", "serve", "--help")
    assert b"--port" in p.stdout


def test_spell_is_an_ngram_command():
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert meta["project"]["entry-points"]["ngram.commands"]["spell"] == "client.spelling.cli:spell"
