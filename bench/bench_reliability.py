"""Reliability suite (issue 11): thousands of seeded corruptions of small models, each
opened and queried in a child process (tests/corruption_harness.py; the test suite runs
a few hundred of the same trials).

A trial damages one file (a header, a layout table, any array of a shard or of the
vocabulary, the manifest) with a bit flip, random bytes or an extreme value, opens the
model with or without verification, in the compressed or decoded layout, and queries it
(batched lookups, the tokenizer, the sentence kernels of a one-shard backoff model).
Counts per outcome: crashes (a signal), timeouts, other exceptions (a corrupt file must
give an NgramError), clean errors (refused at open, or an error while querying), correct
answers and wrong answers, with verification on and off. Targets: no crash, timeout or
exception; no wrong answer with verification on.

Run: .venv/bin/python bench/bench_reliability.py [--trials 3000] [--code-root DIR]
(`--code-root` runs the children on another checkout's `ngram`, to count what an older
version does with the same corruptions.)
"""
from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from bench.common import WORK, write_result  # noqa: E402

import corruption_harness as H  # noqa: E402

CHUNK = 500  # trials per run_trials call (a child process each, unless one crashes)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=3000)
    ap.add_argument("--first-seed", type=int, default=1_000_000)
    ap.add_argument("--code-root", type=Path, default=ROOT)
    ap.add_argument("--child-timeout", type=float, default=1800.0,
                    help="seconds a child may run; the trial it is running then counts as a timeout, and "
                         "the trials it did not reach go to a new child")
    ap.add_argument("--suite", default="reliability", help="name of the JSON result (bench/results/<suite>.json)")
    args = ap.parse_args()
    pristine = WORK / "reliability-models"
    t0 = time.time()
    H.build_models(pristine, lines=1500)
    trials = H.make_trials(args.trials, args.first_seed)
    results = []
    t1 = time.time()
    for i in range(0, len(trials), CHUNK):
        results += H.run_trials(pristine, trials[i:i + CHUNK], timeout_s=args.child_timeout, code_root=args.code_root)
        print(f"{len(results)} trials, {time.time() - t1:.0f} s", flush=True)
    by_verify = {}
    for verify in (False, True):
        rs = [r for r in results if r["verify"] == verify]
        by_verify["verify_on" if verify else "verify_off"] = {
            "trials": len(rs), **collections.Counter(r["outcome"] for r in rs)}
    by_target = collections.defaultdict(collections.Counter)
    for r in results:
        by_target[f"{r['target']}/{'on' if r['verify'] else 'off'}"][r["outcome"]] += 1
    failures = [{k: r.get(k) for k in ("seed", "model", "layout", "verify", "file", "target", "kind", "detail",
                                       "outcome", "message")}
                for r in results if r["outcome"] in ("crash", "timeout", "exception")
                or (r["outcome"] == "wrong" and r["verify"])]
    outcome = collections.Counter(r["outcome"] for r in results)
    write_result(args.suite, {
        "code_root": str(args.code_root),
        "trials": len(results), "first_seed": args.first_seed,
        "models": H.MODELS, "layouts": ["compressed", "decoded"],
        "crashes": outcome["crash"], "timeouts": outcome["timeout"], "exceptions": outcome["exception"],
        "clean_errors": outcome["refused"] + outcome["error"],
        "wrong_answers_verify_off": by_verify["verify_off"].get("wrong", 0),
        "wrong_answers_verify_on": by_verify["verify_on"].get("wrong", 0),
        "by_verification": by_verify,
        "by_target": {k: dict(v) for k, v in sorted(by_target.items())},
        "failures": failures[:50],
        "build_s": round(t1 - t0, 1), "run_s": round(time.time() - t1, 1),
        "targets": {"crashes": 0, "timeouts": 0, "exceptions": 0, "wrong_answers_verify_on": 0},
    })


if __name__ == "__main__":
    main()
