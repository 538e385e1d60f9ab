"""Which shard holds an n-gram.

An n-gram of order >= 2 lives on the shard of its last two words, so every suffix of
order >= 2 (its whole backoff chain) is on one shard. Unigram values are replicated in
every shard; a length-1 query is sent to the shard of its word alone, which spreads the
load. The hash is a fixed 64-bit mix (murmur3's finalizer), identical in every process
and on every platform: it is part of the model format (manifest: sharding.name). The
kernels live in ngram/kernels/route.py; these are the array-level entry points.
"""
from __future__ import annotations

import numpy as np

from .kernels.batch_ops import radix_argsort
from .kernels.route import pair_shards, route_batch, word_shards

SHARDING_NAME = "last2-fmix64-v1"


def shard_of_pair(prev, last, num_shards: int, seed: int = 0) -> np.ndarray:
    """Shard of n-grams ending in (prev, last); arrays of any (equal) shape."""
    prev, last = np.broadcast_arrays(np.asarray(prev, dtype=np.int64), np.asarray(last, dtype=np.int64))
    out = pair_shards(np.ascontiguousarray(prev).reshape(-1), np.ascontiguousarray(last).reshape(-1),
                      num_shards, seed)
    return out.reshape(prev.shape)


def shard_of_word(word, num_shards: int, seed: int = 0) -> np.ndarray:
    """Shard a length-1 query is sent to (any shard could answer it)."""
    word = np.asarray(word, dtype=np.int64)
    return word_shards(np.ascontiguousarray(word).reshape(-1), num_shards, seed).reshape(word.shape)


def shard_of(ids: np.ndarray, lengths: np.ndarray, num_shards: int, seed: int = 0) -> np.ndarray:
    """Shard of each left-aligned n-gram in a batch (ids[B, N], lengths[B] >= 1)."""
    ids = np.ascontiguousarray(ids, dtype=np.int32)
    lengths = np.ascontiguousarray(lengths, dtype=np.int32)
    return route_batch(ids, lengths, num_shards, seed)[0]


def routing_order(ids: np.ndarray, lengths: np.ndarray, num_shards: int, seed: int = 0):
    """(shards, order, bounds): the batch sorted by shard and then by last words;
    order[bounds[s]:bounds[s+1]] are the rows of shard s."""
    shards, keys = route_batch(ids, lengths, num_shards, seed)
    order = radix_argsort(keys)  # the shard is the key's top bits: shards come out grouped
    bounds = np.zeros(num_shards + 1, np.int64)
    np.cumsum(np.bincount(shards, minlength=num_shards), out=bounds[1:])
    return shards, order, bounds
