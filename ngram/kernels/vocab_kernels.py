"""Vocabulary kernels: tokenize a byte block and map every token to its id in one pass.

Tokens are separated by ASCII whitespace (as ``bytes.split()``), sentences by ``\\n``.
The index is an open-addressing table of uint32 (id + 1, 0 = empty) keyed by FNV-1a.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .bits import INLINE, JIT
PACKED_HEAD = 48  # bytes: (start, end) of three segments, int64
FNV_OFFSET = np.uint64(0xCBF29CE484222325)
FNV_PRIME = np.uint64(0x100000001B3)


@njit(**INLINE)
def fnv1a(data, start, end):
    h = FNV_OFFSET
    for i in range(start, end):
        h = (h ^ np.uint64(data[i])) * FNV_PRIME
    return h


@njit(**JIT)
def build_index(strings, offsets, table_size):
    """Hash table over the words; table_size is a power of two > number of words."""
    table = np.zeros(table_size, np.uint32)
    mask = np.uint64(table_size - 1)
    n = offsets.shape[0] - 1
    for i in range(n):
        slot = fnv1a(strings, np.int64(offsets[i]), np.int64(offsets[i + 1])) & mask
        while table[slot] != 0:
            slot = (slot + np.uint64(1)) & mask
        table[slot] = np.uint32(i + 1)
    return table


@njit(**INLINE)
def find_word(data, start, end, strings, offsets, table):
    """Id of data[start:end], or -1 if absent. Every index read from the (mapped) file is
    checked before use and the probe stops after a full round, so a corrupt index or
    offsets array gives -1 (<unk>) or a wrong id, never a read outside the arrays."""
    size = table.shape[0]
    mask = np.uint64(size - 1)
    slot = fnv1a(data, start, end) & mask
    length = end - start
    n = offsets.shape[0] - 1
    nbytes = strings.shape[0]
    for _ in range(size):
        e = table[slot]
        if e == 0:
            return -1
        i = np.int64(e) - 1
        if i < n:
            a = np.int64(offsets[i])
            b = np.int64(offsets[i + 1])
            if b - a == length and 0 <= a and b <= nbytes:
                same = True
                for k in range(length):
                    if strings[a + k] != data[start + k]:
                        same = False
                        break
                if same:
                    return i
        slot = (slot + np.uint64(1)) & mask
    return -1


@njit(**INLINE)
def _is_space(c):
    return c == 32 or c == 9 or c == 10 or c == 13 or c == 11 or c == 12


@njit(**INLINE)
def next_token(data, i, n):
    """(start, end) of the next whitespace-separated token of the current line from
    position i; start == end (at the line's newline, or at n) when it has no more."""
    while i < n and data[i] != 10 and _is_space(data[i]):
        i += 1
    s = i
    if i < n and data[i] != 10:
        while i < n and not _is_space(data[i]):
            i += 1
    return s, i


@njit(**JIT)
def encode_block(data, strings, offsets, table, unk_id, bos_id, eos_id, boundaries):
    """Tokenize newline-separated sentences and map tokens to ids (unknown -> unk_id).

    Blank lines are skipped. Returns (ids int32[T], sentence offsets int64[S+1]); with
    `boundaries` every sentence is wrapped in bos/eos.
    """
    n = data.shape[0]
    # Both arrays grow on demand; these sizes fit typical text without regrowth.
    ids = np.empty(n // 2 + 16, np.int32)
    sents = np.empty(n // 8 + 16, np.int64)
    nt = 0
    ns = 0
    sents[0] = 0
    i = 0
    while i < n:
        # one line
        line_start_tokens = nt
        if boundaries:
            ids[nt] = bos_id
            nt += 1
        words = 0
        while i < n and data[i] != 10:
            # (next_token's loop written out: as a call, inlined, the tokenizer measured
            # 10-20% slower)
            while i < n and data[i] != 10 and _is_space(data[i]):
                i += 1
            if i >= n or data[i] == 10:
                break
            s = i
            while i < n and not _is_space(data[i]):
                i += 1
            w = find_word(data, s, i, strings, offsets, table)
            if nt + 2 >= ids.shape[0]:
                grown = np.empty(ids.shape[0] * 2, np.int32)
                grown[:nt] = ids[:nt]
                ids = grown
            ids[nt] = unk_id if w < 0 else w
            nt += 1
            words += 1
        i += 1  # skip the newline
        if words == 0:
            nt = line_start_tokens  # blank line: no sentence
            continue
        if boundaries:
            ids[nt] = eos_id
            nt += 1
        ns += 1
        if ns + 1 >= sents.shape[0]:
            grown2 = np.empty(sents.shape[0] * 2, np.int64)
            grown2[:ns] = sents[:ns]
            sents = grown2
        sents[ns] = nt
    return ids[:nt].copy(), sents[:ns + 1].copy()


@njit(**JIT)
def encode_words(data, strings, offsets, table, unk_id, bos_id, eos_id, bos, eos):
    """Ids of the whitespace-separated words of one sentence, as ``bytes.split()`` splits
    it (a newline is a separator like a space), with bos_id first and eos_id last when
    asked; unknown words -> unk_id."""
    n = len(data)  # (an array or a bytes object)
    ids = np.empty(n // 2 + 3, np.int32)
    nt = 0
    if bos:
        ids[nt] = bos_id
        nt += 1
    i = 0
    while i < n:
        while i < n and _is_space(data[i]):
            i += 1
        if i >= n:
            break
        s = i
        while i < n and not _is_space(data[i]):
            i += 1
        w = find_word(data, s, i, strings, offsets, table)
        ids[nt] = unk_id if w < 0 else w
        nt += 1
    if eos:
        ids[nt] = eos_id
        nt += 1
    return ids[:nt]


@njit(**INLINE)
def packed_views(packed):
    """(strings, offsets, table) of a vocabulary packed into one byte array (see
    ngram.vocab.Vocabulary.packed): a kernel called once per sentence takes one array
    argument instead of three (numba's dispatch costs ~0.1 us per array)."""
    head = packed[:PACKED_HEAD].view(np.int64)
    return (packed[head[0]:head[1]], packed[head[2]:head[3]].view(np.uint64),
            packed[head[4]:head[5]].view(np.uint32))
