"""Decode suite (issue 13): CTC decoding of synthetic logits for held-out sentences.

Decoders, on the same utterances and parameters (alpha, beta, beam width), in one process,
alternating chunk by chunk:
  - pyctcdecode 0.5.0 + the kenlm module (ARPA models only),
  - pyctcdecode 0.5.0 + our kenlm facade (client.kenlm_compat) on the local model (the
    facade takes backoff models only; on the counts model, `PerWordModel` below plays
    its part: one Scorer call per word),
  - our decoder (client.ctc) on the local model, and through a 4-shard local cluster
    started with `ngram cluster up`.
Models: en-dev.5 (KenLM's ARPA, imported in 4 shards) and the en-train 5-gram counts
model (4 shards; Stupid Backoff, so no kenlm column). Reported: WER against the
sentences, seconds per utterance, and how many best paths equal pyctcdecode + kenlm's.
The logits come from bench/ctc_synth.py (seeded: character runs, blanks, confusable
characters).

Run it as `make bench` does:
    make kenlm-venv      # .kenlm-venv: this project, the kenlm module and pyctcdecode
    KENLM_PYTHON=.kenlm-venv/bin/python .venv/bin/python bench/run_all.py decode
The ngram CLI (imports, `cluster up`) runs under $NGRAM_PYTHON (run_all sets it to the
project's venv); the decoders run in this process.
"""
from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import HELDOUT, SHARED, WORK, write_result  # noqa: E402
from bench.ctc_synth import LABELS, normalize_text, synthetic_logits  # noqa: E402

EN_DEV_ARPA = SHARED / "arpa" / "en-dev.5.arpa.zst"
TRAIN = SHARED / "corpus" / "en-train.txt.zst"
ALPHA, BETA = 0.5, 1.0


# The CLI's commands come from the installed package's entry points, which a venv holding
# only kenlm and our dependencies lacks: commands (import, build, cluster) run with the
# project's venv Python (NGRAM_PYTHON), the decoders in this process.
CLI_PYTHON = os.environ.get("NGRAM_PYTHON", sys.executable)


def cli(*args, **kw):
    return subprocess.run([CLI_PYTHON, "-m", "ngram.cli", *map(str, args)], check=True, **kw)


def ensure_models(work: Path) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    arpa = work / "en-dev.5.arpa"
    if not arpa.exists():
        import zstandard
        with open(EN_DEV_ARPA, "rb") as src, open(arpa.with_suffix(".tmp"), "wb") as dst:
            zstandard.ZstdDecompressor().copy_stream(src, dst)
        os.replace(arpa.with_suffix(".tmp"), arpa)
    dev = work / "en-dev5-4s"
    if not (dev / "manifest.json").exists():
        cli("import-arpa", EN_DEV_ARPA, "--out", dev, "--shards", 4, "--quantize", "none")
    train = Path(os.environ.get("DECODE_EN_TRAIN", "/tmp/decoder-en-train"))
    if not (train / "manifest.json").exists():
        cli("build", TRAIN, "--out", train, "--order", 5, "--shards", 4)
    return {"arpa": arpa, "en-dev.5": dev, "en-train": train}


def utterances(n: int, seed: int):
    lines = HELDOUT.read_text(encoding="utf-8").splitlines()
    rng = np.random.default_rng(seed)
    texts = []
    for i in rng.permutation(len(lines)):
        t = normalize_text(lines[i])
        if 20 <= len(t) <= 120:
            texts.append(t)
        if len(texts) == n:
            break
    return texts, [synthetic_logits(t, rng) for t in texts]


def wer(refs: list[str], hyps: list[str]) -> float:
    errors = words = 0
    for r, h in zip(refs, hyps):
        r, h = r.split(), h.split()
        d = np.arange(len(h) + 1)
        for i, rw in enumerate(r, 1):
            prev, d = d, np.empty_like(d)
            d[0] = i
            for j, hw in enumerate(h, 1):
                d[j] = min(prev[j] + 1, d[j - 1] + 1, prev[j - 1] + (rw != hw))
        errors += int(d[-1])
        words += len(r)
    return errors / max(words, 1)


def pyctc_decoder(model, unigrams, kenlm_module):
    import pyctcdecode.language_model as plm
    from pyctcdecode.alphabet import Alphabet
    from pyctcdecode.decoder import BeamSearchDecoderCTC
    plm.kenlm = kenlm_module  # the module its states come from
    lm = plm.LanguageModel(model, unigrams, alpha=ALPHA, beta=BETA)
    return BeamSearchDecoderCTC(Alphabet.build_alphabet(LABELS), lm)


class PerWordModel:
    """What pyctcdecode needs of a kenlm.Model, answered one word per call by our Scorer
    (no cache): the per-word baseline on a counts model, which neither kenlm nor the
    facade (backoff models only) can load."""

    class State:
        __slots__ = ("words",)

        def __init__(self):
            self.words = ()

    def __init__(self, client):
        self.client = client
        self.order = client.order
        self._ids = {client.vocab.word(i): i for i in range(len(client.vocab))}
        self._ctx = np.zeros((1, max(self.order - 1, 1)), np.int32)

    def __contains__(self, word) -> bool:
        return self._ids.get(word, 0) != 0

    def BeginSentenceWrite(self, state) -> None:
        state.words = (1,)

    def NullContextWrite(self, state) -> None:
        state.words = ()

    def BaseScore(self, state, word, out) -> float:
        ctx = state.words[max(0, len(state.words) - (self.order - 1)):]
        self._ctx[0, :len(ctx)] = ctx
        wid = self._ids.get(word, 0)
        log10, _ = self.client.scorer.score_pairs(self._ctx, np.array([len(ctx)]), np.array([wid]))
        out.words = (ctx + (wid,))[-(self.order - 1):]
        return float(log10[0])


def run_model(name: str, model_dir: Path, arpa: Path | None, texts, logits, args) -> dict:
    import kenlm
    import pyctcdecode.language_model as plm
    import client.kenlm_compat as facade
    from client.client import Client
    from client.ctc import build_ctcdecoder

    cluster_file = WORK / f"decode-{name}-cluster.json"
    cli("cluster", "up", model_dir, "--cluster-file", cluster_file, "--no-metrics")
    try:
        t = time.perf_counter()
        ours_local = build_ctcdecoder(LABELS, Client.open(model_dir), alpha=ALPHA, beta=BETA)
        setup = {"ours_local": time.perf_counter() - t}
        t = time.perf_counter()
        ours_remote = build_ctcdecoder(LABELS, Client.open(cluster_file), alpha=ALPHA, beta=BETA)
        setup["ours_cluster"] = time.perf_counter() - t
        unigrams = ours_local.unigrams
        decoders = {}
        if arpa is not None:
            t = time.perf_counter()
            decoders["pyctcdecode+kenlm"] = (pyctc_decoder(kenlm.Model(str(arpa)), unigrams, kenlm), kenlm)
            setup["pyctcdecode+kenlm"] = time.perf_counter() - t
        t = time.perf_counter()
        if arpa is not None:
            decoders["pyctcdecode+facade"] = (pyctc_decoder(facade.Model(str(model_dir)), unigrams, facade), facade)
            setup["pyctcdecode+facade"] = time.perf_counter() - t
        else:
            per_word = PerWordModel(Client.open(model_dir))
            decoders["pyctcdecode+per_word"] = (pyctc_decoder(per_word, unigrams, per_word), per_word)
            setup["pyctcdecode+per_word"] = time.perf_counter() - t
        decoders["ours_local"] = (ours_local, None)
        decoders["ours_cluster_4"] = (ours_remote, None)
        for k, (dec, module) in decoders.items():  # warm up: numba compiles, first-use caches
            if module is not None:
                plm.kenlm = module
                dec.decode(logits[0][:5], beam_width=args.beam_width)
            else:
                dec.decode_batch(None, [logits[0][:5]], beam_width=args.beam_width)
        out = {k: [] for k in decoders}
        secs = {k: 0.0 for k in decoders}
        for lo in range(0, len(texts), args.chunk):  # alternate, chunk by chunk
            chunk = logits[lo:lo + args.chunk]
            for k, (dec, module) in decoders.items():
                t = time.perf_counter()
                if module is not None:
                    plm.kenlm = module
                    got = [dec.decode(x, beam_width=args.beam_width) for x in chunk]
                else:
                    got = dec.decode_batch(None, chunk, beam_width=args.beam_width)
                secs[k] += time.perf_counter() - t
                out[k].extend(got)
        base = out[next(iter(decoders))]
        rows = {k: {"wer": round(wer(texts, v), 4), "s_per_utterance": round(secs[k] / len(texts), 4),
                    "same_best_path_as_pyctcdecode": sum(a == b for a, b in zip(v, base))}
                for k, v in out.items()}
        rows["ours_local"]["lm_rounds"] = ours_local.engine.rounds
        rows["ours_cluster_4"]["lm_rounds"] = ours_remote.engine.rounds
        ours_local.close()
        ours_remote.close()
        return {"decoders": rows, "setup_s": {k: round(v, 2) for k, v in setup.items()},
                "same_best_path_compared_to": next(iter(decoders))}
    finally:
        cli("cluster", "down", "--cluster-file", cluster_file)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--utterances", type=int, default=48)
    ap.add_argument("--chunk", type=int, default=16, help="utterances per turn (ours: one decode_batch)")
    ap.add_argument("--beam-width", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--models", default="en-dev.5,en-train")
    args = ap.parse_args()
    logging.disable(logging.WARNING)
    models = ensure_models(WORK / "decode")
    texts, logits = utterances(args.utterances, args.seed)
    results = {}
    for name in args.models.split(","):
        results[name] = run_model(name, models[name], models["arpa"] if name == "en-dev.5" else None,
                                  texts, logits, args)
    write_result("decode", {
        "utterances": len(texts), "frames_per_utterance": round(float(np.mean([len(x) for x in logits])), 1),
        "beam_width": args.beam_width, "alpha": ALPHA, "beta": BETA, "chunk": args.chunk,
        "noise": "bench/ctc_synth.py: runs of 1-3 frames, 0-2 blanks, confusable label 25% of frames",
        "load_average": os.getloadavg(), "models": results,
    })


if __name__ == "__main__":
    main()
