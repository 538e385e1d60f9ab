"""Encoding a level's value columns (counts, or log10 prob and backoff) into a shard's
data words.

A column maps each node to a symbol: its rank in the column's table of distinct raw
values, most frequent first. The symbols are stored directly or, where smaller, as
ranks among the symbols seen under the parent node's symbol (context coding), with
whichever value codec (`VALUE_CODECS`) is smallest. The fields returned name the
layout fields of ngram.kernels.layout.COLUMN_FIELDS.
"""
from __future__ import annotations

import numpy as np

from .chains import COUNTS
from .kernels import codecs
from .kernels import layout as LY


class DataWords:
    """A shard's data array under construction: word arrays appended in order."""

    def __init__(self):
        self.parts: list[np.ndarray] = [np.zeros(1, np.uint64)]  # word 0 unused: offset 0 means "none"
        self.words = 1

    def add(self, words: np.ndarray) -> int:
        """Appends a word array; returns its word offset."""
        offset = self.words
        words = np.ascontiguousarray(words, dtype=np.uint64)
        self.parts.append(words)
        self.words += len(words)
        return offset

    def finish(self) -> np.ndarray:
        self.add(np.zeros(2, np.uint64))  # padding: decoders always read one word ahead
        return np.concatenate(self.parts)


# ----------------------------------------------------------------------------- codecs
# The contract every value codec keeps: `code` (stored in the column's `codec` field,
# which picks the decoder when reading), `bits(codes)` (its size, to choose the smallest)
# and `encode(codes, data) -> column fields`. Random access is
# ngram.kernels.lookup.column_code, which dispatches on the stored code.

def width_of(max_value: int) -> int:
    return max(1, int(max_value).bit_length())


class FixedCodec:
    """Every code in the same number of bits (0 bits when every code is 0)."""

    code = LY.CODEC_FIXED

    @staticmethod
    def bits(codes: np.ndarray) -> int:
        if len(codes) == 0 or int(codes.max()) == 0:
            return 0
        return len(codes) * width_of(codes.max())

    @staticmethod
    def encode(codes: np.ndarray, data: DataWords) -> dict:
        if len(codes) == 0 or int(codes.max()) == 0:
            return dict(codec=LY.CODEC_FIXED, units=0, mant=0, dir=0, units_words=0, width=0)
        width = width_of(codes.max())
        return dict(codec=LY.CODEC_FIXED, units=data.add(codecs.fixed_encode(codes, width)), mant=0, dir=0,
                    units_words=0, width=width)

    @staticmethod
    def get(buf: np.ndarray, fields: dict, j: int) -> int:
        return int(codecs.fixed_get(buf, fields["units"], fields["width"], j)) if fields["width"] else 0


class GammaCodec:
    """Split gamma codes with a directory every GAMMA_BLOCK codes: 1 bit for code 0."""

    code = LY.CODEC_GAMMA

    @staticmethod
    def bits(codes: np.ndarray) -> int:
        if len(codes) == 0:
            return 0
        if int(codes.max()) < 1 << 24:  # an O(n) histogram instead of a float log per code
            freq = np.bincount(np.asarray(codes, dtype=np.int64))
            v = np.flatnonzero(freq)
            freq = freq[v]
        else:
            v, freq = np.unique(codes, return_counts=True)
        b = np.floor(np.log2(v.astype(np.float64) + 1.0)).astype(np.int64)
        return int((freq * (2 * b + 1)).sum()) + 64 * (len(codes) // codecs.GAMMA_BLOCK + 1)

    @staticmethod
    def encode(codes: np.ndarray, data: DataWords) -> dict:
        un, mant, d = codecs.gamma_encode(codes)
        return dict(codec=LY.CODEC_GAMMA, units=data.add(un), mant=data.add(mant), dir=data.add(d),
                    units_words=len(un), width=0)

    @staticmethod
    def get(buf: np.ndarray, fields: dict, j: int) -> int:
        return int(codecs.gamma_get(buf, fields["units"], fields["mant"], fields["dir"], fields["units_words"], j))


VALUE_CODECS = {c.code: c for c in (FixedCodec, GammaCodec)}


def codes_bits(codes: np.ndarray) -> int:
    """Bits `encode_codes` will spend on `codes`."""
    if len(codes) == 0 or int(codes.max()) == 0:
        return 0
    return min(c.bits(codes) for c in VALUE_CODECS.values())


def encode_codes(codes: np.ndarray, data: DataWords) -> dict:
    """Store a column of codes with the smallest codec (the first one on a tie)."""
    codes = np.ascontiguousarray(codes, dtype=np.uint64)
    if len(codes) == 0 or int(codes.max()) == 0:
        return FixedCodec.encode(codes, data)
    best = min(VALUE_CODECS.values(), key=lambda c: c.bits(codes))
    return best.encode(codes, data)


# ----------------------------------------------------------------------------- symbols

def ranks_by_frequency(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(table, ranks): distinct raw values ordered by how often they occur (then by value),
    and each element's rank into that table. Frequent values get small ranks."""
    if len(raw) == 0:
        return np.zeros(0, raw.dtype), np.zeros(0, np.uint64)
    uniq, inv, freq = distinct(raw)
    order = np.lexsort((uniq, -freq.astype(np.int64)))
    rank_of = np.empty(len(uniq), np.uint64)
    rank_of[order] = np.arange(len(uniq), dtype=np.uint64)
    return uniq[order], rank_of[inv.reshape(-1)]


_DENSE_LIMIT = 1 << 16  # integer values below this are counted by a histogram, not a sort


def distinct(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """np.unique(raw, return_inverse=True, return_counts=True), in O(n) for the bulk of
    integer values (n-gram counts: mostly small), sorting only the large ones."""
    if raw.dtype.kind != "u":
        return np.unique(raw, return_inverse=True, return_counts=True)
    small = raw < _DENSE_LIMIT
    hist = np.bincount(raw[small].astype(np.int64), minlength=1)
    small_values = np.flatnonzero(hist)
    big_values, big_inv, big_freq = np.unique(raw[~small], return_inverse=True, return_counts=True)
    slot = np.zeros(len(hist), np.int64)
    slot[small_values] = np.arange(len(small_values))
    inv = np.empty(len(raw), np.int64)
    inv[small] = slot[raw[small].astype(np.int64)]
    inv[~small] = big_inv.reshape(-1) + len(small_values)
    uniq = np.concatenate([small_values.astype(raw.dtype), big_values])
    return uniq, inv, np.concatenate([hist[small_values], big_freq])


def context_ranks(psym: np.ndarray, sym: np.ndarray, n_parent_syms: int, dense_limit: int = 1 << 22
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(offsets int64[P + 1], symbols int64[pairs], ranks uint64[n]): for each parent
    symbol p, the symbols seen under it, most frequent first (ties by symbol), are
    symbols[offsets[p]:offsets[p + 1]]; each node's rank is its symbol's position there.
    Pairs are counted with a dense P x S bincount when that is small (it is for quantized
    and count columns: a sort of all n pairs cost ~0.35 s per million nodes), else sorted."""
    S = int(sym.max()) + 1
    joint = psym.astype(np.int64) * S + sym.astype(np.int64)
    if n_parent_syms * S <= dense_limit:
        counts = np.bincount(joint, minlength=n_parent_syms * S)
        pairs = np.flatnonzero(counts)
        freq = counts[pairs]
        pair_index = None
    else:
        pairs, inverse, freq = np.unique(joint, return_inverse=True, return_counts=True)
        pair_index = inverse.reshape(-1)
    ctx, child = pairs // S, pairs % S
    order = np.lexsort((child, -freq, ctx))
    offsets = np.searchsorted(ctx[order], np.arange(n_parent_syms + 1)).astype(np.int64)
    rank = np.empty(len(pairs), np.int64)
    rank[order] = np.arange(len(pairs)) - offsets[ctx[order]]
    if pair_index is None:
        rank_of_joint = np.zeros(n_parent_syms * S, np.int64)
        rank_of_joint[pairs] = rank
        return offsets, child[order], rank_of_joint[joint].astype(np.uint64)
    return offsets, child[order], rank[pair_index].astype(np.uint64)


_NO_CONTEXT = dict(ctx_off=0, ctx_off_w=0, ctx_sym=0, ctx_sym_w=0)


def encode_symbols(sym: np.ndarray, data: DataWords, parent, mode: str) -> dict:
    """Store each node's symbol directly, or as its rank under the parent's symbol
    (`parent` = (parent symbol per node, number of parent symbols), or None), whichever
    is smaller counting the context table; `mode` always/never forces the choice."""
    if parent is None or mode == "never" or len(sym) == 0:
        return dict(encode_codes(sym, data), **_NO_CONTEXT)
    psym, n_parent_syms = parent
    offsets, symbols, ranks = context_ranks(psym, sym, n_parent_syms)
    off_w, sym_w = width_of(offsets[-1]), width_of(int(sym.max()))
    table_bits = len(offsets) * off_w + len(symbols) * sym_w
    if mode == "auto" and codes_bits(ranks) + table_bits >= codes_bits(sym):
        return dict(encode_codes(sym, data), **_NO_CONTEXT)
    fields = encode_codes(ranks, data)
    fields.update(ctx_off=data.add(codecs.fixed_encode(offsets.astype(np.uint64), off_w)), ctx_off_w=off_w,
                  ctx_sym=data.add(codecs.fixed_encode(symbols.astype(np.uint64), sym_w)), ctx_sym_w=sym_w)
    return fields


# ----------------------------------------------------------------------------- columns

def count_column(counts: np.ndarray, data: DataWords, parent, mode: str) -> tuple[dict, np.ndarray]:
    table, ranks = ranks_by_frequency(np.asarray(counts, dtype=np.uint64))
    fields = dict(table=data.add(table.astype(np.uint64)), tkind=LY.TABLE_U64)
    fields.update(encode_symbols(ranks, data, parent, mode))
    return fields, ranks


def float_column(values: np.ndarray, bits: str, data: DataWords, parent, mode: str
                 ) -> tuple[dict, np.ndarray | None]:
    """log10 values: quantized to a codebook, or exact (a table of distinct float32 when
    that is smaller, else raw bits). NaN (blank nodes) keeps its own code. Returns the
    fields and the symbols (None for raw bits: children then cannot use them as context)."""
    values = np.asarray(values, dtype=np.float32)
    blank = np.isnan(values)
    raw = values.view(np.uint32).astype(np.uint64)
    raw[blank] = LY.NAN_BITS
    if bits != "none" and (~blank).any():
        from .quantize import quantize
        codes, centers = quantize(values[~blank], int(bits))
        centers = np.asarray(centers, dtype=np.float32)
        raw = np.full(len(values), LY.NAN_BITS, np.uint64)
        raw[~blank] = centers.view(np.uint32).astype(np.uint64)[codes]
    table, ranks = ranks_by_frequency(raw)
    n = len(values)
    table_cost = 32 * len(table) + codes_bits(ranks)
    if table_cost < 32 * n:
        fields = dict(table=data.add(_pack_u32(table.astype(np.uint32))), tkind=LY.TABLE_F32)
        fields.update(encode_symbols(ranks, data, parent, mode))
        return fields, ranks
    fields = dict(table=0, tkind=LY.TABLE_IDENTITY, codec=LY.CODEC_FIXED, units=data.add(codecs.fixed_encode(raw, 32)),
                  mant=0, dir=0, units_words=0, width=32, **_NO_CONTEXT)
    return fields, None


def _pack_u32(x: np.ndarray) -> np.ndarray:
    if len(x) % 2:
        x = np.concatenate([x, np.zeros(1, np.uint32)])
    return x.view(np.uint64) if len(x) else np.zeros(0, np.uint64)


def value_columns(value_kind: str, quantization: str, context_mode: str, data: DataWords, parents: list,
                  counts=None, prob=None, backoff=None) -> tuple[list[dict], list]:
    """The value columns of one level, and each column's symbols (context for the next
    level). `parents[c]` = (parent symbol per node, number of parent symbols) or None."""
    if value_kind == COUNTS:
        out = [count_column(counts, data, parents[0], context_mode)]
    else:
        bits = str(quantization)
        out = [float_column(prob, bits, data, parents[0], context_mode),
               float_column(backoff, bits, data, parents[1], context_mode)]
    return [f for f, _ in out], [s for _, s in out]
