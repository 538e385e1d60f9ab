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
from test_arpa_reader import _same

ARPA = ARPA_DIR
NAMES = ["kenlm-test", "kenlm-test_nounk", "kenlm-toy0", "kenlm-toy1"]


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
    r = subprocess.run([sys.executable, "-m", "ngram.cli", "import-arpa",
                        str(ARPA / "kenlm-test.arpa"), "--out", str(model), "--shards", "2", "--quantize", "none",
                        "--json-summary"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert '"blank_nodes": [5, 2, 1, 0]' in r.stdout
    r = subprocess.run([sys.executable, "-m", "ngram.cli", "export-arpa", str(model)],
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
    r = subprocess.run([sys.executable, "-m", "ngram.cli", "import-arpa", str(bad), "--out", str(out)],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 1 and len(r.stderr.splitlines()) == 1, r.stderr
    assert r.stderr.startswith(f"ngram: error: {bad}:109: ") and "announces 12 3-grams" in r.stderr
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["bad.arpa"]  # no temporary directory left


@pytest.mark.parametrize("suffix", [".gz", ".zst"])
def test_cli_truncated_compressed_arpa_is_one_line_not_aborted(tmp_path, suffix, data_paths):
    # issue 11: `ngram import-arpa cut.arpa.gz` printed click's "Aborted!" (gzip's EOFError)
    import gzip

    import zstandard
    data = (data_paths.arpa / "kenlm-test.arpa").read_bytes()
    packed = gzip.compress(data) if suffix == ".gz" else zstandard.ZstdCompressor().compress(data)
    cut = tmp_path / ("cut.arpa" + suffix)
    cut.write_bytes(packed[: len(packed) // 2])
    out = tmp_path / "model"
    r = subprocess.run([sys.executable, "-m", "ngram.cli", "import-arpa", str(cut), "--out", str(out)],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 1 and len(r.stderr.splitlines()) == 1, r.stderr
    assert r.stderr.startswith(f"ngram: error: {cut}:") and "truncated" in r.stderr
    assert "Aborted" not in r.stderr and not out.exists()


def test_cli_export_writes_atomically_compressed_by_suffix(tmp_path, data_paths):
    model = tmp_path / "model"
    import_arpa(data_paths.arpa / "kenlm-toy0.arpa", model, quantization="none")
    out = tmp_path / "back.arpa.xz"
    r = subprocess.run([sys.executable, "-m", "ngram.cli", "export-arpa", str(model), str(out)],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert out.read_bytes()[:6] == b"\xfd7zXZ\x00"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["back.arpa.xz", "model"]  # no temporary file left
    _same(read_arpa(data_paths.arpa / "kenlm-toy0.arpa"), read_arpa(out))


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
