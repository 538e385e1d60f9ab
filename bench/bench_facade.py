"""kenlm facade suite: per-call cost of ``BaseScore`` as a CTC decoder makes the calls,
ours (client.kenlm_compat, local one-shard model: a model directory in both layouts, and
the ARPA file in its default layout) against the kenlm module, alternating, in one process.

The calls: pyctcdecode decodes the utterances of tests/fixtures/pyctcdecode_expected.npz
(synthetic CTC logits of held-out sentences, beam 32) over en-dev.5 once, through a
recording facade; the recorded (state, word) sequence is then replayed against each
model, a fresh one per repetition (so our cache starts empty, as for a new decoder; for
the ARPA file a fresh facade over the one imported backend), creating an output State per
call as pyctcdecode does. "model dir (default)" is the compressed layout, "ARPA file
(default)" the decoded one (client.kenlm_compat.Config).

    .venv/bin/python bench/bench_facade.py       # needs kenlm and pyctcdecode importable

Writes bench/results/facade.json.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import SHARED, WORK, write_result  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ARPA_FILE = SHARED / "arpa" / "en-dev.5.arpa.zst"
FIXTURE = ROOT / "tests" / "fixtures" / "pyctcdecode_expected.npz"
REPS = 5


def record_calls(model_dir: Path, labels, logits, alpha, beta, beam) -> list[tuple[int, str]]:
    """pyctcdecode's BaseScore calls as (index of the input state, word); state 0 is
    <s>, 1 the null context, state i + 2 the output of call i."""
    import client.kenlm_compat as facade

    calls: list[tuple[int, str]] = []
    index: dict[int, int] = {}

    class Recording(facade.Model):
        def BeginSentenceWrite(self, state):
            super().BeginSentenceWrite(state)
            index[id(state)] = 0

        def NullContextWrite(self, state):
            super().NullContextWrite(state)
            index[id(state)] = 1

        def BaseScore(self, in_state, word, out_state):
            calls.append((index[id(in_state)], word))
            index[id(out_state)] = len(calls) + 1
            keep.append(out_state)  # ids stay unique while recording
            return super().BaseScore(in_state, word, out_state)

    keep: list = []
    facade.install()
    from pyctcdecode.alphabet import Alphabet
    from pyctcdecode.decoder import BeamSearchDecoderCTC
    from pyctcdecode.language_model import LanguageModel

    model = Recording(model_dir)
    unigrams = list(model.words())
    decoder = BeamSearchDecoderCTC(Alphabet.build_alphabet(labels),
                                   LanguageModel(model, unigrams, alpha=alpha, beta=beta))
    for lg in logits:
        decoder.decode(lg, beam_width=beam)
    return calls


def replay(model, state_cls, calls) -> float:
    """Seconds for the whole call sequence (output States created as pyctcdecode does)."""
    states = [state_cls(), state_cls()]
    model.BeginSentenceWrite(states[0])
    model.NullContextWrite(states[1])
    score = model.BaseScore
    append = states.append
    t = time.perf_counter()
    for src, word in calls:
        out = state_cls()
        score(states[src], word, out)
        append(out)
    return time.perf_counter() - t


def check_same(ours, theirs, ours_state, their_state, calls) -> float:
    """Largest |ours - kenlm| over the sequence (0.0 when bit-identical)."""
    a = [ours_state(), ours_state()]
    b = [their_state(), their_state()]
    ours.BeginSentenceWrite(a[0]), ours.NullContextWrite(a[1])
    theirs.BeginSentenceWrite(b[0]), theirs.NullContextWrite(b[1])
    worst = 0.0
    for src, word in calls:
        oa, ob = ours_state(), their_state()
        worst = max(worst, abs(ours.BaseScore(a[src], word, oa) - theirs.BaseScore(b[src], word, ob)))
        a.append(oa)
        b.append(ob)
    return worst


def main() -> None:
    import kenlm as real_kenlm  # before install(): the real module

    from ngram.arpa import import_arpa, open_compressed

    fx = np.load(FIXTURE, allow_pickle=False)
    meta = json.loads(str(fx["meta"]))
    off = fx["offsets"]
    logits = [fx["logits"][off[i]:off[i + 1]].astype(np.float32) for i in range(len(off) - 1)]
    WORK.mkdir(parents=True, exist_ok=True)
    model_dir = WORK / "facade-en-dev-exact"
    if not (model_dir / "manifest.json").exists():
        import_arpa(ARPA_FILE, model_dir, num_shards=1, quantization="none")
    plain = WORK / "en-dev.5.arpa"
    if not plain.exists():
        with open_compressed(ARPA_FILE) as src, open(str(plain) + ".tmp", "wb") as dst:
            while block := src.read(1 << 20):
                dst.write(block)
        os.replace(str(plain) + ".tmp", plain)

    calls = record_calls(model_dir, meta["labels"], logits, meta["alpha"], meta["beta"], meta["beam_width"])
    import client.kenlm_compat as facade

    theirs = real_kenlm.Model(str(plain))
    configs = {}
    for layout in ("compressed", "decoded"):
        c = facade.Config()
        c.layout = layout
        configs[layout] = c
    arpa = facade.Model(plain)  # imported once; each repetition a fresh facade over its backend
    assert arpa.layout == "decoded" and facade.Model(model_dir).layout == "compressed"
    max_diff = {k: check_same(facade.Model(model_dir, c), theirs, facade.State, real_kenlm.State, calls)
                for k, c in configs.items()}
    max_diff["ARPA file"] = check_same(arpa, theirs, facade.State, real_kenlm.State, calls)
    times: dict[str, list[float]] = {"kenlm": [], "compressed": [], "decoded": [], "ARPA file": [],
                                     "compressed, cache warm": []}
    for _ in range(REPS):  # alternating
        times["kenlm"].append(replay(theirs, real_kenlm.State, calls))
        for k, c in configs.items():
            times[k].append(replay(facade.Model(model_dir, c), facade.State, calls))
        times["ARPA file"].append(replay(facade.Model(plain, backend=arpa.backend), facade.State, calls))
        warm = facade.Model(model_dir, configs["compressed"])
        replay(warm, facade.State, calls)
        times["compressed, cache warm"].append(replay(warm, facade.State, calls))  # every pair a hit
    distinct = len(set(calls))
    per_call = {k: {"best_us": min(v) / len(calls) * 1e6, "median_us": float(np.median(v)) / len(calls) * 1e6}
                for k, v in times.items()}
    write_result("facade", {
        "model": str(ARPA_FILE), "fixture": str(FIXTURE.relative_to(ROOT)), "utterances": len(logits),
        "beam_width": meta["beam_width"], "calls": len(calls), "calls_per_utterance": len(calls) / len(logits),
        "distinct_state_word_pairs": distinct,
        "base_score_per_call": per_call,
        "ratio_over_kenlm_median": {k: per_call[k]["median_us"] / per_call["kenlm"]["median_us"]
                                    for k in ("compressed", "decoded", "ARPA file", "compressed, cache warm")},
        "max_abs_diff_from_kenlm": max_diff,
        "layouts": {"model dir (default)": "compressed", "ARPA file (default)": "decoded"},
        "how": f"one process, {REPS} alternating replays of the recorded sequence, a fresh model each",
        "load_average": os.getloadavg(),  # the machine's load when the run ended
    })


if __name__ == "__main__":
    main()
