"""The streaming ARPA reader: formats, conventions, and every malformed-file case."""
from __future__ import annotations

import gzip
import lzma
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
import zstandard

from ngram.arpa import ArpaModel, read_arpa, write_arpa
from ngram.errors import ArpaFormatError, NgramError
from sample_corpus import ARPA_DIR

ARPA = ARPA_DIR
TEST_ARPA = ARPA / "kenlm-test.arpa"


def test_reads_kenlm_test_with_its_edge_cases():
    m = read_arpa(TEST_ARPA)
    assert m.order == 5 and m.counts == [37, 47, 11, 6, 4]
    assert m.words[:3] == [b"<unk>", b"<s>", b"</s>"] and not m.added_unk
    ids = {w: i for i, w in enumerate(m.words)}
    assert m.unigram_prob[ids[b"<s>"]] == np.float32(-99)
    assert m.unigram_backoff[ids[b"<unk>"]] == np.float32(-20)
    assert m.unigram_backoff[ids[b"bar"]] == np.float32(3.0)  # positive backoff
    assert m.unigram_backoff[ids[b"baz"]] == 0.0  # -0.0
    assert m.unigram_backoff[ids[b"foo"]] == 0.0  # absent
    # ids after the specials by descending probability
    probs = m.unigram_prob[3:]
    assert (np.diff(probs) <= 0).all()
    # missing suffixes became blanks: 'would consider', 'higher looking', ...
    assert m.blanks == [5, 2, 1, 0]
    lev2 = {tuple(g): p for g, p in zip(m.levels[0].grams.tolist(), m.levels[0].prob.tolist())}
    assert math.isnan(lev2[(ids[b"would"], ids[b"consider"])])
    assert math.isnan(lev2[(ids[b"higher"], ids[b"looking"])])
    assert lev2[(ids[b"also"], ids[b"would"])] == pytest.approx(-2)
    for lev in m.levels:  # sorted, unique, suffix-closed
        g = lev.grams
        assert np.array_equal(np.lexsort(g.T), np.arange(len(g)))
    for lo, hi in zip(m.levels, m.levels[1:]):
        have = {tuple(r) for r in lo.grams.tolist()}
        assert all(tuple(r[1:]) in have for r in hi.grams.tolist())
        assert (lo.backoff[np.isnan(lo.prob)] == 0).all()


def test_missing_unk_gets_minus_100():
    m = read_arpa(ARPA / "kenlm-test_nounk.arpa")
    assert m.added_unk and m.words[0] == b"<unk>"
    assert m.unigram_prob[0] == np.float32(-100) and len(m.words) == 37


def test_lmplz_toys_with_zero_bos():
    m = read_arpa(ARPA / "kenlm-toy0.arpa")
    assert m.order == 3 and m.counts == [5, 7, 7] and m.blanks == [0, 0]
    assert m.unigram_prob[1] == 0.0


@pytest.mark.parametrize("suffix", [".gz", ".zst", ".xz"])
def test_compressed_files_read_the_same(tmp_path, suffix):
    data = TEST_ARPA.read_bytes()
    path = tmp_path / ("m.arpa" + suffix)
    if suffix == ".gz":
        path.write_bytes(gzip.compress(data))
    elif suffix == ".xz":
        path.write_bytes(lzma.compress(data))
    else:
        path.write_bytes(zstandard.ZstdCompressor().compress(data))
    a, b = read_arpa(TEST_ARPA), read_arpa(path)
    _same(a, b)


def _same(a: ArpaModel, b: ArpaModel):
    """Every field equal: words, counts, blanks, every id and every value (NaN blanks too)."""
    assert (a.order, a.words, a.counts, a.added_unk, a.blanks) == (b.order, b.words, b.counts, b.added_unk, b.blanks)
    assert np.array_equal(a.unigram_prob, b.unigram_prob) and np.array_equal(a.unigram_backoff, b.unigram_backoff)
    assert len(a.levels) == len(b.levels) == a.order - 1
    for x, y in zip(a.levels, b.levels, strict=True):
        assert x.grams.dtype == y.grams.dtype and np.array_equal(x.grams, y.grams)
        assert np.array_equal(x.prob, y.prob, equal_nan=True) and np.array_equal(x.backoff, y.backoff)


def test_same_notices_a_changed_value():
    a, b = read_arpa(TEST_ARPA), read_arpa(TEST_ARPA)
    _same(a, b)
    for level, column in ((1, "prob"), (3, "backoff"), (0, "grams")):
        c = read_arpa(TEST_ARPA)
        arr = getattr(c.levels[level], column)
        arr[-1] = arr[-1] + 1 if column == "grams" else np.float32(-0.125)
        with pytest.raises(AssertionError):
            _same(a, c)
    c = read_arpa(TEST_ARPA)
    c.unigram_backoff[5] += 1
    with pytest.raises(AssertionError):
        _same(a, c)


def test_order_8_and_crlf(tmp_path):
    words = [f"w{i}" for i in range(9)]
    lines = ["\\data\\"] + [f"ngram {k}=1" if k > 1 else "ngram 1=11" for k in range(1, 9)] + [""]
    lines += ["\\1-grams:", "-1\t<s>\t-0.5", "-1\t</s>", "-1\t<unk>"] + [f"-1\t{w}\t-0.1" for w in words[:8]] + [""]
    for k in range(2, 9):
        lines += [f"\\{k}-grams:", f"-0.5\t{' '.join(words[:k])}" + ("\t-0.2" if k < 8 else ""), ""]
    lines += ["\\end\\"]
    p = tmp_path / "o8.arpa"
    p.write_bytes("\r\n".join(lines).encode())
    m = read_arpa(p)
    assert m.order == 8 and m.counts == [11] + [1] * 7
    # the suffixes w1..wk of w0..wk are missing: blanks fill every level
    assert m.blanks == [6, 5, 4, 3, 2, 1, 0]


def _write(tmp_path, text: str, name="bad.arpa") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


GOOD = """
\\data\\
ngram 1=4
ngram 2=2

\\1-grams:
-1.0\t<s>\t-0.3
-1.2\t</s>
-1.5\ta\t-0.2
-2.0\t<unk>

\\2-grams:
-0.5\t<s> a
-0.4\ta </s>

\\end\\
"""


def test_good_small_file(tmp_path):
    m = read_arpa(_write(tmp_path, GOOD))
    assert m.counts == [4, 2] and m.blanks == [0]


MALFORMED = {
    # name: (text transformation, expected line, message fragment)
    "count_too_high": (lambda t: t.replace("ngram 2=2", "ngram 2=3"), 15, "announces 3 2-grams"),
    "count_too_low": (lambda t: t.replace("ngram 2=2", "ngram 2=1"), 14, "has more"),
    "unigram_count_too_high": (lambda t: t.replace("ngram 1=4", "ngram 1=5"), 11, "announces 5 1-grams"),
    "bad_probability": (lambda t: t.replace("-0.4\ta </s>", "x0.4\ta </s>"), 14, "bad probability"),
    "nan_probability": (lambda t: t.replace("-0.4\ta </s>", "nan\ta </s>"), 14, "not finite"),
    "bad_backoff": (lambda t: t.replace("-1.5\ta\t-0.2", "-1.5\ta\tfoo"), 9, "bad backoff"),
    "too_many_fields": (lambda t: t.replace("-0.5\t<s> a", "-0.5\t<s> a a\t-1\t-2"), 13, "expected"),
    "backoff_at_highest_order": (lambda t: t.replace("-0.5\t<s> a", "-0.5\t<s> a\t-0.1"), 13, "expected"),
    "unknown_word": (lambda t: t.replace("-0.5\t<s> a", "-0.5\t<s> b"), 13, "not among the unigrams"),
    "section_out_of_order": (lambda t: t.replace("\\2-grams:", "\\3-grams:"), 12, "expected \\2-grams:"),
    "header_order_gap": (lambda t: t.replace("ngram 2=2", "ngram 3=2"), 4, "order 3"),
    "no_data_line": (lambda t: t.replace("\\data\\", "data"), 2, "expected \\data\\"),
    "missing_end": (lambda t: t.replace("\\end\\", ""), 16, "expected \\end\\"),
    "duplicate_unigram": (lambda t: t.replace("-2.0\t<unk>", "-2.0\ta"), 10, "duplicate unigram"),
    "duplicate_bigram": (lambda t: t.replace("-0.4\ta </s>", "-0.4\t<s> a"), 14, "duplicate 2-gram"),
    "missing_eos": (lambda t: t.replace("-1.2\t</s>", "-1.2\tb").replace("a </s>", "a b"), 7, "lack </s>"),
    "truncated": (lambda t: t[: t.index("-0.4")], 14, "announces 2 2-grams"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_files_name_the_line(tmp_path, case):
    edit, line, fragment = MALFORMED[case]
    p = _write(tmp_path, edit(GOOD))
    with pytest.raises(ArpaFormatError) as e:
        read_arpa(p)
    assert isinstance(e.value, NgramError)
    assert e.value.line == line, str(e.value)
    assert fragment in str(e.value)
    assert str(p) in str(e.value) and f":{line}:" in str(e.value)


def test_missing_context_is_an_error(tmp_path):
    text = GOOD.replace("ngram 2=2", "ngram 2=2\nngram 3=1").replace(
        "\\end\\", "\\3-grams:\n-0.1\t</s> a </s>\n\n\\end\\")
    with pytest.raises(ArpaFormatError, match="context") as e:
        read_arpa(_write(tmp_path, text))
    assert e.value.line == 18


def test_write_then_read_is_identical(tmp_path):
    a = read_arpa(TEST_ARPA)
    out = tmp_path / "back.arpa"
    with open(out, "wb") as f:
        counts = write_arpa(f, a.order, a.words, a.unigram_prob, a.unigram_backoff,
                            [(l.grams, l.prob, l.backoff) for l in a.levels])
    assert counts == a.counts  # blanks are not written
    _same(a, read_arpa(out))


_WORDS = [b"a", b"bb", b"<s>", b"</s>", b"\xc3\xa9t\xc3\xa9", b"x\xa0y", b"c"]
_NUMBERS = [b"-1.5", b"0", b"-0.0", b"3", b"-99", b"1e-5", b"-2.25E+01", b"+.5", b"-1.234567890123"]


@settings(deadline=None, max_examples=80)
@given(k=st.integers(2, 4), highest=st.booleans(), data=st.data())
def test_block_parser_equals_the_line_parser(k, highest, data):
    # the numba block parser (ngram.kernels.arpa_lines) against the line-by-line one, on
    # regular lines with any ASCII whitespace, and on irregular ones (it must decline)
    from ngram.arpa.sections import WordIndex, parse_block, parse_block_fast

    vocab = {w: i for i, w in enumerate(_WORDS)}
    index = WordIndex(_WORDS)
    space = st.sampled_from([b" ", b"\t", b"  ", b" \t", b"\x0b", b"\x0c", b"\r "])

    def line():
        toks = [data.draw(st.sampled_from(_NUMBERS))] + [data.draw(st.sampled_from(_WORDS)) for _ in range(k)]
        if not highest and data.draw(st.booleans()):
            toks.append(data.draw(st.sampled_from(_NUMBERS)))
        out = b""
        for t in toks:
            out += t + data.draw(space)
        return out + data.draw(st.sampled_from([b"\n", b"\r\n"]))

    lines = [line() for _ in range(data.draw(st.integers(1, 20)))]
    if data.draw(st.booleans()):
        lines[-1] = lines[-1].rstrip(b"\n")  # the file's last line may lack its newline
    want = parse_block(lines, k, 100, 0, 1, highest, vocab, lambda msg, line: AssertionError(msg))
    got = parse_block_fast(lines, k, highest, index)
    assert got is not None
    for g, w in zip(got, want):
        assert np.array_equal(g, w)
    # irregular lines: one token too many or too few, an unknown word, a bad number
    bad = data.draw(st.sampled_from([b"-1 a\n", b"-1 " + b"a " * (k + 2) + b"\n", b"-1 zz" + b" a" * (k - 1) + b"\n",
                                     b"x1" + b" a" * k + b"\n", b"\n", b"-1" + b" a" * k + b" " + b"9" * 30 + b"\n"]))
    at = data.draw(st.integers(0, len(lines)))
    assert parse_block_fast(lines[:at] + [bad] + lines[at:], k, highest, index) is None


@pytest.mark.parametrize("suffix", [".gz", ".zst", ".xz"])
def test_truncated_compressed_arpa_is_a_line_numbered_error(tmp_path, suffix):
    # issue 11: a cut .arpa.gz ended in click's "Aborted!" (gzip's EOFError)
    data = TEST_ARPA.read_bytes()
    packed = {".gz": gzip.compress, ".xz": lzma.compress,
              ".zst": zstandard.ZstdCompressor().compress}[suffix](data)
    p = tmp_path / ("cut.arpa" + suffix)
    p.write_bytes(packed[: len(packed) * 2 // 3])
    with pytest.raises(ArpaFormatError) as e:
        read_arpa(p)
    assert e.value.line is not None and 1 <= e.value.line <= data.count(b"\n") + 1
    assert f"{p}:{e.value.line}:" in str(e.value) and "truncated" in str(e.value)


@pytest.mark.parametrize("count", ["99999999999999", str(2**62)])
def test_absurd_header_count_is_a_line_numbered_error(tmp_path, count):
    # issue 11: a header count far above the section's lines made numpy allocate it (traceback)
    p = _write(tmp_path, GOOD.replace("ngram 2=2", f"ngram 2={count}"))
    with pytest.raises(ArpaFormatError) as e:
        read_arpa(p)
    assert e.value.line == 15 and f"announces {count} 2-grams, the section has 2" in str(e.value)


def test_header_order_above_the_limit_is_a_line_numbered_error(tmp_path):
    from ngram.limits import MAX_ORDER
    header = "\n".join(f"ngram {k}=1" for k in range(1, MAX_ORDER + 2))
    p = _write(tmp_path, f"\\data\\\n{header}\n\n\\1-grams:\n")
    with pytest.raises(ArpaFormatError, match=f"order {MAX_ORDER + 1} is above") as e:
        read_arpa(p)
    assert e.value.line == MAX_ORDER + 2


def test_section_longer_than_the_first_allocation(tmp_path, monkeypatch):
    # the section arrays grow as lines arrive; the result equals the one-allocation read
    import ngram.arpa.sections as sections
    want = read_arpa(TEST_ARPA)
    monkeypatch.setattr(sections, "FIRST_ALLOCATION", 2)
    monkeypatch.setattr(sections, "CHUNK_LINES", 3)
    _same(want, read_arpa(TEST_ARPA))
