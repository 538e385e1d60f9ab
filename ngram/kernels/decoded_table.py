"""The decoded table of a shard (ngram.decoded_trie): 16-byte records in one int32 array,
unigrams first (node w is word w), then a hash table of the longer n-grams keyed by
(parent node, word), probed linearly. Shared by the sentence kernels
(ngram.kernels.sentence) and the batched lookup (ngram.kernels.decoded_lookup)."""
from __future__ import annotations

import numpy as np
from numba import njit

from .bits import INLINE, JIT

# columns of the nodes array: (word, value word 0, value word 1, parent node); the value
# words are (prob, backoff) float32 bits, or a count's low and high 32 bits
D_KEY, D_PROB, D_BACKOFF, D_PARENT = 0, 1, 2, 3
EMPTY = -2  # D_PARENT of a free slot (a unigram's parent is -1)
HASH_A = np.uint64(0x9E3779B97F4A7C15)  # hash multipliers (odd, well mixed)
HASH_B = np.uint64(0xC2B2AE3D27D4EB4F)


@njit(**INLINE)
def child_slot(parent, word, nslots):
    """First slot of (parent node, word) among nslots (multiply-shift: any table size)."""
    h = (np.uint64(parent) * HASH_A) ^ (np.uint64(word) * HASH_B)
    h ^= h >> np.uint64(32)
    return np.int64((h & np.uint64(0xFFFFFFFF)) * np.uint64(nslots) >> np.uint64(32))


@njit(**JIT)
def fill_child_table(nodes, vocab, words, values, parents):
    """Places the nodes of one level: node i (words[i], values[i], parent node parents[i])
    goes to the first free slot from child_slot(parent, word) in nodes[vocab:], probing
    linearly (wrapping). Returns each node's slot (its node id from now on)."""
    nslots = nodes.shape[0] - vocab
    where = np.empty(words.shape[0], np.int64)
    for i in range(words.shape[0]):
        h = child_slot(parents[i], words[i], nslots)
        while nodes[vocab + h, D_PARENT] != EMPTY:
            h += 1
            if h == nslots:
                h = 0
        r = vocab + h
        nodes[r, D_KEY] = words[i]
        nodes[r, D_PROB] = values[i, 0]
        nodes[r, D_BACKOFF] = values[i, 1]
        nodes[r, D_PARENT] = parents[i]
        where[i] = r
    return where


@njit(**INLINE)
def probe_child(nodes, vocab, h, parent, word):
    """The node (parent, word), probing linearly from slot h of the table; -1 if absent."""
    nslots = nodes.shape[0] - vocab
    while True:
        r = vocab + h
        q = nodes[r, D_PARENT]
        if q == EMPTY:
            return np.int64(-1)
        if q == parent and nodes[r, D_KEY] == word:
            return r
        h += 1
        if h == nslots:
            h = 0


@njit(**INLINE)
def find_child(nodes, vocab, parent, word):
    """The node (parent, word) of a decoded trie, or -1: one record read when the slot
    is the first probed (KenLM's probing hash tables keep the value beside the key too)."""
    return probe_child(nodes, vocab, child_slot(parent, word, nodes.shape[0] - vocab), parent, word)
