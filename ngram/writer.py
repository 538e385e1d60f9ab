"""Encoding shards and publishing a model directory.

`encode_shard` turns the sorted n-gram arrays of one shard into one shard file; any
process may call it (the builder's reduce tasks do). `ModelWriter` owns the temporary
directory, the vocabulary file and the manifest, and publishes the model with one
rename, so a reader never sees half a model.
"""
from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .chains import COUNTS, VALUE_KINDS
from .format import write_container
from .kernels import codecs
from .kernels import layout as LY
from .kernels.trie_build import first_unsorted, parent_indices
from .manifest import MANIFEST_NAME, build_manifest, file_digest, shard_file_name, write_manifest
from .sharding import SHARDING_NAME, shard_of_pair
from .vocab import Vocabulary

SHARD_KIND = b"SHD1"
VOCAB_FILE = "vocab.bin"
QUANTIZATIONS = ("none", "8", "16")
VALUE_CONTEXT = ("auto", "always", "never")


@dataclass(frozen=True)
class ShardSpec:
    """What every shard of a model shares. Picklable, so build tasks can carry it."""

    order: int
    num_shards: int
    shard_seed: int = 0
    value_kind: str = COUNTS
    quantization: str = "none"
    # value columns coded by their parent's value: "auto" where smaller, or always/never
    # (tests force both paths; the choice is recorded in the layout, readers need no flag)
    value_context: str = "auto"

    def __post_init__(self):
        if not 1 <= self.order <= 16:
            raise ValueError(f"order must be 1..16, not {self.order}")
        if self.num_shards < 1:
            raise ValueError(f"num_shards must be >= 1, not {self.num_shards}")
        if self.value_kind not in VALUE_KINDS:
            raise ValueError(f"value_kind must be one of {VALUE_KINDS}")
        if str(self.quantization) not in QUANTIZATIONS:
            raise ValueError(f"quantization must be one of {QUANTIZATIONS}")
        if self.value_context not in VALUE_CONTEXT:
            raise ValueError(f"value_context must be one of {VALUE_CONTEXT}")
        if self.value_kind == COUNTS and str(self.quantization) != "none":
            raise ValueError("counts are stored exactly; quantization applies to backoff models")


@dataclass
class Level:
    """One order k >= 2 of one shard: rows unique, sorted by (w_k, ..., w_1)."""

    grams: np.ndarray
    counts: np.ndarray | None = None
    prob: np.ndarray | None = None
    backoff: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.grams)


# ----------------------------------------------------------------------------- values

def _ranks_by_frequency(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(table, ranks): distinct raw values ordered by how often they occur (then by value),
    and each element's rank into that table. Frequent values get small ranks."""
    if len(raw) == 0:
        return np.zeros(0, raw.dtype), np.zeros(0, np.uint64)
    uniq, inv, freq = _distinct(raw)
    order = np.lexsort((uniq, -freq.astype(np.int64)))
    rank_of = np.empty(len(uniq), np.uint64)
    rank_of[order] = np.arange(len(uniq), dtype=np.uint64)
    return uniq[order], rank_of[inv.reshape(-1)]


_DENSE_LIMIT = 1 << 16  # integer values below this are counted by a histogram, not a sort


def _distinct(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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


def _gamma_bits(codes: np.ndarray) -> int:
    """Bits of the split-gamma code of `codes` (ranks: small, dense), directory included."""
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


def _width(max_value: int) -> int:
    return max(1, int(max_value).bit_length())


def _codes_bits(codes: np.ndarray) -> int:
    """Bits `_encode_codes` will spend on `codes`."""
    if len(codes) == 0 or int(codes.max()) == 0:
        return 0
    return min(_gamma_bits(codes), len(codes) * _width(codes.max()))


def _encode_codes(codes: np.ndarray, parts: list, field: dict) -> None:
    """Store a column of codes with whichever of fixed width and split gamma is smaller
    (width 0 when every code is 0: the top order's backoffs, say)."""
    codes = np.ascontiguousarray(codes, dtype=np.uint64)
    if len(codes) == 0 or int(codes.max()) == 0:
        field.update(codec=LY.CODEC_FIXED, units=0, mant=0, dir=0, units_words=0, width=0)
        return
    width = _width(codes.max())
    if _gamma_bits(codes) < len(codes) * width:
        un, mant, d = codecs.gamma_encode(codes)
        field.update(codec=LY.CODEC_GAMMA, units=parts_add(parts, un), mant=parts_add(parts, mant),
                     dir=parts_add(parts, d), units_words=len(un), width=0)
    else:
        field.update(codec=LY.CODEC_FIXED, units=parts_add(parts, codecs.fixed_encode(codes, width)),
                     mant=0, dir=0, units_words=0, width=width)


def _context_ranks(psym: np.ndarray, sym: np.ndarray, n_parent_syms: int, dense_limit: int = 1 << 22
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


def _encode_symbols(sym: np.ndarray, parts: list, field: dict, parent, mode: str) -> None:
    """Store each node's symbol directly, or as its rank under the parent's symbol
    (`parent` = (parent symbol per node, number of parent symbols), or None), whichever
    is smaller counting the context table; `mode` always/never forces the choice."""
    field.update(ctx_off=0, ctx_off_w=0, ctx_sym=0, ctx_sym_w=0)
    if parent is None or mode == "never" or len(sym) == 0:
        _encode_codes(sym, parts, field)
        return
    psym, n_parent_syms = parent
    offsets, symbols, ranks = _context_ranks(psym, sym, n_parent_syms)
    off_w, sym_w = _width(offsets[-1]), _width(int(sym.max()))
    table_bits = len(offsets) * off_w + len(symbols) * sym_w
    if mode == "auto" and _codes_bits(ranks) + table_bits >= _codes_bits(sym):
        _encode_codes(sym, parts, field)
        return
    _encode_codes(ranks, parts, field)
    field.update(ctx_off=parts_add(parts, codecs.fixed_encode(offsets.astype(np.uint64), off_w)), ctx_off_w=off_w,
                 ctx_sym=parts_add(parts, codecs.fixed_encode(symbols.astype(np.uint64), sym_w)), ctx_sym_w=sym_w)


def _count_column(counts: np.ndarray, parts: list, parent, mode: str) -> tuple[dict, np.ndarray]:
    table, ranks = _ranks_by_frequency(np.asarray(counts, dtype=np.uint64))
    field = {"table": parts_add(parts, table.astype(np.uint64)), "tkind": LY.TABLE_U64, "table_len": len(table)}
    _encode_symbols(ranks, parts, field, parent, mode)
    return field, ranks


def _float_column(values: np.ndarray, bits: str, parts: list, parent, mode: str) -> tuple[dict, np.ndarray | None]:
    """log10 values: quantized to a codebook, or exact (a table of distinct float32 when
    that is smaller, else raw bits). NaN (blank nodes) keeps its own code. Returns the
    field and the symbols (None for raw bits: children then cannot use them as context)."""
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
    table, ranks = _ranks_by_frequency(raw)
    n = len(values)
    table_cost = 32 * len(table) + _codes_bits(ranks)
    if table_cost < 32 * n:
        t32 = table.astype(np.uint32)
        field = {"table": parts_add(parts, _pack_u32(t32)), "tkind": LY.TABLE_F32, "table_len": len(table)}
        _encode_symbols(ranks, parts, field, parent, mode)
        return field, ranks
    field = {"table": 0, "tkind": LY.TABLE_IDENTITY, "table_len": 0, "codec": LY.CODEC_FIXED,
             "units": parts_add(parts, codecs.fixed_encode(raw, 32)), "mant": 0, "dir": 0,
             "units_words": 0, "width": 32, "ctx_off": 0, "ctx_off_w": 0, "ctx_sym": 0, "ctx_sym_w": 0}
    return field, None


def _pack_u32(x: np.ndarray) -> np.ndarray:
    if len(x) % 2:
        x = np.concatenate([x, np.zeros(1, np.uint32)])
    return x.view(np.uint64) if len(x) else np.zeros(0, np.uint64)


def parts_add(parts: list, words: np.ndarray) -> int:
    """Append a word array to the shard's data; returns its word offset."""
    offset = sum(len(p) for p in parts)
    parts.append(np.ascontiguousarray(words, dtype=np.uint64))
    return offset


def _value_columns(spec: ShardSpec, parts: list, parents: list, counts=None, prob=None, backoff=None
                   ) -> tuple[list[dict], list]:
    """The value columns of one level, and each column's symbols (context for the next
    level). `parents[c]` = (parent symbol per node, number of parent symbols) or None."""
    mode = spec.value_context
    if spec.value_kind == COUNTS:
        out = [_count_column(counts, parts, parents[0], mode)]
    else:
        bits = str(spec.quantization)
        out = [_float_column(prob, bits, parts, parents[0], mode),
               _float_column(backoff, bits, parts, parents[1], mode)]
    return [f for f, _ in out], [s for _, s in out]


# ----------------------------------------------------------------------------- shard

def _check_level(k: int, level: Level, spec: ShardSpec, shard: int, vocab_size: int) -> np.ndarray:
    grams = np.ascontiguousarray(level.grams, dtype=np.uint32)
    if grams.ndim != 2 or grams.shape[1] != k:
        raise ValueError(f"level {k}: grams must have shape (n, {k}), not {grams.shape}")
    n = len(grams)
    if spec.value_kind == COUNTS:
        if level.counts is None or len(level.counts) != n:
            raise ValueError(f"level {k}: need one count per n-gram")
        if n and int(np.min(level.counts)) < 1:
            raise ValueError(f"level {k}: stored counts must be >= 1")
    elif level.prob is None or level.backoff is None or len(level.prob) != n or len(level.backoff) != n:
        raise ValueError(f"level {k}: need prob and backoff per n-gram")
    if n:
        if int(grams.max()) >= vocab_size:
            raise ValueError(f"level {k}: word id {int(grams.max())} outside the vocabulary of {vocab_size}")
        bad = first_unsorted(grams)
        if bad >= 0:
            raise ValueError(f"level {k}: row {bad} is out of order or duplicated (rows must be unique and "
                             f"sorted by (w_k, ..., w_1))")
        owner = shard_of_pair(grams[:, -2], grams[:, -1], spec.num_shards, spec.shard_seed)
        wrong = np.flatnonzero(owner != shard)
        if len(wrong):
            raise ValueError(f"level {k}: row {wrong[0]} belongs to shard {owner[wrong[0]]}, not {shard}")
    return grams


def encode_shard(path: str | os.PathLike, spec: ShardSpec, shard: int, levels: list[Level], *,
                 unigram_counts: np.ndarray | None = None, unigram_prob: np.ndarray | None = None,
                 unigram_backoff: np.ndarray | None = None) -> dict:
    """Encode one shard (levels = orders 2..N) into `path`; returns its summary."""
    if len(levels) != spec.order - 1:
        raise ValueError(f"need {spec.order - 1} levels (orders 2..{spec.order}), got {len(levels)}")
    if spec.value_kind == COUNTS:
        if unigram_counts is None:
            raise ValueError("a counts model needs unigram_counts")
        vocab_size = len(unigram_counts)
    else:
        if unigram_prob is None or unigram_backoff is None:
            raise ValueError("a backoff model needs unigram_prob and unigram_backoff")
        vocab_size = len(unigram_prob)
    parts: list[np.ndarray] = [np.zeros(1, np.uint64)]  # word 0 unused: offset 0 means "none"
    ncols = 1 if spec.value_kind == COUNTS else 2
    cols, syms = _value_columns(spec, parts, [None] * ncols, counts=unigram_counts, prob=unigram_prob,
                                backoff=unigram_backoff)
    rows = [dict(n=0), dict(n=vocab_size, cols=cols)]
    prev_grams = None
    n_prev = vocab_size
    for k, level in enumerate(levels, start=2):
        grams = _check_level(k, level, spec, shard, vocab_size)
        n = len(grams)
        if k == 2:
            pidx = grams[:, 1].astype(np.int64) if n else np.zeros(0, np.int64)
        else:
            pidx, orphan = parent_indices(grams, prev_grams) if n else (np.zeros(0, np.int64), -1)
            if orphan >= 0:
                raise ValueError(f"level {k}: n-gram {grams[orphan].tolist()} has no suffix at level {k - 1}")
        row = {"n": n}
        # child ranges of every level-(k-1) node: a monotone sequence of n_prev + 1 values
        ptr = np.searchsorted(pidx, np.arange(n_prev + 1), side="left").astype(np.uint64)
        L = codecs.ef_low_bits(len(ptr), int(n) + 1)
        lo, hi, d = codecs.ef_encode(ptr, L)
        rank = codecs.fixed_encode(codecs.ef_rank_directory(hi), 32)
        row.update(ef_l=L, ef_lo=parts_add(parts, lo), ef_hi=parts_add(parts, hi), ef_hi_words=len(hi),
                   ef_dir=parts_add(parts, d), ef_rank=parts_add(parts, rank))
        # keys: absolute at range starts, else the gap to the previous key minus one;
        # every RESTART-th key also goes to a fixed-width side array for binary search
        key = grams[:, 0].astype(np.int64)
        first = np.ones(n, bool)
        if n > 1:
            first[1:] = pidx[1:] != pidx[:-1]
        stored = key.copy()
        if n > 1:
            stored[1:] = np.where(first[1:], key[1:], key[1:] - key[:-1] - 1)
        W = max(16, int(stored.max()).bit_length()) if n else 16
        nib, mant, kd = codecs.nib_encode(stored.astype(np.uint64), W)
        side_w = max(1, int(vocab_size - 1).bit_length())
        side = codecs.fixed_encode(key[::LY.RESTART].astype(np.uint64), side_w)
        row.update(k_nib=parts_add(parts, nib), k_mant=parts_add(parts, mant), k_dir=parts_add(parts, kd), k_w=W,
                   k_side=parts_add(parts, side), k_side_w=side_w)
        parents = [None if ps is None else (ps[pidx], int(ps.max()) + 1 if len(ps) else 0) for ps in syms]
        row["cols"], syms = _value_columns(spec, parts, parents, counts=level.counts, prob=level.prob,
                                           backoff=level.backoff)
        rows.append(row)
        prev_grams, n_prev = grams, n
    parts.append(np.zeros(2, np.uint64))  # padding: decoders always read one word ahead
    data = np.concatenate(parts)
    lay = _layout_table(spec, rows, vocab_size, len(data))
    ngrams = [vocab_size] + [len(lv) for lv in levels]
    size = write_container(path, SHARD_KIND, {"data": data, "layout": lay}, {
        "shard": shard, "num_shards": spec.num_shards, "order": spec.order, "value_kind": spec.value_kind,
        "quantization": str(spec.quantization), "sharding": {"name": SHARDING_NAME, "seed": spec.shard_seed},
        "vocab_size": vocab_size, "ngrams": ngrams,
    })
    return {"shard": shard, "file": Path(path).name, "bytes": size, "ngrams": ngrams}


def _layout_table(spec: ShardSpec, rows: list[dict], vocab_size: int, words: int) -> np.ndarray:
    lay = np.zeros((spec.order + 1, LY.FIELDS), np.int64)
    ncols = 1 if spec.value_kind == COUNTS else 2
    lay[0, LY.G_ORDER] = spec.order
    lay[0, LY.G_VOCAB] = vocab_size
    lay[0, LY.G_NCOLS] = ncols
    lay[0, LY.G_ABSENT] = 0 if spec.value_kind == COUNTS else LY.NAN_BITS
    lay[0, LY.G_WORDS] = words
    for k, row in enumerate(rows[1:], start=1):
        lay[k, LY.L_N] = row["n"]
        if k >= 2:
            lay[k, [LY.EF_L, LY.EF_LO, LY.EF_HI, LY.EF_HI_WORDS, LY.EF_DIR, LY.EF_RANK]] = (
                row["ef_l"], row["ef_lo"], row["ef_hi"], row["ef_hi_words"], row["ef_dir"], row["ef_rank"])
            lay[k, [LY.K_NIB, LY.K_MANT, LY.K_DIR, LY.K_W, LY.K_SIDE, LY.K_SIDE_W]] = (
                row["k_nib"], row["k_mant"], row["k_dir"], row["k_w"], row["k_side"], row["k_side_w"])
        for c, col in enumerate(row["cols"]):
            base = LY.COL_BASE + c * LY.COL_FIELDS
            lay[k, base + LY.C_CODEC] = col["codec"]
            lay[k, base + LY.C_UNITS] = col["units"]
            lay[k, base + LY.C_MANT] = col["mant"]
            lay[k, base + LY.C_DIR] = col["dir"]
            lay[k, base + LY.C_UNITS_WORDS] = col["units_words"]
            lay[k, base + LY.C_WIDTH] = col["width"]
            lay[k, base + LY.C_TABLE] = col["table"]
            lay[k, base + LY.C_TKIND] = col["tkind"]
            lay[k, base + LY.C_CTX_OFF] = col["ctx_off"]
            lay[k, base + LY.C_CTX_OFF_W] = col["ctx_off_w"]
            lay[k, base + LY.C_CTX_SYM] = col["ctx_sym"]
            lay[k, base + LY.C_CTX_SYM_W] = col["ctx_sym_w"]
    return lay


# ----------------------------------------------------------------------------- model

class ModelWriter:
    """Collects a model in a temporary directory beside `out_dir`, then publishes it."""

    def __init__(self, out_dir: str | os.PathLike, spec: ShardSpec, vocab: Vocabulary, *,
                 tmp_dir: str | os.PathLike | None = None):
        self.out_dir = Path(out_dir)
        self.spec = spec
        self.vocab = vocab
        if self.out_dir.exists() and not (self.out_dir / MANIFEST_NAME).exists() and any(self.out_dir.iterdir()):
            raise FileExistsError(f"{self.out_dir} exists and is not a model directory; refusing to replace it")
        self.tmp_dir = Path(tmp_dir) if tmp_dir else self.out_dir.with_name(
            f".{self.out_dir.name}.tmp-{os.getpid()}-{time.time_ns()}")
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        self.summaries: dict[int, dict] = {}

    def shard_path(self, shard: int) -> Path:
        return self.tmp_dir / shard_file_name(shard, self.spec.num_shards)

    def write_shard(self, shard: int, levels: list[Level], **unigram) -> dict:
        if not unigram:
            unigram = {"unigram_counts": self.vocab.counts}
        summary = encode_shard(self.shard_path(shard), self.spec, shard, levels, **unigram)
        self.add_summary(summary)
        return summary

    def add_summary(self, summary: dict) -> None:
        self.summaries[int(summary["shard"])] = summary

    def commit(self, metadata: dict | None = None) -> dict:
        """Write vocabulary and manifest, then rename the directory into place."""
        missing = sorted(set(range(self.spec.num_shards)) - set(self.summaries))
        if missing:
            raise ValueError(f"shards {missing} were never written")
        self.vocab.save(self.tmp_dir / VOCAB_FILE)
        files = {VOCAB_FILE: file_digest(self.tmp_dir / VOCAB_FILE)}
        for i in range(self.spec.num_shards):
            name = shard_file_name(i, self.spec.num_shards)
            files[name] = file_digest(self.tmp_dir / name)
        manifest = build_manifest(self.spec, len(self.vocab), [self.summaries[i] for i in range(self.spec.num_shards)],
                                  files, metadata or {})
        write_manifest(self.tmp_dir / MANIFEST_NAME, manifest)
        _publish(self.tmp_dir, self.out_dir)
        return manifest

    def abort(self) -> None:
        shutil.rmtree(self.tmp_dir, ignore_errors=True)


def _publish(tmp_dir: Path, out_dir: Path) -> None:
    """Swap the finished directory into place; an old model there is replaced whole."""
    if out_dir.exists():
        old = out_dir.with_name(f".{out_dir.name}.old-{time.time_ns()}")
        os.rename(out_dir, old)
        os.rename(tmp_dir, out_dir)
        shutil.rmtree(old, ignore_errors=True)
    else:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        os.rename(tmp_dir, out_dir)
