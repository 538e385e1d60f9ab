"""Atomic file writes: the one helper every writer of a file others may read uses.

The content goes to a temporary file in the same directory (same filesystem), is flushed
and fsync-ed, then renamed over the target, so a reader sees the old file or the new
one, never half of one; a crash leaves at most a stray ``.tmp`` file, never a bad target.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Callable, Iterator


def temp_path_for(path: str | os.PathLike) -> Path:
    """The temporary name a write of `path` uses (unique per process and thread)."""
    import threading
    p = Path(path)
    return p.with_name(f".{p.name}.{os.getpid()}.{threading.get_ident()}.tmp")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, fsync: bool = True) -> Iterator[Path]:
    """Yields a temporary path to write; on success renames it over `path`, on error
    removes it. For writers that need a path (numpy, containers, other libraries)."""
    target = Path(path)
    tmp = temp_path_for(target)
    try:
        yield tmp
        if fsync:
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: str | os.PathLike, data: bytes, fsync: bool = True) -> Path:
    with atomic_path(path, fsync=fsync) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text_atomic(path: str | os.PathLike, text: str, fsync: bool = True) -> Path:
    return write_bytes_atomic(path, text.encode("utf-8"), fsync=fsync)


def write_with(path: str | os.PathLike, writer: Callable[[Path], object], fsync: bool = True):
    """Calls writer(tmp_path) and publishes the result atomically; returns what it returned."""
    with atomic_path(path, fsync=fsync) as tmp:
        return writer(tmp)
