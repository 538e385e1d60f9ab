"""Exception hierarchy of the core. Library code raises these (and only these); the CLI
turns them into one line on stderr and exit code 1 (ngram.cli.ErrorMappingGroup).

Every error type of the `ngram` package lives here. Where a standard type is the natural
one for callers to catch (a bad argument is a ValueError), an error subclasses it too.
"""
from __future__ import annotations


class NgramError(Exception):
    """Base class of every error this project raises on purpose."""


class RoundStreamClosedError(NgramError, RuntimeError):
    """A round was submitted to a closed RoundStream, local or remote (client.errors.StreamClosedError)."""


class ModelFormatError(NgramError):
    """A model directory or file is missing, truncated, corrupt or of another version.

    ``path`` names the offending file.
    """

    def __init__(self, message: str, path: str | None = None):
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path


class InvalidArgumentError(NgramError, ValueError):
    """A caller passed a setting outside what the function accepts (a layout, a shard
    list, an order, a quantization); the message names the setting and what is allowed."""


class InvalidQueryError(NgramError, ValueError):
    """A lookup request is malformed: wrong shapes, ids out of range, orders above N."""


class ValueKindError(InvalidArgumentError):
    """An operation needs the other kind of model (counts vs. backoff)."""


class ArpaFormatError(NgramError):
    """An ARPA file is malformed; ``line`` is 1-based."""

    def __init__(self, message: str, path: str | None = None, line: int | None = None):
        where = f"{path or '<arpa>'}" + (f":{line}" if line is not None else "")
        super().__init__(f"{where}: {message}")
        self.path = path
        self.line = line


class InputError(NgramError):
    """An input file (corpus, ARPA, query list) cannot be read whole: unreadable,
    truncated or corrupt compressed data. ``path`` names the file."""

    def __init__(self, message: str, path: str | None = None):
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path


class InsufficientMemoryError(NgramError, MemoryError):
    """A structure would not fit in the memory available; says how much it needs."""


class WireFormatError(NgramError, ValueError):
    """A wire message that cannot be decoded (bad dtype, shape or byte count)."""


class ClusterFileError(NgramError, ValueError):
    """A cluster file that is missing, unparsable or inconsistent; the message says which."""
