"""The batched lookup kernel over a decoded shard (ngram.decoded_trie): the contract of
ngram.kernels.lookup.lookup_kernel (a value at every order of each query's suffix chain,
and the longest match), read from 16-byte hash records instead of the succinct trie.

A level of the walk is one hash probe per query, so each level runs in two passes over
the queries still walking: compute every query's first slot and prefetch it, then probe.
The probes' cache misses overlap instead of each waiting for the one before (the
compressed trie cannot do this: its level step is three dependent reads).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .bits import INLINE, JIT
from .lookup import last_word, write_match_lengths
from .prefetch import prefetch_row
from .decoded_table import D_BACKOFF, D_PROB, child_slot, probe_child

# A record's two value words: (prob, backoff) float32 bits for a backoff shard; the low
# and high 32 bits of the count for a count shard.
D_VAL0, D_VAL1 = D_PROB, D_BACKOFF
_LOW32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)


@njit(**INLINE)
def _store(nodes, r, ncols, out_raw, b, k):
    """Writes record r's values as the raw values of query b at order k (1-based)."""
    lo = np.uint64(nodes[r, D_VAL0]) & _LOW32
    hi = np.uint64(nodes[r, D_VAL1]) & _LOW32
    if ncols == 1:
        out_raw[b, k - 1, 0] = lo | (hi << _S32)
    else:
        out_raw[b, k - 1, 0] = lo
        out_raw[b, k - 1, 1] = hi


@njit(**JIT)
def decoded_lookup_kernel(nodes, vocab, order, absent, ids, lengths, out_match, out_raw):
    """lookup_kernel's results from a decoded shard: nodes[w] is unigram w, then a hash
    table of the longer n-grams by (parent node, word). out_raw [B, order, C] (C = 1:
    counts, 2: prob and backoff bits) must be pre-filled with `absent`, the raw value of
    a missing n-gram (its column 0); out_match[b] = the longest order whose column 0 is
    not absent. A query whose step equals the previous query's (a sorted batch puts
    shared contexts together) reuses its probe."""
    B = ids.shape[0]
    ncols = out_raw.shape[2]
    nslots = nodes.shape[0] - vocab
    node = np.empty(B, np.int64)
    slot = np.empty(B, np.int64)
    depth = np.zeros(B, np.int32)
    active = np.empty(B, np.int64)
    na = 0
    for b in range(B):  # level 1: the last word is its own node
        w = last_word(ids, lengths, b, vocab)
        if w < 0:
            continue
        node[b] = w
        depth[b] = 1
        _store(nodes, w, ncols, out_raw, b, 1)
        if lengths[b] >= 2:
            active[na] = b
            na += 1
    for k in range(2, order + 1):
        if na == 0:
            break
        pn = np.int64(-1)
        pt = np.int64(-1)
        for i in range(na):  # pass 1: first slots, prefetched
            b = active[i]
            p = node[b]
            t = np.int64(ids[b, lengths[b] - k])
            if p == pn and t == pt:
                slot[i] = -1  # the previous query's step
                continue
            h = child_slot(p, t, nslots)
            slot[i] = h
            prefetch_row(nodes, vocab + h)
            pn, pt = p, t
        kept = 0
        pc = np.int64(-1)
        for i in range(na):  # pass 2: probe; the queries that find their node walk on
            b = active[i]
            if slot[i] >= 0:
                pc = probe_child(nodes, vocab, slot[i], node[b], np.int64(ids[b, lengths[b] - k]))
            c = pc
            if c < 0:
                continue
            node[b] = c
            depth[b] = k
            _store(nodes, c, ncols, out_raw, b, k)
            if lengths[b] > k:
                active[kept] = b
                kept += 1
        na = kept
    write_match_lengths(depth, out_raw, absent, out_match)
