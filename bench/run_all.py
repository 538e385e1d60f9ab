"""Run every benchmark suite in turn; each writes bench/results/<suite>.json.

Run: .venv/bin/python bench/run_all.py [suite ...]   (suites: the keys of SUITES)
Suites that compare with the kenlm module or pyctcdecode in one process run under
$KENLM_PYTHON (`make kenlm-venv`: the project plus those peers); `make bench` sets it.
The Kneser-Ney suite needs lmplz built from source: `make bench-kn`.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
SUITES = {"query": "bench_query.py", "build": "bench_build.py", "serve": "bench_serve.py",
          "reliability": "bench_reliability.py", "arpa": "bench_arpa.py", "facade": "bench_facade.py",
          "decode": "bench_decode.py",
          "spell": "bench_spell.py"}  # spell: its peers come from `make spell-peers`
NEEDS_PEERS = {"facade", "decode", "arpa"}  # import kenlm / pyctcdecode beside our modules


def main() -> int:
    wanted = sys.argv[1:] or list(SUITES)
    failed = []
    for name in wanted:
        script = BENCH / SUITES[name]
        if not script.exists():
            print(f"== {name}: {script.name} not present, skipped")
            continue
        print(f"== {name}", flush=True)
        python = sys.executable
        env = dict(os.environ)
        if name in NEEDS_PEERS:
            python = os.environ.get("KENLM_PYTHON", sys.executable)
            env.setdefault("NGRAM_PYTHON", sys.executable)
        if subprocess.run([python, str(script)], env=env).returncode != 0:
            failed.append(name)
    if failed:
        print(f"failed suites: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
