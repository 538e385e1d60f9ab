"""Seeded corruptions of real model directories, run in child processes.

Shared by tests/test_corruption_fuzz.py (a few hundred trials, in `make test`) and
bench/bench_reliability.py (thousands). A trial damages one file of a pristine model
(a bit flip, a run of random bytes, or an extreme value written over one array
element), opens the model with or without verification, in either table layout, and
queries it: batched lookups, the vocabulary's tokenizer and, for the one-shard backoff
model, the sentence kernels. Its outcome is one of

    refused   an NgramError at open (a corrupt file refused)
    error     an NgramError while querying
    correct   every answer equals the pristine model's
    wrong     some answer differs (allowed only with verification off)
    exception any other Python exception (a bug: corrupt input must give an NgramError)
    crash     the child died on a signal (the trial that was running is named)

Trials run many to a child process; the child announces each trial before it runs it,
so a crash is attributed to its seed and the remaining trials go to a new child.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

# counts models: context-coded value columns forced on and off (both code paths), two
# shards; the backoff model has one shard so the sentence kernels run on it too
MODELS = {
    "counts-ctx": dict(kind="counts", order=4, shards=2, value_context="always"),
    "counts-plain": dict(kind="counts", order=3, shards=1, value_context="never"),
    "backoff-q8": dict(kind="backoff", order=4, shards=1, quantization="8"),
    "backoff-exact": dict(kind="backoff", order=3, shards=2, quantization="none"),
    # shard format v1 (still read; docs/FORMAT_V2.md): the others are written in v2
    "counts-v1": dict(kind="counts", order=3, shards=2, value_context="auto", format_version=1),
}
TARGETS = ("header", "layout", "data", "vocab", "manifest", "any")
KINDS = ("flip", "bytes", "extreme")


@dataclass
class Trial:
    seed: int
    model: str
    layout: str
    verify: bool


def build_models(out: Path, lines: int = 1500) -> dict[str, Path]:
    """The pristine models of MODELS under `out` (built once; kept if already there)."""
    sys.path.insert(0, str(HERE))
    from reference_builder import build_model_inmemory
    from sample_corpus import sample_text

    out.mkdir(parents=True, exist_ok=True)
    text = sample_text(lines)
    (out / "text.txt").write_bytes(text)
    paths = {}
    for name, cfg in MODELS.items():
        path = out / name
        paths[name] = path
        if (path / "manifest.json").exists():
            continue
        if cfg["kind"] == "counts" and cfg.get("format_version", 2) == 1:
            from ngram.convert import convert_model
            v2_dir = out / f".{name}-v2"
            build_model_inmemory(text, v2_dir, order=cfg["order"], num_shards=cfg["shards"],
                                 value_context=cfg["value_context"])
            convert_model(v2_dir, path, version=1)
            shutil.rmtree(v2_dir)
        elif cfg["kind"] == "counts":
            build_model_inmemory(text, path, order=cfg["order"], num_shards=cfg["shards"],
                                 value_context=cfg["value_context"])
        else:
            counts_dir = out / f".{name}-counts"
            build_model_inmemory(text, counts_dir, order=cfg["order"], num_shards=cfg["shards"])
            _backoff_from_counts(counts_dir, path, cfg["quantization"])
            shutil.rmtree(counts_dir)
    return paths


def _backoff_from_counts(counts_dir: Path, out: Path, quantization: str) -> None:
    """A backoff model over the same n-grams: prob = log10 of a smoothed relative count,
    backoff = a function of the count (the values need not be a proper model, only
    varied, and some blank (NaN) nodes are kept so that path is exercised)."""
    from ngram.model import Model
    from ngram.shard import raw_to_columns
    from ngram.writer import Level, ModelWriter, ShardSpec

    src = Model.open(counts_dir)
    spec = ShardSpec(order=src.order, num_shards=src.num_shards, value_kind="backoff", quantization=quantization)
    total = float(src.vocab.counts.sum())

    def values(counts):
        c = counts.astype(np.float64)
        prob = np.log10((c + 0.5) / total).astype(np.float32)
        backoff = np.where(c > 1, -np.log10(np.maximum(c, 1)) / 3, 0.0).astype(np.float32)
        return prob, backoff

    writer = ModelWriter(out, spec, src.vocab)
    for s, table in src.shards.items():
        uni, levels = table.decode()
        lv = []
        for grams, raw in levels:
            prob, backoff = values(raw_to_columns(raw, "counts")["counts"])
            prob[::37] = np.nan  # blank nodes
            lv.append(Level(grams, prob=prob, backoff=backoff))
        uprob, uback = values(uni[:, 0])
        writer.write_shard(s, lv, unigram_prob=uprob, unigram_backoff=uback)
    writer.commit({"provenance": {"tool": "tests/corruption_harness.py"}})
    src.close()


# ----------------------------------------------------------------------------- corruption

def _regions(model_dir: Path, target: str, rng) -> tuple[str, int, int]:
    """(file name, start, end) of the byte range a trial damages."""
    from ngram.format import FIXED_SIZE, open_container

    shards = sorted(p.name for p in model_dir.glob("shard-*.bin"))
    if target == "manifest":
        name = "manifest.json"
        return name, 0, (model_dir / name).stat().st_size
    if target == "any":
        name = str(rng.choice(shards + ["vocab.bin"]))
        return name, 0, (model_dir / name).stat().st_size
    name = "vocab.bin" if target == "vocab" else str(rng.choice(shards))
    c = open_container(model_dir / name, b"VOC1" if name == "vocab.bin" else b"SHD1")
    try:
        if target == "header":
            return name, 0, FIXED_SIZE + len(json.dumps(c.header))
        if target == "vocab":
            array = str(rng.choice(sorted(c.arrays)))
        else:
            array = target
        e = c.header["arrays"][array]
        nbytes = c.arrays[array].nbytes
        return name, e["offset"], e["offset"] + max(nbytes, 1)
    finally:
        c.close()


def corrupt(model_dir: Path, seed: int) -> dict:
    """Damages one file of `model_dir` in place (a new inode: open mmaps keep the old
    bytes). Returns what was done."""
    rng = np.random.default_rng(seed)
    target = str(rng.choice(TARGETS))
    kind = str(rng.choice(KINDS))
    name, start, end = _regions(model_dir, target, rng)
    path = model_dir / name
    data = bytearray(path.read_bytes())
    end = min(end, len(data))
    if target == "manifest" and rng.random() < 0.6:
        detail = _edit_manifest(data, rng)
    elif kind == "flip":
        i = int(rng.integers(start, end))
        data[i] ^= 1 << int(rng.integers(8))
        detail = f"bit at {i}"
    elif kind == "bytes":
        n = int(rng.integers(1, 9))
        i = int(rng.integers(start, max(start + 1, end - n)))
        data[i:i + n] = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        detail = f"{n} bytes at {i}"
    else:  # an extreme value over one aligned 8-byte word
        i = start + (int(rng.integers(start, max(start + 1, end - 8))) - start) // 8 * 8
        choices = [0, 1, 2**31 - 1, 2**32, 2**62, 2**63 - 1, 2**64 - 1, 2**63, 63, 64, 255]
        value = choices[int(rng.integers(len(choices)))]
        data[i:i + 8] = value.to_bytes(8, "little")
        detail = f"word {value:#x} at {i}"
    tmp = path.with_name(path.name + ".fuzz")
    tmp.write_bytes(bytes(data))
    os.replace(tmp, path)
    return {"file": name, "target": target, "kind": kind, "detail": detail}


def _edit_manifest(data: bytearray, rng) -> str:
    """A consistent (model id recomputed) manifest with one fact changed."""
    from ngram.manifest import model_id_of

    m = json.loads(bytes(data))
    key = str(rng.choice(["order", "vocab_size", "num_shards", "value_kind", "sharding", "files", "ngrams",
                          "quantization", "format"]))
    choices = [0, -1, 1, 2, 3, 17, 2**40, "x", None, [], {}, 1.5, True]
    value = choices[int(rng.integers(len(choices)))]
    if key == "files" and isinstance(m.get("files"), dict) and m["files"]:
        f = str(rng.choice(sorted(m["files"])))
        if rng.random() < 0.5:
            m["files"][f]["bytes"] = value
        else:
            m["files"].pop(f)
        key = f"files.{f}"
    elif key == "sharding":
        m["sharding"]["seed" if rng.random() < 0.5 else "name"] = value
    else:
        m[key] = value
    m["model_id"] = model_id_of(m)
    data[:] = json.dumps(m).encode()
    return f"manifest {key} = {value!r}"


# ----------------------------------------------------------------------------- queries

def _queries(model, text: bytes):
    """(tokens of `text`, ids [B, N], lengths [B]): every window of the text up to the
    model's order, plus random ids."""
    ids, offsets = model.vocab.encode_lines(text)
    order = model.order
    rows = []
    for s in range(len(offsets) - 1):
        sent = ids[offsets[s]:offsets[s + 1]]
        for end in range(1, len(sent) + 1):
            g = sent[max(0, end - order):end]
            rows.append(list(g) + [0] * (order - len(g)))
    rng = np.random.default_rng(0)
    V = len(model.vocab)
    for _ in range(200):
        n = int(rng.integers(1, order + 1))
        rows.append(list(rng.integers(0, V, n)) + [0] * (order - n))
    grid = np.array(rows, np.int32)
    lengths = np.array([max(1, int(np.count_nonzero(np.cumsum(r[::-1] != 0)))) for r in grid], np.int32)
    lengths = np.minimum(np.maximum(lengths, 1), order)
    return ids, grid, lengths


def answers(model, text: bytes, sentences: list[bytes]) -> dict[str, np.ndarray]:
    """Everything a trial compares: tokenization, batched lookups (sorted and small
    batches) and, for a one-shard backoff model, the sentence kernels."""
    tokens, grid, lengths = _queries(model, text)
    out = {"tokens": tokens}
    chains = model.lookup(grid, lengths, check=False)
    for k, v in chains.arrays().items():
        out[f"batch.{k}"] = np.asarray(v)
    small = model.lookup(grid[:100], lengths[:100], check=False)
    for k, v in small.arrays().items():
        out[f"small.{k}"] = np.asarray(v)
    if model.value_kind == "backoff" and model.num_shards == 1:
        from ngram.kernels.sentence import BOS_FLAG, EOS_FLAG, sentence_compressed, sentence_decoded
        t = model.shards[0]
        packed = model.vocab.packed()
        probs, lens = [], []
        for s in sentences:
            buf_p, buf_l, buf_o = np.zeros(512, np.float64), np.zeros(512, np.int32), np.zeros(512, np.bool_)
            if t.decoded is not None:
                n = sentence_decoded(*t.decoded.args, packed, s, BOS_FLAG | EOS_FLAG, buf_p, buf_l, buf_o)
            else:
                n = sentence_compressed(t.data, t.layout, packed, s, BOS_FLAG | EOS_FLAG, buf_p, buf_l, buf_o)
            probs.append(buf_p[:max(n, 0)])
            lens.append(buf_l[:max(n, 0)])
        out["sentence.prob"] = np.concatenate(probs)
        out["sentence.len"] = np.concatenate(lens)
    return out


def same_answers(a: dict, b: dict) -> bool:
    if a.keys() != b.keys():
        return False
    for k in a:
        x, y = a[k], b[k]
        if x.shape != y.shape or not np.array_equal(x, y, equal_nan=x.dtype.kind == "f"):
            return False
    return True


# ----------------------------------------------------------------------------- child

def _run_trial(trial: Trial, pristine: Path, work: Path, text: bytes, sentences, reference) -> dict:
    from ngram.errors import NgramError
    from ngram.model import Model

    model_dir = work / trial.model
    if model_dir.exists():
        shutil.rmtree(model_dir)
    shutil.copytree(pristine / trial.model, model_dir)
    info = corrupt(model_dir, trial.seed)
    try:
        model = Model.open(model_dir, verify=trial.verify, layout=trial.layout)
    except NgramError as e:
        return dict(info, outcome="refused", message=str(e)[-200:])
    except Exception as e:
        return dict(info, outcome="exception", message=f"open: {type(e).__name__}: {e}"[-300:],
                    trace=traceback.format_exc()[-1500:])
    try:
        got = answers(model, text, sentences)
    except NgramError as e:
        return dict(info, outcome="error", message=str(e)[-200:])
    except Exception as e:
        return dict(info, outcome="exception", message=f"query: {type(e).__name__}: {e}"[-300:],
                    trace=traceback.format_exc()[-1500:])
    finally:
        model.close()
    return dict(info, outcome="correct" if same_answers(got, reference[trial.model]) else "wrong")


def child_main() -> None:
    """Reads {pristine, trials} as JSON on stdin; prints one JSON line per event."""
    spec = json.load(sys.stdin)
    pristine = Path(spec["pristine"])
    text = (pristine / "text.txt").read_bytes()
    lines = [l for l in text.split(b"\n") if l.strip()]
    sample = text[:6000]
    sentences = lines[:12] + [b"", b"zzqx unknown words here", b" ".join(lines[:30])[:3000]]
    from ngram.model import Model
    reference = {}
    for name in MODELS:
        for layout in ("compressed", "decoded"):
            m = Model.open(pristine / name, layout=layout)
            reference_here = answers(m, sample, sentences)
            m.close()
            if name in reference and not same_answers(reference[name], reference_here):
                raise AssertionError(f"{name}: the two layouts disagree on the pristine model")
            reference[name] = reference_here
    with tempfile.TemporaryDirectory(prefix="ngram-fuzz-") as work:
        for t in spec["trials"]:
            trial = Trial(**t)
            print(json.dumps({"start": t}), flush=True)
            result = _run_trial(trial, pristine, Path(work), sample, sentences, reference)
            print(json.dumps({"done": dict(asdict(trial), **result)}), flush=True)


# ----------------------------------------------------------------------------- parent

def run_trials(pristine: Path, trials: list[Trial], timeout_s: float = 600.0,
               python: str = sys.executable, code_root: Path = ROOT) -> list[dict]:
    """Runs every trial in as few child processes as crashes allow; returns one result
    per trial (a crashed or timed-out trial gets outcome crash / timeout). The children
    import the `ngram` package of `code_root` (another checkout, to compare versions)."""
    pending = [asdict(t) for t in trials]
    results = []
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(code_root), str(HERE)])
    while pending:
        try:
            proc = subprocess.run([python, "-c", "import corruption_harness as h; h.child_main()"],
                                  input=json.dumps({"pristine": str(pristine), "trials": pending}),
                                  capture_output=True, text=True, timeout=timeout_s, env=env, cwd=str(code_root))
            stdout, stderr, code = proc.stdout, proc.stderr, proc.returncode
        except subprocess.TimeoutExpired as e:  # a hung trial: the one that was running
            out = e.stdout or b""
            stdout = out.decode() if isinstance(out, bytes) else out
            stderr, code = f"timed out after {timeout_s} s", None
        started = None
        finished = set()
        for line in stdout.splitlines():
            if not line.startswith("{"):
                continue
            event = json.loads(line)
            if "start" in event:
                started = event["start"]
            elif "done" in event:
                results.append(event["done"])
                finished.add(event["done"]["seed"])
                started = None
        if code == 0 and started is None:
            break
        if code is None and started is None and finished:  # the child's time ran out between trials
            pending = [t for t in pending if t["seed"] not in finished]
            continue
        if started is None or (code is not None and code > 0):  # the harness failed, not a trial
            raise RuntimeError(f"fuzz child exited {code} (trial {started}):\n{stderr[-3000:]}")
        results.append(dict(started, **describe(pristine, Trial(**started)),
                            outcome="crash" if code is not None else "timeout", message=f"exit {code}: {stderr[-500:]}"))
        finished.add(started["seed"])
        pending = [t for t in pending if t["seed"] not in finished]
    return results


def describe(pristine: Path, trial: Trial) -> dict:
    """What trial's corruption was (it is deterministic): for a trial whose child died."""
    with tempfile.TemporaryDirectory(prefix="ngram-fuzz-") as work:
        model_dir = Path(work) / trial.model
        shutil.copytree(pristine / trial.model, model_dir)
        return corrupt(model_dir, trial.seed)


_COMBOS = [(m, lay, v) for m in MODELS for lay in ("compressed", "decoded") for v in (False, True)]


def combo(seed: int) -> tuple[str, str, bool]:
    """The (model, layout, verify) a seed's trial uses."""
    return _COMBOS[seed % len(_COMBOS)]


def make_trials(n: int, first_seed: int = 0) -> list[Trial]:
    """n trials, seeds first_seed..; the seed picks the model, layout and verification."""
    return [Trial(seed, *combo(seed)) for seed in range(first_seed, first_seed + n)]
