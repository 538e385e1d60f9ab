"""Corrupt model files are refused with a ModelFormatError naming the file, and malformed
queries with an InvalidQueryError naming the problem. Every case damages a real file."""
import json
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

from reference_builder import build_model_inmemory
from ngram.errors import InvalidQueryError, ModelFormatError
from ngram.format import FIXED_SIZE
from ngram.kernels import layout as LY
from ngram.manifest import model_id_of
from ngram.model import Model

from sample_corpus import sample_text

SHARD0 = "shard-00000-of-00002.bin"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    out = tmp_path_factory.mktemp("pristine") / "model"
    build_model_inmemory(sample_text(300), out, order=3, num_shards=2)
    return out


@pytest.fixture
def model_dir(pristine, tmp_path):
    return Path(shutil.copytree(pristine, tmp_path / "model"))


def refused_at_open(model_dir, name, match):
    with pytest.raises(ModelFormatError, match=match) as e:
        Model.open(model_dir)
    assert e.value.path is not None and e.value.path.endswith(name)
    assert name in str(e.value)


def truncate(path: Path, drop: int) -> None:
    path.write_bytes(path.read_bytes()[:-drop])


def rewrite_manifest(model_dir: Path, edit, keep_id: bool) -> None:
    p = model_dir / "manifest.json"
    m = json.loads(p.read_text())
    edit(m)
    if keep_id:  # a consistent manifest, so only the edited fact is wrong
        m["model_id"] = model_id_of(m)
    p.write_text(json.dumps(m))


def test_pristine_model_opens_verified_and_answers_the_reference_counts(model_dir):
    # the control for every test below: the undamaged copy opens with its checksums
    # checked (the default) and answers the counts a plain-Python count of the text gives
    from collections import Counter
    lines = [[b"<s>"] + line.split() + [b"</s>"] for line in sample_text(300).split(b"\n") if line.split()]
    bigrams = Counter((a, b) for words in lines for a, b in zip(words, words[1:]))
    model = Model.open(model_dir)
    model.verify()
    grams = sorted(bigrams)[:500]
    ids = model.vocab.ids([w for g in grams for w in g]).reshape(-1, 2)
    chains = model.lookup(ids.astype(np.int32), np.full(len(grams), 2, np.int32))
    assert chains.counts[:, 1].tolist() == [bigrams[g] for g in grams]
    assert (chains.match_len == 2).all()
    model.close()


def test_truncated_shard(model_dir):
    truncate(model_dir / SHARD0, 100)
    refused_at_open(model_dir, SHARD0, "size")


def test_truncated_shard_with_a_matching_manifest(model_dir):
    # the manifest agrees with the short file: the container's own size check refuses it
    truncate(model_dir / SHARD0, 100)
    size = (model_dir / SHARD0).stat().st_size
    rewrite_manifest(model_dir, lambda m: m["files"][SHARD0].update(bytes=size), keep_id=True)
    refused_at_open(model_dir, SHARD0, "truncated")


def test_truncated_vocab(model_dir):
    truncate(model_dir / "vocab.bin", 7)
    refused_at_open(model_dir, "vocab.bin", "size")


def test_flipped_bit_in_payload_is_caught_by_verify(model_dir):
    path = model_dir / SHARD0
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x10
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFormatError, match=SHARD0):  # verification is the default
        Model.open(model_dir)
    model = Model.open(model_dir, verify=False)  # cheap checks pass: the damage is in an array
    with pytest.raises(ModelFormatError, match="checksum") as e:
        model.verify()
    assert e.value.path.endswith(SHARD0)
    model.close()
    with pytest.raises(ModelFormatError, match=SHARD0):
        Model.open(model_dir, verify=True)
    r = subprocess.run([sys.executable, "-m", "ngram.cli", "verify", str(model_dir)], capture_output=True, text=True)
    assert r.returncode == 1 and SHARD0 in r.stderr and "OK" not in r.stdout


def test_flipped_bit_in_header(model_dir):
    path = model_dir / SHARD0
    data = bytearray(path.read_bytes())
    data[FIXED_SIZE + 20] ^= 0x01  # inside the header JSON, which has its own CRC
    path.write_bytes(bytes(data))
    refused_at_open(model_dir, SHARD0, "header checksum")


def test_missing_shard(model_dir):
    (model_dir / SHARD0).unlink()
    refused_at_open(model_dir, SHARD0, "missing")


def test_wrong_format_version(model_dir):
    path = model_dir / SHARD0
    data = bytearray(path.read_bytes())
    magic, version, hlen, endian, total, hcrc = struct.unpack_from("<8sIIQQI", data, 0)
    assert version == 2  # new models are written in format v2 (docs/FORMAT_V2.md)
    struct.pack_into("<8sIIQQI", data, 0, magic, 3, hlen, endian, total,
                     zlib.crc32(bytes(data[FIXED_SIZE:FIXED_SIZE + hlen])))
    path.write_bytes(bytes(data))
    refused_at_open(model_dir, SHARD0, "version 3")


def test_manifest_edited_by_hand(model_dir):
    rewrite_manifest(model_dir, lambda m: m["corpus"].update(tokens=1), keep_id=False)
    refused_at_open(model_dir, "manifest.json", "model id")


def test_manifest_size_disagrees_with_file(model_dir):
    rewrite_manifest(model_dir, lambda m: m["files"]["vocab.bin"].update(bytes=m["files"]["vocab.bin"]["bytes"] + 64),
                     keep_id=True)
    refused_at_open(model_dir, "vocab.bin", "differs from the manifest")


def test_incomplete_magic(model_dir):
    path = model_dir / SHARD0
    data = bytearray(path.read_bytes())
    data[:8] = b"INCOMPLT"  # what a crash between writing and completing leaves
    path.write_bytes(bytes(data))
    refused_at_open(model_dir, SHARD0, "never completed")


def test_not_a_model_directory(tmp_path):
    with pytest.raises(ModelFormatError, match="manifest.json"):
        Model.open(tmp_path)


# ----------------------------------------------------------------------------- queries

@pytest.mark.parametrize("ids, lengths, match", [
    (np.zeros((2, 4), np.int32), np.array([4, 1]), r"lengths\[0\] = 4 exceeds the model order 3"),
    (np.zeros((2, 3), np.int32), np.array([1, 0]), r"lengths\[1\] = 0"),
    (np.zeros(3, np.int32), np.array([1, 1, 1]), "2-D"),
    (np.zeros((2, 3), np.int32), np.array([1, 1, 1]), "one entry per row"),
    (np.zeros((2, 3), np.float32), np.array([1, 1]), "integer"),
    (np.array([[1, 2, 3], [4, 10**7, 0]], np.int32), np.array([3, 2]), r"ids\[1, 1\] = 10000000 is outside"),
    (np.array([[1, -5, 3]], np.int32), np.array([3]), r"ids\[0, 1\] = -5 is outside"),
])
def test_bad_queries(pristine, ids, lengths, match):
    model = Model.open(pristine)
    with pytest.raises(InvalidQueryError, match=match) as e:
        model.lookup(ids, lengths)
    assert isinstance(e.value, ValueError)
    model.close()


def test_ids_past_a_short_length_are_ignored(pristine):
    model = Model.open(pristine)
    chains = model.lookup(np.array([[5, 10**7, -1]], np.int32), np.array([1]))
    assert chains.match_len.tolist() == [1]
    model.close()


def _layout_cell(model_dir: Path, row: int, col: int, value: int) -> None:
    """Sets one cell of shard 0's layout table (its checksums then disagree)."""
    from ngram.format import open_container
    path = model_dir / SHARD0
    c = open_container(path, b"SHD1")
    offset = c.header["arrays"]["layout"]["offset"] + (row * c.arrays["layout"].shape[1] + col) * 8
    c.close()
    data = bytearray(path.read_bytes())
    data[offset:offset + 8] = int(value).to_bytes(8, "little", signed=True)
    path.write_bytes(bytes(data))


def _bad_values(kind: str, words: int) -> list[int]:
    return {LY.OFFSET: [-1, words, 2**62], LY.WORDS: [-1, words + 1], LY.WIDTH: [-1, 64, 2**40],
            LY.CODE: [3, -5, 99], LY.COUNT: [-1, 10**9]}[kind]


@pytest.mark.parametrize("field", [f.name for f in LY.LEVEL_FIELDS] + [f"col0.{f.name}" for f in LY.COLUMN_FIELDS]
                         + [f.name for f in LY.V2_LEVEL_FIELDS if f.kind != LY.ANY])
def test_open_refuses_every_layout_field_outside_its_kind(pristine, tmp_path, field):
    # the open-time checks follow the layout's field table: each field of a level row,
    # set to a value its kind forbids, is refused before any kernel reads it
    from ngram.shard import ShardTable
    t = ShardTable.open(pristine / SHARD0)
    words = len(t.data)
    t.close()
    if field.startswith("col0."):
        name = field[5:]
        col, kind = LY.column_index(0, name), next(f.kind for f in LY.COLUMN_FIELDS if f.name == name)
    elif field in LY.V2_LEVEL:  # format v2's fields, after the value columns
        col, kind = LY.V2_LEVEL[field], next(f.kind for f in LY.V2_LEVEL_FIELDS if f.name == field)
    else:
        col, kind = LY.LEVEL[field], next(f.kind for f in LY.LEVEL_FIELDS if f.name == field)
    for value in _bad_values(kind, words):
        model = Path(shutil.copytree(pristine, tmp_path / f"m{value}"))
        _layout_cell(model, 2, col, value)
        with pytest.raises(ModelFormatError, match="layout") as e:
            Model.open(model, verify=False)
        assert e.value.path.endswith(SHARD0)
