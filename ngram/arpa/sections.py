"""The ARPA text parsed into raw arrays: the ``\\data\\`` header, the unigrams, and each
k-gram section (a numba block kernel for regular lines, a line-by-line parser that names
the first irregular one).

Rules (KenLM's): blank lines may precede ``\\data\\`` and separate sections; ``ngram
k=count`` lines name the orders 1..N in turn (N at most ``ngram.limits.MAX_ORDER``);
sections ``\\k-grams:`` follow in order and hold exactly the header's count; numbers are
finite; words of a k-gram are among the unigrams.
"""
from __future__ import annotations

import math

import numpy as np

from ..kernels.arpa_lines import NUMBER_WIDTH, parse_section_block
from ..kernels.vocab_kernels import build_index
from ..limits import MAX_ORDER
from ..vocab import index_table_size
from .text import Lines, show

CHUNK_LINES = 1 << 16  # lines parsed per batch
FIRST_ALLOCATION = 1 << 20  # rows allocated before a section has shown it holds more
# (a header may announce any count; memory follows the lines actually read)


def read_header(src: Lines) -> list[int]:
    """The n-gram counts per order 1..N announced by the ``\\data\\`` header."""
    line = src.next_nonblank()
    if line is None or line.strip() != b"\\data\\":
        raise src.fail(f"expected \\data\\, found {show(line)}", src.lineno)
    counts: list[int] = []
    while True:
        line = src.next()
        if line is None:
            raise src.fail("the file ends inside the \\data\\ header", src.lineno)
        s = line.strip()
        if not s:
            if counts:
                break
            continue
        if not s.startswith(b"ngram "):
            raise src.fail(f"expected 'ngram k=count' in the header, found {show(line)}", src.lineno)
        try:
            k, n = (int(x) for x in s[6:].split(b"="))
        except ValueError:
            raise src.fail(f"bad header line {show(line)}", src.lineno) from None
        if k != len(counts) + 1:
            raise src.fail(f"header names order {k} where order {len(counts) + 1} was expected", src.lineno)
        if k > MAX_ORDER:
            raise src.fail(f"order {k} is above the largest supported order, {MAX_ORDER}", src.lineno)
        if n < 0:
            raise src.fail(f"negative n-gram count in {show(line)}", src.lineno)
        counts.append(n)
    if counts[0] == 0:
        raise src.fail("the header lists no unigrams", src.lineno)
    return counts


def expect_section(src: Lines, k: int) -> int:
    """Reads the ``\\k-grams:`` line; returns the number of the section's first line."""
    line = src.next_nonblank()
    want = b"\\%d-grams:" % k
    if line is None or line.strip() != want:
        raise src.fail(f"expected {want.decode()}, found {show(line)}", src.lineno)
    return src.lineno + 1


def parse_float(tok: bytes, what: str, line: int, fail) -> float:
    try:
        x = float(tok)
    except ValueError:
        raise fail(f"bad {what} {tok.decode('utf-8', 'replace')!r}", line) from None
    if not math.isfinite(x):
        raise fail(f"{what} {tok.decode('utf-8', 'replace')!r} is not finite", line)
    return x


def read_unigrams(src: Lines, n: int, highest: bool):
    """(words, probs, backoffs, first line) of the ``\\1-grams:`` section, in file order."""
    first = expect_section(src, 1)
    words: list[bytes] = []
    probs: list[float] = []
    backs: list[float] = []
    seen: set[bytes] = set()
    for i in range(n):
        line = src.next()
        parts = line.split() if line is not None else []
        if not parts:
            raise src.fail(f"the header announces {n} 1-grams, the section has {i}", src.lineno)
        if len(parts) == 3 and not highest:
            backs.append(parse_float(parts[2], "backoff", src.lineno, src.fail))
        elif len(parts) == 2:
            backs.append(0.0)
        else:
            raise src.fail(f"expected 'prob word [backoff]', found {show(line)}", src.lineno)
        probs.append(parse_float(parts[0], "probability", src.lineno, src.fail))
        w = parts[1]
        if w in seen:
            raise src.fail(f"duplicate unigram {w.decode('utf-8', 'replace')!r}", src.lineno)
        seen.add(w)
        words.append(w)
    expect_section_end(src, 1, n)
    return words, probs, backs, first


def expect_section_end(src: Lines, k: int, n: int) -> None:
    line = src.next()
    if line is not None and line.strip():
        if line.strip().startswith(b"\\"):
            src.push_back(line)
            return
        raise src.fail(f"the header announces {n} {k}-grams, the section has more", src.lineno)


class WordIndex:
    """The unigrams' words as the vocabulary kernels' hash index (for parse_section_block)."""

    def __init__(self, words: list[bytes]):
        lengths = np.fromiter(map(len, words), np.uint64, len(words))
        self.offsets = np.zeros(len(words) + 1, np.uint64)
        np.cumsum(lengths, out=self.offsets[1:])
        self.strings = np.frombuffer(b"".join(words), np.uint8)
        self.table = build_index(self.strings, self.offsets, index_table_size(len(words)))


def read_section(src: Lines, k: int, n: int, highest: bool, vocab: dict, index: WordIndex):
    """(word ids int64[n, k] in unigram file order, prob, backoff, first line) of the
    ``\\k-grams:`` section, whose header count is n."""
    first = expect_section(src, k)
    rows = min(n, FIRST_ALLOCATION)
    grams = np.empty((rows, k), np.int64)
    probs = np.empty(rows, np.float32)
    backs = np.zeros(rows, np.float32)
    done = 0
    while done < n:
        lines = src.chunk(min(CHUNK_LINES, n - done))
        start_line = first + done
        if not lines:
            raise src.fail(f"the header announces {n} {k}-grams, the section has {done}", src.lineno + 1)
        c = len(lines)
        if done + c > len(grams):  # the section holds more than allocated: grow in place
            rows = min(n, max(2 * len(grams), done + c))
            for a in (grams, probs, backs):
                a.resize((rows,) + a.shape[1:], refcheck=False)
        parsed = parse_block_fast(lines, k, highest, index)
        if parsed is None:  # something irregular: the line-by-line parser names it
            parsed = parse_block(lines, k, n, done, start_line, highest, vocab, src.fail)
        grams[done:done + c], probs[done:done + c], backs[done:done + c] = parsed
        done += c
    expect_section_end(src, k, n)
    return grams, probs, backs, first


def parse_block_fast(lines: list[bytes], k: int, highest: bool, index: WordIndex):
    """(ids [c, k], prob, backoff) of a block of regular lines, or None."""
    c = len(lines)
    block = np.zeros((c, k), np.int64)
    ptok = np.zeros((c, NUMBER_WIDTH), np.uint8)
    btok = np.zeros((c, NUMBER_WIDTH), np.uint8)
    if parse_section_block(b"".join(lines), k, highest, index.strings, index.offsets, index.table,
                           block, ptok, btok) >= 0:
        return None
    try:
        pv = ptok.view(f"S{NUMBER_WIDTH}").ravel().astype(np.float64)
        bv = btok.view(f"S{NUMBER_WIDTH}").ravel().astype(np.float64)
    except ValueError:
        return None
    if not (np.isfinite(pv).all() and np.isfinite(bv).all()):
        return None
    return block, pv, bv


def parse_block(lines: list[bytes], k: int, n: int, done: int, start_line: int, highest: bool, vocab: dict,
                fail):
    """parse_block_fast line by line in Python, raising fail(message, line) for the first
    bad line (``done`` lines of the section precede the block, which starts at line
    ``start_line``)."""
    get = vocab.get
    flat: list[bytes] = []
    ptok: list[bytes] = []
    btok: list[bytes] = []
    for j, line in enumerate(lines):
        parts = line.split()
        m = len(parts)
        if m == k + 1:
            ptok.append(parts[0])
            btok.append(b"0")
            flat += parts[1:]
        elif m == k + 2 and not highest:
            ptok.append(parts[0])
            btok.append(parts[-1])
            flat += parts[1:-1]
        elif m == 0:
            raise fail(f"the header announces {n} {k}-grams, the section has {done + j}", start_line + j)
        else:
            what = "'prob w1..wk'" if highest else "'prob w1..wk [backoff]'"
            raise fail(f"expected {what} with k={k}, found {show(line)}", start_line + j)
    ids = [get(w, -1) for w in flat]
    c = len(lines)
    block = np.asarray(ids, np.int64).reshape(c, k)
    bad = np.flatnonzero((block < 0).any(axis=1))
    if len(bad):
        j = int(bad[0])
        w = [flat[j * k + i] for i in range(k) if block[j, i] < 0][0]
        raise fail(f"word {w.decode('utf-8', 'replace')!r} is not among the unigrams", start_line + j)
    try:
        pv = np.asarray(ptok).astype(np.float64)
        bv = np.asarray(btok).astype(np.float64)
        ok = np.isfinite(pv) & np.isfinite(bv)
    except ValueError:
        ok = None
    if ok is None or not ok.all():
        for j in range(c):  # find the offending line
            parse_float(ptok[j], "probability", start_line + j, fail)
            parse_float(btok[j], "backoff", start_line + j, fail)
    return block, pv, bv
