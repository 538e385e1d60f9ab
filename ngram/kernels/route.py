"""Routing kernels: the shard of each n-gram and a sort key that groups a batch by shard
and then by last words (so walks are shared and cache lines reused)."""
from __future__ import annotations

import numpy as np
from numba import njit

JIT = dict(nogil=True, cache=True)
_M1 = np.uint64(0xFF51AFD7ED558CCD)
_M2 = np.uint64(0xC4CEB9FE1A85EC53)
_K = np.uint64(0x9E3779B97F4A7C15)
_PAIR_SALT = np.uint64(0x632BE59BD9B4E019)
_WORD_SALT = np.uint64(0x2545F4914F6CDD1D)
_S33 = np.uint64(33)


@njit(**JIT)
def fmix64(h):
    h ^= h >> _S33
    h *= _M1
    h ^= h >> _S33
    h *= _M2
    return h ^ (h >> _S33)


@njit(**JIT)
def pair_shard(prev, last, num_shards, seed):
    h = fmix64(np.uint64(prev) * _K + np.uint64(seed)) ^ np.uint64(last)
    return np.int64(fmix64(h + _PAIR_SALT) % np.uint64(num_shards))


@njit(**JIT)
def word_shard(word, num_shards, seed):
    return np.int64(fmix64(np.uint64(word) + np.uint64(seed) * _K + _WORD_SALT) % np.uint64(num_shards))


@njit(**JIT)
def pair_shards(prev, last, num_shards, seed):
    out = np.empty(prev.shape[0], np.int32)
    for i in range(prev.shape[0]):
        out[i] = pair_shard(prev[i], last[i], num_shards, seed)
    return out


@njit(**JIT)
def word_shards(words, num_shards, seed):
    out = np.empty(words.shape[0], np.int32)
    for i in range(words.shape[0]):
        out[i] = word_shard(words[i], num_shards, seed)
    return out


@njit(**JIT)
def route_batch(ids, lengths, num_shards, seed):
    """(shard int32[B], sort key uint64[B]): the key holds the shard in its top bits,
    then the last three words (truncated to the bits left) so that sorting by it groups
    each shard's queries by shared suffixes."""
    B = ids.shape[0]
    shards = np.empty(B, np.int32)
    keys = np.empty(B, np.uint64)
    sbits = 0
    while (1 << sbits) < num_shards:
        sbits += 1
    wbits = (64 - sbits) // 3
    wmask = np.uint64((1 << wbits) - 1)
    for b in range(B):
        n = lengths[b]
        last = ids[b, n - 1]
        if n >= 2:
            s = pair_shard(ids[b, n - 2], last, num_shards, seed)
        else:
            s = word_shard(last, num_shards, seed)
        shards[b] = s
        key = np.uint64(s)
        for k in range(3):
            key <<= np.uint64(wbits)
            if k < n:
                key |= np.uint64(ids[b, n - 1 - k]) & wmask
        keys[b] = key
    return shards, keys


@njit(**JIT)
def first_misrouted(ids, lengths, num_shards, seed, shard):
    """First row of length >= 2 whose shard is not `shard` (and that shard), or (-1, -1)."""
    for b in range(ids.shape[0]):
        n = lengths[b]
        if n >= 2:
            s = pair_shard(ids[b, n - 2], ids[b, n - 1], num_shards, seed)
            if s != shard:
                return b, s
    return -1, -1
