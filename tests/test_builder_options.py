"""Option values are checked before any work: a bad one is a usage error (exit 2) naming
the option; bad input is a BuildError (exit 1). Limits come from ngram.limits, the one
home they have (issue 11 item 7, issue 12)."""
import pickle
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from builder.cli import build as build_cli
from builder.config import BuildConfig, parse_size, total_ram
from builder.errors import BuildError, BuildOptionError, CorpusInputError, WorkDirCorruptError, WorkDirLockedError
from builder.keys import KeyLayout
from builder.pipeline import build
from builder.runs import RunWriter, read_frames
from ngram.limits import DEFAULT_MAX_LINE_BYTES, MAX_BUILD_SHARDS, MAX_ORDER
from reference_builder import build_model_inmemory

ROOT = Path(__file__).resolve().parent.parent
BUILDER = ROOT / "builder"


@pytest.fixture
def corpus(tmp_path):
    p = tmp_path / "c.txt"
    p.write_text("".join(f"a b{i % 7} c{i % 5} d e{i % 3} f g h\n" for i in range(200)))
    return p


@pytest.mark.parametrize("args,option", [
    (("--shards", "100000"), "--shards"),
    (("--shards", "0"), "--shards"),
    (("--order", str(MAX_ORDER + 1)), "--order"),
    (("--order", "1"), "--order"),
    (("--memory", "0"), "--memory"),
    (("--memory", "200%"), "--memory"),
    (("--memory", "0%"), "--memory"),
    (("--memory", "lots"), "--memory"),
    (("--memory", "1000000T"), "--memory"),
    (("--min-count", "1,x"), "--min-count"),
    (("--min-count", "2,1"), "--min-count"),
    (("--workers", "-1"), "--workers"),
    (("--max-line-bytes", "0"), "--max-line-bytes"),
])
def test_bad_option_values_are_usage_errors_before_any_work(tmp_path, corpus, args, option):
    """`--shards 100000` on a tiny corpus ran for minutes writing 25,000 files; `--memory 0`
    silently meant the default and `200%` twice the RAM; option errors exited 1."""
    r = CliRunner().invoke(build_cli, [str(corpus), "-o", str(tmp_path / "m"), "--quiet", *args])
    assert r.exit_code == 2, r.output
    assert option in r.output and "Traceback" not in r.output
    assert not (tmp_path / "m").exists() and not (tmp_path / "m.work").exists()


def test_shards_bound_is_checked_before_the_input_is_read(tmp_path):
    r = CliRunner().invoke(build_cli, [str(tmp_path / "missing.txt"), "-o", str(tmp_path / "m"),
                                       "--shards", str(MAX_BUILD_SHARDS + 1)])
    assert r.exit_code == 2 and "--shards" in r.output and f"1..{MAX_BUILD_SHARDS}" in r.output


def test_usage_error_exit_2_and_input_error_exit_1_from_the_command_line(tmp_path, corpus):
    run = [sys.executable, "-m", "builder.cli"]
    r = subprocess.run([*run, str(corpus), "-o", str(tmp_path / "m"), "--order", "99"], cwd=ROOT,
                       capture_output=True, text=True)
    assert r.returncode == 2 and "--order" in r.stderr, r.stderr
    r = subprocess.run([*run, str(tmp_path / "nope.txt"), "-o", str(tmp_path / "m")], cwd=ROOT,
                       capture_output=True, text=True)
    assert r.returncode == 1 and "no such file" in r.stderr, r.stderr


def test_memory_sizes():
    assert parse_size("512M") == 512 << 20
    assert parse_size("1.5GiB") == 3 << 29
    assert parse_size("100%") == total_ram()
    for bad in ("0", "0%", "101%", "200%", "-5%", "1K", "2Q", ""):
        with pytest.raises(BuildOptionError):
            parse_size(bad)


def test_max_order_is_the_one_shared_limit_and_builds(tmp_path, corpus):
    """The maximum order was 16 in ngram/writer.py and 8 in builder/config.py. The
    builder's keys have no bound of their own (k words of <= 32 bits in ceil(k*bits/64)
    limbs), so it builds MAX_ORDER models, the same bytes as the reference builder."""
    BuildConfig(inputs=[str(corpus)], out_dir=str(tmp_path / "x"), order=MAX_ORDER).check()
    with pytest.raises(BuildOptionError, match="--order|2\\.\\."):
        BuildConfig(inputs=[str(corpus)], out_dir=str(tmp_path / "x"), order=MAX_ORDER + 1).check()
    text = "".join(" ".join(f"w{(i * 7 + j * j) % 11}" for j in range(3 + i % 30)) + "\n" for i in range(300))
    corpus.write_text(text)
    s = build(BuildConfig(inputs=[str(corpus)], out_dir=str(tmp_path / "m"), order=MAX_ORDER, num_shards=2,
                          memory=32 << 20, workers=1, progress=False))
    ref = build_model_inmemory([str(corpus)], tmp_path / "ref", order=MAX_ORDER, num_shards=2)
    assert s["model_id"] == ref["model_id"] and s["ngrams"][MAX_ORDER] > 0


def test_defaults_come_from_ngram_limits():
    assert BuildConfig(inputs=[], out_dir="x").text.max_line_bytes == DEFAULT_MAX_LINE_BYTES
    default = next(p.default for p in build_cli.params if p.name == "max_line_bytes")
    assert default == DEFAULT_MAX_LINE_BYTES


def test_vocabulary_too_large_for_keys_is_a_build_error():
    with pytest.raises(BuildError, match="32-bit"):
        KeyLayout.for_vocab((1 << 32) + 1)


def test_truncated_run_file_is_a_work_dir_error(tmp_path):
    w = RunWriter(tmp_path / "r.run", frame_rows=4)
    keys = np.arange(10, dtype=np.uint64).reshape(-1, 1)
    w.add(0, 2, keys, np.ones(10, np.uint64))
    index = w.close()
    frames = index["sections"]["0,2"]
    assert sum(len(k) for k, _ in read_frames(tmp_path / "r.run", frames, 1)) == 10
    data = (tmp_path / "r.run").read_bytes()
    (tmp_path / "r.run").write_bytes(data[:-3])
    with pytest.raises(WorkDirCorruptError, match="truncated"):
        list(read_frames(tmp_path / "r.run", frames, 1))


def test_build_errors_keep_their_class_across_processes():
    for e in (CorpusInputError("truncated", "a.zst"), WorkDirLockedError("busy", "w", pid=7),
              BuildOptionError("bad", "--shards"), BuildError("x", "f", 3)):
        back = pickle.loads(pickle.dumps(e))
        assert type(back) is type(e) and str(back) == str(e)
    assert pickle.loads(pickle.dumps(WorkDirLockedError("busy", "w", pid=7))).pid == 7


def test_builder_library_code_renames_only_through_ngram_atomic_and_raises_build_errors():
    """One atomic-write helper (there were three os.replace sites in builder/), and input
    problems are BuildError subclasses, never a bare ValueError/RuntimeError."""
    offenders = []
    for path in sorted(BUILDER.rglob("*.py")):
        if "kn" in path.relative_to(BUILDER).parts[:1]:
            continue  # builder/kn/ is another helper's (checked there)
        text = path.read_text()
        for pattern in (r"os\.replace\(", r"os\.rename\(", r"raise (ValueError|RuntimeError|OSError)\("):
            offenders += [f"{path.name}: {m.group(0)}" for m in re.finditer(pattern, text)]
    assert offenders == []


def test_build_error_exit_1_through_ngram_clis_error_mapping(tmp_path):
    """builder/cli.py mapped BuildError to exit codes itself ("Error: ..."); now the one
    convention of ngram.cli.ErrorMappingGroup applies, from `ngram build` and from
    `python -m builder.cli` alike: one line "ngram: error: ..." and exit 1."""
    one = tmp_path / "one.txt"
    one.write_text("a single sentence\n")
    for run in ([sys.executable, "-m", "ngram.cli", "build"], [sys.executable, "-m", "builder.cli"]):
        r = subprocess.run([*run, str(one), "-o", str(tmp_path / "m"), "--smoothing", "kneser-ney", "--quiet"],
                           cwd=ROOT, capture_output=True, text=True)
        assert r.returncode == 1, r.stderr
        assert r.stderr.startswith("ngram: error: ") and "two sentences" in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1 and not (tmp_path / "m").exists()
