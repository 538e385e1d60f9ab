"""The parsed ARPA model: per-order id and value arrays (no text, no I/O)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

UNK, BOS, EOS = b"<unk>", b"<s>", b"</s>"


@dataclass
class ArpaLevel:
    """One order k >= 2: rows unique and sorted in ``np.lexsort(grams.T)`` order (last
    word most significant); blanks (inserted missing suffixes) have prob NaN."""

    grams: np.ndarray  # uint32[n, k]
    prob: np.ndarray  # float32[n]
    backoff: np.ndarray  # float32[n]


@dataclass
class ArpaModel:
    order: int
    words: list[bytes]  # id order; 0-2 are <unk>, <s>, </s>
    unigram_prob: np.ndarray  # float32[V]
    unigram_backoff: np.ndarray  # float32[V]
    levels: list[ArpaLevel]  # orders 2..N
    counts: list[int]  # n-grams per order as in the file (1..N)
    added_unk: bool = False
    blanks: list[int] = field(default_factory=list)  # blanks inserted per order 2..N
