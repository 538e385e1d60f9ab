"""Numba kernels of the spelling service's candidate step (whole batches, nogil, cached).

Strings are code points: one uint32 array holding every string back to back and int64
offsets (string i is chars[offsets[i]:offsets[i + 1]]).

The symmetric-delete index: every key (a lowercased vocabulary word) is entered under
the hash of each string made from it by deleting at most k characters. A query within
optimal-string-alignment distance k of a key shares such a delete-variant with it (each
substitution or transposition costs one delete on each side, an insertion one delete on
one side), so the query's own variants find every key within k, plus false positives
that `osa_within` removes. The hash table is CSR: bucket (top bits of the 64-bit hash)
-> a run of postings (key id, and an 8-bit fingerprint from other hash bits, which
skips most bucket collisions before any distance is computed).
"""
from __future__ import annotations

import numpy as np
from numba import njit

@njit(nogil=True, cache=True)
def _hash_skip(chars, lo, hi, skip1, skip2):
    """FNV-1a (64-bit) of chars[lo:hi] without positions skip1 and skip2 (-1: none)."""
    h = np.uint64(0xCBF29CE484222325)
    for p in range(lo, hi):
        if p == skip1 or p == skip2:
            continue
        h = (h ^ np.uint64(chars[p])) * np.uint64(0x100000001B3)
    return h


@njit(nogil=True, cache=True)
def _variants(chars, lo, hi, k, out, dels):
    """Hashes of every string made from chars[lo:hi] by deleting at most k (<= 2)
    characters, written to out (dels: how many were deleted); returns how many (with
    repeats, e.g. "aab")."""
    m = 0
    out[m] = _hash_skip(chars, lo, hi, -1, -1)
    dels[m] = 0
    m += 1
    if k >= 1:
        for i in range(lo, hi):
            out[m] = _hash_skip(chars, lo, hi, i, -1)
            dels[m] = 1
            m += 1
    if k >= 2:
        for i in range(lo, hi):
            for j in range(i + 1, hi):
                out[m] = _hash_skip(chars, lo, hi, i, j)
                dels[m] = 2
                m += 1
    return m


@njit(nogil=True, cache=True)
def variant_count(n, k):
    c = 1
    if k >= 1:
        c += n
    if k >= 2:
        c += n * (n - 1) // 2
    return c


@njit(nogil=True, cache=True)
def build_delete_index(chars, offsets, include, k, bucket_bits):
    """(bucket_offsets uint32[2^bits + 1], postings uint32[E], prints uint8[E]): the
    symmetric-delete index of the keys with include[i] (distinct variants of one key
    entered once). Postings of a bucket are in key order; prints[p] holds a 6-bit
    fingerprint of the variant's hash (high bits) and how many characters the key lost
    to make it (low 2 bits), so a query for distance k skips variants of more deletes."""
    nkeys = len(offsets) - 1
    total = 0
    maxn = 0
    for i in range(nkeys):
        if include[i]:
            n = offsets[i + 1] - offsets[i]
            total += variant_count(n, k)
            maxn = max(maxn, n)
    hashes = np.empty(total, np.uint64)
    owner = np.empty(total, np.uint32)
    scratch = np.empty(variant_count(maxn, k), np.uint64)
    dels = np.empty(variant_count(maxn, k), np.uint8)
    e = 0
    for i in range(nkeys):
        if not include[i]:
            continue
        m = _variants(chars, offsets[i], offsets[i + 1], k, scratch, dels)
        # a variant made several ways ("aab") is entered once, with its fewest deletes;
        # the low 2 bits of a stored hash carry that count (the fingerprint uses 6 others)
        for j in range(m):
            scratch[j] = (scratch[j] & ~np.uint64(3)) | np.uint64(dels[j])
        part = np.sort(scratch[:m])
        for j in range(m):
            if j > 0 and (part[j] >> np.uint64(2)) == (part[j - 1] >> np.uint64(2)):
                continue
            hashes[e] = part[j]
            owner[e] = i
            e += 1
    nb = 1 << bucket_bits
    shift = np.uint64(64 - bucket_bits)
    counts = np.zeros(nb + 1, np.uint32)
    for j in range(e):
        counts[np.int64(hashes[j] >> shift) + 1] += 1
    for b in range(nb):
        counts[b + 1] += counts[b]
    fill = counts[:nb].copy()
    postings = np.empty(e, np.uint32)
    prints = np.empty(e, np.uint8)
    for j in range(e):
        b = np.int64(hashes[j] >> shift)
        postings[fill[b]] = owner[j]
        prints[fill[b]] = np.uint8(hashes[j] & np.uint64(0xFF))  # fingerprint bits 2-7, deletes 0-1
        fill[b] += 1
    return counts, postings, prints


@njit(nogil=True, cache=True)
def osa_within(a, alo, ahi, b, blo, bhi, k, row0, row1, row2):
    """Optimal-string-alignment distance of a[alo:ahi] and b[blo:bhi] if <= k, else k + 1.
    row0..row2 are scratch rows of length >= len(b) + 1."""
    n = ahi - alo
    m = bhi - blo
    if abs(n - m) > k:
        return k + 1
    if n == 0:
        return m
    if m == 0:
        return n
    prev2 = row0
    prev = row1
    cur = row2
    for j in range(m + 1):
        prev[j] = j
    for i in range(1, n + 1):
        cur[0] = i
        best = i
        ai = a[alo + i - 1]
        for j in range(1, m + 1):
            bj = b[blo + j - 1]
            cost = 0 if ai == bj else 1
            v = prev[j - 1] + cost
            d = prev[j] + 1
            if d < v:
                v = d
            d = cur[j - 1] + 1
            if d < v:
                v = d
            if i > 1 and j > 1 and ai == b[blo + j - 2] and a[alo + i - 2] == bj:
                d = prev2[j - 2] + 1
                if d < v:
                    v = d
            cur[j] = v
            if v < best:
                best = v
        if best > k:
            return k + 1
        t = prev2
        prev2 = prev
        prev = cur
        cur = t
    d = prev[m]
    return d if d <= k else k + 1


@njit(nogil=True, cache=True)
def lookup_delete_index(qchars, qoffsets, qk, kchars, koffsets, bucket_offsets, postings, prints, bucket_bits,
                        build_k, max_key_chars, max_query_chars):
    """Every (query, key, distance) with OSA distance <= qk[query] (<= build_k), by
    query, then key id. Returns (query_index int32[R], key_id int32[R], distance int8[R])."""
    nq = len(qoffsets) - 1
    shift = np.uint64(64 - bucket_bits)
    width = max(max_key_chars, max_query_chars) + 2
    row0 = np.empty(width, np.int64)
    row1 = np.empty(width, np.int64)
    row2 = np.empty(width, np.int64)
    scratch = np.empty(variant_count(max_query_chars, build_k), np.uint64)
    dels = np.empty(variant_count(max_query_chars, build_k), np.uint8)
    cand = np.empty(1024, np.uint32)
    out_q = np.empty(256, np.int32)
    out_key = np.empty(256, np.int32)
    out_d = np.empty(256, np.int8)
    r = 0
    for q in range(nq):
        lo = qoffsets[q]
        hi = qoffsets[q + 1]
        k = min(qk[q], build_k)
        if hi - lo > max_query_chars or hi == lo or k < 0:
            continue
        # a key within k of the query shares a variant of at most k deletes on each side
        m = _variants(qchars, lo, hi, k, scratch, dels)
        c = 0
        for j in range(m):
            h = scratch[j]
            b = np.int64(h >> shift)
            fp = np.uint8(h & np.uint64(0xFC))
            for p in range(bucket_offsets[b], bucket_offsets[b + 1]):
                pr = prints[p]
                if (pr & 0xFC) != fp or (pr & 3) > k:
                    continue
                if c == len(cand):
                    grown = np.empty(2 * c, np.uint32)
                    grown[:c] = cand
                    cand = grown
                cand[c] = postings[p]
                c += 1
        found = np.sort(cand[:c])
        for j in range(c):
            key = found[j]
            if j > 0 and key == found[j - 1]:
                continue
            d = osa_within(qchars, lo, hi, kchars, koffsets[key], koffsets[key + 1], k, row0, row1, row2)
            if d > k:
                continue
            if r == len(out_q):
                out_q = _grow_i32(out_q)
                out_key = _grow_i32(out_key)
                grown8 = np.empty(2 * r, np.int8)
                grown8[:r] = out_d
                out_d = grown8
            out_q[r] = q
            out_key[r] = key
            out_d[r] = d
            r += 1
    return out_q[:r].copy(), out_key[:r].copy(), out_d[:r].copy()


@njit(nogil=True, cache=True)
def _grow_i32(a):
    b = np.empty(2 * len(a), np.int32)
    b[:len(a)] = a
    return b


@njit(nogil=True, cache=True)
def build_key_table(chars, offsets, table_bits):
    """Open-addressing table (size 2^bits, at most half full): slot -> key id + 1, 0 empty."""
    size = 1 << table_bits
    mask = size - 1
    table = np.zeros(size, np.int32)
    for i in range(len(offsets) - 1):
        h = _hash_skip(chars, offsets[i], offsets[i + 1], -1, -1)
        s = np.int64(h & np.uint64(mask))
        while table[s] != 0:
            s = (s + 1) & mask
        table[s] = i + 1
    return table


@njit(nogil=True, cache=True)
def find_keys(qchars, qoffsets, kchars, koffsets, table):
    """Key id of each query string (exact code points), -1 where it is no key."""
    nq = len(qoffsets) - 1
    mask = len(table) - 1
    out = np.full(nq, -1, np.int32)
    for q in range(nq):
        lo = qoffsets[q]
        hi = qoffsets[q + 1]
        n = hi - lo
        h = _hash_skip(qchars, lo, hi, -1, -1)
        s = np.int64(h & np.uint64(mask))
        while table[s] != 0:
            key = table[s] - 1
            klo = koffsets[key]
            if koffsets[key + 1] - klo == n:
                same = True
                for p in range(n):
                    if kchars[klo + p] != qchars[lo + p]:
                        same = False
                        break
                if same:
                    out[q] = key
                    break
            s = (s + 1) & mask
    return out
