"""On-disk container shared by shard and vocabulary files (container versions 1 and 2).

Every binary file of a model is one container:

    offset  size  field
    0       8     magic: b"NGRM" + 4-byte kind tag (b"SHD1" shard, b"VOC1" vocabulary);
                  written as b"INCOMPLT" first and replaced only once the file is whole
    8       4     format version (uint32, little-endian): 1, or 2 for a shard of
                  format v2 (docs/FORMAT_V2.md; the container itself is the same)
    12      4     header length H in bytes (uint32)
    16      8     endianness check (uint64)                          = 0x0102030405060708
    24      8     total file size in bytes (uint64)
    32      4     CRC-32 of the header JSON (uint32)
    36      28    reserved, zero
    64      H     header JSON (UTF-8): {"kind", "arrays": {name: {offset, dtype, shape,
                  crc32}}, ...kind-specific metadata}
    ...           arrays, each starting on a 64-byte boundary, little-endian

Readers mmap the file and view each array in place (no copy), so opening costs the same
whatever the size. `open_container` checks magic, version, endianness, header checksum,
the file size and that every array lies inside the file; `verify_container` also checks
every array's CRC-32 (a full read).
"""
from __future__ import annotations

import json
import mmap
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import InvalidArgumentError, ModelFormatError

FORMAT_VERSION = 2  # the model format new builds write (manifest, shards)
SHARD_VERSIONS = (1, 2)  # shard formats this reader reads; v1 also writable (benches, tests)
CONTAINER_VERSIONS = (1, 2)
MAGIC_PREFIX = b"NGRM"
SHARD_KIND = b"SHD1"  # the kind tags of this format's files
VOCAB_KIND = b"VOC1"
INCOMPLETE_MAGIC = b"INCOMPLT"
ENDIAN_CHECK = 0x0102030405060708
_FIXED = struct.Struct("<8sIIQQI28x")
FIXED_SIZE = _FIXED.size  # 64
ALIGN = 64


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def write_container(path: str | os.PathLike, kind: bytes, arrays: dict[str, np.ndarray], meta: dict,
                    version: int = 1) -> int:
    """Write arrays and metadata as one container file; returns the file size. `version`
    goes to the fixed header: 1, or a shard's format version (ngram.shard_writer).

    The magic is written last, so a crash leaves a file every reader refuses.
    """
    if len(kind) != 4:
        raise InvalidArgumentError("kind tag must be 4 bytes")
    if version not in CONTAINER_VERSIONS:
        raise InvalidArgumentError(f"container version must be one of {CONTAINER_VERSIONS}")
    entries = {}
    offset = 0  # relative to the payload start, fixed up below
    layout = []
    for name, arr in arrays.items():
        arr = np.ascontiguousarray(arr)
        if arr.dtype.byteorder == ">":
            arr = arr.astype(arr.dtype.newbyteorder("<"))
        layout.append((name, arr, offset))
        entries[name] = {
            "offset": offset,
            "dtype": arr.dtype.str,
            "shape": list(arr.shape),
            "crc32": zlib.crc32(arr.view(np.uint8).reshape(-1)) if arr.size else 0,
        }
        offset = _align(offset + arr.nbytes)
    header = {"kind": kind.decode(), "arrays": entries, **meta}
    # Offsets become absolute once the header length is known; reserve room for the
    # extra digits (at most 12 per array) so one re-serialization suffices.
    draft = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    payload_start = _align(FIXED_SIZE + len(draft) + 12 * (len(entries) + 1))
    for entry in entries.values():
        entry["offset"] += payload_start
    header_bytes = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    if FIXED_SIZE + len(header_bytes) > payload_start:
        raise AssertionError("header grew past its reserved space")
    total = payload_start + offset
    with open(path, "wb") as f:
        f.write(_FIXED.pack(INCOMPLETE_MAGIC, version, len(header_bytes), ENDIAN_CHECK, total,
                            zlib.crc32(header_bytes)))
        f.write(header_bytes)
        for name, arr, rel in layout:
            f.seek(payload_start + rel)
            f.write(arr.view(np.uint8).reshape(-1).data if arr.size else b"")
        f.truncate(total)
        f.flush()
        os.fsync(f.fileno())
        f.seek(0)
        f.write(MAGIC_PREFIX + kind)
        f.flush()
        os.fsync(f.fileno())
    return total


@dataclass
class Container:
    """An opened container: header metadata and zero-copy array views over the mmap."""

    path: Path
    header: dict
    arrays: dict[str, np.ndarray]
    size: int
    _mmap: mmap.mmap | None
    version: int = 1

    def close(self) -> None:
        # Views keep the buffer alive; dropping our references lets the GC unmap it.
        self.arrays = {}
        self._mmap = None


def open_container(path: str | os.PathLike, kind: bytes) -> Container:
    """Map a container file and check everything that is cheap to check."""
    path = Path(path)
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        raise ModelFormatError("file is missing", str(path)) from None
    except OSError as e:
        raise ModelFormatError(f"cannot open: {e.strerror}", str(path)) from None
    with f:
        size = os.fstat(f.fileno()).st_size
        if size < FIXED_SIZE:
            raise ModelFormatError(f"truncated: {size} bytes, smaller than the {FIXED_SIZE}-byte header", str(path))
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    magic, version, hlen, endian, total, hcrc = _FIXED.unpack_from(mm, 0)
    if magic == INCOMPLETE_MAGIC:
        raise ModelFormatError("file was never completed (a crash during writing?); rebuild the model", str(path))
    if magic != MAGIC_PREFIX + kind:
        raise ModelFormatError(f"not a {kind.decode()} file of this format (magic {magic!r})", str(path))
    if endian != ENDIAN_CHECK:
        raise ModelFormatError("endianness check failed: file written on an incompatible machine", str(path))
    if version not in CONTAINER_VERSIONS:
        raise ModelFormatError(f"format version {version}, this reader reads versions "
                               f"{', '.join(map(str, CONTAINER_VERSIONS))}", str(path))
    if total != size:
        raise ModelFormatError(f"size is {size} bytes, the header says {total}: truncated or padded", str(path))
    if FIXED_SIZE + hlen > size:
        raise ModelFormatError("header runs past the end of the file", str(path))
    header_bytes = bytes(mm[FIXED_SIZE:FIXED_SIZE + hlen])
    if zlib.crc32(header_bytes) != hcrc:
        raise ModelFormatError("header checksum mismatch: the file is corrupt", str(path))
    try:
        header = json.loads(header_bytes)
    except ValueError:
        raise ModelFormatError("header is not valid JSON", str(path)) from None
    if not isinstance(header, dict) or not isinstance(header.get("arrays", {}), dict):
        raise ModelFormatError("header is not a JSON object with an 'arrays' table", str(path))
    arrays = {}
    for name, e in header.get("arrays", {}).items():
        arrays[name] = _array_view(mm, name, e, FIXED_SIZE + hlen, size, str(path))
    return Container(path, header, arrays, size, mm, version)


_ARRAY_DTYPES = frozenset("<u1 |u1 <u2 <u4 <u8 <i1 |i1 <i2 <i4 <i8 <f4 <f8".split())


def _array_view(mm, name: str, e, start: int, size: int, path: str) -> np.ndarray:
    """The view of one array entry of the header, every field of the entry checked."""
    try:
        offset, shape, dtype_str, crc = e["offset"], e["shape"], e["dtype"], e["crc32"]
        ok = (dtype_str in _ARRAY_DTYPES and isinstance(offset, int) and isinstance(crc, int)
              and isinstance(shape, list) and all(isinstance(d, int) and d >= 0 for d in shape) and len(shape) <= 4)
    except (KeyError, TypeError):
        ok = False
    if not ok:
        raise ModelFormatError(f"array {name!r} has a malformed header entry", path)
    dtype = np.dtype(dtype_str)
    count = 1
    for d in shape:
        count *= d
    end = offset + count * dtype.itemsize
    if offset % dtype.alignment or offset < start or end > size:
        raise ModelFormatError(f"array {name!r} lies outside the file", path)
    return np.frombuffer(mm, dtype=dtype, count=count, offset=offset).reshape(shape)


def verify_container(c: Container) -> None:
    """Check every array's CRC-32; raises ModelFormatError naming the first bad array."""
    for name, e in c.header["arrays"].items():
        arr = c.arrays[name]
        crc = zlib.crc32(arr.view(np.uint8).reshape(-1)) if arr.size else 0
        if crc != e["crc32"]:
            raise ModelFormatError(f"checksum mismatch in array {name!r}: the file is corrupt; rebuild it",
                                   str(c.path))
