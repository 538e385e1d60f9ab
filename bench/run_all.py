"""Run every benchmark suite in turn; each writes bench/results/<suite>.json.

Run: .venv/bin/python bench/run_all.py [suite ...]   (suites: query build serve arpa)
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
SUITES = {"query": "bench_query.py", "build": "bench_build.py", "serve": "bench_serve.py", "arpa": "bench_arpa.py"}


def main() -> int:
    wanted = sys.argv[1:] or list(SUITES)
    failed = []
    for name in wanted:
        script = BENCH / SUITES[name]
        if not script.exists():
            print(f"== {name}: {script.name} not present, skipped")
            continue
        print(f"== {name}", flush=True)
        if subprocess.run([sys.executable, str(script)]).returncode != 0:
            failed.append(name)
    if failed:
        print(f"failed suites: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
