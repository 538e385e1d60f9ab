"""The decoded tables of a shard (ngram.decoded_trie): per order k >= 2 one open-addressing
hash table of the order's n-grams keyed by (parent node, word), slots bit-packed into one
uint64 array; a node's id is its slot. Shared by the batched lookup
(ngram.kernels.decoded_lookup), the sentence kernels (ngram.kernels.sentence) and the
word kernels (ngram.kernels.word_score).

Keys are exact although a slot stores only a few bits of them (quotienting, as quotient
filters do): the b-bit key (parent << wb | word) goes through a bijection x = H(key);
the slot's home h is a monotone function of x's high bits, and the slot stores
x's low fb bits, with fb just wide enough that no two x of the same home share them,
plus the slot's distance from its home. (home, fingerprint) then determines x, and x
the key: a match is exact, never a false positive, and nothing is re-checked.

Slots are placed in increasing order of home (linear probing in home order, which is
Robin Hood order), without wrapping: a table has a tail after its nslots homes and an
empty sentinel slot at the end. A probe from home h passes entries of earlier homes,
compares those of home h, and stops at the first later home or empty slot.

Slot bits (low to high): key field (fingerprint, then distance + 1 in the high bits;
0 marks an empty slot), then one rank per value column into the column's sorted table of
distinct raw values at that order (32-bit entries when every value fits: float32 bits,
most counts), or the raw value itself for a column of many distinct values. Unigrams:
V slots of value ranks only.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .bits import INLINE, JIT, U1, low_mask, write_bits
from .prefetch import prefetch_row

# meta int64[order + 1, M_FIELDS]: row 0 globals, row k the order-k table
G_ORDER, G_VOCAB, G_NCOLS = 0, 1, 2
M_BASE = 0     # bit offset of the table's slot 0 in the words array
M_NSLOTS = 1   # homes (the table's size before its tail)
M_LEN = 2      # slots stored: homes, tail and the empty sentinel
M_W = 3        # bits per slot
M_FB = 4       # fingerprint bits
M_KB = 5       # key field bits (fingerprint + distance); 0 for unigrams
M_WB = 6       # bits of a word in the key
M_B = 7        # key bits (parent bits + word bits), at most 63
M_T = 8        # low bits of x not used to pick the home: max(b - 32, 0)
M_S = 9        # the bijection's xor-shift
M_VW = 10      # + c: rank bits of value column c
M_VT = 12      # + c: word offset of value column c's table of distinct raw values
M_TW = 14      # + c: bits per entry of that table: 32 (two per word) or 64; 0: no table,
               # the slot holds the raw value
M_FIELDS = 16
MAX_KEY_BITS = 63  # a key field is read with its slot's first 64-bit read

HASH_A = np.uint64(0x9E3779B97F4A7C15)  # odd multipliers: bijections modulo 2^b
HASH_B = np.uint64(0xC2B2AE3D27D4EB4F)


@njit(**INLINE)
def mix(key, b, s):
    """A bijection of the b-bit integers (multiply by an odd number, xor-shift, multiply):
    its high bits depend on every key bit, so they spread (parent, word) keys over the homes."""
    mask = (U1 << np.uint64(b)) - U1
    x = (key * HASH_A) & mask
    x ^= x >> np.uint64(s)
    return (x * HASH_B) & mask


@njit(**INLINE)
def home_of(x, b, t, nslots):
    """The home of hash x: monotone in x ((x >> t) < 2^32, so the product fits 64 bits)."""
    return np.int64(((x >> np.uint64(t)) * np.uint64(nslots)) >> np.uint64(b - t))


@njit(**INLINE)
def read64(words, pos):
    """64 bits from bit `pos` (the tables end with a padding word). Unclamped, unlike
    ngram.kernels.bits.read_word: these words are built in memory, never read from a file."""
    i = pos >> 6
    off = np.uint64(pos & 63)
    return (words[i] >> off) | ((words[i + 1] << U1) << (np.uint64(63) - off))


@njit(**INLINE)
def level(meta, k):
    """Order k's table fields (and masks) as scalars, read once per level: a kernel that
    writes arrays between reads of `meta` would otherwise reload them (no alias information).
    0 base, 1 slot bits, 2 key bits, 3 fingerprint bits, 4 word bits, 5 key bits b, 6 shift,
    7 t, 8 homes, 9 vocabulary, 10-11 rank bits, 12-13 value tables, 14-15 their entry
    bits, 16 key mask, 17 fingerprint mask, 18-19 rank masks."""
    return (meta[k, M_BASE], meta[k, M_W], meta[k, M_KB], meta[k, M_FB], meta[k, M_WB], meta[k, M_B],
            meta[k, M_S], meta[k, M_T], meta[k, M_NSLOTS], meta[0, G_VOCAB],
            meta[k, M_VW], meta[k, M_VW + 1], meta[k, M_VT], meta[k, M_VT + 1], meta[k, M_TW], meta[k, M_TW + 1],
            low_mask(meta[k, M_KB]), low_mask(meta[k, M_FB]), low_mask(meta[k, M_VW]), low_mask(meta[k, M_VW + 1]))


@njit(**INLINE)
def home_fp(lv, parent, word):
    """(home slot, fingerprint) of the n-gram (parent node, word) of level lv; home -1 for
    a word outside the vocabulary (it would alias a real key's bits)."""
    wb, b, s, t, nslots, vocab = lv[4], lv[5], lv[6], lv[7], lv[8], lv[9]
    if word < 0 or word >= vocab:
        return np.int64(-1), np.uint64(0)
    x = mix((np.uint64(parent) << np.uint64(wb)) | np.uint64(word), b, s)
    return home_of(x, b, t, nslots), x & lv[17]


@njit(**INLINE)
def probe(words, lv, h, fp):
    """(slot, its first 64 bits) of the entry (home h, fingerprint fp) of level lv, or
    (-1, 0). At slot j an entry of home h holds key field fp | (j - h + 1) << fb, so a
    match is one comparison; a key field below (j - h + 1) << fb is a later home (or an
    empty slot, 0): the entry is absent. Larger ones are earlier homes, or home h with
    another fingerprint: scan on."""
    w, kmask = lv[1], lv[16]
    step = U1 << np.uint64(lv[3])
    dist = step  # (distance 0 + 1) << fb
    j = h
    pos = lv[0] + j * w
    while True:
        word = read64(words, pos)
        key = word & kmask
        if key == (dist | fp):
            return j, word
        if key < dist:
            return np.int64(-1), np.uint64(0)
        j += 1
        pos += w
        dist += step


@njit(**INLINE)
def slot_raw(words, lv, j, first, c):
    """Raw value (count, or float32 bits) of column c of slot j of level lv (order 1: word
    j); `first`: the slot's first 64 bits (probe's), used when the slot fits in them."""
    if c == 0:
        shift, mask, table, tw = lv[2], lv[18], lv[12], lv[14]
    else:
        shift, mask, table, tw = lv[2] + lv[10], lv[19], lv[13], lv[15]
    if lv[1] <= 64:
        r = np.int64((first >> np.uint64(shift)) & mask)
    else:
        r = np.int64(read64(words, lv[0] + j * lv[1] + shift) & mask)
    if tw == 32:
        return (words[table + (r >> 1)] >> np.uint64((r & 1) * 32)) & np.uint64(0xFFFFFFFF)
    if tw == 64:
        return words[table + r]
    return np.uint64(r)  # entry bits 0: the slot holds the raw value itself


@njit(**INLINE)
def unigram_raw(words, lv, w, c):
    """slot_raw of word w at order 1 (lv = level(meta, 1))."""
    return slot_raw(words, lv, w, read64(words, lv[0] + w * lv[1]), c)


@njit(**INLINE)
def prefetch_slot(words, lv, j):
    """Prefetch the word holding the start of slot j of level lv."""
    prefetch_row(words, (lv[0] + j * lv[1]) >> 6)


@njit(**INLINE)
def find_child(words, meta, k, parent, word):
    """The node (slot) of the order-k n-gram (parent, word), or -1."""
    lv = level(meta, k)
    h, fp = home_fp(lv, parent, word)
    if h < 0:
        return np.int64(-1)
    return probe(words, lv, h, fp)[0]


@njit(**INLINE)
def node_raw(words, meta, k, j, c):
    """Raw value of column c of node j at order k (k = 1: word j)."""
    lv = level(meta, k)
    return slot_raw(words, lv, j, read64(words, lv[0] + j * lv[1]), c)


# ----------------------------------------------------------------------------- building

@njit(**JIT)
def place_level(parents, keys, wb, b, s, t, nslots, fb, out_home, out_fp, out_pos):
    """Hashes every entry of one order (parent node, word) and places it: entries sorted
    by home (a counting sort), each at max(home, previous position + 1). Returns the
    longest distance from home and the last position used (-1 when empty)."""
    n = parents.shape[0]
    wmask = low_mask(wb)
    fmask = low_mask(fb)
    count = np.zeros(nslots + 1, np.int64)
    for i in range(n):
        key = (np.uint64(parents[i]) << np.uint64(wb)) | (np.uint64(keys[i]) & wmask)
        x = mix(key, b, s)
        h = home_of(x, b, t, nslots)
        out_home[i] = h
        out_fp[i] = x & fmask
        count[h + 1] += 1
    for h in range(nslots):
        count[h + 1] += count[h]
    order = np.empty(n, np.int64)
    for i in range(n):
        h = out_home[i]
        order[count[h]] = i
        count[h] += 1
    prev = np.int64(-1)
    longest = np.int64(0)
    for r in range(n):
        i = order[r]
        p = max(out_home[i], prev + 1)
        out_pos[i] = p
        longest = max(longest, p - out_home[i])
        prev = p
    return longest, prev


@njit(**JIT)
def pack_slots(words, w, fb, kb, pos, home, fp, ranks, rank_bits):
    """Writes each entry's slot at bit pos[i] * w of `words` (zeroed): key field
    fp | (distance + 1) << fb (kb bits; kb = 0 for unigrams), then its value ranks."""
    for i in range(pos.shape[0]):
        at = pos[i] * w
        if kb > 0:
            write_bits(words, at, kb, fp[i] | (np.uint64(pos[i] - home[i] + 1) << np.uint64(fb)))
        at += kb
        for c in range(ranks.shape[1]):
            write_bits(words, at, rank_bits[c], np.uint64(ranks[i, c]))
            at += rank_bits[c]
