"""Numba kernels. Each module holds kernels of one kind; all are nogil and cached.

numba keys a cached function on its own source file only, not on the files of the
functions it calls (and inlines). After an edit or an upgrade of, say, codecs.py, a
cached lookup kernel would keep the old decoder and misread every shard. So the first
import after any kernel source changed drops the project's numba cache files; they are
rebuilt on first use.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

_HERE = Path(__file__).resolve().parent
_STAMP = _HERE / "__pycache__" / "kernel-sources.sha256"
# packages whose cached njit functions call into these kernels
_CACHED_PACKAGES = ("ngram", "builder", "client", "shard_server")


def _sources_digest(kernel_dir: Path = _HERE) -> str:
    h = hashlib.sha256()
    for path in sorted(kernel_dir.glob("*.py")):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def _drop_stale_numba_caches(kernel_dir: Path = _HERE, stamp: Path = _STAMP) -> None:
    try:
        digest = _sources_digest(kernel_dir)
        if stamp.exists() and stamp.read_text() == digest:
            return
        root = kernel_dir.parent.parent
        for package in _CACHED_PACKAGES:
            for pattern in ("*.nbi", "*.nbc"):
                for f in (root / package).glob(f"**/__pycache__/{pattern}"):
                    f.unlink(missing_ok=True)
        stamp.parent.mkdir(exist_ok=True)
        tmp = stamp.with_name(f"{stamp.name}.{os.getpid()}.tmp")
        tmp.write_text(digest)
        os.replace(tmp, stamp)
    except OSError:  # a read-only install: numba then caches elsewhere, or not at all
        pass


_drop_stale_numba_caches()
