"""Library code raises NgramError subclasses only (issue 12): a caller catches NgramError
for every error the project raises on purpose, and the CLI's one mapping turns anything
else into a traceback (a bug), not "exit 1, bad input"."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BARE = re.compile(r"raise (ValueError|RuntimeError|OSError|IOError|KeyError)\(")
# numba kernels can raise only exception types numba knows inside nopython code; their
# raises guard preconditions of the Python callers (which check input first)
KERNEL_DIRS = ("ngram/kernels/", "builder/kernels/")


def test_library_code_raises_no_bare_builtin_errors():
    found = []
    for package in ("ngram", "client", "shard_server", "builder"):
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel.startswith(KERNEL_DIRS) or rel.endswith(("_pb2.py", "_pb2_grpc.py")) or rel == "client/demo.py":
                continue
            for n, line in enumerate(path.read_text().splitlines(), 1):
                if BARE.search(line):
                    found.append(f"{rel}:{n}: {line.strip()}")
    assert not found, "raise an NgramError subclass instead:\n" + "\n".join(found)
