"""client/spelling/error_model.py, noise.py and train_error_model.py."""
from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from client.spelling import train_error_model as T
from client.spelling.error_model import ErrorModel, edit_ops, keyboard_adjacency
from client.spelling.noise import KINDS, NoiseRates, corrupt_lines, corrupt_sentence, eligible
from ngram.errors import ModelFormatError
from sample_corpus import sample_lines

MODEL = ErrorModel.load()


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="abcdeqrstz'é", max_size=8), st.text(alphabet="abcdeqrstz'é", max_size=8))
def test_kernel_equals_plain_python_alignment(intended, typed):
    assert MODEL.log10([typed], [intended])[0] == pytest.approx(MODEL.reference_log10(typed, intended), abs=1e-9)


def test_sensible_pairs_rank_sensibly():
    def p(typed, intended):
        return float(MODEL.log10([typed], [intended])[0])
    assert p("the", "the") == 0.0
    assert p("thr", "the") > p("thq", "the")            # keyboard neighbour beats a far key
    assert p("teh", "the") > p("tqq", "the")            # one transposition beats two substitutions
    assert p("rhe", "the") < p("thr", "the")            # the first letter is rarely wrong
    assert p("leter", "letter") > p("lettr", "letter") - 0.2   # a doubled letter dropped: no rarer
    assert p("thn", "than") > p("thxn", "than") > p("thxxn", "than")
    assert p("TEH", "the") == p("teh", "The")           # case is ignored
    assert keyboard_adjacency()[ord("e") - 97, ord("r") - 97] and not keyboard_adjacency()[0, ord("p") - 97]


def test_edit_ops_classify_the_fewest_edits():
    assert edit_ops("the", "teh") == [("transpose", 1)]
    assert edit_ops("letter", "leter") == [("del_double", 3)]   # ambiguous edits land late
    assert edit_ops("the", "tthe") == [("ins_double", 1)]
    assert edit_ops("then", "thenn") == [("ins_double", 4)]
    assert edit_ops("the", "tpe") == [("sub_other", 1)]
    assert edit_ops("the", "th") == [("del_other", 2)]
    assert edit_ops("the", "thr") == [("sub_adjacent", 2)]
    assert edit_ops("than", "then") == [("sub_vowel", 2)]


def test_noise_is_seeded_and_names_every_change():
    lines = [line.decode() for line in sample_lines(300)]
    a = list(corrupt_lines(lines, seed=5))
    b = list(corrupt_lines(lines, seed=5))
    assert a == b
    assert a != list(corrupt_lines(lines, seed=6))
    seen = set()
    for clean, noisy, edits in a:
        seen.update(e.kind for e in edits)
        rebuilt, i, k = [], 0, 0
        by_index = {e.index: e for e in edits}
        for e in edits:                       # replaying the edits on the clean tokens gives the noisy ones
            assert e.kind in KINDS and e.original != e.typo
        while i < len(clean):
            e = by_index.get(i)
            if e is None:
                rebuilt.append(clean[i])
                i += 1
            else:
                assert " ".join(clean[i:i + (2 if e.kind == "merge" else 1)]) == e.original
                rebuilt.extend(e.typo.split(" "))
                i += 2 if e.kind == "merge" else 1
        assert rebuilt == noisy
    assert {"keyboard", "transposition", "split", "merge", "real_word", "two_edits"} <= seen


def test_real_word_errors_come_from_the_given_vocabulary():
    rng = np.random.default_rng(1)
    rates = NoiseRates(word_rate=1.0, mix={"real_word": 1.0})
    vocab = {"than", "then", "thin", "from", "form", "farm"}
    for _ in range(20):
        noisy, edits = corrupt_sentence(["then", "from", "xyzzy"], rng, rates, vocab)
        for e in edits:
            assert e.typo.lower() in vocab and e.typo != e.original
    noisy, edits = corrupt_sentence(["then", "qqq"], rng, rates, None)   # no vocabulary: our confusion list
    assert [e.typo for e in edits] == ["than"]
    assert not eligible("3d") and not eligible("a") and eligible("Noah's")


def test_trainer_is_deterministic_and_its_output_loads(tmp_path):
    out1, out2 = tmp_path / "a.json", tmp_path / "b.json"
    corpus = T.DEFAULT_CORPUS if T.DEFAULT_CORPUS.exists() else None
    if corpus is None:
        pytest.skip("shared corpus not present")
    args = ["--sentences", "150", "--every", "500", "--seed", "3"]
    assert T.main(args + ["--out", str(out1)]) == 0
    assert T.main(args + ["--out", str(out2)]) == 0
    assert out1.read_bytes() == out2.read_bytes()
    m = ErrorModel.load(out1)
    assert m.provenance["seed"] == 3 and m.provenance["sentences"] == 150
    assert all(v <= 0 for v in m.weights.values())


def test_shipped_weights_record_the_trainer_defaults():
    shipped = json.loads((T.DEFAULT_OUT).read_text())
    p = shipped["provenance"]
    assert {k: p[k] for k in ("seed", "every")} == {k: T.DEFAULTS[k] for k in ("seed", "every")}
    assert p["sentences"] == T.DEFAULTS["sentences"]
    assert p["script"] == "python -m client.spelling.train_error_model"
    assert ErrorModel.load().weights == shipped["weights"]


def test_bad_weights_files_are_clear_errors(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ModelFormatError):
        ErrorModel.load(bad)
    bad.write_text(json.dumps({"weights": {"sub_adjacent": 1.0}, "word_rates": {}}))
    with pytest.raises(ModelFormatError):
        ErrorModel.load(bad)
