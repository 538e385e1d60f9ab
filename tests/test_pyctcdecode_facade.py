"""pyctcdecode, unchanged, with client.kenlm_compat registered as ``kenlm``: the texts it
decodes over a model directory, an ARPA file and a cluster equal those it decodes with
the real kenlm module (tests/fixtures/pyctcdecode_expected.npz, made by
tests/fixtures/make_pyctcdecode_expected.py), and its save_to_dir/load_from_dir work."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

import sys

import client.kenlm_compat as facade

_kenlm_before = sys.modules.get("kenlm")
facade.install()  # before pyctcdecode imports kenlm
pyctcdecode = pytest.importorskip("pyctcdecode")
from pyctcdecode import BeamSearchDecoderCTC, build_ctcdecoder  # noqa: E402
from pyctcdecode import language_model as pyctc_language_model  # noqa: E402

from cluster_harness import Cluster  # noqa: E402
from ngram.arpa import import_arpa  # noqa: E402

pytestmark = pytest.mark.timeout(300)

ROOT = Path(__file__).resolve().parents[1]
ARPA = ROOT.parent / "shared" / "arpa"
FIXTURE = np.load(ROOT / "tests" / "fixtures" / "pyctcdecode_expected.npz", allow_pickle=False)
META = json.loads(str(FIXTURE["meta"]))
CLUSTER_UTTERANCES = 6  # each BaseScore miss is a round trip there


@pytest.fixture(scope="module", autouse=True)
def _restore_kenlm_module():
    """`kenlm` is the facade while this module runs, and what it was before afterwards
    (pyctcdecode keeps the module it imported, which is what these tests need)."""
    yield
    if _kenlm_before is None:
        sys.modules.pop("kenlm", None)
    else:
        sys.modules["kenlm"] = _kenlm_before


def _logits(i: int) -> np.ndarray:
    off = FIXTURE["offsets"]
    return FIXTURE["logits"][off[i]:off[i + 1]].astype(np.float32)


def _decode(model_path, count: int, unigrams: list[str]) -> list[str]:
    decoder = build_ctcdecoder(META["labels"], kenlm_model_path=str(model_path), unigrams=unigrams,
                               alpha=META["alpha"], beta=META["beta"])
    assert isinstance(decoder._language_model._kenlm_model, facade.Model)
    return [decoder.decode(_logits(i), beam_width=META["beam_width"]) for i in range(count)]


@pytest.fixture(scope="module")
def en_dev(tmp_path_factory):
    """en-dev.5 imported once (one shard), and its words: pyctcdecode's unigram list,
    the same as the fixture script read from the ARPA file."""
    d = tmp_path_factory.mktemp("endev") / "model"
    import_arpa(ARPA / META["arpa"], d, num_shards=1, quantization="none")
    unigrams = list(facade.Model(d).words())
    assert hashlib.sha256("\n".join(sorted(unigrams)).encode()).hexdigest() == META["unigram_sha256"]
    return d, unigrams


def test_pyctcdecode_imports_the_facade_as_kenlm():
    assert pyctc_language_model.kenlm is facade


def test_decodes_as_real_kenlm_from_a_model_directory(en_dev):
    model_dir, unigrams = en_dev
    assert _decode(model_dir, len(FIXTURE["decoded"]), unigrams) == FIXTURE["decoded"].tolist()


def test_decodes_as_real_kenlm_from_an_arpa_file(en_dev):
    assert _decode(ARPA / META["arpa"], len(FIXTURE["decoded"]), en_dev[1]) == FIXTURE["decoded"].tolist()


def test_decodes_as_real_kenlm_through_a_cluster(en_dev, tmp_path):
    # one shard server (a multi-shard cluster: tests/test_kenlm_compat.py's every_path)
    with Cluster(en_dev[0], tmp_path / "cluster", replicas=1) as c:
        got = _decode(c.path, CLUSTER_UTTERANCES, en_dev[1])
    assert got == FIXTURE["decoded"][:CLUSTER_UTTERANCES].tolist()


def test_decoder_save_to_dir_and_load_from_dir(tmp_path):
    # pyctcdecode copies the file named by Model.path (bytes, as kenlm has it)
    labels = META["labels"]
    decoder = build_ctcdecoder(labels, kenlm_model_path=str(ARPA / "kenlm-test.arpa"), alpha=0.5, beta=1.0)
    (tmp_path / "saved").mkdir()
    decoder.save_to_dir(str(tmp_path / "saved"))
    saved = tmp_path / "saved" / "language_model" / "kenlm-test.arpa"
    assert saved.read_bytes() == (ARPA / "kenlm-test.arpa").read_bytes()
    loaded = BeamSearchDecoderCTC.load_from_dir(str(tmp_path / "saved"))
    assert isinstance(loaded._language_model._kenlm_model, facade.Model)
    for i in range(3):
        assert loaded.decode(_logits(i), beam_width=8) == decoder.decode(_logits(i), beam_width=8)
