"""No input is dropped with exit 0 (issue 11, item 3): a compressed input cut short, an
unreadable sub-directory or a dangling link inside a directory input is an error that
names the file, and no model is published."""
import gzip
import lzma
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import zstandard

from builder.config import BuildConfig
from builder.errors import BuildError, CorpusInputError
from builder.inputs import expand_inputs
from builder.pipeline import build
from ngram.errors import InputError

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "en-sample.txt.zst"
TEXT = "".join(f"w{i % 97} w{i % 89} the w{i % 13} of w{i % 7}\n" for i in range(20000)).encode()
COMPRESS = {"gz": lambda b: gzip.compress(b, 6), "xz": lzma.compress,
            "zst": lambda b: zstandard.ZstdCompressor(level=3).compress(b)}


def run(inputs, out, **kw):
    return build(BuildConfig(inputs=[str(i) for i in inputs], out_dir=str(out), order=3, num_shards=2,
                             progress=False, memory=32 << 20, workers=1, **kw))


def cli(*args, prefix=()):
    return subprocess.run([*prefix, sys.executable, "-m", "builder.cli", *map(str, args), "--quiet"], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)


def test_truncated_zst_sample_is_an_error_not_a_model_of_its_first_part(tmp_path):
    """`head -c 400000 samples/en-sample.txt.zst` built a model of 16,890 of 30,101
    sentences with exit 0."""
    cut = tmp_path / "cut.txt.zst"
    cut.write_bytes(SAMPLE.read_bytes()[:400_000])
    r = cli(cut, "-o", tmp_path / "m", "--order", "3", "--shards", "2", "--workers", "1")
    assert r.returncode == 1, r.stderr
    assert str(cut) in r.stderr and "truncated" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("suffix", sorted(COMPRESS))
def test_truncated_compressed_input_names_the_file(tmp_path, suffix):
    whole = COMPRESS[suffix](TEXT)
    cut = tmp_path / f"corpus.txt.{suffix}"
    cut.write_bytes(whole[:len(whole) * 2 // 3])
    with pytest.raises(CorpusInputError, match="truncated") as e:
        run([cut], tmp_path / "m")
    assert e.value.path == str(cut)
    assert isinstance(e.value, InputError) and isinstance(e.value, BuildError)
    assert not (tmp_path / "m").exists()
    # the whole file builds
    ok = tmp_path / f"whole.txt.{suffix}"
    ok.write_bytes(whole)
    assert run([ok], tmp_path / "ok")["sentences"] == 20000


def test_corrupt_zst_frame_names_the_file(tmp_path):
    data = bytearray(COMPRESS["zst"](TEXT))
    data[len(data) // 2] ^= 0xFF
    bad = tmp_path / "bad.zst"
    bad.write_bytes(bytes(data))
    with pytest.raises(CorpusInputError, match="corrupt zstd") as e:
        run([bad], tmp_path / "m")
    assert e.value.path == str(bad)


def _without_root_bypass() -> tuple[str, ...]:
    """A command prefix under which permission bits apply (root ignores them)."""
    if os.geteuid() != 0:
        return ()
    if not shutil.which("setpriv"):
        pytest.skip("running as root without setpriv: cannot make a directory unreadable")
    return ("setpriv", "--bounding-set", "-dac_override,-dac_read_search")


def test_unreadable_subdirectory_of_a_directory_input_is_an_error(tmp_path):
    """Path.rglob skipped a sub-directory it could not list, and the build went on with
    the rest of the corpus."""
    corpus = tmp_path / "corpus"
    (corpus / "a").mkdir(parents=True)
    (corpus / "b").mkdir()
    (corpus / "a" / "one.txt").write_bytes(TEXT[:5000])
    (corpus / "b" / "two.txt").write_bytes(TEXT[5000:10000])
    (corpus / "b").chmod(0)
    try:
        r = cli(corpus, "-o", tmp_path / "m", "--order", "3", "--shards", "2", "--workers", "1",
                prefix=_without_root_bypass())
    finally:
        (corpus / "b").chmod(0o755)
    assert r.returncode == 1, r.stderr
    assert str(corpus / "b") in r.stderr and "cannot read this directory" in r.stderr
    assert not (tmp_path / "m").exists()


def test_dangling_link_in_a_directory_input_is_an_error(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "one.txt").write_bytes(TEXT[:5000])
    (corpus / "gone.txt").symlink_to(tmp_path / "nowhere.txt")
    with pytest.raises(CorpusInputError, match="dangling") as e:
        expand_inputs([str(corpus)])
    assert e.value.path == str(corpus / "gone.txt")
    with pytest.raises(CorpusInputError, match="dangling") as e:
        expand_inputs([str(corpus / "*.txt")])
    assert e.value.path == str(corpus / "gone.txt")


def test_directory_input_order_and_links_unchanged(tmp_path):
    """Files sorted by path, links to files followed, links to directories not (as the
    rglob listing did, so models built from a directory keep their ids)."""
    corpus = tmp_path / "corpus"
    (corpus / "z").mkdir(parents=True)
    (corpus / "b.txt").write_text("b\n")
    (corpus / "z" / "a.txt").write_text("a\n")
    (corpus / "a-link.txt").symlink_to(corpus / "b.txt")
    (corpus / "dir-link").symlink_to(corpus / "z")
    found = expand_inputs([str(corpus)])
    assert found == [str(corpus / "a-link.txt"), str(corpus / "b.txt"), str(corpus / "z" / "a.txt")]
