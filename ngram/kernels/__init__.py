"""Numba kernels. Each module holds kernels of one kind; all are nogil and cached.

numba keys a cached function on its own source file only, not on the files of the
functions it calls (and inlines) nor on the module constants it compiles in. After an
edit or an upgrade of, say, codecs.py, a cached lookup kernel would keep the old decoder
and misread every shard. So `drop_stale_numba_caches()`, called where kernels are first
used (the `ngram` CLI, `Model.open`, the shard server; nothing runs at import), drops the
project's numba cache files when any kernel source changed; they are rebuilt on first use.

Kernel sources, by rule rather than by list (so a package that adds or splits kernel
modules is covered without editing this file): every module of a `kernels` package or
module under the project's packages, and every other module with an ``@njit`` function.
"""
from __future__ import annotations

import hashlib
import re
import threading
from pathlib import Path

_SELF = Path(__file__).resolve()
_ROOT = _SELF.parents[2]
_STAMP = Path(__file__).resolve().parent / "__pycache__" / "kernel-sources.sha256"
PACKAGES = ("ngram", "builder", "client", "shard_server")  # the project's packages
_NJIT = re.compile(rb"^\s*@(?:numba\.)?njit\b", re.MULTILINE)
_checked = False
_lock = threading.Lock()


def kernel_sources(root: Path = _ROOT, packages=PACKAGES) -> list[Path]:
    """The modules whose source a cached kernel may depend on, sorted."""
    found = []
    for package in packages:
        for path in sorted((root / package).glob("**/*.py")):
            if path == _SELF:  # the guard itself: no kernel compiles it in
                continue
            if "kernels" in path.relative_to(root).with_suffix("").parts or _NJIT.search(path.read_bytes()):
                found.append(path)
    return found


def sources_digest(root: Path = _ROOT, packages=PACKAGES) -> str:
    h = hashlib.sha256()
    for path in kernel_sources(root, packages):
        h.update(str(path.relative_to(root)).encode())
        h.update(b"\0")
        h.update(path.read_bytes())
    return h.hexdigest()


def drop_stale_numba_caches(root: Path = _ROOT, stamp: Path = _STAMP, packages=PACKAGES,
                            force: bool = False) -> None:
    """Remove every numba cache file of `packages` if the kernel sources changed since the
    last call recorded `stamp`. Runs once per process (unless `force`); cheap afterwards."""
    global _checked
    with _lock:
        if _checked and not force:
            return
        try:
            from ngram.atomic import write_text_atomic
            digest = sources_digest(root, packages)
            if not (stamp.exists() and stamp.read_text() == digest):
                for package in packages:
                    for pattern in ("*.nbi", "*.nbc"):
                        for f in (root / package).glob(f"**/__pycache__/{pattern}"):
                            f.unlink(missing_ok=True)
                stamp.parent.mkdir(parents=True, exist_ok=True)
                write_text_atomic(stamp, digest, fsync=False)
        except OSError:  # a read-only install: numba then caches elsewhere, or not at all
            pass
        _checked = True
