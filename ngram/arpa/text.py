"""An ARPA file as numbered lines: the one place that reads its bytes.

The file is opened with ``ngram.compressed_io`` (plain, gzip, zstd or xz by magic bytes,
end-of-stream checked); a file that cannot be read whole, e.g. a compressed one cut
short, is an ArpaFormatError at the line where the reading stopped.
"""
from __future__ import annotations

from itertools import islice
from typing import BinaryIO

from ..errors import ArpaFormatError, InputError


class Lines:
    """Line iterator that knows the 1-based number of the last line it returned."""

    def __init__(self, f: BinaryIO, name: str):
        self._f = f
        self.name = name
        self.lineno = 0
        self._pending: bytes | None = None

    def fail(self, message: str, line: int | None) -> ArpaFormatError:
        return ArpaFormatError(message, self.name, line)

    def _unreadable(self, e: InputError) -> ArpaFormatError:
        return self.fail(f"the file cannot be read past this point: {e}", self.lineno + 1)

    def push_back(self, line: bytes) -> None:
        self._pending = line
        self.lineno -= 1

    def next(self) -> bytes | None:
        if self._pending is not None:
            line, self._pending = self._pending, None
            self.lineno += 1
            return line
        try:
            line = self._f.readline()
        except InputError as e:
            raise self._unreadable(e) from None
        if not line:
            return None
        self.lineno += 1
        return line

    def next_nonblank(self) -> bytes | None:
        while True:
            line = self.next()
            if line is None or line.strip():
                return line

    def chunk(self, n: int) -> list[bytes]:
        if self._pending is not None:
            first = [self.next()]
            return first + self.chunk(n - 1)
        lines: list[bytes] = []
        try:
            lines.extend(islice(self._f, n))  # keeps the lines read before an error
        except InputError as e:
            self.lineno += len(lines)
            raise self._unreadable(e) from None
        self.lineno += len(lines)
        return lines


def show(line: bytes | None) -> str:
    """A line as an error message quotes it (shortened)."""
    if line is None:
        return "end of file"
    s = line.rstrip(b"\r\n").decode("utf-8", "replace")
    return repr(s if len(s) < 80 else s[:77] + "...")
