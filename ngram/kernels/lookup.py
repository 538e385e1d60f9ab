"""The batched lookup kernel: walk each n-gram's suffixes right to left down the
reversed trie of one shard, recording the value at every order along the chain.

Queries advance one trie level at a time across the whole batch, so the memory accesses
of independent walks overlap instead of waiting on each other.
Every read of the data array is clamped into it (ngram.kernels.bits.load) and every
index that selects an output slot is checked, and the layout table was checked at open
(ngram.shard), so corrupt streams give wrong answers or stop a walk, never a read or
write outside the arrays; checksums (verification at open, `ngram verify`) catch the
corruption itself.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .bits import INLINE, load, read_bits
from .codecs import EF_SAMPLE, ef_pair, fixed_get, gamma_get
from .layout import (C_CODEC, C_CTX_OFF, C_CTX_OFF_W, C_CTX_SYM, C_CTX_SYM_W, C_DIR, C_MANT, C_TABLE, C_TKIND,
                     C_UNITS, C_UNITS_WORDS, C_WIDTH, CODEC_FIXED, CODEC_GAMMA, COL_BASE, COL_FIELDS, EF_DIR, EF_HI,
                     EF_HI_WORDS, EF_L, EF_LO, EF_RANK, G_ABSENT, G_NCOLS, G_ORDER, G_WORDS, L_N, TABLE_IDENTITY,
                     TABLE_U64)
from .v2_keys import find_key  # noqa: F401  (also imported from here by the sentence and word kernels)

JIT = dict(nogil=True, cache=True)


@njit(**INLINE)
def column_code(buf, lay, row, base, j):
    """Stored code j of the value column whose fields start at layout column `base`,
    decoded by the codec its `codec` field names (ngram.value_columns.VALUE_CODECS);
    -1 for an unknown codec or a corrupt stream."""
    codec = lay[row, base + C_CODEC]
    if codec == CODEC_FIXED:
        return fixed_get(buf, lay[row, base + C_UNITS], lay[row, base + C_WIDTH], j)
    if codec == CODEC_GAMMA:
        return gamma_get(buf, lay[row, base + C_UNITS], lay[row, base + C_MANT], lay[row, base + C_DIR],
                         lay[row, base + C_UNITS_WORDS], j)
    return np.int64(-1)


@njit(**INLINE)
def column_sym(buf, lay, row, c, j, psym):
    """Symbol of element j of value column c at layout row `row` (its index into the
    column's table); `psym` is the parent node's symbol in the same column, used when the
    column is context-coded. -1 when the stream is corrupt."""
    base = COL_BASE + c * COL_FIELDS
    code = column_code(buf, lay, row, base, j)
    off = lay[row, base + C_CTX_OFF]
    if off == 0 or code < 0:
        return code
    if psym < 0:
        return np.int64(-1)
    w = lay[row, base + C_CTX_OFF_W]
    first = fixed_get(buf, off, w, psym)
    if first + code >= fixed_get(buf, off, w, psym + 1):
        return np.int64(-1)
    return fixed_get(buf, lay[row, base + C_CTX_SYM], lay[row, base + C_CTX_SYM_W], first + code)


@njit(**INLINE)
def column_value(buf, lay, row, c, j, psym):
    """(symbol, raw value) of element j of value column c at layout row `row`."""
    sym = column_sym(buf, lay, row, c, j, psym)
    return sym, symbol_raw(buf, lay, row, c, sym)


@njit(**INLINE)
def symbol_raw(buf, lay, row, c, sym):
    """Raw stored value (uint64) of symbol `sym` of value column c at layout row `row`."""
    base = COL_BASE + c * COL_FIELDS
    tk = lay[row, base + C_TKIND]
    if tk == TABLE_IDENTITY:
        return np.uint64(sym)
    t = lay[row, base + C_TABLE]
    if sym < 0:
        return np.uint64(lay[0, G_ABSENT])
    if tk == TABLE_U64:
        if t + sym >= lay[0, G_WORDS]:
            return np.uint64(lay[0, G_ABSENT])
        return load(buf, t + sym)
    if t + sym // 2 >= lay[0, G_WORDS]:
        return np.uint64(lay[0, G_ABSENT])
    return read_bits(buf, t * 64 + sym * 32, 32)


@njit(**INLINE)
def last_word(ids, lengths, b, vocab):
    """Query b's last word (its level-1 node), or -1 for an empty query or an id outside
    the vocabulary (validation normally refuses both first)."""
    n = lengths[b]
    if n < 1:
        return np.int64(-1)
    w = np.int64(ids[b, n - 1])
    if w < 0 or w >= vocab:
        return np.int64(-1)
    return w


@njit(**INLINE)
def write_match_lengths(depth, out_raw, absent, out_match):
    """out_match[b]: the longest order along query b's walk whose value is not absent
    (a blank ARPA node is walked through but is not a match)."""
    for b in range(depth.shape[0]):
        m = 0
        for k in range(depth[b]):
            if out_raw[b, k, 0] != absent:
                m = k + 1
        out_match[b] = m


@njit(**JIT)
def lookup_kernel(buf, lay, ids, lengths, out_match, out_raw):
    """For each query b (ids[b, :lengths[b]], oldest word first) write the raw values of
    its suffixes into out_raw[b, k-1, c] and the longest non-absent length into
    out_match[b]. out_raw must be pre-filled with the absent values.

    The walks advance level by level across the whole batch, each level in three passes
    (child ranges, key searches, values) over the queries still walking. Iterations of a
    pass are independent, so the core overlaps their cache misses, which one walk at a
    time cannot (each step of a walk waits on the previous one). When the batch is sorted
    by last words (see ngram.sharding.routing_order) the parents of a level ascend, so
    every pass sweeps its arrays forward, and a query whose step equals its predecessor's
    (a decoder's batch shares most contexts) copies it instead of searching again.
    """
    B = ids.shape[0]
    ncols = lay[0, G_NCOLS]
    absent = np.uint64(lay[0, G_ABSENT])
    vocab = lay[1, L_N]
    node = np.empty(B, np.int64)  # each query's node at the level just reached
    sym = np.empty((B, max(ncols, 1)), np.int64)  # and that node's value symbols
    depth = np.zeros(B, np.int32)
    active = np.empty(B, np.int64)  # the queries still walking, in batch order
    rlo = np.empty(B, np.int64)
    rhi = np.empty(B, np.int64)
    na = 0
    pw = np.int64(-1)
    for b in range(B):  # level 1: the last word
        w = last_word(ids, lengths, b, vocab)
        if w < 0:
            continue
        node[b] = w
        if w == pw:
            q = active[na - 1]
            for c in range(ncols):
                sym[b, c] = sym[q, c]
                out_raw[b, 0, c] = out_raw[q, 0, c]
        else:
            for c in range(ncols):
                sym[b, c], out_raw[b, 0, c] = column_value(buf, lay, 1, c, w, -1)
        pw = w
        depth[b] = 1
        active[na] = b
        na += 1
    for k in range(2, lay[0, G_ORDER] + 1):
        n_parent = lay[k - 1, L_N]
        ndir = (n_parent + EF_SAMPLE) // EF_SAMPLE
        nk = lay[k, L_N]
        # pass 1: the child range of each query's node (-1: no children, or corrupt).
        # Non-empty ranges are disjoint, so equal starts below mean the same parent.
        pp = np.int64(-1)
        plo = np.int64(-1)
        phi = np.int64(-1)
        for i in range(na):
            b = active[i]
            if lengths[b] < k:
                rlo[i] = -1
                continue
            p = node[b]
            if p != pp:
                plo = -1
                phi = -1
                if p < n_parent:
                    lo, hi = ef_pair(buf, lay[k, EF_L], lay[k, EF_LO], lay[k, EF_HI], lay[k, EF_HI_WORDS],
                                     lay[k, EF_DIR], ndir, lay[k, EF_RANK], p)
                    if lo >= 0 and lo < hi and hi <= nk:  # (an empty range ends the walk)
                        plo, phi = lo, hi
                pp = p
            rlo[i] = plo
            rhi[i] = phi
        # pass 2: the next word among the children; the queries that find it walk on
        kept = 0
        pl = np.int64(-1)
        pt = np.int64(-1)
        pj = np.int64(-1)
        pa = np.int64(-1)
        for i in range(na):
            lo = rlo[i]
            if lo < 0:
                continue
            b = active[i]
            t = np.int64(ids[b, lengths[b] - k])
            if lo == pl and t == pt:
                j = pj
            else:
                j, pa = find_key(buf, lay, k, lo, rhi[i], t, pa if lo == pl and t > pt else -1)
                pl, pt, pj = lo, t, j
            if j >= 0:
                node[b] = j
                depth[b] = k
                active[kept] = b
                kept += 1
        na = kept
        # pass 3: their values (a context-coded column reads the parent's symbol in sym)
        pn = np.int64(-1)
        pq = np.int64(-1)
        for i in range(na):
            b = active[i]
            j = node[b]
            if j == pn:
                for c in range(ncols):
                    sym[b, c] = sym[pq, c]
                    out_raw[b, k - 1, c] = out_raw[pq, k - 1, c]
            else:
                for c in range(ncols):
                    sym[b, c], out_raw[b, k - 1, c] = column_value(buf, lay, k, c, j, sym[b, c])
                pn = j
            pq = b
    write_match_lengths(depth, out_raw, absent, out_match)
