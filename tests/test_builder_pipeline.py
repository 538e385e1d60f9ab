"""Whole builds: the identical model from every executor, worker count and memory
budget, from compressed inputs, and after a crash with --resume."""
import gzip
import json
import lzma
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import zstandard

from builder.config import BuildConfig
from builder.errors import BuildError
from reference_builder import build_model_inmemory
from builder.keys import KeyLayout
from builder.reduce_stage import ReducePlan
from builder.pipeline import build

PY = sys.executable
ROOT = Path(__file__).resolve().parent.parent


def make_corpus(path: Path, lines: int, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(300)] + ["the", "of", "caf\u00e9", "na\u00efve"]
    p = 1.0 / np.arange(1, len(words) + 1)
    p /= p.sum()
    text = "\n".join(" ".join(rng.choice(words, size=rng.integers(1, 20), p=p)) for _ in range(lines))
    path.write_text(text + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_corpus(tmp_path_factory.mktemp("corpus") / "corpus.txt", 3000)


@pytest.fixture(scope="module")
def reference(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "model"
    manifest = build_model_inmemory([str(corpus)], out, order=5, num_shards=3, cutoffs=[1, 1, 2, 2, 2])
    return out, manifest["model_id"]


def config(inputs, out, **kw):
    kw.setdefault("cutoffs", [1, 1, 2, 2, 2])
    return BuildConfig(inputs=[str(i) for i in inputs], out_dir=str(out), order=5, num_shards=3,
                       progress=False, memory=kw.pop("memory", 64 << 20), **kw)


def assert_same_model(a: Path, b: Path):
    ma = json.loads((Path(a) / "manifest.json").read_text())
    mb = json.loads((Path(b) / "manifest.json").read_text())
    assert ma["model_id"] == mb["model_id"]
    for name in sorted(os.listdir(a)):
        if name != "manifest.json":
            assert (Path(a) / name).read_bytes() == (Path(b) / name).read_bytes(), name


@pytest.mark.parametrize("workers,memory", [(1, 64 << 20), (2, 64 << 20), (2, 1 << 20)])
def test_same_model_as_inmemory(corpus, reference, tmp_path, workers, memory):
    summary = build(config([corpus], tmp_path / "m", workers=workers, memory=memory, keep_work=True))
    assert summary["model_id"] == reference[1]
    assert_same_model(tmp_path / "m", reference[0])
    runs = list((tmp_path / "m.work" / "runs").glob("*.run"))
    if memory == 1 << 20:  # a tiny budget: many chunks and spills
        assert len(runs) > 20
    assert not (tmp_path / "m.work" / "model").exists()  # renamed into place


def test_map_workers_are_replaced_every_few_tasks(corpus, reference, tmp_path, monkeypatch):
    """Workers are recycled between groups of map tasks (their heaps' fragments must not
    pile up over a long corpus); the model stays the same."""
    import builder.pipeline as pipeline
    from builder.executors import LocalExecutor

    monkeypatch.setattr(pipeline, "MAP_TASKS_PER_WORKER", 2)
    executor = LocalExecutor(2)
    pids, replaced = [], []
    real = executor.fresh_workers

    def fresh_workers():
        pids.append(sorted(p.pid for p in executor.pool._processes.values()))
        replaced.append(1)
        real()

    executor.fresh_workers = fresh_workers
    try:
        summary = build(config([corpus], tmp_path / "m", workers=2, memory=1 << 20), executor=executor)
    finally:
        executor.close()
    assert summary["model_id"] == reference[1]
    assert_same_model(tmp_path / "m", reference[0])
    assert len(replaced) >= 3  # several map groups of 4 tasks, then the reduce phase
    assert len({tuple(p) for p in pids}) == len(pids)  # new processes every time


def test_multi_pass_merge_gives_same_model(corpus, reference, tmp_path):
    """A tiny budget and many runs: every reduce merges in several passes."""
    cfg = config([corpus], tmp_path / "m", workers=2, memory=1 << 20, keep_work=True)
    summary = build(cfg)
    assert summary["model_id"] == reference[1]
    assert_same_model(tmp_path / "m", reference[0])
    plan = ReducePlan.make("", None, KeyLayout.for_vocab(summary["vocab_size"]), (), cfg.task_memory)
    runs = list((tmp_path / "m.work" / "runs").glob("*.run"))
    assert all(len(runs) > plan.fan_in(k) ** 2 for k in range(2, 6))  # at least two passes before the last
    assert not any((tmp_path / "m.work" / "merge").iterdir())  # intermediate runs are cleaned up


def test_dask_local_cluster(corpus, reference, tmp_path):
    summary = build(config([corpus], tmp_path / "m", workers=2, dask="local"))
    assert summary["executor"] == "dask"
    assert_same_model(tmp_path / "m", reference[0])
    assert not (tmp_path / "m.work").exists()


def test_compressed_inputs_give_same_model(corpus, tmp_path):
    data = corpus.read_bytes()
    half = data.index(b"\n", len(data) // 2) + 1
    d = tmp_path / "in"
    d.mkdir()
    (d / "a.gz").write_bytes(gzip.compress(data[:half]))
    (d / "b.zst").write_bytes(zstandard.ZstdCompressor().compress(data[half:]))
    (tmp_path / "c.xz").write_bytes(lzma.compress(data))
    build(config([corpus], tmp_path / "plain"))
    build(config([d], tmp_path / "dir"))  # a directory of two compressed parts
    build(config([tmp_path / "*.xz"], tmp_path / "glob"))
    assert_same_model(tmp_path / "plain", tmp_path / "dir")
    assert_same_model(tmp_path / "plain", tmp_path / "glob")


def cli(*args, **kw):
    return subprocess.run([PY, "-m", "builder.cli", *map(str, args), "--quiet"], cwd=ROOT, capture_output=True,
                          **kw)


def test_cli_stdin_and_jsonl(corpus, reference, tmp_path):
    r = cli("-", "-o", tmp_path / "m", "--shards", 3, "--min-count", "1,1,2", "--workers", 2,
            input=corpus.read_bytes())
    assert r.returncode == 0, r.stderr.decode()
    assert_same_model(tmp_path / "m", reference[0])
    jl = tmp_path / "c.jsonl"
    jl.write_text("".join(json.dumps({"id": i, "text": line}) + "\n"
                          for i, line in enumerate(corpus.read_text().splitlines())))
    r = cli(jl, "-o", tmp_path / "j", "--shards", 3, "--min-count", "1,1,2", "--jsonl-field", "text")
    assert r.returncode == 0, r.stderr.decode()
    mj = json.loads((tmp_path / "j" / "manifest.json").read_text())
    assert mj["tokenizer"]["jsonl_field"] == "text"  # so the id differs, but the shards do not
    for name in os.listdir(reference[0]):
        if name != "manifest.json":
            assert (tmp_path / "j" / name).read_bytes() == (reference[0] / name).read_bytes()


def wait_for(pred, timeout=60.0):
    t0 = time.time()
    while not pred():
        if time.time() - t0 > timeout:
            raise TimeoutError
        time.sleep(0.005)


def start_build(corpus, out, *extra):
    return subprocess.Popen([PY, "-m", "builder.cli", str(corpus), "-o", str(out), "--shards", "3",
                             "--min-count", "1,1,2", "--memory", "1M", "--quiet", *extra], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)


@pytest.fixture(scope="module")
def big_corpus(tmp_path_factory):
    return make_corpus(tmp_path_factory.mktemp("big") / "big.txt", 30000, seed=1)


@pytest.fixture(scope="module")
def big_reference(big_corpus, tmp_path_factory):
    """(model id, directory) of the big corpus's model, built without interruption."""
    out = tmp_path_factory.mktemp("bigref") / "m"
    return build(config([big_corpus], out))["model_id"], out


def test_killed_build_resumes_to_identical_model_taking_over_its_stale_lock(big_corpus, big_reference, tmp_path):
    out = tmp_path / "m"
    proc = start_build(big_corpus, out, "--workers", "2")
    wait_for(lambda: len(list((tmp_path / "m.work" / "map").glob("*.json"))) >= 2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not out.exists()  # nothing published
    # the killed build's lock is stale (its pid is dead): the resume takes it over
    assert (tmp_path / "m.work" / "build.lock").read_text().startswith(f"{proc.pid} ")
    r = cli(big_corpus, "-o", out, "--shards", 3, "--min-count", "1,1,2", "--memory", "1M", "--resume",
            "--json-summary")
    assert r.returncode == 0, r.stderr.decode()
    assert json.loads(r.stdout)["model_id"] == big_reference[0]
    assert_same_model(out, big_reference[1])


def test_killed_worker_is_a_clear_error_then_resume(big_corpus, tmp_path):
    out = tmp_path / "m"
    proc = start_build(big_corpus, out, "--workers", "2")
    wait_for(lambda: len(list((tmp_path / "m.work" / "chunks").glob("*.pkl"))) >= 2)
    workers = [int(p) for p in subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True)
               .stdout.split()]
    grandchildren = [int(p) for w in workers for p in subprocess.run(["pgrep", "-P", str(w)], capture_output=True,
                                                                     text=True).stdout.split()]
    assert grandchildren, "expected pool workers under the forkserver"
    os.kill(grandchildren[0], signal.SIGKILL)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode != 0
    assert b"worker process died" in err and b"--resume" in err
    assert not out.exists()
    r = cli(big_corpus, "-o", out, "--shards", 3, "--min-count", "1,1,2", "--memory", "1M", "--resume")
    assert r.returncode == 0, r.stderr.decode()
    assert (out / "manifest.json").exists()


def test_resume_refuses_other_options(corpus, tmp_path):
    build(config([corpus], tmp_path / "m", keep_work=True))
    with pytest.raises(BuildError, match="other options"):
        build(config([corpus], tmp_path / "m", cutoffs=[1, 1, 1, 1, 1], resume=True))


def _die():
    os.kill(os.getpid(), signal.SIGKILL)


def test_worker_death_is_a_build_error_whether_seen_at_result_or_at_submit():
    # The pool may notice the death when the next task is submitted rather than when a
    # result is read; both must give the same clear error.
    from builder.executors import LocalExecutor, run_tasks
    ex = LocalExecutor(2)
    try:
        with pytest.raises(BuildError, match="worker process died.*--resume"):
            run_tasks(ex, [(_die, ())] + [(os.getpid, ())] * 50, lambda r: None, window=2)
    finally:
        ex.close()


# --- --resume never mixes two corpora; one build per work directory (issue 11, items 4, 5)

BUILD_ARGS = ("--shards", "3", "--min-count", "1,1,2", "--memory", "1M", "--quiet")


def kill_when(proc, pred):
    try:
        wait_for(pred)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def write_keeping_mtime(path: Path, data: bytes) -> None:
    st = path.stat()
    path.write_bytes(data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_resume_with_other_stdin_is_refused_not_mixed(big_corpus, big_reference, tmp_path):
    """A build killed and resumed with other data on stdin published a mix of both."""
    out = tmp_path / "m"
    with open(big_corpus, "rb") as stdin:
        proc = subprocess.Popen([PY, "-m", "builder.cli", "-", "-o", str(out), "--workers", "2", *BUILD_ARGS],
                                cwd=ROOT, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True)
    kill_when(proc, lambda: len(list((tmp_path / "m.work" / "map").glob("*.json"))) >= 2)
    other = make_corpus(tmp_path / "other.txt", 30000, seed=7)
    r = cli("-", "-o", out, *BUILD_ARGS, "--resume", input=other.read_bytes())
    assert r.returncode == 1, r.stderr.decode()
    assert b"stdin (-) holds other data" in r.stderr and b"--resume" in r.stderr
    assert not out.exists()
    r = cli("-", "-o", out, *BUILD_ARGS, "--resume", "--json-summary", input=big_corpus.read_bytes())
    assert r.returncode == 0, r.stderr.decode()
    assert json.loads(r.stdout)["model_id"] == big_reference[0]


def test_resume_refuses_input_changed_in_place_after_vocabulary_pass(big_corpus, tmp_path):
    """Same size and mtime, other bytes, after the vocabulary pass had finished: the chunk
    hashes it recorded catch what size and mtime cannot (the old check resumed and mixed)."""
    corpus = tmp_path / "c.txt"
    shutil.copyfile(big_corpus, corpus)
    out = tmp_path / "m"
    proc = start_build(corpus, out, "--workers", "2")
    kill_when(proc, lambda: len(list((tmp_path / "m.work" / "map").glob("*.json"))) >= 2)
    original = corpus.read_bytes()
    changed = bytearray(original)
    pos = len(changed) * 3 // 4
    pos = changed.index(b"w", pos)
    changed[pos:pos + 2] = b"xx"
    write_keeping_mtime(corpus, bytes(changed))  # size and mtime as before: only the hashes tell
    r = cli(corpus, "-o", out, *BUILD_ARGS, "--resume")
    assert r.returncode == 1, r.stderr.decode()
    assert f"input {corpus} changed since the interrupted build".encode() in r.stderr
    assert not out.exists()


def test_resume_refuses_input_changed_during_vocabulary_pass(big_corpus, big_reference, tmp_path):
    """Killed while the vocabulary pass read the corpus: a reused chunk's marker must hold
    the hash of the chunk read now."""
    corpus = tmp_path / "c.txt"
    shutil.copyfile(big_corpus, corpus)
    out = tmp_path / "m"
    proc = start_build(corpus, out, "--workers", "1")
    kill_when(proc, lambda: len(list((tmp_path / "m.work" / "chunks").glob("*.pkl"))) >= 2)
    assert not (tmp_path / "m.work" / "vocab.json").exists(), "killed too late for this test"
    original = corpus.read_bytes()
    write_keeping_mtime(corpus, original.replace(b"w1 ", b"w2 ", 1))
    r = cli(corpus, "-o", out, *BUILD_ARGS, "--resume")
    assert r.returncode == 1, r.stderr.decode()
    assert f"input {corpus} changed since the interrupted build: its content from line 1".encode() in r.stderr
    r = cli(corpus, big_corpus, "-o", out, *BUILD_ARGS, "--resume")  # another list of inputs
    assert r.returncode == 1 and f"new: {big_corpus}".encode() in r.stderr, r.stderr.decode()
    corpus.write_bytes(original)
    r = cli(corpus, "-o", out, *BUILD_ARGS, "--resume", "--json-summary")
    assert r.returncode == 0, r.stderr.decode()
    assert json.loads(r.stdout)["model_id"] == big_reference[0]  # restored bytes, new mtime: resumes


def test_concurrent_build_to_same_out_fails_at_once_naming_first_pid(corpus, reference, tmp_path):
    """Two builds to one --out shared its work directory and corrupted each other."""
    out = tmp_path / "m"
    lock = tmp_path / "m.work" / "build.lock"
    first = start_build(corpus, out, "--workers", "1")
    try:
        wait_for(lambda: lock.exists() and lock.read_text().startswith(f"{first.pid} "))
        os.killpg(first.pid, signal.SIGSTOP)  # hold it mid-build
        before = sorted(p.name for p in (tmp_path / "m.work").rglob("*"))
        for extra in ((), ("--resume",)):
            r = cli(corpus, "-o", out, *BUILD_ARGS, *extra, timeout=120)
            assert r.returncode == 1, r.stderr.decode()
            assert f"another build (pid {first.pid} on ".encode() in r.stderr
        assert sorted(p.name for p in (tmp_path / "m.work").rglob("*")) == before  # left alone
    finally:
        os.killpg(first.pid, signal.SIGCONT)
    _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err.decode()
    assert_same_model(out, reference[0])
