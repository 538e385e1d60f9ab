"""Errors the builder raises on purpose, all BuildError subclasses. Library code raises;
only the CLI prints (an option error exits 2, any other BuildError 1)."""
from __future__ import annotations

from ngram.errors import InputError, NgramError


class BuildError(NgramError):
    """A build cannot go on: bad input, a full disk, a dead worker.

    ``path`` and ``line`` (1-based) say where, when the cause is in an input file.
    """

    def __init__(self, message: str, path: str | None = None, line: int | None = None):
        where = (path or "") + (f":{line}" if line is not None else "")
        super().__init__(f"{where}: {message}" if where else message)
        self.path = path
        self.line = line
        self.reason = message

    def __reduce__(self):  # survive pickling between processes, with its class and fields
        return (type(self), (self.reason, self.path, self.line))


class BuildOptionError(BuildError):
    """An option value is out of range or unreadable; ``option`` names it (``--order``).
    The CLI reports it as a usage error (exit 2)."""

    def __init__(self, message: str, option: str | None = None):
        super().__init__(message)
        self.option = option

    def __reduce__(self):
        return (type(self), (self.reason, self.option))


class CorpusInputError(BuildError, InputError):
    """An input cannot be read whole: unreadable, truncated or corrupt compressed data,
    an unreadable directory. Also an ``ngram.errors.InputError``."""


class ResumeMismatchError(BuildError):
    """`--resume` over a work directory of a build with other options or other input."""


class WorkDirLockedError(BuildError):
    """Another live build holds the work directory; ``pid`` is its process id."""

    def __init__(self, message: str, path: str | None = None, line: int | None = None, pid: int | None = None):
        super().__init__(message, path, line)
        self.pid = pid

    def __reduce__(self):
        return (type(self), (self.reason, self.path, self.line, self.pid))


class WorkDirCorruptError(BuildError):
    """A file of the work directory does not hold what its marker says (a truncated run):
    rerun without --resume."""
