"""The batched lookup kernel over a decoded shard (ngram.decoded_trie): the contract of
ngram.kernels.lookup.lookup_kernel (a value at every order of each query's suffix chain,
and the longest match), read from the per-order hash tables instead of the succinct trie.

A level of the walk is one hash probe per query, so each level runs in two passes over
the queries still walking: compute every query's home slot and prefetch it, then probe.
The probes' cache misses overlap instead of each waiting for the one before (the
compressed trie cannot do this: its level step is three dependent reads).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .bits import JIT
from .decoded_table import G_NCOLS, G_ORDER, G_VOCAB, home_fp, level, prefetch_slot, probe, slot_raw, unigram_raw
from .lookup import last_word, write_match_lengths


@njit(**JIT)
def decoded_lookup_kernel(words, meta, absent, ids, lengths, out_match, out_raw):
    """lookup_kernel's results from a decoded shard (words, meta: DecodedTrie.args).
    out_raw [B, order, C] (C = 1: counts, 2: prob and backoff bits) must be pre-filled
    with `absent`, the raw value of a missing n-gram (its column 0); out_match[b] = the
    longest order whose column 0 is not absent. A query whose step equals the previous
    query's (a sorted batch puts shared contexts together) reuses its probe."""
    B = ids.shape[0]
    order, vocab = meta[0, G_ORDER], meta[0, G_VOCAB]
    ncols = min(out_raw.shape[2], meta[0, G_NCOLS])
    node = np.empty(B, np.int64)
    slot = np.empty(B, np.int64)
    fps = np.empty(B, np.uint64)
    depth = np.zeros(B, np.int32)
    active = np.empty(B, np.int64)
    na = 0
    lv = level(meta, 1)
    for b in range(B):  # level 1: the last word is its own node
        w = last_word(ids, lengths, b, vocab)
        if w < 0:
            continue
        node[b] = w
        depth[b] = 1
        for c in range(ncols):
            out_raw[b, 0, c] = unigram_raw(words, lv, w, c)
        if lengths[b] >= 2:
            active[na] = b
            na += 1
    for k in range(2, order + 1):
        if na == 0:
            break
        lv = level(meta, k)
        pn = np.int64(-1)
        pt = np.int64(-1)
        for i in range(na):  # pass 1: home slots, prefetched
            b = active[i]
            p = node[b]
            t = np.int64(ids[b, lengths[b] - k])
            if p == pn and t == pt:
                slot[i] = -2  # the previous query's step
                continue
            h, fp = home_fp(lv, p, t)
            slot[i] = h
            fps[i] = fp
            if h >= 0:
                prefetch_slot(words, lv, h)
            pn, pt = p, t
        kept = 0
        pc = np.int64(-1)
        pw = np.uint64(0)
        for i in range(na):  # pass 2: probe; the queries that find their node walk on
            b = active[i]
            h = slot[i]
            if h >= 0:
                pc, pw = probe(words, lv, h, fps[i])
            elif h == -1:
                pc = np.int64(-1)
            c = pc
            if c < 0:
                continue
            node[b] = c
            depth[b] = k
            for col in range(ncols):
                out_raw[b, k - 1, col] = slot_raw(words, lv, c, pw, col)
            if lengths[b] > k:
                active[kept] = b
                kept += 1
        na = kept
    write_match_lengths(depth, out_raw, absent, out_match)
