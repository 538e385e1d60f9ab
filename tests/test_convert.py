"""`ngram convert`: a model rewritten in another shard format answers exactly as before
(counts, and quantized backoff values bit for bit), in place or into --out, atomically;
a corrupt model is refused and left as it was."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from corruption_harness import _backoff_from_counts
from ngram.cli import main
from ngram.convert import convert_model
from ngram.errors import ModelFormatError
from ngram.format import open_container
from ngram.model import Model
from reference_builder import build_model_inmemory
from sample_corpus import sample_text


@pytest.fixture(scope="module")
def v1_model(tmp_path_factory):
    out = tmp_path_factory.mktemp("convert") / "v1"
    build_model_inmemory(sample_text(800), out, order=4, num_shards=2, format_version=1)
    return out


def all_answers(model_dir) -> tuple:
    m = Model.open(model_dir)
    levels = [m.shards[s].decode() for s in sorted(m.shards)]
    ids = np.concatenate([lv[-1][0] for _, lv in levels]).astype(np.int32)
    ids = np.concatenate([ids, ids[::-1, ::-1]])  # stored n-grams, and mostly absent ones
    chains = m.lookup(ids, np.full(len(ids), m.order, np.int32))
    version = m.manifest["format"]["version"]
    m.close()
    return chains, version


def test_cli_convert_in_place_keeps_every_answer(v1_model, tmp_path):
    model = shutil.copytree(v1_model, tmp_path / "m")
    before, version = all_answers(model)
    old_id = json.loads((model / "manifest.json").read_text())["model_id"]
    assert version == 1
    info = CliRunner().invoke(main, ["info", str(model)])
    assert "format        v1 (ngram convert rewrites it as v2)" in info.output
    r = CliRunner().invoke(main, ["convert", str(model)])
    assert r.exit_code == 0, r.output
    assert "format 2" in r.output
    after, version = all_answers(model)
    assert version == 2 and after.equals(before)
    manifest = json.loads((model / "manifest.json").read_text())
    assert manifest["model_id"] != old_id  # other bytes, another id
    assert manifest["corpus"] == json.loads((v1_model / "manifest.json").read_text())["corpus"]
    Model.open(model, verify=True).close()
    assert json.loads(CliRunner().invoke(main, ["info", str(model), "--json"]).output)["format_version"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]  # no temporary directory left


def test_cli_convert_to_out_leaves_the_source(v1_model, tmp_path):
    r = CliRunner().invoke(main, ["convert", str(v1_model), "--out", str(tmp_path / "v2")])
    assert r.exit_code == 0, r.output
    assert all_answers(v1_model)[1] == 1
    a, b = all_answers(v1_model)[0], all_answers(tmp_path / "v2")
    assert b[1] == 2 and a.equals(b[0])


def test_quantized_backoff_values_survive_a_round_trip_bit_for_bit(v1_model, tmp_path):
    _backoff_from_counts(v1_model, tmp_path / "q8", "8")
    convert_model(tmp_path / "q8", tmp_path / "q8-v1", version=1)
    convert_model(tmp_path / "q8-v1", tmp_path / "q8-v2", version=2)
    a, b = all_answers(tmp_path / "q8")[0], all_answers(tmp_path / "q8-v2")[0]
    assert a.equals(b)
    np.testing.assert_array_equal(a.prob.view(np.uint32), b.prob.view(np.uint32))


def test_a_corrupt_model_is_refused_and_left_unchanged(v1_model, tmp_path):
    model = shutil.copytree(v1_model, tmp_path / "m")
    shard = model / "shard-00001-of-00002.bin"
    c = open_container(shard, b"SHD1")
    middle = c.header["arrays"]["data"]["offset"] + c.arrays["data"].nbytes // 2  # a payload byte
    c.close()
    data = bytearray(shard.read_bytes())
    data[middle] ^= 0xFF
    shard.write_bytes(bytes(data))
    snapshot = {p.name: p.read_bytes() for p in model.iterdir()}
    r = CliRunner().invoke(main, ["convert", str(model)])
    assert r.exit_code == 1 and "checksum" in r.output
    assert {p.name: p.read_bytes() for p in model.iterdir()} == snapshot
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]
    with pytest.raises(ModelFormatError):
        convert_model(model, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_successor_index_is_dropped_with_a_note(v1_model, tmp_path):
    # its files name the model id, which the conversion changes: keeping them would
    # leave an index every open refuses
    from ngram.successors import has_index, write_index
    model = shutil.copytree(v1_model, tmp_path / "m")
    write_index(model)
    assert any(p.name.startswith("successors-") for p in model.iterdir())
    r = CliRunner().invoke(main, ["convert", str(model)])
    assert r.exit_code == 0, r.output
    assert "run ngram index-successors" in r.output
    assert not has_index(json.loads((model / "manifest.json").read_text()))
    assert not any(p.name.startswith("successors-") for p in model.iterdir())
    Model.open(model).close()
