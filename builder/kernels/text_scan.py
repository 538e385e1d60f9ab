"""Scanning cleaned corpus text."""
from __future__ import annotations

from numba import njit

from . import JIT


@njit(**JIT)
def count_sentences(data):
    """Lines of `data` holding at least one non-whitespace byte (what encode_lines keeps)."""
    n = 0
    has_word = False
    for i in range(data.shape[0]):
        c = data[i]
        if c == 10:
            if has_word:
                n += 1
            has_word = False
        elif not (c == 32 or c == 9 or c == 13 or c == 11 or c == 12):
            has_word = True
    if has_word:
        n += 1
    return n
