"""Top-k continuation kernels over the succinct successor index (ngram.successors;
docs/PREDICTION.md).

A part is a tuple of arrays (see `ngram.successors.PART_ARRAYS`); level j of a part
(contexts of j words) has: a minimal perfect hash of its contexts (j >= 2; a one-word
context's slot is its word id), an Elias-Fano sequence of record bit offsets (one
record per context, in slot order), the records, and a table of values in score order.
A record: gamma(h + 1); h head entries (list position, value rank), in score order;
m labels in word order (w = max(1, ceil(log2 M)) bits each, M the size of the list of
the context's suffix; the label is the continuation's position in that list). List
entries outside the head hold the level's tail value (its smallest count).

A word's score comes from the longest context suffix whose list holds it with a value
(the model's own rule, as `Scorer.score_pairs` computes it, bit for bit):
  counts:  log10 c(ctx_j w) - log10 c(ctx_j) + (L - j) log10 alpha   (j = 0: - log10 total;
           a word with count 0: - log10 total + L log10 alpha); a level whose context
           count is 0 (a cutoff pruned it) is skipped, as the scorer skips it;
  backoff: prob(ctx_j w) + backoff(ctx_{j+1}) + ... + backoff(ctx_L)   (float64, in order).
The lists of one context's chain are merged lazily: the best head (score desc, word asc)
is taken until k are out; a word is skipped in a list when a longer active list holds it
with a value (found by descending the labels: a continuation of a longer context is one
of the shorter one's). Every read clamps into its array (`bits.load`).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .backoff import MISSING_UNK_PROB
from .bits import INLINE, JIT, read_bits, write_bits
from .succinct import ef_get, gamma_read, gamma_write, mphf_get

MAX_LEVELS = 17  # contexts of length 0..16 (ngram.limits.MAX_ORDER - 1 and the empty one)
# part tuple fields
REC, REC_BASE, EFHI, EFHI_BASE, EFS, EFS_BASE, EFLO, EFLO_BASE, MBITS, MBITS_BASE, MRANK, MRANK_BASE, \
    MROUND, MROUND_BASE, VALUES, VALUES_BASE, META = range(17)
M_N, M_LOW, M_CW, M_TAIL, M_TABLE = range(5)


@njit(**JIT)
def context_hash(query, q0, j):
    """64-bit hash of the j words query[q0:q0+j] (the key of a context)."""
    h = np.uint64(0x9E3779B97F4A7C15) ^ np.uint64(j)
    for i in range(j):
        h = (h ^ np.uint64(query[q0 + i])) * np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(31)
    h ^= h >> np.uint64(29)
    h *= np.uint64(0x94D049BB133111EB)
    h ^= h >> np.uint64(32)
    return h


@njit(**JIT)
def row_hashes(rows, j, out):
    for i in range(rows.shape[0]):
        out[i] = context_hash(rows[i], 0, j)


@njit(**JIT)
def pack_records(rec, at, h, m, w, cw, hstarts, hpos, hrank, starts, labels):
    """Write each context's record at bit at[i] (see module doc)."""
    for i in range(at.shape[0]):
        p = at[i] + gamma_write(rec, at[i], h[i] + 1)
        for e in range(hstarts[i], hstarts[i + 1]):
            write_bits(rec, p, w[i], hpos[e])
            write_bits(rec, p + w[i], cw, hrank[e])
            p += w[i] + cw
        for e in range(starts[i], starts[i + 1]):
            write_bits(rec, p, w[i], labels[e])
            p += w[i]


@njit(**INLINE)
def _ceil_log2(x):
    n = np.int64(0)
    while (np.int64(1) << n) < x:
        n += 1
    return n


@njit(**INLINE)
def locate(rec, rec_base, efhi, efhi_base, efs, efs_base, eflo, eflo_base, meta, j, slot, parent_m, out):
    """Record of context `slot` at level j: out = (head bit, label bit, h, m, w, cw) in the
    part's record array; False when the slot is outside the level."""
    if j >= meta.shape[0]:
        return False
    n = meta[j, M_N]
    if slot < 0 or slot >= n:
        return False
    hi = efhi[efhi_base[j]:efhi_base[j + 1]]
    sm = efs[efs_base[j]:efs_base[j + 1]]
    lo = eflo[eflo_base[j]:eflo_base[j + 1]]
    low = meta[j, M_LOW]
    if low < 0 or low > 62:
        return False
    a = ef_get(hi, sm, lo, low, slot)
    b = ef_get(hi, sm, lo, low, slot + 1)
    base = rec_base[j] * 64
    hp1, glen = gamma_read(rec, base + a)
    h = hp1 - 1
    w = max(np.int64(1), _ceil_log2(parent_m))
    cw = meta[j, M_CW]
    if cw < 0 or cw > 62:
        return False
    body = (b - a) - glen - h * (w + cw)
    if body < 0 or h < 0:
        return False
    out[0] = base + a + glen
    out[1] = out[0] + h * (w + cw)
    out[2] = h
    out[3] = body // w
    out[4] = w
    out[5] = cw
    return True


@njit(**INLINE)
def find_slot(mbits, mbits_base, mrank, mrank_base, mround, mround_base, j, query, q0):
    """MPHF slot of the context query[q0:q0+j] at level j >= 2 (the context exists)."""
    if j + 1 >= mbits_base.shape[0]:
        return np.int64(-1)
    bits = mbits[mbits_base[j]:mbits_base[j + 1]]
    ranks = mrank[mrank_base[j]:mrank_base[j + 1]]
    rounds = mround[mround_base[j]:mround_base[j + 1]]
    return mphf_get(bits, ranks, rounds, context_hash(query, q0, j))


@njit(**INLINE)
def _label(rec, rec_bit, w, i):
    return np.int64(read_bits(rec, rec_bit + i * w, w))


@njit(**INLINE)
def _find_label(rec, lab_bit, m, w, r):
    """Position of label r among the m ascending labels, or -1."""
    lo = np.int64(0)
    hi = m
    while lo < hi:
        mid = (lo + hi) >> 1
        if _label(rec, lab_bit, w, mid) < r:
            lo = mid + 1
        else:
            hi = mid
    if lo < m and _label(rec, lab_bit, w, lo) == r:
        return lo
    return np.int64(-1)


@njit(**INLINE)
def _entry_score(is_counts, value, j, L, chain, b, log_total, log_alpha):
    if is_counts:
        c = np.float64(value)
        if j == 0:
            if c > 0:
                s = np.log10(c) - log_total
                return s + L * log_alpha
            return -log_total + L * log_alpha
        s = np.log10(c) - np.log10(np.float64(chain[b, j - 1]))
        return s + (L - j) * log_alpha
    p = np.float64(value)
    if np.isnan(p):
        p = MISSING_UNK_PROB
    for i in range(j + 1, L + 1):
        p += np.float64(chain[b, i - 1])
    return p


@njit(**JIT)
def top_k_kernel(ctx_ids, ctx_lengths, ctx_found, ctx_chain, rows, C, S, uni_order, uni_values,
                 allowed, is_counts, log_total, log_alpha, min_score, out_words, out_scores):
    """For each row b in `rows`: the top k = out_words.shape[1] continuations of context
    ctx_ids[b, :ctx_lengths[b]] (cut to at most N-1 words; its suffixes of length
    1..ctx_found[b] are stored; ctx_chain[b, i-1] is the count or backoff of the suffix of
    length i). C is the common part (one-word contexts), S the part of the shard that
    holds the contexts of two or more words."""
    k = out_words.shape[1]
    V = uni_values.shape[0]
    loc = np.zeros((MAX_LEVELS, 9), np.int64)
    c_rec, s_rec, c_vals, s_vals = C[REC], S[REC], C[VALUES], S[VALUES]
    c_rb, c_hi, c_hib, c_s, c_sb, c_lo, c_lob, c_meta = (C[REC_BASE], C[EFHI], C[EFHI_BASE], C[EFS], C[EFS_BASE],
                                                         C[EFLO], C[EFLO_BASE], C[META])
    s_rb, s_hi, s_hib, s_s, s_sb, s_lo, s_lob, s_meta = (S[REC_BASE], S[EFHI], S[EFHI_BASE], S[EFS], S[EFS_BASE],
                                                         S[EFLO], S[EFLO_BASE], S[META])
    s_mb, s_mbb, s_mr, s_mrb, s_mo, s_mob = S[MBITS], S[MBITS_BASE], S[MRANK], S[MRANK_BASE], S[MROUND], S[MROUND_BASE]
    m_of = np.zeros(MAX_LEVELS, np.int64)
    active = np.zeros(MAX_LEVELS, np.bool_)
    phase = np.zeros(MAX_LEVELS, np.int64)  # 0 head, 1 tail, 2 done
    hpos = np.zeros(MAX_LEVELS, np.int64)
    tpos = np.zeros(MAX_LEVELS, np.int64)
    tptr = np.zeros(MAX_LEVELS, np.int64)
    sorted_base = np.zeros(MAX_LEVELS, np.int64)
    has = np.zeros(MAX_LEVELS, np.bool_)
    cur_w = np.zeros(MAX_LEVELS, np.int64)
    cur_r = np.zeros(MAX_LEVELS, np.int64)
    cur_s = np.zeros(MAX_LEVELS, np.float64)
    heads_sorted = np.zeros(16, np.int64)
    for r in range(rows.shape[0]):
        b = rows[r]
        L = ctx_lengths[b]
        for t in range(k):
            out_words[b, t] = -1
            out_scores[b, t] = -np.inf
        J = min(ctx_found[b], L)
        m_of[0] = V
        for j in range(1, J + 1):
            if j == 1:
                ok = locate(c_rec, c_rb, c_hi, c_hib, c_s, c_sb, c_lo, c_lob, c_meta, j,
                            np.int64(ctx_ids[b, L - 1]), m_of[j - 1], loc[j])
            else:
                slot = find_slot(s_mb, s_mbb, s_mr, s_mrb, s_mo, s_mob, j, ctx_ids[b], L - j)
                ok = locate(s_rec, s_rb, s_hi, s_hib, s_s, s_sb, s_lo, s_lob, s_meta, j, slot, m_of[j - 1], loc[j])
            if not ok:
                J = j - 1
                break
            P_meta = c_meta if j == 1 else s_meta
            loc[j, 6] = P_meta[j, M_TABLE]
            loc[j, 7] = P_meta[j, M_TAIL]
            loc[j, 8] = C[VALUES_BASE][j] if j == 1 else S[VALUES_BASE][j]
            m_of[j] = loc[j, 3]
        # the sorted head positions of a level are gathered when its tail is first read
        total_h = 0
        for j in range(1, J + 1):
            sorted_base[j] = total_h
            total_h += loc[j, 2]
        if heads_sorted.shape[0] < total_h:
            heads_sorted = np.zeros(total_h, np.int64)
        for j in range(0, L + 1):
            active[j] = j <= J and (j == 0 or not is_counts or ctx_chain[b, j - 1] > 0)
            phase[j] = 0
            hpos[j] = 0
            tpos[j] = 0
            tptr[j] = -1
            if active[j]:
                _fill(j, L, J, b, c_rec, s_rec, c_vals, s_vals, loc, uni_order, uni_values, is_counts, ctx_chain, log_total, log_alpha,
                      phase, hpos, tpos, tptr, sorted_base, heads_sorted, has, cur_w, cur_r, cur_s, V)
        t = 0
        while t < k:
            best_j = -1
            best_w = np.int64(0)
            best_s = -np.inf
            for j in range(L, -1, -1):
                if not active[j]:
                    continue
                while has[j]:
                    w = cur_w[j]
                    s = cur_s[j]
                    if best_j >= 0 and (s < best_s or (s == best_s and w > best_w)):
                        break  # cannot win this round: not checked yet
                    if _valid(j, J, cur_r[j], w, c_rec, s_rec, loc, active, allowed, V):
                        best_j, best_w, best_s = j, w, s
                        break
                    _advance(j, L, J, b, c_rec, s_rec, c_vals, s_vals, loc, uni_order, uni_values, is_counts, ctx_chain, log_total,
                             log_alpha, phase, hpos, tpos, tptr, sorted_base, heads_sorted, has, cur_w, cur_r,
                             cur_s, V)
            if best_j < 0 or best_s < min_score:
                break
            out_words[b, t] = best_w
            out_scores[b, t] = best_s
            _advance(best_j, L, J, b, c_rec, s_rec, c_vals, s_vals, loc, uni_order, uni_values, is_counts, ctx_chain, log_total, log_alpha,
                     phase, hpos, tpos, tptr, sorted_base, heads_sorted, has, cur_w, cur_r, cur_s, V)
            t += 1


@njit(**INLINE)
def _advance(j, L, J, b, c_rec, s_rec, c_vals, s_vals, loc, uni_order, uni_values, is_counts, chain, log_total, log_alpha,
             phase, hpos, tpos, tptr, sorted_base, heads_sorted, has, cur_w, cur_r, cur_s, V):
    if phase[j] == 0:
        hpos[j] += 1
    else:
        tpos[j] += 1
    _fill(j, L, J, b, c_rec, s_rec, c_vals, s_vals, loc, uni_order, uni_values, is_counts, chain, log_total, log_alpha,
          phase, hpos, tpos, tptr, sorted_base, heads_sorted, has, cur_w, cur_r, cur_s, V)


@njit(**INLINE)
def _word_of(j, p, c_rec, s_rec, loc, V):
    """Word id of position p of level j's list (labels descend to a word id); -1 if the
    file is corrupt."""
    r = p
    for jj in range(j, 0, -1):
        if r < 0 or r >= loc[jj, 3]:
            return np.int64(-1)
        r = _label(c_rec if jj == 1 else s_rec, loc[jj, 1], loc[jj, 4], r)
    if r < 0 or r >= V:
        return np.int64(-1)
    return r


@njit(**INLINE)
def _fill(j, L, J, b, c_rec, s_rec, c_vals, s_vals, loc, uni_order, uni_values, is_counts, chain, log_total, log_alpha,
          phase, hpos, tpos, tptr, sorted_base, heads_sorted, has, cur_w, cur_r, cur_s, V):
    """Load the current entry of level j's score-ordered list into cur_*, or has[j] = False."""
    has[j] = False
    if j == 0:
        t = hpos[0]
        if t >= V:
            return
        w = np.int64(uni_order[t]) if uni_order.shape[0] == V else t
        if w < 0 or w >= V:
            return
        cur_w[0] = w
        cur_r[0] = w
        cur_s[0] = _entry_score(is_counts, uni_values[w], 0, L, chain, b, log_total, log_alpha)
        has[0] = True
        return
    rec = c_rec if j == 1 else s_rec
    values = c_vals if j == 1 else s_vals
    table_len = loc[j, 6]
    tail_rank = loc[j, 7]
    vbase = loc[j, 8]
    h = loc[j, 2]
    m = loc[j, 3]
    w_bits = loc[j, 4]
    cw = loc[j, 5]
    nvals = values.shape[0]
    if phase[j] == 0:
        if hpos[j] < h:
            e = loc[j, 0] + hpos[j] * (w_bits + cw)
            p = np.int64(read_bits(rec, e, w_bits))
            vr = np.int64(read_bits(rec, e + w_bits, cw))
            if vr < table_len:
                w = _word_of(j, p, c_rec, s_rec, loc, V)
                if w < 0:
                    return
                cur_w[j] = w
                cur_r[j] = p
                cur_s[j] = _entry_score(is_counts, values[min(vbase + vr, nvals - 1)], j, L, chain, b,
                                        log_total, log_alpha)
                has[j] = True
                return
        # head done (or a blank reached): the tail, if the level has one
        phase[j] = 1
        tpos[j] = 0
        if tail_rank < 0:
            phase[j] = 2
            return
        base = sorted_base[j]
        for i in range(h):
            e = loc[j, 0] + i * (w_bits + cw)
            heads_sorted[base + i] = np.int64(read_bits(rec, e, w_bits))
        heads_sorted[base:base + h].sort()
        tptr[j] = 0
    if phase[j] == 1:
        base = sorted_base[j]
        p = tpos[j]
        while p < m:
            while tptr[j] < h and heads_sorted[base + tptr[j]] < p:
                tptr[j] += 1
            if tptr[j] < h and heads_sorted[base + tptr[j]] == p:
                p += 1
                continue
            break
        tpos[j] = p
        if p >= m:
            phase[j] = 2
            return
        w = _word_of(j, p, c_rec, s_rec, loc, V)
        if w < 0:
            phase[j] = 2
            return
        cur_w[j] = w
        cur_r[j] = p
        cur_s[j] = _entry_score(is_counts, values[min(vbase + tail_rank, nvals - 1)], j, L, chain, b,
                                log_total, log_alpha)
        has[j] = True


@njit(**INLINE)
def _blank(rec, table_len, j, loc, q):
    """Position q of level j's list is a blank entry (in the head, after every value)."""
    h = loc[j, 2]
    w_bits = loc[j, 4]
    cw = loc[j, 5]
    for i in range(h - 1, -1, -1):
        e = loc[j, 0] + i * (w_bits + cw)
        if np.int64(read_bits(rec, e + w_bits, cw)) < table_len:
            return False
        if np.int64(read_bits(rec, e, w_bits)) == q:
            return True
    return False


@njit(**INLINE)
def _valid(j, J, rank, w, c_rec, s_rec, loc, active, allowed, V):
    """The word (rank = its position in level j's list, its id for j = 0) may be emitted
    from level j: allowed, and no longer active list holds it with a value."""
    if w < 0 or w >= V or not allowed[w]:
        return False
    r = rank
    for jj in range(j + 1, J + 1):
        rec = c_rec if jj == 1 else s_rec
        q = _find_label(rec, loc[jj, 1], loc[jj, 3], loc[jj, 4], r)
        if q < 0:
            return True  # longer lists hold a subset: none has it
        if active[jj] and not _blank(rec, loc[jj, 6], jj, loc, q):
            return False
        r = q
    return True
