"""Errors the builder raises on purpose. Library code raises; only the CLI prints."""
from __future__ import annotations

from ngram.errors import NgramError


class BuildError(NgramError):
    """A build cannot go on: bad input, bad options, a full disk, a dead worker.

    ``path`` and ``line`` (1-based) say where, when the cause is in an input file.
    """

    def __init__(self, message: str, path: str | None = None, line: int | None = None):
        where = (path or "") + (f":{line}" if line is not None else "")
        super().__init__(f"{where}: {message}" if where else message)
        self.path = path
        self.line = line
        self.reason = message

    def __reduce__(self):  # survive pickling between processes with its fields
        return (BuildError, (self.reason, self.path, self.line))
