"""The real `ngram` command in a subprocess: info, count, score, verify, errors."""
import json
import math
import subprocess
import sys
from collections import Counter

import pytest

from reference_builder import build_model_inmemory
from ngram.backend import open_backend
from ngram.scoring import Scorer
from reference import count_ngrams
from sample_corpus import HELDOUT_SAMPLE, sample_lines

LINES = sample_lines(400)


def ngram(*args, input=None):
    return subprocess.run([sys.executable, "-m", "ngram.cli", *map(str, args)], input=input,
                          capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "model"
    build_model_inmemory(b"\n".join(LINES), out, order=3, num_shards=2)
    return out


def naive_counts() -> dict:
    counts = count_ngrams([line.split() for line in LINES], 3, bos=b"<s>", eos=b"</s>")
    return Counter({b" ".join(g): c for g, c in counts.items()})


QUERIES = [b"of the", b"the", b"in the same", b"the of", b"zzzz-not-a-word the", b"<s> The"]


def parse_counts(stdout: bytes) -> dict:
    return {k.encode(): int(v) for k, v in (ln.split("\t") for ln in stdout.decode().splitlines())}


def test_info_json(model_dir):
    r = ngram("info", model_dir, "--json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    for key in ("model_id", "order", "vocab_size", "ngrams", "bytes", "bytes_per_ngram", "ngrams_per_shard"):
        assert key in info
    assert info["order"] == 3 and len(info["ngrams"]) == 3 and len(info["ngrams_per_shard"]) == 2
    assert info["bytes_per_ngram"] == pytest.approx(info["bytes"] / sum(info["ngrams"]))
    text = ngram("info", model_dir)
    assert text.returncode == 0 and info["model_id"] in text.stdout.decode()


def test_info_does_not_import_the_server_stack(model_dir):
    code = ("import sys; from ngram.cli import main\n"
            f"sys.argv = ['ngram', 'info', {str(model_dir)!r}]\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in sys.modules if m.split('.')[0] in ('grpc', 'dask', 'distributed', 'shard_server')]\n"
            "assert not heavy, heavy\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr


def test_count_from_arguments_stdin_and_file(model_dir, tmp_path):
    want = naive_counts()
    expected = {q: want[q] for q in QUERIES}
    assert expected[b"of the"] > 0 and expected[b"zzzz-not-a-word the"] == 0
    r = ngram("count", model_dir, *[q.decode() for q in QUERIES])
    assert r.returncode == 0, r.stderr
    assert parse_counts(r.stdout) == expected
    r = ngram("count", model_dir, input=b"\n".join(QUERIES) + b"\n\n")
    assert parse_counts(r.stdout) == expected
    r = ngram("count", model_dir, "-", input=b"\n".join(QUERIES))
    assert parse_counts(r.stdout) == expected
    f = tmp_path / "queries.txt"
    f.write_bytes(b"\n".join(QUERIES) + b"\n")
    r = ngram("count", model_dir, f)
    assert [ln.split(b"\t")[0] for ln in r.stdout.splitlines()] == QUERIES
    assert parse_counts(r.stdout) == expected


def test_count_rejects_an_ngram_longer_than_the_order(model_dir):
    r = ngram("count", model_dir, "a b c d")
    assert r.returncode == 1 and b"order is 3" in r.stderr and len(r.stderr.splitlines()) == 1


def test_score_matches_the_scorer(model_dir):
    sents = HELDOUT_SAMPLE.read_bytes().splitlines()[:30]
    r = ngram("score", model_dir, "-", input=b"\n".join(sents) + b"\n")
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode().splitlines()
    assert len(out) == len(sents) + 4
    with open_backend(model_dir) as backend:
        scorer = Scorer(backend)
        want = scorer.score_sentences(sents)
        ppl = scorer.perplexity(sents)
    for line, sent, w in zip(out, sents, want):
        head, text = line.split("\t")
        _, total, _, oov = head.split()
        assert text == sent.decode() and math.isclose(float(total), w.total, abs_tol=1e-5)
        assert int(oov) == w.num_oov
    summary = dict(ln.split(":\t") for ln in out[len(sents):])
    assert math.isclose(float(summary["Perplexity including OOVs"]), ppl["perplexity"], rel_tol=1e-6)
    assert math.isclose(float(summary["Perplexity excluding OOVs"]), ppl["perplexity_excluding_oov"], rel_tol=1e-6)
    assert int(summary["OOVs"]) == ppl["oov"] > 0  # held-out text has unseen words
    assert int(summary["Tokens"]) == ppl["tokens"] == sum(len(s.split()) + 1 for s in sents)


def test_score_alpha_changes_backed_off_scores(model_dir):
    a = ngram("score", model_dir, "--alpha", "0.4", input=b"the the the of of of\n").stdout
    b = ngram("score", model_dir, "--alpha", "0.1", input=b"the the the of of of\n").stdout
    assert float(a.split()[1]) > float(b.split()[1])


def test_verify_ok_and_errors(model_dir, tmp_path):
    r = ngram("verify", model_dir)
    assert r.returncode == 0 and r.stdout.strip() == b"OK"
    r = ngram("verify", tmp_path / "nothing-here")
    assert r.returncode == 1 and b"nothing-here" in r.stderr and len(r.stderr.splitlines()) == 1
    r = ngram("info", tmp_path)
    assert r.returncode == 1 and b"manifest.json" in r.stderr


def test_usage_errors_exit_2(model_dir):
    assert ngram("info").returncode == 2
    assert ngram("no-such-command").returncode == 2
    assert ngram("count", "--cluster").returncode == 2


@pytest.mark.parametrize("args", [
    ["serve", "{m}", "--shards", "a"],          # was "cannot open ...", exit 1, after binding a port
    ["serve", "{m}", "--port", "-5"],           # was bound to port 65531
    ["serve", "{m}", "--max-inflight", "0"],
    ["serve", "{m}", "--max-message-mb", "0"],
    ["cluster", "up", "{m}", "--replicas", "0"],  # was a hang
    ["score", "{m}", "--alpha", "2"],           # was the Scorer's ValueError, exit 1
    ["score", "{m}", "--alpha", "0"],
    ["import-arpa", "/dev/null", "-o", "{tmp}/x", "--shards", "0"],  # was read first, then exit 1
])
def test_usage_errors_exit_2_not_1(model_dir, tmp_path, args):
    r = ngram(*[a.format(m=model_dir, tmp=tmp_path) for a in args])
    assert r.returncode == 2, r.stderr
    assert b"Invalid value" in r.stderr and b"Traceback" not in r.stderr
    assert not (tmp_path / "x").exists()


def test_library_errors_exit_1_with_one_line(model_dir, tmp_path):
    for args in (["count", model_dir, "a b c d"], ["info", tmp_path / "none"],
                 ["export-arpa", model_dir],          # a counts model: ValueKindError
                 ["serve", model_dir, "--shards", "7"]):  # no shard 7: InvalidArgumentError
        r = ngram(*args)
        assert r.returncode == 1 and len(r.stderr.splitlines()) == 1, (args, r.stderr)
        assert r.stderr.startswith(b"ngram: error: ") and b"Traceback" not in r.stderr


def test_an_unexpected_exception_is_a_traceback_not_bad_input(model_dir):
    # a bug (here: a library function raising what no library code raises on purpose) must
    # not be reported as "ngram: error: ..." as if the input were bad
    code = ("import sys, ngram.model\n"
            "def broken(self):\n    raise KeyError('a bug')\n"
            "ngram.model.Model.info = broken\n"
            f"sys.argv = ['ngram', 'info', {str(model_dir)!r}]\n"
            "from ngram.cli import main\nmain()\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
    assert r.returncode not in (0, 2)
    assert b"Traceback" in r.stderr and b"KeyError: 'a bug'" in r.stderr
    assert b"ngram: error" not in r.stderr


def test_count_refuses_an_argument_with_a_lone_surrogate(model_dir):
    # issue 11: undecodable bytes in an argument arrive as a lone surrogate; the CLI refuses
    # them (exit 1, one line naming the argument), as a str query with one is refused by
    # the library; the same bytes read from a file are taken as given (an unknown word)
    r = subprocess.run([sys.executable, "-m", "ngram.cli", "count", str(model_dir), "of the", b"the \xff"],
                       capture_output=True, timeout=120)
    assert r.returncode == 1 and len(r.stderr.splitlines()) == 1, r.stderr
    assert b"argument 2" in r.stderr and b"lone surrogate U+DCFF" in r.stderr and b"Traceback" not in r.stderr
    r = ngram("count", model_dir, input=b"of the\nthe \xff\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[1] == "the \ufffd\t0".encode()
    assert int(r.stdout.splitlines()[0].split(b"\t")[1]) == naive_counts()[b"of the"]


def test_count_reads_compressed_query_files_by_content_and_refuses_truncated_ones(model_dir, tmp_path):
    import gzip
    data = gzip.compress(b"\n".join(QUERIES * 50) + b"\n")
    named_plain = tmp_path / "queries.txt"  # gzip inside, whatever the name says
    named_plain.write_bytes(data)
    r = ngram("count", model_dir, named_plain)
    assert r.returncode == 0, r.stderr
    assert parse_counts(r.stdout) == {q: naive_counts()[q] for q in QUERIES}
    cut = tmp_path / "cut.txt.gz"
    cut.write_bytes(data[: len(data) // 2])
    r = ngram("count", model_dir, cut)
    assert r.returncode == 1 and str(cut).encode() in r.stderr and b"truncated" in r.stderr
    assert r.stdout == b""


@pytest.mark.parametrize("host,warned", [("0.0.0.0", True), ("127.0.0.1", False), ("localhost", False)])
def test_serve_on_a_non_loopback_host_without_tls_warns(model_dir, host, warned):
    # --shards 9 does not exist: the server binds, prints what it prints, then exits 1
    r = ngram("serve", model_dir, "--host", host, "--shards", "9", "--no-verify")
    assert r.returncode == 1, r.stderr
    assert (b"warning: serving without TLS on " + host.encode() in r.stderr) == warned, r.stderr


def test_loopback_rule():
    from shard_server.cli import is_loopback
    assert all(map(is_loopback, ["127.0.0.1", "127.4.5.6", "::1", "[::1]", "localhost"]))
    assert not any(map(is_loopback, ["0.0.0.0", "::", "10.1.2.3", "192.168.0.1", "example.com"]))


def test_help_lists_core_and_plugin_commands():
    r = ngram("--help")
    assert r.returncode == 0
    for name in (b"info", b"count", b"score", b"verify", b"build", b"serve"):
        assert name in r.stdout
