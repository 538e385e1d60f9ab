"""One build per work directory: an exclusive lock held for the whole build.

Two builds to the same --out share its work directory, and each would delete or
overwrite the other's runs. The lock is ``flock`` on ``build.lock`` inside the work
directory, taken without waiting: a second build fails at once, naming the first's pid
(written into the file). The kernel drops the lock when its holder dies, however it
dies, so the lock of a killed build is stale and taken over by the next one (its pid in
the file is then simply overwritten); no pid-liveness guess is needed.
"""
from __future__ import annotations

import fcntl
import os
import socket
from pathlib import Path

from .errors import WorkDirLockedError


class WorkDirLock:
    def __init__(self, lock_file: Path):
        self.path = Path(lock_file)
        self._fd: int | None = None

    def acquire(self) -> "WorkDirLock":
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_holder(fd)
                os.close(fd)
                pid = int(holder.split()[0]) if holder[:1].isdigit() else None
                who = f"pid {holder}" if holder else "another process"
                raise WorkDirLockedError(f"another build ({who}) is using this work directory; wait for it "
                                         "to end, or build to another --out or --work-dir",
                                         str(self.path.parent), pid=pid) from None
            # A build that ended between our open and flock has deleted the file we locked
            # (it removes its work directory): lock the file now at the path instead.
            try:
                current = os.stat(self.path).st_ino
            except FileNotFoundError:
                current = None
            if current != os.fstat(fd).st_ino:
                os.close(fd)
                self.path.parent.mkdir(parents=True, exist_ok=True)
                continue
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()} on {socket.gethostname()}\n".encode())
            self._fd = fd
            return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # drops the flock
            self._fd = None

    def __enter__(self) -> "WorkDirLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _read_holder(fd: int) -> str:
    try:
        return os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
    except OSError:
        return ""
