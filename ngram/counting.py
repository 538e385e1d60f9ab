"""Exact counts of n-grams given as text, over any backend, in one lookup."""
from __future__ import annotations

import numpy as np

from .chains import COUNTS
from .errors import InvalidQueryError
from .vocab import UNK, UNK_ID


def ngram_counts(backend, lines: list[bytes]) -> np.ndarray:
    """Counts of n-grams, one per line, words separated by ASCII whitespace (one lookup).

    An n-gram holding a word outside the vocabulary counts 0; the literal word <unk> is
    looked up like any other. Every line must hold 1..order words."""
    if backend.value_kind != COUNTS:
        raise ValueError("this model stores probabilities, not counts")
    if not lines:
        return np.zeros(0, np.uint64)
    ids, offs = backend.vocab.encode_lines(b"\n".join(lines), boundaries=False)
    lengths = np.diff(offs).astype(np.int32)
    if len(lengths) != len(lines):
        raise InvalidQueryError("an n-gram has no words (blank line)")
    N = backend.order
    long_ = np.flatnonzero(lengths > N)
    if len(long_):
        b = int(long_[0])
        raise InvalidQueryError(f"n-gram {lines[b].decode('utf-8', 'replace')!r} has {int(lengths[b])} words; "
                                f"the model's order is {N}")
    grid = np.zeros((len(lengths), N), np.int32)
    used = np.arange(N)[None, :] < lengths[:, None]
    grid[used] = ids
    chains = backend.lookup(grid, lengths)
    zeros = ((grid == UNK_ID) & used).sum(axis=1)
    if zeros.any() and UNK in b"\n".join(lines):  # rare: a literal <unk> is a word like others
        zeros -= np.array([ln.split().count(UNK) for ln in lines])
    unknown = zeros > 0
    rows = np.arange(len(lengths))
    found = (chains.match_len == lengths) & ~unknown
    return np.where(found, chains.counts[rows, lengths - 1], 0).astype(np.uint64)
