"""Bit primitives shared by the succinct codecs: popcount, trailing zeros, select, reads.

Words are little-endian uint64; bit i of a stream is bit (i % 64) of word i // 64.
The LLVM intrinsics compile to single POPCNT/TZCNT instructions where the CPU has them.
Numba turns mixed uint64/int64 arithmetic into float64, so word arithmetic below stays
in uint64 and positions stay in int64, converted explicitly.
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

JIT = dict(nogil=True, cache=True)
# Helpers on the lookup path are inlined into their callers at numba IR level: a call
# between separately compiled functions costs NRT refcount updates (atomic) on every
# array argument, which measured 5x the work of a table read (16 vs 3 ns).
INLINE = dict(JIT, inline="always")
U1 = np.uint64(1)
U0 = np.uint64(0)


@intrinsic
def _ctpop(typingctx, x):
    if x != types.uint64:
        return None

    def codegen(context, builder, sig, args):
        return builder.ctpop(args[0])

    return types.uint64(types.uint64), codegen


@intrinsic
def _cttz(typingctx, x):
    if x != types.uint64:
        return None

    def codegen(context, builder, sig, args):
        return builder.cttz(args[0], ir.Constant(ir.IntType(1), 0))

    return types.uint64(types.uint64), codegen


@njit(**INLINE)
def popcount(x):
    """Number of set bits of a uint64, as int64."""
    return np.int64(_ctpop(np.uint64(x)))


@njit(**INLINE)
def ctz(x):
    """Trailing zeros of a uint64 (64 for 0), as int64."""
    return np.int64(_cttz(np.uint64(x)))


_SELECT_IN_BYTE = np.zeros(256 * 8, np.uint8)
for _byte in range(256):
    _r = 0
    for _bit in range(8):
        if _byte >> _bit & 1:
            _SELECT_IN_BYTE[_byte * 8 + _r] = _bit
            _r += 1
_L8 = np.uint64(0x0101010101010101)
_H8 = np.uint64(0x8080808080808080)


@njit(**INLINE)
def select_in_word(x, r):
    """Bit position of the r-th (0-based) set bit of uint64 x; x has more than r set bits.

    Broadword: byte popcounts, their prefix sums in one multiply, a parallel compare to
    find the byte, then a table for the bit inside it (Vigna, "Broadword implementation
    of rank/select queries").
    """
    s = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    s = (s & np.uint64(0x3333333333333333)) + ((s >> np.uint64(2)) & np.uint64(0x3333333333333333))
    s = (s + (s >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    prefix = s * _L8  # byte i holds the popcount of bytes 0..i
    # bytes whose prefix count is <= r: those come before the wanted byte
    le = ((np.uint64(r) * _L8 | _H8) - prefix) & _H8
    byte = popcount(le)
    shift = np.uint64(byte * 8)
    before = 0 if byte == 0 else np.int64((prefix << np.uint64(8)) >> shift & np.uint64(0xFF))
    return byte * 8 + np.int64(_SELECT_IN_BYTE[np.int64((x >> shift) & np.uint64(0xFF)) * 8 + r - before])


@njit(**INLINE)
def low_mask(width):
    """uint64 with the low `width` (0..64) bits set."""
    if width >= 64:
        return ~U0
    return (U1 << np.uint64(width)) - U1


@njit(**INLINE)
def load(words, i):
    """words[i] with i clamped into the array: a corrupt offset then reads wrong data (and
    `ngram verify` reports the file) but never memory outside the mapping."""
    return words[min(max(i, 0), words.shape[0] - 1)]


@njit(**INLINE)
def read_bits(words, pos, width):
    """Read `width` (0..63) bits starting at bit `pos`.

    Branch-free: it always reads the next word too (streams carry a padding word), and
    shifts it in two steps so that an offset of 0 never shifts by 64. A branch on "does
    the field cross a word" mispredicts constantly on real data and cost 30x here.
    """
    w = pos >> 6
    off = np.uint64(pos & 63)
    val = (load(words, w) >> off) | ((load(words, w + 1) << U1) << (np.uint64(63) - off))
    return val & ((~U0 >> U1) >> np.uint64(63 - width))


@njit(**INLINE)
def read_word(words, pos):
    """Read 64 bits starting at bit `pos` (branch-free, like read_bits)."""
    w = pos >> 6
    off = np.uint64(pos & 63)
    return (load(words, w) >> off) | ((load(words, w + 1) << U1) << (np.uint64(63) - off))


@njit(**JIT)
def write_bits(words, pos, width, value):
    """OR `value` (its low `width` bits) into the stream at bit `pos` (target bits zero)."""
    if width == 0:
        return
    value = np.uint64(value) & low_mask(width)
    w = pos >> 6
    off = pos & 63
    words[w] |= value << np.uint64(off)
    if off + width > 64:
        words[w + 1] |= value >> np.uint64(64 - off)
