"""What every input of a build was, so `--resume` never mixes two corpora.

Recorded when a build starts (``build.json``): each input's path, size and mtime; stdin
is first spooled into the work directory, and its record holds the hash of its bytes.
Recorded as the vocabulary pass reads (``inputs.json`` and each chunk's marker): the
sha256 of every chunk's raw lines, hashed by the vocabulary tasks in parallel.

A resume refuses, naming the input, when the list of inputs differs, a file's size
differs, stdin's bytes differ, or a chunk's content differs from the hash recorded for it
(the resumed build rereads every input: a reused chunk is checked against its marker,
and a finished vocabulary pass is checked against ``inputs.json`` before any work). A
changed mtime alone is no refusal: the content hashes decide (``touch`` changes nothing).
"""
from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

from ngram.atomic import atomic_path
from ngram.compressed_io import STDIN

from .errors import ResumeMismatchError
from .inputs import Chunk, chunk_digest
from .workdir import WorkDir, write_json

_BLOCK = 1 << 20


def spool_stdin(target: Path) -> str:
    """Copy all of stdin into `target` (atomically: it exists only when complete);
    returns the sha256 of the bytes."""
    h = hashlib.sha256()
    with atomic_path(target) as tmp, open(tmp, "wb") as out:
        src = sys.stdin.buffer
        for block in iter(lambda: src.read(_BLOCK), b""):
            h.update(block)
            out.write(block)
    return h.hexdigest()


def prepare_stdin(work: WorkDir, saved: dict | None) -> str:
    """Spool stdin for this build. When resuming (`saved`: the earlier record of stdin),
    the new stdin must be byte for byte the one spooled by the interrupted build."""
    if saved is None or not work.stdin_spool.exists():
        return spool_stdin(work.stdin_spool)
    fresh = work.root / "stdin.resume.spool"
    digest = spool_stdin(fresh)
    if digest != saved.get("sha256"):
        fresh.unlink(missing_ok=True)
        raise ResumeMismatchError("stdin (-) holds other data than the interrupted build's stdin "
                                  f"(sha256 {digest[:12]}... now, {str(saved.get('sha256'))[:12]}... then), "
                                  "so --resume would mix two corpora; rerun without --resume to start over",
                                  str(work.root))
    fresh.unlink()
    return digest


def describe(paths: list[str], work: WorkDir, stdin_digest: str | None) -> list[dict]:
    """The record of every input (stdin: its spooled copy)."""
    out = []
    for p in paths:
        if p == STDIN:
            out.append({"path": STDIN, "size": work.stdin_spool.stat().st_size, "sha256": stdin_digest})
        else:
            st = os.stat(p)
            out.append({"path": os.path.abspath(p), "size": st.st_size, "mtime_ns": st.st_mtime_ns})
    return out


def check_same_inputs(saved: list[dict], current: list[dict], work_root: str) -> None:
    """Refuse, naming the input, when the inputs' list or sizes differ from the record."""
    def refuse(what: str):
        raise ResumeMismatchError(f"{what}, so --resume would mix two corpora; rerun without --resume "
                                  "to start over", work_root)

    names = [i["path"] for i in current]
    before = [i["path"] for i in saved]
    if names != before:
        gone = [p for p in before if p not in names]
        new = [p for p in names if p not in before]
        if gone or new:
            refuse("the inputs differ from the interrupted build's: "
                   + "; ".join(filter(None, [f"not given now: {', '.join(gone)}" if gone else "",
                                             f"new: {', '.join(new)}" if new else ""])))
        refuse("the inputs are the interrupted build's in another order")
    for old, new in zip(saved, current):
        if old["size"] != new["size"]:
            refuse(f"input {new['path']} changed since the interrupted build: {old['size']:,} bytes then, "
                   f"{new['size']:,} now")


def check_chunk(chunk: Chunk, recorded_path: str, recorded_digest: str | None, work_root: str) -> None:
    """Refuse when a chunk's content is not what an earlier attempt read at that place."""
    if os.path.abspath(chunk.path) != os.path.abspath(recorded_path) or \
            (recorded_digest is not None and chunk_digest(chunk.data) != recorded_digest):
        raise ResumeMismatchError(f"input {chunk.path} changed since the interrupted build: its content from "
                                  f"line {chunk.first_line} differs from what was read then; rerun without "
                                  "--resume to start over", work_root)


def record_chunks(work: WorkDir, chunks: list[tuple[int, str, str]]) -> None:
    """Save (index, path, digest) of every chunk: the finished vocabulary pass's record."""
    write_json(work.inputs_json, {"chunks": [list(c) for c in sorted(chunks)]})


def verify_recorded(work: WorkDir, chunks, recorded: dict) -> None:
    """Check every chunk of the inputs (an iterator of Chunk) against `recorded` (the
    finished vocabulary pass's inputs.json)."""
    expect = {i: (p, d) for i, p, d in recorded["chunks"]}
    seen = 0
    for chunk in chunks:
        if chunk.index not in expect:
            raise ResumeMismatchError(f"input {chunk.path} changed since the interrupted build: it holds "
                                      f"more data from line {chunk.first_line}; rerun without --resume",
                                      str(work.root))
        check_chunk(chunk, *expect[chunk.index], str(work.root))
        seen += 1
    if seen != len(expect):
        path = expect[seen][0] if seen in expect else "an input"
        raise ResumeMismatchError(f"input {path} changed since the interrupted build: it holds less data; "
                                  "rerun without --resume", str(work.root))
