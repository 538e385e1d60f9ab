"""KenLM's ``BaseScore`` with integer arguments only: the per-word entry of the kenlm
facade (ngram.context_states), for decoders that call it one word at a time.

From Python a numba call costs mostly the unboxing of its arguments (~150 ns per array,
~30 ns per int of a tuple) and of its result. So the context is not passed as ids: it is
a key into a process-wide table of interned contexts, and the model's arrays are not
passed either: one int64 "handle" array, reached by its address, holds the addresses and
shapes of everything the walk reads. A call is ``score(handle_address, key, word_id)``
-> (log10 float32, n-gram length, key of the next context), three ints in.

The table of contexts: rows of CONTEXT_WIDTH int32 ids, oldest first, padded at the front
with -1 (the padded contexts of ngram.kernels.word_score), found by hash with linear
probing. Key 0 is the empty context, 1 is <s>. A context not in the table is added; when
it is full the call returns key -1 and adds nothing (the caller grows it, or falls back).
A direct-mapped cache per model keeps (key, word) -> result (a beam search asks some
pairs again; a collision overwrites).

These kernels write shared tables, so they keep the GIL (``nogil=False``): the GIL
serializes the callers, and a call of ~0.2 us gains nothing from releasing it.
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import carray, njit, types
from numba.extending import intrinsic

from ..limits import MAX_ORDER
from .word_score import word_id, word_score_compressed, word_score_decoded

ENTRY = dict(nogil=False, cache=True)  # see the module doc
CONTEXT_WIDTH = MAX_ORDER - 1  # the longest context any model may have

# the model handle (int64[M_FIELDS])
(M_KIND, M_A_PTR, M_A_ROWS, M_A_COLS, M_B_PTR, M_B_ROWS, M_B_COLS, M_VOCAB, M_ORDER, M_CACHE_PTR, M_CACHE_ROWS,
 M_TABLE_PTR, M_PACKED_PTR, M_PACKED_LEN) = range(14)
M_FIELDS = 14
KIND_COMPRESSED, KIND_DECODED = 0, 1
# the table handle (int64[T_FIELDS]): rows int32[capacity + 1, CONTEXT_WIDTH] (the last
# row is scratch), slots int32[nslots] (row + 1, 0 = free), count of rows in use
T_ROWS_PTR, T_CAPACITY, T_SLOTS_PTR, T_NSLOTS, T_COUNT = range(5)
T_FIELDS = 5
# a cache row (int64[4]): key, word, next key, (length << 32) | float32 bits of log10
C_KEY, C_WORD, C_NEXT, C_VALUE = range(4)
NO_KEY = -1
BAD_KEY = -2  # the next key of a call whose context key is not in the table
_H1 = np.uint64(0x9E3779B97F4A7C15)
_LOW32 = np.int64(0xFFFFFFFF)


@intrinsic
def _voidptr(typingctx, address):
    """The int64 ``address`` as a void pointer (for numba.carray)."""
    if address != types.int64:
        return None

    def codegen(context, builder, sig, args):
        return builder.inttoptr(args[0], ir.IntType(8).as_pointer())

    return types.voidptr(types.int64), codegen


@njit(inline="always", cache=True)
def _i64(address, n):
    return carray(_voidptr(address), (n,), np.int64)


@intrinsic
def _readonly(typingctx, arr):
    """The same array typed read-only: the compressed shard's kernels are compiled (and
    cached) for its read-only mmap; this reuses that compiled code instead of compiling
    the walk again for a writable array (a minute)."""
    if not isinstance(arr, types.Array):
        return None

    def codegen(context, builder, sig, args):
        context.nrt.incref(builder, sig.args[0], args[0])
        return args[0]

    return arr.copy(readonly=True)(arr), codegen


@njit(inline="always", cache=True)
def _at(row, i, lo):
    return np.int64(row[i]) if i >= lo else np.int64(-1)


@njit(inline="always", cache=True)
def _padded(row, keep):
    """The row as the padded tuple of ngram.kernels.word_score (its compiled signature),
    only the model's last `keep` words."""
    lo = CONTEXT_WIDTH - keep
    return (_at(row, 0, lo), _at(row, 1, lo), _at(row, 2, lo), _at(row, 3, lo), _at(row, 4, lo), _at(row, 5, lo),
            _at(row, 6, lo), _at(row, 7, lo), _at(row, 8, lo), _at(row, 9, lo), _at(row, 10, lo), _at(row, 11, lo),
            _at(row, 12, lo), _at(row, 13, lo), _at(row, 14, lo))


@njit(inline="always", cache=True)
def _row_hash(row):
    h = np.uint64(len(row))
    for i in range(len(row)):
        h = (h ^ np.uint64(np.int64(row[i]) & _LOW32)) * _H1
        h ^= h >> np.uint64(29)
    return h


@njit(**ENTRY)
def intern_row(table_address, row):
    """Key of the context `row` (int32[CONTEXT_WIDTH], padded), added if absent; NO_KEY
    when the table is full."""
    t = _i64(table_address, T_FIELDS)
    rows = carray(_voidptr(t[T_ROWS_PTR]), (t[T_CAPACITY] + 1, CONTEXT_WIDTH), np.int32)
    nslots = t[T_NSLOTS]
    slots = carray(_voidptr(t[T_SLOTS_PTR]), (nslots,), np.int32)
    h = np.int64(_row_hash(row) % np.uint64(nslots))
    while True:
        r = slots[h] - 1
        if r < 0:
            break
        same = True
        for i in range(CONTEXT_WIDTH):
            if rows[r, i] != row[i]:
                same = False
                break
        if same:
            return np.int64(r)
        h += 1
        if h == nslots:
            h = 0
    n = t[T_COUNT]
    if n >= t[T_CAPACITY]:
        return np.int64(NO_KEY)
    for i in range(CONTEXT_WIDTH):
        rows[n, i] = row[i]
    slots[h] = n + 1
    t[T_COUNT] = n + 1
    return n


@njit(**ENTRY)
def grow_into(table_address, rows, slots):
    """Moves the table to larger arrays in one call (the GIL held throughout, so no other
    call sees it half moved): copies its rows into `rows` (capacity + 1 rows, the last
    scratch), hashes them into the empty `slots` (zeros) and points the handle at both.
    The caller keeps the old arrays alive until this returns."""
    t = _i64(table_address, T_FIELDS)
    count = t[T_COUNT]
    old = carray(_voidptr(t[T_ROWS_PTR]), (t[T_CAPACITY] + 1, CONTEXT_WIDTH), np.int32)
    rows[:count] = old[:count]
    nslots = len(slots)
    for r in range(count):
        h = np.int64(_row_hash(rows[r]) % np.uint64(nslots))
        while slots[h] != 0:
            h += 1
            if h == nslots:
                h = 0
        slots[h] = r + 1
    t[T_ROWS_PTR] = rows.ctypes.data
    t[T_CAPACITY] = rows.shape[0] - 1
    t[T_SLOTS_PTR] = slots.ctypes.data
    t[T_NSLOTS] = nslots


@njit(inline="always", cache=True)
def _next_context(t, rows, ctx, w, m, keep):
    """The last min(m, keep) words of (ctx, w), padded, in the table's scratch row (m <=
    the context's length + 1, so every word taken from ctx is a real id)."""
    scratch = rows[t[T_CAPACITY]]
    n = min(m, keep)
    for i in range(CONTEXT_WIDTH - n):
        scratch[i] = -1
    if n > 0:
        scratch[CONTEXT_WIDTH - 1] = w
        for i in range(1, n):
            scratch[CONTEXT_WIDTH - 1 - i] = ctx[CONTEXT_WIDTH - i]
    return scratch


@njit(inline="always", cache=True)
def _cached(mh, key, w):
    cache = carray(_voidptr(mh[M_CACHE_PTR]), (mh[M_CACHE_ROWS], 4), np.int64)
    c = np.int64((np.uint64(key) * _H1 + np.uint64(w)) >> np.uint64(40)) & (mh[M_CACHE_ROWS] - 1)
    return cache, c


@njit(**ENTRY)
def score(handle_address, key, w):
    """(log10, n-gram length, next key) of the word with id `w` after the context `key`:
    ngram.kernels.word_score's value (bit for bit KenLM's). Next key NO_KEY: the table of
    contexts is full (nothing cached); BAD_KEY: `key` is not a key of the table."""
    return _score(_i64(handle_address, M_FIELDS), key, w)


@njit(**ENTRY)
def score_new(handle_address, key, word):
    """score() of a word given as UTF-8 bytes (its first time: one call finds its id,
    looked up whole as kenlm's vocabulary does, and scores it): (log10, n-gram length,
    next key, word id)."""
    mh = _i64(handle_address, M_FIELDS)
    w = np.int64(word_id(carray(_voidptr(mh[M_PACKED_PTR]), (mh[M_PACKED_LEN],), np.uint8), word))
    log10, length, nxt = _score(mh, key, w)
    return log10, length, nxt, w


@njit(inline="always", cache=True)
def _score(mh, key, w):
    cache, c = _cached(mh, key, w)
    if cache[c, C_KEY] == key and cache[c, C_WORD] == w:
        v = cache[c, C_VALUE]
        return np.uint32(v & _LOW32).view(np.float32), np.int64(v >> 32), cache[c, C_NEXT]
    t = _i64(mh[M_TABLE_PTR], T_FIELDS)
    if not 0 <= key < t[T_COUNT]:
        return np.float32(np.nan), np.int64(0), np.int64(BAD_KEY)
    rows = carray(_voidptr(t[T_ROWS_PTR]), (t[T_CAPACITY] + 1, CONTEXT_WIDTH), np.int32)
    order = mh[M_ORDER]
    keep = order - 1
    ctx = _padded(rows[key], keep)
    if mh[M_KIND] == KIND_COMPRESSED:
        buf = _readonly(carray(_voidptr(mh[M_A_PTR]), (mh[M_A_ROWS],), np.uint64))
        lay = _readonly(carray(_voidptr(mh[M_B_PTR]), (mh[M_B_ROWS], mh[M_B_COLS]), np.int64))
        log10, length, m = word_score_compressed(buf, lay, ctx, w)
    else:
        words = _readonly(carray(_voidptr(mh[M_A_PTR]), (mh[M_A_ROWS],), np.uint64))
        meta = _readonly(carray(_voidptr(mh[M_B_PTR]), (mh[M_B_ROWS], mh[M_B_COLS]), np.int64))
        log10, length, m = word_score_decoded(words, meta, ctx, w)
    nxt = intern_row(mh[M_TABLE_PTR], _next_context(t, rows, ctx, w, m, keep))
    length = np.int64(length)
    if nxt != NO_KEY:
        cache[c, C_KEY] = key
        cache[c, C_WORD] = w
        cache[c, C_NEXT] = nxt
        cache[c, C_VALUE] = (length << 32) | np.int64(np.float32(log10).view(np.uint32))
    return np.float32(log10), length, nxt
