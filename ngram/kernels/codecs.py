"""Succinct integer sequences: encoders and random-access decoders (numba).

All encoded streams are uint64 word arrays. Decoders take one flat word buffer `buf`
(a whole shard file, mmap-ed) plus word offsets, so a kernel needs no Python objects.

Codecs
- Elias-Fano (EF), for monotone sequences (child pointers): value = (high << L) | low;
  the highs are a unary bitvector; a select directory samples every EF_SAMPLE-th one.
  About 2 + log2(universe / n) bits per element.
- Nibble-bucket ("NIB"), for word-id keys: a 4-bit bucket b per element and a mantissa
  stream. Bucket b < 15 holds values in [2^b - 1, 2^(b+1) - 2] with b mantissa bits;
  b = 15 stores the raw value in W bits. A two-level directory gives the mantissa bit
  offset of every NIB_SUB-th element: per NIB_SUPER elements one word holds the absolute
  offset and the next words NIB_SUPER / NIB_SUB 16-bit offsets relative to it (one
  cache line); the rest is a SWAR sum over at most one nibble word and a part.
  About log2(value) + 4.5 bits: far below EF for the heavy-tailed ids of n-gram keys.
- Split gamma ("GAMMA"), for value ranks (mostly 0): bucket b in unary (b ones, one
  zero) in one stream, b mantissa bits in another. The mantissa offset of element j is
  (start of j's unary code) - j, so a directory of unary offsets every GAMMA_BLOCK
  elements gives O(1) access. 1 bit for rank 0, 3 bits for ranks 1-2, ...
- Fixed width ("FIXED"), bit-packed.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .bits import INLINE, ctz, load, low_mask, popcount, read_bits, read_word, select_in_word, write_bits

JIT = dict(nogil=True, cache=True)
U0 = np.uint64(0)
U1 = np.uint64(1)
ALL = ~np.uint64(0)

EF_SAMPLE = 256
EF_RANK_WORDS = 8  # the rank directory counts ones before every 8-word (512-bit) block
NIB_SUPER = 1024  # elements per absolute directory entry
NIB_SUB = 32  # elements per relative (16-bit) entry: two nibble words
NIB_DIR_WORDS = 1 + NIB_SUPER // NIB_SUB // 4  # words per superblock in the directory
NIB_RAW = 15
GAMMA_BLOCK = 256

NIB_LO = np.uint64(0x0F0F0F0F0F0F0F0F)
NIB_ONES = np.uint64(0x1111111111111111)
BYTE_SUM = np.uint64(0x0101010101010101)


def bit_length(x: int) -> int:
    return int(x).bit_length()


def ef_low_bits(n: int, universe: int) -> int:
    """EF's low-part width: floor(log2(universe / n)), at least 0."""
    if n == 0 or universe <= n:
        return 0
    return max(0, (universe // n).bit_length() - 1)


# ----------------------------------------------------------------------------- encoders

@njit(**JIT)
def ef_rank_directory(hi):
    """Ones before every EF_RANK_WORDS-word block of the high bits, as uint32 values.

    Select samples every EF_SAMPLE-th one, but a parent with thousands of children leaves
    a long run of zeros between two samples; the rank directory lets select jump over it.
    """
    nblocks = (hi.shape[0] + EF_RANK_WORDS - 1) // EF_RANK_WORDS + 1
    out = np.zeros(nblocks, np.uint64)
    ones = 0
    for w in range(hi.shape[0]):
        if w % EF_RANK_WORDS == 0:
            out[w // EF_RANK_WORDS] = ones
        ones += popcount(hi[w])
    out[nblocks - 1] = ones
    return out


@njit(**JIT)
def ef_encode(values, L):
    """Encode a non-decreasing uint64 sequence. Returns (lo_words, hi_words, dir)."""
    n = values.shape[0]
    lo = np.zeros((n * L + 63) // 64 + 1, np.uint64)
    top = 0
    if n > 0:
        top = np.int64(values[n - 1] >> np.uint64(L))
    hi_bits = top + n + 1
    hi = np.zeros((hi_bits + 63) // 64 + 1, np.uint64)
    ndir = (n + EF_SAMPLE - 1) // EF_SAMPLE
    d = np.zeros(max(ndir, 1), np.uint64)
    mask = low_mask(L)
    for i in range(n):
        v = values[i]
        if L > 0:
            write_bits(lo, i * L, L, v & mask)
        pos = np.int64(v >> np.uint64(L)) + i
        hi[pos >> 6] |= U1 << np.uint64(pos & 63)
        if i % EF_SAMPLE == 0:
            d[i // EF_SAMPLE] = np.uint64(pos)
    return lo, hi, d


@njit(**JIT)
def nib_encode(values, W):
    """Encode non-negative uint64 values as nibble buckets + mantissas (raw width W)."""
    n = values.shape[0]
    nib = np.zeros((n + 15) // 16 + 1, np.uint64)
    total = 0
    for j in range(n):
        v = values[j]
        # bucket = floor(log2(v + 1))
        x = v + U1
        b = 0
        while (x >> np.uint64(b + 1)) != U0:
            b += 1
        if b >= NIB_RAW:
            b = NIB_RAW
            total += W
        else:
            total += b
        nib[j >> 4] |= np.uint64(b) << np.uint64(4 * (j & 15))
    mant = np.zeros((total + 63) // 64 + 2, np.uint64)
    nsuper = (n + NIB_SUPER - 1) // NIB_SUPER
    d = np.zeros(max(nsuper, 1) * NIB_DIR_WORDS, np.uint64)
    pos = 0
    base = 0
    for j in range(n):
        if j % NIB_SUPER == 0:
            base = pos
            d[(j // NIB_SUPER) * NIB_DIR_WORDS] = np.uint64(pos)
        if j % NIB_SUB == 0:
            t = (j % NIB_SUPER) // NIB_SUB  # < 2^16 bits apart: 31 * 32 * 63 < 65536
            d[(j // NIB_SUPER) * NIB_DIR_WORDS + 1 + t // 4] |= np.uint64(pos - base) << np.uint64(16 * (t % 4))
        b = np.int64((nib[j >> 4] >> np.uint64(4 * (j & 15))) & np.uint64(15))
        v = values[j]
        if b == NIB_RAW:
            write_bits(mant, pos, W, v)
            pos += W
        else:
            write_bits(mant, pos, b, v - ((U1 << np.uint64(b)) - U1))
            pos += b
    return nib, mant, d


@njit(**JIT)
def gamma_encode(values):
    """Encode non-negative uint64 values (< 2^62) as split gamma codes."""
    n = values.shape[0]
    ubits = 0
    for j in range(n):
        x = values[j] + U1
        b = 0
        while (x >> np.uint64(b + 1)) != U0:
            b += 1
        ubits += b + 1
    un = np.zeros((ubits + 63) // 64 + 2, np.uint64)
    mant = np.zeros((ubits - n + 63) // 64 + 2, np.uint64)
    d = np.zeros(max((n + GAMMA_BLOCK - 1) // GAMMA_BLOCK, 1), np.uint64)
    upos = 0
    for j in range(n):
        if j % GAMMA_BLOCK == 0:
            d[j // GAMMA_BLOCK] = np.uint64(upos)
        x = values[j] + U1
        b = 0
        while (x >> np.uint64(b + 1)) != U0:
            b += 1
        # b ones then a zero (the zero is already there)
        k = 0
        while k < b:
            take = min(b - k, 32)
            write_bits(un, upos + k, take, low_mask(take))
            k += take
        write_bits(mant, upos - j, b, values[j] - ((U1 << np.uint64(b)) - U1))
        upos += b + 1
    return un, mant, d


@njit(**JIT)
def fixed_encode(values, width):
    """Bit-pack values in `width` (1..63) bits each (decoders read at most 63 bits)."""
    if width < 1 or width > 63:
        raise ValueError("fixed width must be 1..63 bits")
    n = values.shape[0]
    out = np.zeros((n * width + 63) // 64 + 1, np.uint64)
    for j in range(n):
        write_bits(out, j * width, width, values[j])
    return out


# ----------------------------------------------------------------------------- decoders

@njit(**INLINE)
def ef_select(buf, hi_off, hi_words, dir_off, ndir, rank_off, i):
    """Bit position (relative to the high stream) of the i-th one; -1 if corrupt."""
    d = i // EF_SAMPLE
    p = np.int64(load(buf, dir_off + d))
    w = p >> 6
    if w < 0 or w >= hi_words:  # (a corrupt sample: scanning from it would never end)
        return -1
    r = i % EF_SAMPLE
    x = load(buf, hi_off + w) & (ALL << np.uint64(p & 63))
    c = popcount(x)
    if c <= r:
        # Not in the sampled word: binary-search the rank directory (ones before each
        # block) for the block holding the i-th one, between this sample and the next.
        a = w // EF_RANK_WORDS
        last = (hi_words - 1) // EF_RANK_WORDS
        if d + 1 < ndir:
            last = min(last, (np.int64(load(buf, dir_off + d + 1)) >> 6) // EF_RANK_WORDS)
        b = last
        while a < b:  # last block whose rank <= i
            mid = (a + b + 1) // 2
            if fixed_get(buf, rank_off, 32, mid) <= i:
                a = mid
            else:
                b = mid - 1
        w = a * EF_RANK_WORDS
        r = i - fixed_get(buf, rank_off, 32, a)
        if r < 0:  # a corrupt rank directory (select_in_word needs 0 <= r < ones)
            return -1
        x = load(buf, hi_off + w)
        c = popcount(x)
        block_end = w + EF_RANK_WORDS  # the one lies in this block (else the directory is corrupt)
        while c <= r:
            r -= c
            w += 1
            if w >= hi_words or w >= block_end:
                return -1
            x = load(buf, hi_off + w)
            c = popcount(x)
    return w * 64 + select_in_word(x, r)


@njit(**INLINE)
def ef_next_one(buf, hi_off, hi_words, pos):
    """Bit position of the first one after `pos`; -1 if none."""
    q = pos + 1
    w = q >> 6
    if w >= hi_words:
        return -1
    x = load(buf, hi_off + w) & (ALL << np.uint64(q & 63))
    while x == U0:
        w += 1
        if w >= hi_words:
            return -1
        x = load(buf, hi_off + w)
    return w * 64 + ctz(x)


@njit(**INLINE)
def ef_pair(buf, L, lo_off, hi_off, hi_words, dir_off, ndir, rank_off, i):
    """(v[i], v[i+1]) of an EF sequence; (-1, -1) if the stream is corrupt."""
    p = ef_select(buf, hi_off, hi_words, dir_off, ndir, rank_off, i)
    if p < 0:
        return -1, -1
    q = ef_next_one(buf, hi_off, hi_words, p)
    if q < 0:
        return -1, -1
    a = ((p - i) << L) | np.int64(read_bits(buf, lo_off * 64 + i * L, L))
    b = ((q - i - 1) << L) | np.int64(read_bits(buf, lo_off * 64 + (i + 1) * L, L))
    return a, b


@njit(**INLINE)
def _nib_width_sum(x, W):
    """Sum of mantissa widths of the 16 nibbles of word x."""
    s = (x & NIB_LO) + ((x >> np.uint64(4)) & NIB_LO)
    total = np.int64((s * BYTE_SUM) >> np.uint64(56))
    raw = popcount(x & (x >> np.uint64(1)) & (x >> np.uint64(2)) & (x >> np.uint64(3)) & NIB_ONES)
    return total + raw * (W - NIB_RAW)


@njit(**INLINE)
def nib_mant_pos(buf, nib_off, dir_off, W, j):
    """Mantissa bit offset of element j."""
    sup = dir_off + (j // NIB_SUPER) * NIB_DIR_WORDS
    t = (j % NIB_SUPER) // NIB_SUB
    rel = (load(buf, sup + 1 + t // 4) >> np.uint64(16 * (t % 4))) & np.uint64(0xFFFF)
    pos = np.int64(load(buf, sup)) + np.int64(rel)
    w = (j // NIB_SUB) * (NIB_SUB // 16)
    if (j & 16) != 0:
        pos += _nib_width_sum(load(buf, nib_off + w), W)
        w += 1
    part = j & 15
    if part:
        pos += _nib_width_sum(load(buf, nib_off + w) & low_mask(4 * part), W)
    return pos


@njit(**INLINE)
def nib_decode_at(buf, nib_off, mant_off, W, j, mpos):
    """Value of element j whose mantissa starts at bit mpos; returns (value, next mpos)."""
    b = np.int64((load(buf, nib_off + (j >> 4)) >> np.uint64(4 * (j & 15))) & np.uint64(15))
    if b == NIB_RAW:
        return np.int64(read_bits(buf, mant_off * 64 + mpos, W)), mpos + W
    m = np.int64(read_bits(buf, mant_off * 64 + mpos, b))
    return (np.int64(1) << b) - 1 + m, mpos + b


@njit(**JIT)
def nib_get(buf, nib_off, mant_off, dir_off, W, j):
    mpos = nib_mant_pos(buf, nib_off, dir_off, W, j)
    v, _ = nib_decode_at(buf, nib_off, mant_off, W, j, mpos)
    return v


@njit(**INLINE)
def gamma_get(buf, un_off, mant_off, dir_off, un_words, j):
    """Element j of a split-gamma sequence; -1 if the stream is corrupt."""
    p = np.int64(load(buf, dir_off + j // GAMMA_BLOCK))
    r = j % GAMMA_BLOCK
    if r > 0:
        # start of element j = one past the r-th zero at or after p
        w = p >> 6
        if w < 0 or w >= un_words:  # (a corrupt directory entry)
            return -1
        x = ~load(buf, un_off + w) & (ALL << np.uint64(p & 63))
        rr = r - 1
        while True:
            c = popcount(x)
            if c > rr:
                p = w * 64 + select_in_word(x, rr) + 1
                break
            rr -= c
            w += 1
            # codes are at most 63 bits: the r-th zero lies within r * 63 bits of p
            if w >= un_words or w > (p >> 6) + GAMMA_BLOCK:
                return -1
            x = ~load(buf, un_off + w)
    b = ctz(~read_word(buf, un_off * 64 + p))
    if b > 62:  # longer than any encoded value (< 2^62): corrupt
        return -1
    m = np.int64(read_bits(buf, mant_off * 64 + p - j, b))
    return (np.int64(1) << b) - 1 + m


@njit(**INLINE)
def fixed_get(buf, off, width, j):
    return np.int64(read_bits(buf, off * 64 + j * width, width))
