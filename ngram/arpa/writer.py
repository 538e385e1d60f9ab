"""Writing ARPA text: sections in KenLM's order, floats in their shortest exact form."""
from __future__ import annotations

from typing import BinaryIO

import numpy as np

SECTION_ROWS = 1 << 16  # rows formatted per write


def format_floats(values: np.ndarray) -> np.ndarray:
    """Shortest decimal strings (bytes) that parse back to the same float32 values."""
    values = np.asarray(values, np.float32)
    out = np.empty(len(values), dtype=object)
    todo = np.arange(len(values))
    for digits in (6, 7, 8, 9):
        if not len(todo):
            break
        v = values[todo]
        s = np.char.mod(f"%.{digits}g", v.astype(np.float64))
        ok = s.astype(np.float64).astype(np.float32) == v
        if digits == 9:
            ok[:] = True
        out[todo[ok]] = [x.encode() for x in s[ok]]
        todo = todo[~ok]
    return out


def write_arpa(out: BinaryIO, order: int, words: list[bytes], unigram_prob: np.ndarray,
               unigram_backoff: np.ndarray, levels: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> list[int]:
    """Write an ARPA file. ``levels[k-2] = (grams uint32[n, k], prob, backoff)`` for
    orders 2..N; rows with a NaN probability (blanks) are skipped. Returns the counts."""
    kept = []
    for g, p, b in levels:
        real = ~np.isnan(p)
        g, p, b = g[real], p[real], b[real]
        perm = np.lexsort(g.T[::-1]) if len(g) else np.zeros(0, np.int64)  # w1 most significant
        kept.append((g[perm], p[perm], b[perm]))
    counts = [len(words)] + [len(g) for g, _, _ in kept]
    out.write(b"\\data\\\n")
    for k, n in enumerate(counts, start=1):
        out.write(b"ngram %d=%d\n" % (k, n))
    wa = np.asarray(words, dtype=object)
    _write_section(out, 1, wa[:, None] if len(wa) else wa.reshape(0, 1), unigram_prob, unigram_backoff,
                   order == 1)
    for k, (g, p, b) in enumerate(kept, start=2):
        _write_section(out, k, wa[g] if len(g) else np.zeros((0, k), object), p, b, k == order)
    out.write(b"\n\\end\\\n")
    return counts


def _write_section(out: BinaryIO, k: int, wordmat: np.ndarray, prob, backoff, highest: bool) -> None:
    out.write(b"\n\\%d-grams:\n" % k)
    n = len(wordmat)
    for s in range(0, n, SECTION_ROWS):
        e = min(n, s + SECTION_ROWS)
        ps = format_floats(prob[s:e])
        texts = [b" ".join(r) for r in wordmat[s:e]]
        if highest:
            lines = [a + b"\t" + t for a, t in zip(ps, texts)]
        else:
            bs = format_floats(np.asarray(backoff[s:e], np.float32))
            lines = [a + b"\t" + t + b"\t" + c for a, t, c in zip(ps, texts, bs)]
        out.write(b"\n".join(lines))
        out.write(b"\n")
