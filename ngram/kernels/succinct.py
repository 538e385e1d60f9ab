"""Succinct building blocks of the successor index (docs/PREDICTION.md): Elias-Fano
monotone sequences, a minimal perfect hash of context hashes, gamma codes, bit packing.

Every read clamps its word index (`bits.load`), so a corrupt file gives wrong answers
(and `ngram verify` reports it) but never reads outside its arrays; every loop over
file data is bounded by an array length.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .bits import INLINE, JIT, ctz, load, popcount, read_bits, read_word, select_in_word, write_bits

U64_ONES = np.uint64(0xFFFFFFFFFFFFFFFF)
RANK_BLOCK_WORDS = 8  # one cumulative popcount per 8 words of a hash bit array
SAMPLE_EVERY = 64  # one select sample per 64 ones of an Elias-Fano upper-bits array


@njit(**INLINE)
def mix64(h, seed):
    """A 64-bit finalizer of h under a seed (one independent hash per MPHF round)."""
    x = h ^ (np.uint64(seed + 1) * np.uint64(0x9E3779B97F4A7C15))
    x ^= x >> np.uint64(33)
    x *= np.uint64(0xFF51AFD7ED558CCD)
    x ^= x >> np.uint64(33)
    x *= np.uint64(0xC4CEB9FE1A85EC53)
    x ^= x >> np.uint64(33)
    return x


@njit(**JIT)
def mix_all(hashes, seed, size, out):
    for i in range(hashes.shape[0]):
        out[i] = np.int64(mix64(hashes[i], seed) % np.uint64(size))


# -- Elias-Fano ------------------------------------------------------------------------------
@njit(**INLINE)
def ef_get(hi, samples, lo, low_bits, i):
    """Element i of an Elias-Fano sequence (upper bits unary in `hi`, the position of every
    SAMPLE_EVERY-th one in `samples`, `low_bits` low bits each in `lo`)."""
    if samples.shape[0] == 0:
        return np.int64(0)
    k = min(i // SAMPLE_EVERY, samples.shape[0] - 1)
    r = i - k * SAMPLE_EVERY
    pos = samples[k]
    w = pos >> 6
    word = load(hi, w) & (U64_ONES << np.uint64(pos & 63))
    n_words = hi.shape[0]
    while True:
        c = popcount(word)
        if c > r or w >= n_words:
            break
        r -= c
        w += 1
        word = load(hi, w)
    if w >= n_words:
        return np.int64(0)
    bit = w * 64 + select_in_word(word, r)
    high = bit - i
    return (high << low_bits) | np.int64(read_bits(lo, i * low_bits, low_bits))


def ef_build(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(hi, samples, lo, low_bits) of a non-decreasing int64 sequence."""
    values = np.asarray(values, np.int64)
    n = len(values)
    universe = int(values[-1]) + 1 if n else 1
    low_bits = max(0, (universe // max(n, 1)).bit_length() - 1)
    high = (values >> low_bits) + np.arange(n, dtype=np.int64)
    hi = np.zeros((int(high[-1]) if n else 0) // 64 + 2, np.uint64)
    np.bitwise_or.at(hi, high >> 6, np.left_shift(np.uint64(1), (high & 63).astype(np.uint64)))
    samples = high[::SAMPLE_EVERY].astype(np.int64)
    lo = pack_fixed(values & ((1 << low_bits) - 1), low_bits)
    return hi, samples, lo, low_bits


def pack_fixed(values: np.ndarray, width: int) -> np.ndarray:
    """values (each < 2^width) packed at `width` bits each, plus a padding word."""
    out = np.zeros((len(values) * width) // 64 + 2, np.uint64)
    if width:
        _pack_fixed(np.asarray(values, np.int64), width, out)
    return out


@njit(**JIT)
def _pack_fixed(values, width, out):
    for i in range(values.shape[0]):
        write_bits(out, i * width, width, values[i])


# -- minimal perfect hash (rounds of single-occupancy bits, as BBHash) ------------------------
@njit(**INLINE)
def rank1(bits, ranks, p):
    """Number of set bits before bit p of `bits` (ranks: cumulative per RANK_BLOCK_WORDS words)."""
    w = p >> 6
    blk = min(w // RANK_BLOCK_WORDS, ranks.shape[0] - 1)
    r = ranks[blk]
    for x in range(blk * RANK_BLOCK_WORDS, w):
        r += popcount(load(bits, x))
    return r + popcount(load(bits, w) & ((np.uint64(1) << np.uint64(p & 63)) - np.uint64(1)))


@njit(**INLINE)
def mphf_get(bits, ranks, rounds, h):
    """The slot (0..n-1) of a key hash h, or -1 when no round places it (a key outside the
    set may also get a slot: the caller knows the key exists). rounds[r] = (bit offset, size)."""
    if ranks.shape[0] == 0:
        return np.int64(-1)
    for r in range(rounds.shape[0]):
        size = rounds[r, 1]
        if size <= 0:
            return np.int64(-1)
        p = rounds[r, 0] + np.int64(mix64(h, r) % np.uint64(size))
        if (load(bits, p >> 6) >> np.uint64(p & 63)) & np.uint64(1):
            return rank1(bits, ranks, p)
    return np.int64(-1)


def mphf_build(hashes: np.ndarray, gamma: float = 1.0, max_rounds: int = 200):
    """(bits, ranks, rounds int64[R, 2], slot of each key). Distinct keys with equal 64-bit
    hashes cannot be separated: a ValueError then."""
    from ..errors import InvalidArgumentError
    n = len(hashes)
    remaining = np.arange(n, dtype=np.int64)
    words, rounds, placed_bits, placed_keys = [], [], [], []
    offset = 0
    r = 0
    while len(remaining):
        if r >= max_rounds:
            raise InvalidArgumentError(f"{len(remaining)} successor contexts share 64-bit hashes; the "
                                       "minimal perfect hash cannot separate them")
        size = max(64, -(-int(gamma * len(remaining)) // 64) * 64)
        pos = np.empty(len(remaining), np.int64)
        mix_all(hashes[remaining], r, size, pos)
        occupancy = np.bincount(pos, minlength=size)
        alone = occupancy[pos] == 1
        arr = np.zeros(size // 64, np.uint64)
        hit = pos[alone]
        np.bitwise_or.at(arr, hit >> 6, np.left_shift(np.uint64(1), (hit & 63).astype(np.uint64)))
        words.append(arr)
        rounds.append((offset, size))
        placed_bits.append(hit + offset)
        placed_keys.append(remaining[alone])
        offset += size
        remaining = remaining[~alone]
        r += 1
    bits = np.concatenate(words + [np.zeros(1, np.uint64)]) if words else np.zeros(1, np.uint64)
    counts = _word_popcounts(bits)
    ranks = np.concatenate([[0], np.cumsum(counts)])[::RANK_BLOCK_WORDS].astype(np.int64)
    slot = np.empty(n, np.int64)
    if n:
        all_bits = np.concatenate(placed_bits)
        order = np.argsort(all_bits, kind="stable")
        slot[np.concatenate(placed_keys)[order]] = np.arange(n)
    return bits, ranks, np.array(rounds, np.int64).reshape(-1, 2), slot


@njit(**JIT)
def _word_popcounts(bits):
    out = np.empty(bits.shape[0], np.int64)
    for i in range(bits.shape[0]):
        out[i] = popcount(bits[i])
    return out


# -- gamma codes (unary length, a one, then the low bits) ---------------------------------------
@njit(**INLINE)
def gamma_read(words, pos):
    """(value >= 1, its length in bits) of the gamma code at bit pos."""
    x = read_word(words, pos)
    if x == 0:
        return np.int64(1), np.int64(1)  # corrupt: no code within 64 bits
    n = ctz(x)
    if n > 40:
        n = 40
    return (np.int64(1) << n) | np.int64(read_bits(words, pos + n + 1, n)), 2 * n + 1


@njit(**INLINE)
def gamma_write(words, pos, value):
    n = np.int64(0)
    while (value >> (n + 1)) > 0:
        n += 1
    write_bits(words, pos + n, 1, 1)
    write_bits(words, pos + n + 1, n, value & ((np.int64(1) << n) - 1))
    return 2 * n + 1


def gamma_bits(values: np.ndarray) -> np.ndarray:
    """Length in bits of the gamma code of each value >= 1."""
    v = np.asarray(values, np.int64)
    n = np.zeros(len(v), np.int64)
    nz = v > 1
    n[nz] = np.floor(np.log2(v[nz].astype(np.float64))).astype(np.int64)
    # float rounding near powers of two
    n[(np.int64(1) << (n + 1)) <= v] += 1
    n[(np.int64(1) << n) > v] -= 1
    return 2 * n + 1
