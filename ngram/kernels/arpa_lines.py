"""ARPA n-gram sections parsed a block of lines at a time: split each line into its
probability, words and backoff, and map the words to ids, in one numba pass. Python's
per-line split and dict lookups cost ~2.5 us a line (4-5 s for a 2 M n-gram file).

Number tokens are copied out NUL-padded for numpy to convert (its C parser, the same the
previous code used); anything irregular is reported by line so that the caller can let
its line-by-line parser produce the exact error message.
"""
from __future__ import annotations

from numba import njit

from .bits import JIT
from .vocab_kernels import find_word, next_token

NUMBER_WIDTH = 24  # bytes of a number token taken in the fast path; longer ones go slow


@njit(**JIT)
def parse_section_block(block, k, highest, strings, offsets, table, grams, ptok, btok):
    """Lines of `block` (each ends with a newline, the last may not) as
    'prob w1 .. wk [backoff]' into grams[j] (word ids), ptok[j] / btok[j] (the number
    tokens, NUL-padded; a missing backoff is '0'). Returns -1 when all grams.shape[0]
    lines parsed, else the index of the first line that did not: a wrong number of
    tokens, a word not among the unigrams, a number wider than ptok, or too few lines."""
    W = ptok.shape[1]
    n = len(block)
    rows = grams.shape[0]
    i = 0
    for j in range(rows):
        if i >= n:
            return j
        ntok = 0
        while True:
            s, i = next_token(block, i, n)
            if s == i:
                break
            if ntok == 0 or (ntok == k + 1 and not highest):
                if i - s > W:
                    return j
                out = ptok if ntok == 0 else btok
                for t in range(W):
                    out[j, t] = block[s + t] if s + t < i else 0
            elif 1 <= ntok <= k:
                w = find_word(block, s, i, strings, offsets, table)
                if w < 0:
                    return j
                grams[j, ntok - 1] = w
            else:
                return j
            ntok += 1
        if ntok == k + 1:
            btok[j, 0] = 48  # '0'
            for t in range(1, W):
                btok[j, t] = 0
        elif not (ntok == k + 2 and not highest):
            return j
        i += 1  # the newline
    return -1
