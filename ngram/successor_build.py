"""Building the successor index's parts from an opened model (docs/PREDICTION.md).

A list is the continuations of one stored context, in word id order; a continuation is
named by its rank in the list of the context's suffix (every continuation of
(w1..wj) also continues (w2..wj)), the rank among all words for a one-word context.
The score order is kept only where it is not the word order: the entries whose value is
not the level's smallest count (the head, with their value's rank in the level's value
table) are listed in score order; the rest (the tail) follow in word order.
"""
from __future__ import annotations

import numpy as np

from .chains import COUNTS
from .errors import InvalidArgumentError
from .kernels.successors import pack_records, row_hashes
from .kernels.succinct import ef_build, gamma_bits, mphf_build
from .sharding import shard_of_pair

META_COLUMNS = 6  # per level: contexts, EF low bits, value rank width, tail rank, table length, unused


def ceil_log2(x: np.ndarray) -> np.ndarray:
    return _bit_length(np.maximum(np.asarray(x, np.int64), 1) - 1)


def _bit_length(v: np.ndarray) -> np.ndarray:
    out = np.zeros(len(v), np.int64)
    v = v.copy()
    for shift in (32, 16, 8, 4, 2, 1):
        big = v >= (np.int64(1) << shift)
        out[big] += shift
        v[big] >>= shift
    return out + (v > 0)


def label_width(parent_size: np.ndarray) -> np.ndarray:
    """Bits of a label: ceil(log2 of the parent list's size), at least 1."""
    return np.maximum(ceil_log2(parent_size), 1)


def forward_order(grams: np.ndarray) -> np.ndarray:
    return np.lexsort([grams[:, c] for c in range(grams.shape[1] - 1, -1, -1)])


def rows_in(sorted_rows: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Index of each query row in the forward-sorted unique rows, -1 where absent."""
    k = sorted_rows.shape[1]
    if len(queries) == 0:
        return np.zeros(0, np.int64)
    allr = np.concatenate([sorted_rows, queries])
    tag = np.concatenate([np.zeros(len(sorted_rows), np.int8), np.ones(len(queries), np.int8)])
    order = np.lexsort([tag] + [allr[:, c] for c in range(k - 1, -1, -1)])
    is_ref = tag[order] == 0
    ref_idx = np.cumsum(is_ref) - 1  # index of the last reference row at or before
    out = np.full(len(queries), -1, np.int64)
    q_pos = np.flatnonzero(~is_ref)
    qi = order[q_pos] - len(sorted_rows)
    cand = ref_idx[q_pos]
    ok = cand >= 0
    same = np.zeros(len(q_pos), bool)
    same[ok] = (sorted_rows[cand[ok]] == queries[qi[ok]]).all(axis=1)
    out[qi[same]] = cand[same]
    return out


def group_starts(keys: np.ndarray) -> np.ndarray:
    """Start of each run of equal rows in sorted keys (plus the end)."""
    n = len(keys)
    if n == 0:
        return np.zeros(1, np.int64)
    new = np.ones(n, bool)
    if keys.shape[1]:
        new[1:] = (keys[1:] != keys[:-1]).any(axis=1)
    else:
        new[1:] = False
    return np.append(np.flatnonzero(new), n).astype(np.int64)


def score_key(values: np.ndarray, value_kind: str) -> np.ndarray:
    """Ascending = the kernel's score order (value descending); blanks (count 0, NaN) last."""
    if value_kind == COUNTS:
        v = values.astype(np.float64)
        return np.where(v > 0, -v, np.inf)
    v = values.astype(np.float64)
    return np.where(np.isnan(v), np.inf, -v)


def level_arrays(n: int, lists: dict, value_kind: str, slot: np.ndarray | None):
    """The arrays of one level of one part, for its n contexts (all stored j-grams of the
    part, forward-sorted). lists: per entry its context's row, label and value, entries
    sorted by (context row, label), and per context the size of its suffix's list;
    slot: each context's MPHF slot, None for one-word contexts (the slot is the word id)."""
    ctx_of, labels, values = lists["ctx"], lists["label"], lists["value"]
    parent_size = lists["parent_size"]  # per context
    m = np.bincount(ctx_of, minlength=n).astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(m)])
    pos_in_list = np.arange(len(ctx_of)) - starts[ctx_of]
    w = label_width(parent_size)
    if value_kind == COUNTS:
        positive = values[values > 0]
        tail_value = positive.min() if len(positive) else None
        is_tail = values == tail_value if tail_value is not None else np.zeros(len(values), bool)
    else:
        tail_value = None
        is_tail = np.zeros(len(values), bool)
    head = ~is_tail
    valued = (values > 0) if value_kind == COUNTS else ~np.isnan(values)
    table_src = values[head & valued]
    keys = score_key(table_src, value_kind)
    uniq, first = np.unique(keys, return_index=True)
    table = table_src[first]  # score order
    vrank = np.full(len(values), len(table), np.int64)  # blank: the rank after the table
    hv = head & valued
    vrank[hv] = np.searchsorted(uniq, score_key(values[hv], value_kind))
    tail_rank = -1
    if tail_value is not None:
        table = np.append(table, tail_value).astype(values.dtype)
        tail_rank = len(table) - 1
        vrank[~valued & head] = len(table)  # blanks stay after every value
    cw = int(len(table)).bit_length()
    # head entries per context, in score order (blanks last), ties by position
    hsel = np.flatnonzero(head)
    h_order = hsel[np.lexsort([pos_in_list[hsel], vrank[hsel], ctx_of[hsel]])]
    h = np.bincount(ctx_of[hsel], minlength=n).astype(np.int64)
    rec_bits = gamma_bits(h + 1) + h * (w + cw) + m * w
    # contexts in slot order
    order = np.arange(n) if slot is None else np.argsort(slot)
    rec_len = rec_bits[order]
    offsets = np.concatenate([[0], np.cumsum(rec_len)]).astype(np.int64)
    rec = np.zeros(int(offsets[-1]) // 64 + 2, np.uint64)
    # rank of each context in slot order -> where its record starts
    at = np.empty(n, np.int64)
    at[order] = offsets[:-1]
    hstarts = np.concatenate([[0], np.cumsum(h)])
    pack_records(rec, at, h, m, w, cw, hstarts, pos_in_list[h_order].astype(np.int64), vrank[h_order],
                 starts, labels.astype(np.int64))
    hi, samples, lo, low_bits = ef_build(offsets)
    meta = np.array([n, low_bits, cw, tail_rank, len(table), 0], np.int64)
    return {"rec": rec, "efhi": hi, "efs": samples, "eflo": lo, "values": table, "meta": meta}


def unigram_values(table, V: int, value_kind: str) -> np.ndarray:
    """Every word's unigram count (uint64) or log10 probability (float32), from any shard
    table (each holds them all)."""
    c = table.lookup_unchecked(np.arange(V, dtype=np.int32)[:, None], np.ones(V, np.int32))
    return c.counts[:, 0].astype(np.uint64) if value_kind == COUNTS else c.prob[:, 0].astype(np.float32)


def unigram_order(values: np.ndarray, value_kind: str) -> np.ndarray:
    """Words by unigram score (descending; count 0 as 1, NaN as -100), ties by id; empty
    when that is the id order (word ids are given by descending frequency)."""
    if value_kind == COUNTS:
        key = -np.maximum(values.astype(np.float64), 1.0)
    else:
        v = values.astype(np.float64)
        key = -np.where(np.isnan(v), -100.0, v)
    order = np.lexsort([np.arange(len(values)), key]).astype(np.int32)
    return np.zeros(0, np.int32) if np.array_equal(order, np.arange(len(values))) else order


def _stored_levels(model):
    """{k: (forward-sorted grams int32[n, k], values)} of every order k >= 2, all shards."""
    per: dict[int, list] = {}
    for s in sorted(model.shards):
        _, levels = model.shards[s].decode()
        for k, (grams, raw) in enumerate(levels, start=2):
            vals = raw[:, 0].astype(np.uint64) if model.value_kind == COUNTS else \
                raw[:, 0].astype(np.uint32).view(np.float32)
            per.setdefault(k, []).append((grams.astype(np.int32), vals))
    out = {}
    for k, chunks in per.items():
        g = np.concatenate([c[0] for c in chunks])
        v = np.concatenate([c[1] for c in chunks])
        o = forward_order(g)
        out[k] = (np.ascontiguousarray(g[o]), v[o])
    return out


def build_parts(model) -> tuple[dict, list[dict]]:
    """{level j: level arrays} of the common part (j = 1) and of each shard's part (j >= 2)."""
    N, S, V, seed, kind = model.order, model.num_shards, len(model.vocab), model.shard_seed, model.value_kind
    levels = _stored_levels(model)
    common: dict[int, dict] = {}
    parts: list[dict[int, dict]] = [{} for _ in range(S)]
    empty_v = np.zeros(0, np.uint64 if kind == COUNTS else np.float32)
    for j in range(1, N):
        ctx_grams = levels.get(j)  # the stored j-grams (j >= 2)
        child = levels.get(j + 1)
        cg, cv = child if child is not None else (np.zeros((0, j + 1), np.int32), empty_v)
        if j == 1:
            ctx_row = cg[:, 0].astype(np.int64)
            label = cg[:, 1].astype(np.int64)
            lists = {"ctx": ctx_row, "label": label, "value": cv, "parent_size": np.full(V, V, np.int64)}
            common[1] = level_arrays(V, lists, kind, None)
            continue
        if ctx_grams is None:
            continue
        G = ctx_grams[0]
        # the list of suffix (w2..wj) of each context: the j-grams with that prefix
        pstarts = group_starts(G[:, :j - 1])
        prefixes = G[pstarts[:-1], :j - 1]
        psize = np.diff(pstarts)
        pidx = rows_in(prefixes, np.ascontiguousarray(G[:, 1:]))
        parent_size = np.where(pidx >= 0, psize[np.maximum(pidx, 0)], 1)
        group_of_row = np.repeat(np.arange(len(psize)), psize)
        # each entry (w1..wj, w): its context's row and its rank in the list of (w2..wj)
        ctx_row = rows_in(G, np.ascontiguousarray(cg[:, :j]))
        keep = ctx_row >= 0  # a continuation whose context is not stored is never read
        cg, cv, ctx_row = cg[keep], cv[keep], ctx_row[keep]
        suffix_row = rows_in(G, np.ascontiguousarray(cg[:, 1:]))
        if (suffix_row < 0).any():
            raise InvalidArgumentError("a stored n-gram's suffix is missing: the model breaks the suffix rule")
        label = suffix_row - pstarts[group_of_row[suffix_row]]
        owner = shard_of_pair(G[:, j - 2], G[:, j - 1], S, seed).astype(np.int64)
        for s in range(S):
            rows = np.flatnonzero(owner == s)
            local = np.full(len(G), -1, np.int64)
            local[rows] = np.arange(len(rows))
            sel = owner[ctx_row] == s
            lists = {"ctx": local[ctx_row[sel]], "label": label[sel], "value": cv[sel],
                     "parent_size": parent_size[rows]}
            hashes = np.empty(len(rows), np.uint64)
            row_hashes(np.ascontiguousarray(G[rows]), j, hashes)
            bits, ranks, rounds, slot = mphf_build(hashes)
            arrays = level_arrays(len(rows), lists, kind, slot)
            arrays.update({"mbits": bits, "mrank": ranks, "mround": rounds})
            parts[s][j] = arrays
    return common, parts


FIELDS = ("rec", "efhi", "efs", "eflo", "mbits", "mrank", "mround", "values")


def part_arrays(levels: dict[int, dict], order: int, value_kind: str) -> dict[str, np.ndarray]:
    """The container arrays of a part: each field's levels concatenated, with `<field>_base`
    (offsets of level 0..N-1 and the end) and `meta` int64[N, META_COLUMNS]."""
    out = {}
    vd = np.uint64 if value_kind == COUNTS else np.float32
    empty = {"rec": np.zeros(0, np.uint64), "efhi": np.zeros(0, np.uint64), "efs": np.zeros(0, np.int64),
             "eflo": np.zeros(0, np.uint64), "mbits": np.zeros(0, np.uint64), "mrank": np.zeros(0, np.int64),
             "mround": np.zeros((0, 2), np.int64), "values": np.zeros(0, vd)}
    for f in FIELDS:
        chunks = [levels[j][f] if j in levels and f in levels[j] else empty[f] for j in range(order)]
        chunks = [np.asarray(c, empty[f].dtype).reshape((-1,) + empty[f].shape[1:]) for c in chunks]
        out[f] = np.concatenate(chunks) if chunks else empty[f]
        out[f + "_base"] = np.concatenate([[0], np.cumsum([len(c) for c in chunks])]).astype(np.int64)
    meta = np.zeros((order, META_COLUMNS), np.int64)
    for j, arrays in levels.items():
        meta[j] = arrays["meta"]
    out["meta"] = meta
    return out
