"""Seeded random corruptions of small models (headers, layout tables, every array, the
vocabulary, the manifest), each opened and queried in a child process
(tests/corruption_harness.py): with verification off a child ends with an answer or an
NgramError, never a signal or another exception; with verification on (the default) no
answer is wrong. Both layouts, counts and backoff models. bench/bench_reliability.py
runs thousands of the same trials.

Regressions: a vocabulary index entry past the word count made the tokenizer read
outside the mapping (SIGSEGV); the seeds in CRASHED_BEFORE crashed the lookup kernels."""
from __future__ import annotations

import collections
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import corruption_harness as H

TRIALS = 320  # about 20-40 s on the 2-core test machine
SEED0 = 20261203


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    out = tmp_path_factory.mktemp("fuzz-models")
    H.build_models(out, lines=600)
    return out


def _bad(results):
    return [r for r in results if r["outcome"] in ("crash", "timeout", "exception")
            or (r["outcome"] == "wrong" and r["verify"])]


def test_random_corruptions_never_crash_and_verified_opens_never_answer_wrong(pristine):
    results = H.run_trials(pristine, H.make_trials(TRIALS, SEED0), timeout_s=600)
    assert len(results) == TRIALS
    bad = _bad(results)
    assert not bad, "\n".join(json.dumps({k: r.get(k) for k in ("seed", "model", "layout", "verify", "file",
                                                               "target", "kind", "detail", "outcome", "message")})
                              for r in bad[:10])
    outcomes = collections.Counter(r["outcome"] for r in results)
    # the trials reach every stage: refused at open, answered right and answered wrong
    # (only with verification off), over every model, layout and damaged part
    assert outcomes["refused"] and outcomes["correct"] and outcomes["wrong"]
    assert {r["model"] for r in results} == set(H.MODELS)
    assert {r["target"] for r in results} == set(H.TARGETS)


def _with_word(model_dir: Path, name: str, array: str, index: int, value: int, dtype) -> None:
    """Overwrites element `index` of `array` in file `name` (the checksums now disagree)."""
    from ngram.format import open_container
    path = model_dir / name
    c = open_container(path, b"VOC1" if name == "vocab.bin" else b"SHD1")
    offset = c.header["arrays"][array]["offset"] + index * np.dtype(dtype).itemsize
    c.close()
    data = bytearray(path.read_bytes())
    data[offset:offset + np.dtype(dtype).itemsize] = np.array([value], dtype).tobytes()
    tmp = path.with_name(path.name + ".new")
    tmp.write_bytes(bytes(data))
    tmp.replace(path)


def _run_probe(model_dir: Path, layout: str, text: Path, timeout: float = 300) -> dict:
    """Opens without verification and queries in a child: its exit code and stderr."""
    code = (f"import corruption_harness as H, json; from pathlib import Path; from ngram.model import Model; "
            f"m = Model.open({str(model_dir)!r}, verify=False, layout={layout!r}); "
            f"text = Path({str(text)!r}).read_bytes()[:4000]; "
            f"a = H.answers(m, text, text.split(b'\\n')[:5]); print(json.dumps(sorted(a)))")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(H.ROOT), str(H.HERE)]))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, env=env,
                       cwd=str(text.parent))
    return {"returncode": r.returncode, "stderr": r.stderr[-2000:], "stdout": r.stdout}


def test_vocabulary_index_entry_past_the_words_does_not_crash_the_tokenizer(pristine, tmp_path):
    model = tmp_path / "backoff-q8"
    shutil.copytree(pristine / "backoff-q8", model)
    from ngram.vocab import Vocabulary
    vocab = Vocabulary.open(model / "vocab.bin")
    ids, _ = vocab.encode_lines((pristine / "text.txt").read_bytes()[:4000])
    table = np.asarray(vocab.table)
    slots = [int(np.flatnonzero(table == i + 1)[0]) for i in np.unique(ids)[:40]]  # words the probe looks up
    for slot in slots:
        _with_word(model, "vocab.bin", "index", slot, 0xFFFFFFFF, np.uint32)
    r = _run_probe(model, "compressed", pristine / "text.txt")
    assert r["returncode"] == 0, r["stderr"]


# seeds whose corruption crashed the code before the fix (SIGSEGV; the models of
# build_models(lines=600)): a vocabulary word of all ones (124, 1128), seven random bytes
# in a backoff shard read by the decoded layout (794), a layout table cell set to 1 (1116)
CRASHED_BEFORE = [124, 794, 1116, 1128]


def test_seeds_that_crashed_before_the_fix_end_with_an_answer_or_an_error(pristine):
    trials = [H.Trial(seed, *H.combo(seed)) for seed in CRASHED_BEFORE]
    results = H.run_trials(pristine, trials, timeout_s=600)
    assert [r["outcome"] for r in results if r["outcome"] not in ("refused", "error", "correct", "wrong")] == []


@pytest.mark.parametrize("layout", ["compressed", "decoded"])
def test_select_samples_read_from_the_wrong_words_do_not_stall_the_lookup(pristine, tmp_path, layout):
    # a flipped bit in a layout offset made every select start from an arbitrary word (a
    # negative position): the scan that followed ran for minutes
    model = tmp_path / "backoff-q8"
    shutil.copytree(pristine / "backoff-q8", model)
    from ngram.format import open_container
    from ngram.kernels import layout as LY
    name = "shard-00000-of-00001.bin"
    c = open_container(model / name, b"SHD1")
    lay = np.array(c.arrays["layout"])
    c.close()
    for k in range(2, len(lay)):
        _with_word(model, name, "layout", k * LY.FIELDS + LY.EF_DIR, int(lay[k, LY.EF_DIR]) + 1024, np.int64)
    r = _run_probe(model, layout, pristine / "text.txt", timeout=120)
    assert r["returncode"] == 0, r["stderr"]
