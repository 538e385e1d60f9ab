"""One word after a context, KenLM's ``BaseScore``, in one call without allocating: the
per-word path of the kenlm facade (a decoder asks ~2,700 of these per utterance, one at
a time, so the call itself must cost about what KenLM's does).

The word arrives as its id (``word_id`` maps UTF-8 bytes to it, looked up whole as
kenlm's vocabulary Index does; the caller keeps a dict of them, so the per-word call
passes two arrays and ints only: the call's cost is mostly argument unboxing).
The context arrives as a fixed-width tuple of ids, oldest first, padded at the front
with -1 (one compiled signature per model order, no array to build per call). Two walks
of the reversed trie: the n-gram (context, word) for the probability of its longest
match m, then the context itself for the backoffs of its suffixes of length m..|context|.
The arithmetic is float32, in KenLM's order (the probability, then each backoff from the
shortest), so the value is bit for bit the one KenLM returns.

Returns (log10 as float32, n-gram length, m): the next word's context is the
last m words of (context, word). Longer suffixes carry no probability, so no longer
n-gram extends them (an ARPA n-gram's prefix is always in the model) and their backoffs
are 0: the score of the next word is the same with the shorter context.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .backoff import MISSING_UNK_PROB
from .bits import INLINE, JIT
from .codecs import EF_SAMPLE, ef_pair
from .decoded_table import G_ORDER as D_ORDER, G_VOCAB as D_VOCAB, find_child, node_raw
from .layout import EF_DIR, EF_HI, EF_HI_WORDS, EF_L, EF_LO, EF_RANK, G_ORDER, L_N
from .lookup import column_value, find_key
from .vocab_kernels import find_word, packed_views

UNK_ID = 0  # the vocabulary's fixed id of <unk> (ngram.vocab; kernels may not import it)


@njit(**INLINE)
def _f32(bits):
    return np.uint32(bits).view(np.float32)


@njit(**JIT)
def word_id(packed_vocab, word):
    """Id of `word` (UTF-8 bytes) looked up whole; UNK_ID (0) when absent or empty."""
    strings, offsets, table = packed_views(packed_vocab)
    if len(word) == 0:
        return UNK_ID
    w = find_word(word, 0, len(word), strings, offsets, table)
    return UNK_ID if w < 0 else w


@njit(**INLINE)
def _context_start(ctx):
    """Index of the oldest real id of the padded context (len(ctx) when it is empty)."""
    s = len(ctx)
    while s > 0 and ctx[s - 1] >= 0:
        s -= 1
    return s


@njit(**JIT)  # (not inlined: twice in a kernel, inlined, it took minutes to compile)
def _walk_compressed(buf, lay, order, ctx, s, end, last, acc, m_floor):
    """Walks the n-gram (ctx[s:end], last) from `last` leftwards. Returns (m, prob): m the
    length of its longest suffix with a probability (0: none; prob is then 0). With
    m_floor >= 1, returns (m, acc + the backoffs of its suffixes of length >= m_floor,
    added in float32 from the shortest, as KenLM adds them) instead. (Each codec helper
    is inlined at one site only: every site multiplies the compile time.)"""
    m = 0
    prob = np.float32(0.0)
    if not 0 <= last < lay[1, L_N]:
        return m, (acc if m_floor > 0 else prob)
    node = np.int64(last)
    ps = np.int64(-1)
    bs = np.int64(-1)
    for k in range(1, min(end - s + 1, order) + 1):
        j = node
        if k >= 2:
            n_parent = lay[k - 1, L_N]
            lo, hi = ef_pair(buf, lay[k, EF_L], lay[k, EF_LO], lay[k, EF_HI], lay[k, EF_HI_WORDS],
                             lay[k, EF_DIR], (n_parent + EF_SAMPLE) // EF_SAMPLE, lay[k, EF_RANK], node)
            if lo < 0 or lo >= hi or hi > lay[k, L_N]:
                break
            j, _ = find_key(buf, lay, k, lo, hi, np.int64(ctx[end - k + 1]), -1)
            if j < 0:
                break
        pv = np.float32(0.0)
        bo = np.float32(0.0)
        for c in range(2):  # column 0: probability, 1: backoff
            sym, raw = column_value(buf, lay, k, c, j, ps if c == 0 else bs)
            if c == 0:
                ps = sym
                pv = _f32(raw)
            else:
                bs = sym
                bo = _f32(raw)
        node = j
        if pv == pv:  # a blank node (NaN) has no probability
            m = k
            prob = pv
        if 0 < m_floor <= k:
            acc = np.float32(acc + bo)
    return m, (acc if m_floor > 0 else prob)


@njit(**JIT)
def _walk_decoded(words, meta, ctx, s, end, last, acc, m_floor):
    """_walk_compressed over a decoded trie (ngram.decoded_trie: words, meta)."""
    m = 0
    prob = np.float32(0.0)
    if not 0 <= last < meta[0, D_VOCAB]:
        return m, (acc if m_floor > 0 else prob)
    pv = _f32(node_raw(words, meta, 1, last, 0))
    if pv == pv:
        m = 1
        prob = pv
    if m_floor == 1:
        acc = np.float32(acc + _f32(node_raw(words, meta, 1, last, 1)))
    node = np.int64(last)
    for k in range(2, min(end - s + 1, meta[0, D_ORDER]) + 1):
        c = find_child(words, meta, k, node, np.int64(ctx[end - k + 1]))
        if c < 0:
            break
        node = c
        pv = _f32(node_raw(words, meta, k, c, 0))
        if pv == pv:
            m = k
            prob = pv
        if 0 < m_floor <= k:
            acc = np.float32(acc + _f32(node_raw(words, meta, k, c, 1)))
    return m, (acc if m_floor > 0 else prob)


@njit(**INLINE)
def _finish(m, prob):
    """KenLM's value before the backoffs: -100 for a word without a probability (a model
    without <unk>), scored as a unigram."""
    if m == 0:
        return np.float32(MISSING_UNK_PROB), 1
    return prob, m


@njit(**JIT)
def word_score_compressed(buf, lay, ctx, w):
    """KenLM's BaseScore of the word with id `w` after the padded context `ctx`, against
    a compressed shard: (log10, n-gram length, m); see the module doc."""
    order = lay[0, G_ORDER]
    n = len(ctx)
    s = _context_start(ctx)
    m, prob = _walk_compressed(buf, lay, order, ctx, s, np.int64(n), np.int64(w), np.float32(0.0), np.int64(0))
    log10, length = _finish(m, prob)
    if s < n:  # the context's own chain: backoffs of its suffixes of length >= length
        last = np.int64(ctx[n - 1])
        _, log10 = _walk_compressed(buf, lay, order, ctx, s, np.int64(n - 1), last, log10, np.int64(length))
    return log10, length, m


@njit(**JIT)
def word_score_decoded(words, meta, ctx, w):
    """word_score_compressed over a decoded trie (words, meta: DecodedTrie.args)."""
    n = len(ctx)
    s = _context_start(ctx)
    m, prob = _walk_decoded(words, meta, ctx, s, np.int64(n), np.int64(w), np.float32(0.0), np.int64(0))
    log10, length = _finish(m, prob)
    if s < n:
        last = np.int64(ctx[n - 1])
        _, log10 = _walk_decoded(words, meta, ctx, s, np.int64(n - 1), last, log10, np.int64(length))
    return log10, length, m


@njit(**JIT)
def word_score_compressed_new(buf, lay, packed_vocab, ctx, word):
    """word_score_compressed of a word given as UTF-8 bytes (its first call: one call
    finds its id and scores it): (log10, n-gram length, word id, m)."""
    w = word_id(packed_vocab, word)
    log10, length, m = word_score_compressed(buf, lay, ctx, w)
    return log10, length, w, m


@njit(**JIT)
def word_score_decoded_new(words, meta, packed_vocab, ctx, word):
    """word_score_decoded of a word given as UTF-8 bytes: (log10, n-gram length, word id, m)."""
    w = word_id(packed_vocab, word)
    log10, length, m = word_score_decoded(words, meta, ctx, w)
    return log10, length, w, m
