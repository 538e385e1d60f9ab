"""client.ctc against pyctcdecode 0.5.0 + the kenlm module (fixture made by
tests/fixtures/make_ctc_expected.py), local and through a real cluster."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from client.client import Client
from client.ctc import build_ctcdecoder, log_probs, normalize_labels
from ngram.arpa import import_arpa

FIXTURES = Path(__file__).resolve().parent / "fixtures"
sys.path.insert(0, str(FIXTURES))
import make_ctc_expected as mk  # noqa: E402

FX = np.load(FIXTURES / "ctc_expected.npz", allow_pickle=False)
CONFIGS = [str(c) for c in FX["configs"]]
LABELS = [str(x) for x in FX["labels"]]
LOGITS = [FX[f"logits_{i}"].astype(np.float64) for i in range(len(FX["texts"]))]


@pytest.fixture(scope="module")
def arpa_models(tmp_path_factory):
    d = tmp_path_factory.mktemp("ctc")
    assert mk.write_arpa(d / "small.arpa") == str(FX["arpa_sha256"]), "the fixture's ARPA is not rebuilt identically"
    import_arpa(d / "small.arpa", d / "m1", num_shards=1, quantization="none")
    import_arpa(d / "small.arpa", d / "m2", num_shards=2, quantization="none")
    return d


def _decoder(name, lm):
    alpha, beta, _ = FX[f"{name}_params"]
    if np.isnan(alpha):
        return build_ctcdecoder(LABELS, None)
    return build_ctcdecoder(LABELS, lm, alpha=float(alpha), beta=float(beta),
                            **json.loads(str(FX[f"{name}_build_kw"])))


def _kw(name):
    hot = [str(h) for h in FX[f"{name}_hotwords"]]
    return {"beam_width": int(FX[f"{name}_params"][2]), "hotwords": hot or None,
            **json.loads(str(FX[f"{name}_decode_kw"]))}


@pytest.mark.parametrize("name", CONFIGS)
def test_best_paths_equal_pyctcdecode_with_kenlm(arpa_models, name):
    dec = _decoder(name, str(arpa_models / "m1"))
    assert dec.decode_batch(None, LOGITS, **_kw(name)) == [str(t) for t in FX[f"{name}_decode"]]
    # decode_beams (no history pruning): the best three beams and their scores
    beams = dec.decode_beams_batch(None, LOGITS, **_kw(name))
    exp_text, exp_score = FX[f"{name}_beams"], FX[f"{name}_scores"]
    for i, bs in enumerate(beams):
        k = int((exp_text[i] != "").sum()) if np.isnan(exp_score[i]).any() else 3
        assert [b[0] for b in bs[:k]] == [str(t) for t in exp_text[i][:k]], f"utterance {i}"
        # KenLM adds backoffs in float32, we in float64 and round: ~1e-6 apart at most
        np.testing.assert_allclose([b[3] for b in bs[:k]], exp_score[i][:k], rtol=0, atol=1e-4)


def test_single_decodes_equal_the_batch(arpa_models):
    dec = _decoder(CONFIGS[0], Client.open(arpa_models / "m2"))
    kw = _kw(CONFIGS[0])
    batch = dec.decode_batch(LOGITS, **kw, batch_size=5)
    assert [dec.decode(x, **kw) for x in LOGITS[:6]] == batch[:6]
    assert batch == [str(t) for t in FX[f"{CONFIGS[0]}_decode"]]


def test_same_texts_local_and_remote(arpa_models, tmp_path):
    from cluster_harness import Cluster
    name = CONFIGS[0]
    local = _decoder(name, str(arpa_models / "m2")).decode_batch(LOGITS, **_kw(name))
    with Cluster(arpa_models / "m2", tmp_path, replicas=1) as c:
        with Client.open(c.path) as client:
            dec = _decoder(name, client)
            remote = dec.decode_batch(LOGITS, **_kw(name))
            rounds = dec.engine.rounds
    assert remote == local == [str(t) for t in FX[f"{name}_decode"]]
    frames = max(len(x) for x in LOGITS)
    assert rounds <= frames + 2  # at most one round per frame for all utterances, plus the end


def test_word_frames_and_scores_are_consistent(arpa_models):
    dec = _decoder(CONFIGS[0], str(arpa_models / "m1"))
    for x in LOGITS[:4]:
        beams = dec.decode_beams(x, beam_width=16)
        assert [b[4] for b in beams] == sorted((b[4] for b in beams), reverse=True)
        text, _state, frames, logit_score, score = beams[0]
        assert [w for w, _ in frames] == text.split()
        starts = [f[0] for _, f in frames]
        assert starts == sorted(starts) and all(0 <= s < e <= len(x) for _, (s, e) in frames)
        assert logit_score <= 0


def test_labels_are_normalized_as_pyctcdecode_does():
    assert normalize_labels(["<pad>", "|", "a", "<unk>"]) == ["", " ", "a", "⁇"]
    assert normalize_labels(["a", "b", " "]) == ["a", "b", " ", ""]
    assert normalize_labels(["_", " ", "a"]) == ["", " ", "a"]
    with pytest.raises(ValueError, match="duplicates"):
        normalize_labels(["a", "a"])
    with pytest.raises(NotImplementedError, match="BPE"):
        normalize_labels(["▁the", "s"])


def test_bad_logits_are_clear_errors():
    dec = build_ctcdecoder(LABELS, None)
    with pytest.raises(ValueError, match=r"utterance 0: logits have 5 labels"):
        dec.decode(np.zeros((3, 5)))
    with pytest.raises(ValueError, match=r"\[frames, labels\]"):
        dec.decode(np.zeros(5))
    assert dec.decode(np.zeros((0, len(LABELS)))) == ""
    x = LOGITS[1].copy()
    x[7, 3] = np.nan
    with pytest.raises(ValueError, match=r"utterance 1: logits hold NaN or \+inf \(first at frame 7\)"):
        dec.decode_batch([LOGITS[0], x])
    x[7, 3] = -np.inf  # a log-probability of zero is fine
    assert isinstance(dec.decode(x), str)


def test_probabilities_and_logits_give_the_same_log_probs():
    x = LOGITS[0]
    p = np.exp(x - x.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(np.exp(log_probs(p)), np.exp(log_probs(x)), atol=1e-12)
