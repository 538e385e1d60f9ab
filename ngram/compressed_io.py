"""The one opener for compressed files: plain, gzip, zstd or xz, told by magic bytes.

Reading checks every format's end-of-stream integrity: a file cut short (a partial
download, ``head -c``) raises ``InputError`` naming the file when its end is reached,
instead of yielding the part before the cut as if it were the whole. Writing compresses
by the output's suffix (``.gz``, ``.zst``, ``.xz``; anything else is plain).
"""
from __future__ import annotations

import gzip
import io
import lzma
import os
import sys
import zlib
from typing import BinaryIO

import zstandard

from .errors import InputError

STDIN = "-"
_BUFFER = 1 << 20
MAGIC = ((b"\x1f\x8b", "gzip"), (b"\x28\xb5\x2f\xfd", "zstd"), (b"\xfd7zXZ\x00", "xz"))
FORMATS = ("plain", "gzip", "zstd", "xz")


def detect_format(head: bytes) -> str:
    """The compression format of a file whose first bytes are `head` (6 are enough)."""
    return next((kind for magic, kind in MAGIC if head.startswith(magic)), "plain")


class _CheckedReader(io.RawIOBase):
    """Decompresses `raw` chunk by chunk and raises InputError, naming `name`, if the
    compressed stream ends before its end-of-stream marker or holds corrupt data."""

    def __init__(self, raw: BinaryIO, kind: str, name: str):
        self._raw, self._kind, self._name = raw, kind, name
        self._dec = self._new_decoder()
        self._pending = b""      # decompressed bytes, returned up to _pos
        self._pos = 0
        self._in_frame = False   # input consumed by the current frame/member, not yet ended
        self._done = False

    def _new_decoder(self):
        if self._kind == "gzip":
            return zlib.decompressobj(16 + zlib.MAX_WBITS)
        if self._kind == "xz":
            return lzma.LZMADecompressor()
        return zstandard.ZstdDecompressor().decompressobj()

    def readable(self) -> bool:
        return True

    def _feed(self, data: bytes) -> bytes:
        out = []
        while data:
            try:
                out.append(self._dec.decompress(data))
            except (zlib.error, lzma.LZMAError, zstandard.ZstdError, EOFError) as e:
                raise InputError(f"corrupt {self._kind} data: {e}", self._name) from e
            self._in_frame = True
            if not self._dec.eof:
                break
            # a member/frame ended; what follows may be another one (concatenated files)
            data = self._dec.unused_data
            self._dec = self._new_decoder()
            self._in_frame = False
            if self._kind == "xz" and data and not data.lstrip(b"\0"):
                break  # xz stream padding
        return b"".join(out)

    def readinto(self, buf) -> int:
        while self._pos == len(self._pending) and not self._done:
            data = self._raw.read(_BUFFER)
            if not data:
                self._done = True
                if self._in_frame:
                    raise InputError(f"truncated {self._kind} file: the compressed stream ends "
                                     "before its end-of-stream marker", self._name)
                break
            self._pending, self._pos = self._feed(data), 0
        n = min(len(buf), len(self._pending) - self._pos)
        buf[:n] = memoryview(self._pending)[self._pos:self._pos + n]
        self._pos += n
        return n

    def close(self) -> None:
        if not self.closed:
            try:
                if self._raw is not getattr(sys.stdin, "buffer", None):
                    self._raw.close()
            finally:
                super().close()


def open_input(path: str | os.PathLike) -> BinaryIO:
    """A buffered binary stream of the decompressed content of `path` (``-``: stdin)."""
    name = str(path)
    try:
        raw = sys.stdin.buffer if name == STDIN else open(path, "rb")
    except OSError as e:
        raise InputError(f"cannot open: {e.strerror}", name) from e
    if not isinstance(raw, io.BufferedReader):
        raw = io.BufferedReader(raw)
    try:
        kind = detect_format(raw.peek(6)[:6])
    except OSError as e:
        raise InputError(f"cannot read: {e.strerror}", name) from e
    if kind == "plain":
        return raw
    return io.BufferedReader(_CheckedReader(raw, kind, name), buffer_size=_BUFFER)


def read_all(path: str | os.PathLike) -> bytes:
    """The whole decompressed content of `path`."""
    with open_input(path) as f:
        try:
            return f.read()
        except OSError as e:
            raise InputError(f"cannot read: {e.strerror}", str(path)) from e


def create_output(path: str | os.PathLike, named: str | os.PathLike | None = None) -> BinaryIO:
    """A binary stream writing `path`, compressed according to the suffix of `named`
    (default: `path`; a temporary file of an atomic write passes its target's name)."""
    name = str(path)
    kind = str(named if named is not None else path)
    if kind.endswith(".gz"):
        return gzip.open(name, "wb", compresslevel=6)
    if kind.endswith(".xz"):
        return lzma.open(name, "wb")
    if kind.endswith(".zst"):
        f = open(name, "wb")
        return zstandard.ZstdCompressor(level=10).stream_writer(f, closefd=True)
    return open(name, "wb")
