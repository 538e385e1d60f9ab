"""`python -m client.demo MODEL_DIR`: the batched client end to end on a local cluster.

Starts servers with `cluster up` (the CLI, in a subprocess: client/ never imports
shard_server/), runs one deduplicated decoder round and a few pipelined rounds over
LookupStream, scores sentences through the cluster, checks every remote answer against
the model opened locally, and always stops the cluster (`cluster down`), even on error.
Exit status 0 when remote == local everywhere, 1 on a mismatch.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from client.client import Client

DEFAULT_SENTENCES = ["the cat sat on the mat", "it is a truth universally acknowledged",
                     "this is not a sentence of the corpus"]
# spelling correction through the cluster (client/spelling): typos, a split, a real-word error
SPELL_SENTENCES = ["the kinf of the land", "he went out form the house", "and the peple said unto him",
                   "it was in thebeginning"]
CLI_TIMEOUT = 120.0  # seconds for one `cluster` command (its own health wait is shorter)


def _cluster_cli(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    root = str(Path(__file__).resolve().parent.parent)
    return subprocess.run([sys.executable, "-m", "shard_server", "cluster", *args], cwd=root,
                          capture_output=True, text=True, timeout=CLI_TIMEOUT, check=check)


def _decoder_round(vocab_size: int, order: int, pairs: int, rng: np.random.Generator):
    """Many hypotheses over few contexts and words, as a beam-search step produces."""
    top = max(4, min(vocab_size, 300))
    contexts = rng.integers(3, top, (64, max(order - 1, 1))).astype(np.int32)
    pick = rng.integers(0, 64, pairs)
    ctx = contexts[pick]
    clen = rng.integers(0, order, pairs).astype(np.int32)
    words = rng.integers(3, top, 200).astype(np.int32)[rng.integers(0, 200, pairs)]
    return ctx, clen, words


def _score(remote: Client, local: Client, sentences: list[str], out) -> bool:
    """Per-sentence scores (and perplexity) through the cluster; True if they equal local."""
    if importlib.util.find_spec("ngram.scoring") is not None:
        got, want = remote.score_sentences(sentences), local.score_sentences(sentences)
        ok = True
        for s, g, w in zip(sentences, got, want):
            ok &= bool(np.allclose(np.asarray(g), np.asarray(w)))  # per-word log10
            out(f"  log10 {g.total:9.3f}  {s}")
        ppl, ppl_local = remote.perplexity(sentences), local.perplexity(sentences)
        shown = {k: v for k, v in ppl.items() if isinstance(v, (int, float))}
        out("  perplexity: " + ", ".join(f"{k}={v:.4g}" for k, v in shown.items()))
        return ok and all(np.isclose(v, ppl_local[k]) for k, v in shown.items())
    # No scorer in the core yet: show the raw material, the counts of each position's n-gram.
    out("  (ngram.scoring not available: counts of each word's longest n-gram instead)")
    ok, n = True, remote.order
    for s in sentences:
        toks = ["<s>", *s.split(), "</s>"]
        grams = [" ".join(toks[max(0, i - n + 1):i + 1]) for i in range(1, len(toks))]
        counts = remote.count(grams)
        ok &= bool(np.array_equal(counts, local.count(grams)))
        out(f"  counts {counts.tolist()}  {s}")
    return ok


def _demo(cluster_path: Path, model_dir: Path, sentences: list[str], pairs: int, out) -> bool:
    with Client.open(cluster_path) as remote, Client.open(model_dir) as local:
        rng = np.random.default_rng(0)
        ctx, clen, words = _decoder_round(len(remote.vocab), remote.order, pairs, rng)
        remote.lookup_round(ctx, clen, words)  # warm the channels, so the timing is a round's
        t0 = time.perf_counter()
        got = remote.lookup_round(ctx, clen, words)
        ms = (time.perf_counter() - t0) * 1e3
        ok = got.equals(local.lookup_round(ctx, clen, words))
        out(f"decoder round: {pairs} pairs -> {remote.last_round_unique} unique lookups, "
            f"one RPC per shard ({remote.backend.num_shards} shards), {ms:.1f} ms")
        rounds = [_decoder_round(len(remote.vocab), remote.order, pairs // 8 or 1, rng)
                  for _ in range(8)]
        t0 = time.perf_counter()
        with remote.stream_rounds(max_inflight=4) as rs:
            futs = [rs.submit_pairs(*r) for r in rounds]
            streamed = [f.result() for f in futs]
        ms = (time.perf_counter() - t0) * 1e3
        ok &= all(s.equals(local.lookup_round(*r)) for s, r in zip(streamed, rounds))
        out(f"pipelined: {len(rounds)} rounds over LookupStream (4 in flight), {ms:.1f} ms")
        out(f"scoring {len(sentences)} sentence(s) through the cluster:")
        ok &= _score(remote, local, sentences, out)
    out("remote == local: " + ("OK" if ok else "MISMATCH"))
    return ok


def _spell_demo(cluster_path: Path, model_dir: Path, out) -> bool:
    """Corrects SPELL_SENTENCES through the cluster; True if the local model agrees."""
    from client.spelling.speller import Speller
    out("spelling correction through the cluster:")
    with Speller(cluster_path) as remote, Speller(model_dir) as local:
        got, want = remote.correct(SPELL_SENTENCES), local.correct(SPELL_SENTENCES)
    for c in got:
        fixes = ", ".join(f"{ch.original!r}->{ch.replacement!r} ({ch.confidence:.2f})" for ch in c.changes)
        out(f"  {c.text}  =>  {c.corrected}   [{fixes or 'no change'}]")
    return got == want


def run(model_dir, *, sentences: list[str] | None = None, pairs: int = 20000,
        replicas: int = 1, workdir=None, out=print) -> int:
    model_dir = Path(model_dir).resolve()
    workdir = Path(workdir or tempfile.mkdtemp(prefix="ngram-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    cluster_path = workdir / "cluster.json"
    try:
        _cluster_cli("up", str(model_dir), "--cluster-file", str(cluster_path), "--no-metrics",
                     "--replicas", str(replicas), "--timeout", "60")
        servers = json.loads(cluster_path.read_text()).get("servers", [])
        out(f"cluster up: {len(servers)} server(s), pids "
            f"{','.join(str(s['pid']) for s in servers)}; cluster file {cluster_path}")
        status = _cluster_cli("status", "--cluster-file", str(cluster_path), check=False)
        out(status.stdout.rstrip())
        if status.returncode:
            raise RuntimeError("cluster status reports an unhealthy server")
        ok = _demo(cluster_path, model_dir, sentences or DEFAULT_SENTENCES, pairs, out)
        ok &= _spell_demo(cluster_path, model_dir, out)
        return 0 if ok else 1
    except subprocess.CalledProcessError as e:
        raise RuntimeError(f"`cluster {e.cmd[4]}` failed: {e.stderr.strip()}") from e
    finally:
        if cluster_path.exists():
            down = _cluster_cli("down", "--cluster-file", str(cluster_path), "--grace", "10",
                                check=False)
            out(down.stdout.strip() or down.stderr.strip())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m client.demo", description=__doc__.split("\n")[0])
    ap.add_argument("model_dir")
    ap.add_argument("-s", "--sentence", action="append", help="a sentence to score (repeatable)")
    ap.add_argument("--pairs", type=int, default=20000, help="(context, word) pairs in the round")
    ap.add_argument("--replicas", type=int, default=1)
    ap.add_argument("--workdir", help="where the cluster file and server logs go")
    a = ap.parse_args(argv)
    return run(a.model_dir, sentences=a.sentence, pairs=a.pairs, replicas=a.replicas,
               workdir=a.workdir)


if __name__ == "__main__":
    sys.exit(main())
