"""Reading the corpus: files, globs, directories and stdin; plain, gzip, zstd or xz
(recognised by their magic bytes, whatever the suffix, by ``ngram.compressed_io``); cut
into chunks of whole lines. No input is dropped silently: a file cut short (a truncated
compressed stream), an unreadable file or sub-directory, a dangling link is an error
naming it.

Cleaning a chunk (``clean_chunk``) turns raw bytes into the text the tokenizer sees:
the JSONL field is extracted, invalid UTF-8 handled by the ``on_bad_bytes`` policy,
case folded on request. Errors name the file and the 1-based line.

Long lines: a line may hold at most ``max_line_bytes`` bytes (default 1 MiB, option
``--max-line-bytes``); a longer line is an error naming its file and line, because a
line is the unit a chunk never splits and so bounds the memory of a task.
"""
from __future__ import annotations

import glob
import hashlib
import io
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ngram import compressed_io
from ngram.compressed_io import STDIN
from ngram.errors import InputError
from ngram.limits import DEFAULT_MAX_LINE_BYTES

from .errors import BuildError, CorpusInputError

BAD_BYTES_POLICIES = ("error", "replace", "skip")


@dataclass(frozen=True)
class Chunk:
    """Whole lines of one input: ``data`` starts at 1-based line ``first_line``."""
    index: int
    path: str
    first_line: int
    data: bytes


@dataclass(frozen=True)
class TextOptions:
    """How raw bytes become tokenizer text; picklable, sent to every task."""
    lowercase: bool = False
    jsonl_field: str | None = None
    on_bad_bytes: str = "error"
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES


def expand_inputs(specs: list[str]) -> list[str]:
    """Paths to read, in a deterministic order: files as given, globs and directories
    sorted (directories recursively), ``-`` for stdin. Missing inputs raise."""
    if not specs:
        raise BuildError("no input given (files, globs, directories or - for stdin)")
    paths: list[str] = []
    for spec in specs:
        if spec == STDIN:
            paths.append(STDIN)
        elif os.path.isdir(spec):
            found = sorted(_files_under(spec))
            if not found:
                raise BuildError("directory holds no files", spec)
            paths.extend(found)
        elif glob.has_magic(spec):
            matches = glob.glob(spec, recursive=True)
            dangling = [p for p in matches if os.path.islink(p) and not os.path.exists(p)]
            if dangling:
                raise CorpusInputError("dangling symbolic link matched by a pattern", sorted(dangling)[0])
            found = sorted(p for p in matches if os.path.isfile(p))  # a pattern matches files only
            if not found:
                raise BuildError("no file matches this pattern", spec)
            paths.extend(found)
        elif os.path.isfile(spec):
            paths.append(spec)
        else:
            raise BuildError("no such file or directory", spec)
    if paths.count(STDIN) > 1:
        raise BuildError("stdin (-) given more than once")
    for p in paths:
        if p != STDIN and not os.access(p, os.R_OK):
            raise CorpusInputError("file is not readable (permission denied)", p)
    return paths


def _files_under(root: str) -> list[str]:
    """Every file below directory `root` (links to files followed, links to directories
    not, as before). An unreadable sub-directory or a dangling link is an error: skipping
    it would build from part of the corpus and say nothing."""
    def fail(e: OSError):
        raise CorpusInputError(f"cannot read this directory: {e.strerror} (fix its permissions, or "
                               "name the files to build from)", e.filename)

    found = []
    for dirpath, _dirs, names in os.walk(root, onerror=fail):
        for name in names:
            p = Path(dirpath) / name
            if p.is_file():
                found.append(str(p))
            elif p.is_symlink() and not p.exists():
                raise CorpusInputError("dangling symbolic link in a directory input", str(p))
    return found


def _open_as(source: str, name: str) -> io.BufferedIOBase:
    """A binary stream of the decompressed content of `source` (``-``: stdin), with errors
    naming `name` (the input it is a copy of); reading it raises CorpusInputError if a
    compressed stream is truncated or corrupt."""
    try:
        return compressed_io.open_input(source)
    except InputError as e:
        raise CorpusInputError(_reason(e), name) from e


def chunk_digest(data: bytes) -> str:
    """The content hash of a chunk's raw lines: what `--resume` compares (see
    builder.input_identity)."""
    return hashlib.sha256(data).hexdigest()


def iter_chunks(paths: list[str], chunk_bytes: int, max_line_bytes: int,
                read_from: dict[str, str] | None = None) -> Iterator[Chunk]:
    """Chunks of about `chunk_bytes` whole lines; a chunk never spans two inputs.
    `read_from` maps an input to the file holding its content (stdin's spooled copy)."""
    index = 0
    for path in paths:
        source = (read_from or {}).get(path, path)
        stream = _open_as(source, path)
        line = 1
        carry = b""
        try:
            while True:
                block = _read(stream, path, max(chunk_bytes - len(carry), chunk_bytes // 4 + 1))
                if not block:
                    break
                buf = carry + block if carry else block
                cut = buf.rfind(b"\n") + 1
                if cut == 0:
                    carry = buf
                    if len(carry) > max_line_bytes:
                        raise BuildError(f"line longer than the limit of {max_line_bytes} bytes "
                                         "(raise it with --max-line-bytes)", path, line)
                    continue
                if cut < len(buf) and len(buf) - cut > max_line_bytes:
                    raise BuildError(f"line longer than the limit of {max_line_bytes} bytes "
                                     "(raise it with --max-line-bytes)", path, line + buf.count(b"\n", 0, cut))
                data, carry = buf[:cut], buf[cut:]
                if len(data) >= chunk_bytes or not carry:
                    yield Chunk(index, path, line, data)
                    index += 1
                    line += data.count(b"\n")
                else:  # keep filling this chunk
                    carry = data + carry
            if carry:
                yield Chunk(index, path, line, carry + b"\n")
                index += 1
        finally:
            if stream is not getattr(sys.stdin, "buffer", None):  # stdin stays open
                stream.close()


def _read(stream, path: str, size: int) -> bytes:
    try:
        return stream.read(size)
    except InputError as e:
        raise CorpusInputError(_reason(e), path) from e
    except OSError as e:
        raise CorpusInputError(f"cannot read: {e.strerror or e}", path) from e


def _reason(e: InputError) -> str:
    """The message of `e` without the path prefix it carries (ours adds it back)."""
    text = str(e)
    prefix = f"{e.path}: " if e.path else ""
    return text[len(prefix):] if prefix and text.startswith(prefix) else text


def clean_chunk(chunk: Chunk, opts: TextOptions) -> bytes:
    """The text the tokenizer sees: one sentence per line, valid UTF-8."""
    data = chunk.data
    check_line_lengths(data, opts.max_line_bytes, chunk)
    text = _decode(data, opts.on_bad_bytes, chunk)  # None: valid and nothing to change
    if opts.jsonl_field is not None:
        return _jsonl_text(text if text is not None else data.decode("utf-8"), opts, chunk)
    if opts.lowercase:
        return (text if text is not None else data.decode("utf-8")).lower().encode("utf-8")
    return data if text is None else text.encode("utf-8")


def check_line_lengths(data: bytes, limit: int, chunk: Chunk) -> None:
    if len(data) <= limit:
        return
    ends = np.flatnonzero(np.frombuffer(data, np.uint8) == 10)
    starts = np.concatenate(([0], ends[:-1] + 1))
    long = np.flatnonzero(ends - starts > limit)
    if len(long):
        raise BuildError(f"line longer than the limit of {limit} bytes (raise it with --max-line-bytes)",
                         chunk.path, chunk.first_line + int(long[0]))


def _decode(data: bytes, policy: str, chunk: Chunk) -> str | None:
    """Validate UTF-8 under `policy`; returns the text when it had to change, else None."""
    try:
        data.decode("utf-8")
        return None
    except UnicodeDecodeError as e:
        if policy == "error":
            line = chunk.first_line + data.count(b"\n", 0, e.start)
            col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
            raise BuildError(f"invalid UTF-8 at byte {col} of the line "
                             "(use --on-bad-bytes replace or skip)", chunk.path, line) from None
        if policy == "replace":
            return data.decode("utf-8", errors="replace")
        return _drop_bad_lines(data)


def _drop_bad_lines(data: bytes) -> str:
    """Text of `data` without the lines that hold invalid UTF-8."""
    parts = []
    pos = 0
    while pos < len(data):
        try:
            parts.append(data[pos:].decode("utf-8"))
            break
        except UnicodeDecodeError as e:
            bad = pos + e.start
            start = data.rfind(b"\n", 0, bad) + 1
            end = data.find(b"\n", bad)
            end = len(data) if end < 0 else end + 1
            parts.append(data[pos:start].decode("utf-8"))
            pos = end
    return "".join(parts)


def _jsonl_text(text: str, opts: TextOptions, chunk: Chunk) -> bytes:
    field = opts.jsonl_field
    out = []
    for n, line in enumerate(text.split("\n")):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise BuildError(f"invalid JSON: {e.msg} at column {e.colno}", chunk.path, chunk.first_line + n) from None
        value = obj.get(field) if isinstance(obj, dict) else None
        if not isinstance(value, str):
            raise BuildError(f"no string field {field!r} in this JSON line", chunk.path, chunk.first_line + n)
        out.append(value.replace("\n", " "))
    out.append("")
    joined = "\n".join(out)
    return (joined.lower() if opts.lowercase else joined).encode("utf-8", errors="replace")
