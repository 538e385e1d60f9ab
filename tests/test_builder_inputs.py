"""Bad input and failures: every one is a BuildError that says what and where, and no
model is published."""
import gzip
import os
import subprocess
import sys
from pathlib import Path

import pytest

from builder.config import BuildConfig
from builder.errors import BuildError
from builder.inputs import Chunk, TextOptions, clean_chunk, expand_inputs, iter_chunks
from builder.pipeline import build

ROOT = Path(__file__).resolve().parent.parent


def run(inputs, out, **kw):
    return build(BuildConfig(inputs=[str(i) for i in inputs], out_dir=str(out), order=3, num_shards=2,
                             progress=False, memory=32 << 20, workers=kw.pop("workers", 1), **kw))


def test_missing_file_and_empty_glob(tmp_path):
    with pytest.raises(BuildError, match="no such file") as e:
        run([tmp_path / "nope.txt"], tmp_path / "m")
    assert e.value.path == str(tmp_path / "nope.txt")
    with pytest.raises(BuildError, match="no file matches"):
        run([tmp_path / "*.txt"], tmp_path / "m")
    assert not (tmp_path / "m").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file(tmp_path):
    p = tmp_path / "a.txt"
    p.write_text("a b\n")
    p.chmod(0)
    with pytest.raises(BuildError, match="not readable"):
        expand_inputs([str(p)])


def test_invalid_utf8_policies(tmp_path):
    p = tmp_path / "bad.txt"
    p.write_bytes(b"good line\nalso good\nbad \xff\xfe here\nlast one\n")
    with pytest.raises(BuildError, match="invalid UTF-8") as e:
        run([p], tmp_path / "m")
    assert e.value.path == str(p) and e.value.line == 3
    assert not (tmp_path / "m").exists()
    s = run([p], tmp_path / "r", text=TextOptions(on_bad_bytes="replace"))
    assert s["sentences"] == 4
    s = run([p], tmp_path / "s", text=TextOptions(on_bad_bytes="skip"))
    assert s["sentences"] == 3 and s["tokens"] == 6


def test_bad_bytes_line_number_in_a_later_chunk():
    chunk = Chunk(5, "f.txt", 101, b"ok\nok\nx\xc3\n")
    with pytest.raises(BuildError) as e:
        clean_chunk(chunk, TextOptions())
    assert (e.value.path, e.value.line) == ("f.txt", 103)


def test_long_line_limit(tmp_path):
    p = tmp_path / "long.txt"
    p.write_bytes(b"short\n" + b"x " * 600 + b"\nshort\n")
    with pytest.raises(BuildError, match="longer than the limit") as e:
        run([p], tmp_path / "m", text=TextOptions(max_line_bytes=1000))
    assert e.value.line == 2
    with pytest.raises(BuildError, match="longer than the limit"):  # found while chunking too
        list(iter_chunks([str(p)], 100, 1000))
    assert run([p], tmp_path / "ok", text=TextOptions(max_line_bytes=2000))["sentences"] == 3


def test_corrupt_gzip(tmp_path):
    p = tmp_path / "c.txt.gz"
    blob = gzip.compress(b"a b c\n" * 10000)
    p.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(BuildError, match="truncated gzip"):
        run([p], tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_jsonl_errors(tmp_path):
    p = tmp_path / "c.jsonl"
    p.write_text('{"text": "a b"}\n{"text": "c"\n')
    with pytest.raises(BuildError, match="invalid JSON") as e:
        run([p], tmp_path / "m", text=TextOptions(jsonl_field="text"))
    assert e.value.line == 2
    p.write_text('{"text": "a b"}\n{"other": "c"}\n')
    with pytest.raises(BuildError, match="no string field 'text'") as e:
        run([p], tmp_path / "m", text=TextOptions(jsonl_field="text"))
    assert e.value.line == 2


def test_empty_input_and_bad_options(tmp_path):
    p = tmp_path / "blank.txt"
    p.write_text("\n  \n\n")
    with pytest.raises(BuildError, match="no sentences"):
        run([p], tmp_path / "m")
    with pytest.raises(BuildError, match="unigram cutoff"):
        run([p], tmp_path / "m", cutoffs=[2, 1, 1])
    with pytest.raises(BuildError, match="2..16"):
        BuildConfig(inputs=[str(p)], out_dir=str(tmp_path / "m"), order=17).check()


def test_cli_reports_errors_without_traceback(tmp_path):
    r = subprocess.run([sys.executable, "-m", "builder.cli", str(tmp_path / "x.txt"), "-o", str(tmp_path / "m")],
                       cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 1
    assert "no such file" in r.stderr and "Traceback" not in r.stderr


@pytest.fixture
def tiny_disk(tmp_path):
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(mnt)],
                                           capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small tmpfs here")
    yield mnt
    subprocess.run(["umount", str(mnt)], check=False)


def test_full_disk_keeps_work_dir_for_resume(tmp_path, tiny_disk):
    p = tmp_path / "c.txt"
    p.write_text("\n".join(f"w{i} w{i * 7 % 1000} w{i * 13 % 997} end" for i in range(40000)) + "\n")
    work = tiny_disk / "work"
    with pytest.raises(BuildError, match="disk full"):
        run([p], tmp_path / "m", work_dir=str(work), workers=2)
    assert not (tmp_path / "m").exists()
    assert (work / "build.json").exists()
    s = run([p], tmp_path / "m", work_dir=str(tmp_path / "bigger"), workers=2)
    assert (tmp_path / "m" / "manifest.json").exists() and s["sentences"] == 40000
