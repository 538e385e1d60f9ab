"""One token stream (a sentence) scored word by word against one backoff shard, KenLM's
way, in either of two layouts: the compressed shard itself, or its decoded arrays
(ngram.decoded_trie).

The batched lookup kernel (ngram.kernels.lookup) overlaps the walks of many queries; a
sentence of ~20 words gains little from that and pays for its set-up. Here each word's
walk runs to its end before the next starts, bounded as KenLM bounds it: the n-gram
ending at token i is at most one word longer than the trie path found ending at token
i-1 (a walk past it would find nothing, since an n-gram's prefix is in the model
whenever the n-gram is). Results go into caller-owned buffers, so nothing is boxed
back to Python but the count.

Scores: log10 p = prob of the longest match m (-100 for a word the model lacks) + the
backoffs of the previous token's trie path at lengths m..min(i, N-1) (absent: 0).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .backoff import MISSING_UNK_PROB
from .bits import INLINE, JIT
from .codecs import EF_SAMPLE, ef_pair
from .decoded_table import G_ORDER as D_ORDER, G_VOCAB as D_VOCAB, home_fp, level, prefetch_slot, probe, slot_raw, unigram_raw
from .layout import EF_DIR, EF_HI, EF_HI_WORDS, EF_L, EF_LO, EF_RANK, G_ORDER, L_N
from .lookup import column_value, find_key
from .vocab_kernels import encode_words, packed_views

# the vocabulary's fixed ids (ngram.vocab; the core's kernels may not import it)
UNK_ID, BOS_ID, EOS_ID = 0, 1, 2
BOS_FLAG, EOS_FLAG = 1, 2  # the sentence kernels' flags


@njit(**INLINE)
def _f32(bits):
    return np.float64(np.uint32(bits).view(np.float32))


@njit(**INLINE)
def _finish_word(p, depth, m, prob, order, bo_prev, bo_cur, first, out_prob, out_len):
    """Adds the context's backoffs to the matched probability and writes token p's result."""
    for k in range(depth + 1, order + 1):
        bo_cur[k] = 0.0
    if m == 0:
        prob = MISSING_UNK_PROB
        m = 1
    for j in range(m, min(p, order - 1) + 1):
        prob += bo_prev[j]
    if p >= first:
        out_prob[p - first] = prob
        out_len[p - first] = m


@njit(**JIT)
def score_stream_compressed(buf, lay, tokens, first, out_prob, out_len):
    """Scores of tokens[first:] (tokens[:first] are context only) against a compressed
    shard: out_prob[i] (log10) and out_len[i] (n-gram length), i = position - first."""
    order = lay[0, G_ORDER]
    vocab = lay[1, L_N]
    bo_prev = np.zeros(order + 1, np.float64)  # backoff of the j-gram ending at the previous token
    bo_cur = np.zeros(order + 1, np.float64)
    depth_prev = 0
    for p in range(tokens.shape[0]):
        w = np.int64(tokens[p])
        depth = 0
        m = 0
        prob = np.float64(0.0)
        if 0 <= w < vocab:
            ps, praw = column_value(buf, lay, 1, 0, w, -1)
            bs, braw = column_value(buf, lay, 1, 1, w, -1)
            pv = _f32(praw)
            bo_cur[1] = _f32(braw)
            depth = 1
            if pv == pv:  # a blank node (NaN) has no probability
                m = 1
                prob = pv
            node = w
            for k in range(2, min(p + 1, order, depth_prev + 1) + 1):
                n_parent = lay[k - 1, L_N]
                lo, hi = ef_pair(buf, lay[k, EF_L], lay[k, EF_LO], lay[k, EF_HI], lay[k, EF_HI_WORDS],
                                 lay[k, EF_DIR], (n_parent + EF_SAMPLE) // EF_SAMPLE, lay[k, EF_RANK], node)
                if lo < 0 or lo >= hi or hi > lay[k, L_N]:
                    break
                j, _ = find_key(buf, lay, k, lo, hi, np.int64(tokens[p - k + 1]), -1)
                if j < 0:
                    break
                ps, praw = column_value(buf, lay, k, 0, j, ps)
                bs, braw = column_value(buf, lay, k, 1, j, bs)
                pv = _f32(praw)
                bo_cur[k] = _f32(braw)
                depth = k
                node = j
                if pv == pv:
                    m = k
                    prob = pv
        _finish_word(p, depth, m, prob, order, bo_prev, bo_cur, first, out_prob, out_len)
        bo_prev, bo_cur = bo_cur, bo_prev
        depth_prev = depth


@njit(**JIT)
def score_stream_decoded(words, meta, tokens, first, out_prob, out_len):
    """score_stream_compressed over a decoded trie (ngram.decoded_trie: words, meta =
    DecodedTrie.args): word w's values at order 1, then per order a hash table of the
    n-grams by (parent node, word) (ngram.kernels.decoded_table).

    The walks advance one level at a time across the stream (the bound on word i needs
    only word i-1's depth at the level before), so the table reads of different words
    are independent: each level first computes and prefetches every word's slot, then
    probes, and the cache misses overlap (-15% walk time against probing directly)."""
    T = tokens.shape[0]
    order, vocab = meta[0, D_ORDER], meta[0, D_VOCAB]
    # two allocations, not six (each costs about as much as a level of a short sentence)
    walk = np.zeros((5, T), np.int64)
    node, depth, matched, slot, fps = walk[0], walk[1], walk[2], walk[3], walk[4]
    vals = np.zeros((T, order + 2), np.float64)
    prob = vals[:, order + 1]
    prob[:] = MISSING_UNK_PROB
    backoff = vals[:, :order + 1]  # [i, j]: of the j-gram ending at token i
    lv = level(meta, 1)
    for p in range(T):
        w = np.int64(tokens[p])
        if 0 <= w < vocab:
            prefetch_slot(words, lv, w)
    for p in range(T):
        w = np.int64(tokens[p])
        if 0 <= w < vocab:
            pv = _f32(unigram_raw(words, lv, w, 0))
            backoff[p, 1] = _f32(unigram_raw(words, lv, w, 1))
            depth[p] = 1
            node[p] = w
            if pv == pv:  # a blank node (NaN) has no probability
                matched[p] = 1
                prob[p] = pv
    for k in range(2, order + 1):
        lv = level(meta, k)
        walking = False
        for p in range(k - 1, T):
            if depth[p] != k - 1 or depth[p - 1] < k - 1:
                slot[p] = -1
                continue
            h, fp = home_fp(lv, node[p], np.int64(tokens[p - k + 1]))
            slot[p] = h
            fps[p] = np.int64(fp)
            if h >= 0:
                prefetch_slot(words, lv, h)
                walking = True
        if not walking:
            break
        for p in range(k - 1, T):
            if slot[p] < 0:
                continue
            c, head = probe(words, lv, slot[p], np.uint64(fps[p]))
            if c < 0:
                continue
            pv = _f32(slot_raw(words, lv, c, head, 0))
            backoff[p, k] = _f32(slot_raw(words, lv, c, head, 1))
            depth[p] = k
            node[p] = c
            if pv == pv:
                matched[p] = k
                prob[p] = pv
    for p in range(first, T):
        m = max(matched[p], 1)
        s = prob[p]
        for j in range(m, min(p, order - 1) + 1):
            s += backoff[p - 1, j]
        out_prob[p - first] = s
        out_len[p - first] = m


@njit(**INLINE)
def _sentence_tokens(packed_vocab, data, flags):
    strings, offsets, table = packed_views(packed_vocab)
    bos = (flags & BOS_FLAG) != 0
    tokens = encode_words(data, strings, offsets, table, UNK_ID, BOS_ID, EOS_ID, bos, (flags & EOS_FLAG) != 0)
    s = 1 if bos else 0
    return tokens, s, tokens.shape[0] - s


@njit(**INLINE)
def _oov(tokens, s, n, out_oov):
    for i in range(n):
        out_oov[i] = tokens[s + i] == UNK_ID


@njit(**JIT)
def sentence_compressed(buf, lay, packed_vocab, data, flags, out_prob, out_len, out_oov):
    """kenlm's full_scores of one sentence (UTF-8 bytes; flags: BOS_FLAG | EOS_FLAG) into
    the out_* buffers; returns the number of scored words, or minus the buffer size needed
    when they are too short. The vocabulary comes packed (Vocabulary.packed): every
    argument costs ~0.1 us of dispatch, a sizeable share of a sentence."""
    tokens, s, n = _sentence_tokens(packed_vocab, data, flags)
    if n > out_prob.shape[0]:
        return -n
    score_stream_compressed(buf, lay, tokens, s, out_prob, out_len)
    _oov(tokens, s, n, out_oov)
    return n


@njit(**JIT)
def sentence_decoded(words, meta, packed_vocab, data, flags, out_prob, out_len, out_oov):
    """sentence_compressed over a decoded trie (words, meta: DecodedTrie.args)."""
    tokens, s, n = _sentence_tokens(packed_vocab, data, flags)
    if n > out_prob.shape[0]:
        return -n
    score_stream_decoded(words, meta, tokens, s, out_prob, out_len)
    _oov(tokens, s, n, out_oov)
    return n
