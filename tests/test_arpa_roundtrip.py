"""import-arpa -> model directory -> export-arpa -> import again: identical scores; the
CLI commands in a subprocess; a malformed file writes nothing."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from ngram.arpa import export_arpa, import_arpa, read_arpa
from ngram.model import Model
from sample_corpus import ARPA_DIR, ROOT

ARPA = ARPA_DIR
NAMES = ["kenlm-test", "kenlm-test_nounk", "kenlm-toy0", "kenlm-toy1"]


def _same(a, b):
    assert a.words == b.words and a.counts == b.counts
    assert np.array_equal(a.unigram_prob, b.unigram_prob) and np.array_equal(a.unigram_backoff, b.unigram_backoff)
    for x, y in zip(a.levels, b.levels):
        assert np.array_equal(x.grams, y.grams)
        assert np.array_equal(x.prob, y.prob, equal_nan=True) and np.array_equal(x.backoff, y.backoff)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("shards,quant,context", [(1, "none", "auto"), (3, "none", "always"), (2, "8", "always"),
                                                   (1, "16", "never")])
def test_import_export_import(tmp_path, name, shards, quant, context):
    src = ARPA / f"{name}.arpa"
    import_arpa(src, tmp_path / "m1", num_shards=shards, quantization=quant, value_context=context)
    export_arpa(tmp_path / "m1", tmp_path / "back.arpa.gz")
    a, b = read_arpa(src), read_arpa(tmp_path / "back.arpa.gz")
    if name.endswith("nounk"):  # export writes the <unk> that import added, at -100
        assert b.counts[0] == a.counts[0] + 1 and b.unigram_prob[0] == -100
        b.counts[0] -= 1
        b.added_unk = True
    _same(a, b)  # small models: every distinct value gets its own code, even at 8 bits
    import_arpa(tmp_path / "back.arpa.gz", tmp_path / "m2", num_shards=shards, quantization=quant)
    m1, m2 = Model.open(tmp_path / "m1"), Model.open(tmp_path / "m2")
    rng = np.random.default_rng(1)
    V, N = len(m1.vocab), m1.order
    ids = rng.integers(0, V, size=(500, N)).astype(np.int32)
    lengths = rng.integers(1, N + 1, size=500).astype(np.int32)
    assert m1.lookup(ids, lengths).equals(m2.lookup(ids, lengths))


def test_cli_import_export_subprocess(tmp_path):
    model = tmp_path / "model"
    r = subprocess.run([sys.executable, "-c", "from ngram.arpa_cli import import_arpa; import_arpa()",
                        str(ARPA / "kenlm-test.arpa"), "--out", str(model), "--shards", "2", "--quantize", "none",
                        "--json-summary"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert '"blank_nodes": [5, 2, 1, 0]' in r.stdout
    r = subprocess.run([sys.executable, "-c", "from ngram.arpa_cli import export_arpa; export_arpa()", str(model)],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("\\data\\\nngram 1=37\nngram 2=47\nngram 3=11\nngram 4=6\nngram 5=4\n")
    assert r.stdout.rstrip().endswith("\\end\\")
    (tmp_path / "out.arpa").write_text(r.stdout)
    _same(read_arpa(ARPA / "kenlm-test.arpa"), read_arpa(tmp_path / "out.arpa"))


def test_cli_malformed_writes_nothing(tmp_path):
    bad = tmp_path / "bad.arpa"
    text = (ARPA / "kenlm-test.arpa").read_text().replace("ngram 3=11", "ngram 3=12")
    bad.write_text(text)
    out = tmp_path / "model"
    r = subprocess.run([sys.executable, "-c", "from ngram.arpa_cli import import_arpa; import_arpa()",
                        str(bad), "--out", str(out)], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 1
    assert f"{bad}:109:" in r.stderr and "announces 12 3-grams" in r.stderr
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["bad.arpa"]  # no temporary directory left


def test_library_error_leaves_no_model(tmp_path):
    bad = tmp_path / "bad.arpa.gz"
    import gzip

    text = (ARPA / "kenlm-toy0.arpa").read_text().replace("-0.2984526\tb a", "-0.2984526\tb zzz")
    bad.write_bytes(gzip.compress(text.encode()))
    from ngram.errors import ArpaFormatError

    with pytest.raises(ArpaFormatError, match="'zzz' is not among the unigrams") as e:
        import_arpa(bad, tmp_path / "m")
    assert e.value.line == 16
    assert not (tmp_path / "m").exists()
