"""A shard decoded into hash tables in RAM, for lookups at the speed of an uncompressed
model (KenLM's probing tables) at a fraction of its memory: per order one open-addressing
table keyed by (parent node, word) whose slots hold a quotiented key (fingerprint and
distance from home: exact, see ngram.kernels.decoded_table) and value ranks into the
order's sorted distinct values, bit-packed. On en-train (5-gram counts) 30-33 bits per
slot, 7.6 bytes per n-gram half full (9.6 with the mapped shard files), against 34.8 for
the 16-byte records of the layout before it.

Kept in RAM only (built from the shard when a model is opened with it, through the
shard's public level-by-level decoding); the file format does not change and the shard
file stays mapped (successor reads and exports use it). Read by ngram.kernels.sentence
and ngram.kernels.word_score (one sentence / one word, backoff models) and
ngram.kernels.decoded_lookup (batches, either value kind).
"""
from __future__ import annotations

import numpy as np

from .chains import COUNTS
from .errors import InsufficientMemoryError, InvalidArgumentError
from .kernels import decoded_table as DT
from .kernels import layout as LY
from .kernels.decoded_lookup import decoded_lookup_kernel

# Half full. A probe scans past the entries of earlier homes, ~1/(1-load) slots, and a
# slot costs ~32 bits on en-train, so bytes per n-gram ~ 4 / load. Kernel CPU per held-out
# 5-gram (bench/bench_decoded.py, docs/PERFORMANCE.md): load 0.5 124 ns, 0.7 148, 0.8 167,
# against 140-153 for the 16-byte records this replaced; 0.5 is the one clearly faster,
# at 9.6 bytes per n-gram with the mapped files (0.8: 6.9).
LOAD_FACTOR = 0.5
MIN_LOAD, MAX_LOAD = 0.05, 0.95
# A rank costs a read of the column's table: past 4,096 entries (16 KB) that read misses
# the cache about as often as the slot itself. Unquantized en-dev.5 (2^17-2^19 distinct
# probabilities per order), CPU per held-out sentence against the 16-byte records: +9%
# with ranks, -5% (median of 5 noisy pairs) with the raw value in the slot.
MAX_TABLE = 4096
MAX_SLOTS = 2**32 - 2  # node ids (slots) of one order are below 2^32


def _bits(n: int) -> int:
    """Bits to store the integers 0..n (0 for n <= 0)."""
    return max(int(n), 0).bit_length()


def _homes(n: int, load_factor: float) -> int:
    return max(int(n / load_factor) + 1, 1)


def _key_shape(parent_ids: int, vocab_size: int, nslots: int) -> tuple[int, int, int, int]:
    """(word bits, key bits b, t, fingerprint bits) of a table of nslots homes whose keys
    are (parent < parent_ids, word < vocab_size). Within one home x >> t spans at most
    ceil(2^(b-t) / nslots) values, so fb = t + bits for that many tell them apart."""
    wb = _bits(vocab_size - 1)
    b = _bits(parent_ids - 1) + wb
    t = max(b - 32, 0)
    per_home = -(-(1 << (b - t)) // nslots)
    return wb, b, t, t + _bits(per_home - 1)


class DecodedTrie:
    """words uint64[]: every order's bit-packed slots, then the value tables; meta
    int64[order + 1, M_FIELDS] (ngram.kernels.decoded_table) describes each order.
    `args` = (words, meta): the kernels' leading arguments."""

    def __init__(self, words: np.ndarray, meta: np.ndarray, ngrams: list[int], value_kind: str, absent: int,
                 load_factor: float):
        self.words, self.meta = words, meta
        self.vocab_size, self.order = int(meta[0, DT.G_VOCAB]), int(meta[0, DT.G_ORDER])
        self.ngrams = ngrams  # per order 1..N, blank nodes included
        self.value_kind, self.absent = value_kind, np.uint64(absent)
        self.load_factor = load_factor
        self.args = (words, meta)

    @property
    def nbytes(self) -> int:
        """Bytes the decoded structures hold (the mapped shard file not included)."""
        return self.words.nbytes + self.meta.nbytes

    def level_stats(self) -> list[dict]:
        """Per order: slots, bits per slot and its parts (for the bench and docs)."""
        m = self.meta
        return [{"order": k, "ngrams": self.ngrams[k - 1], "slots": int(m[k, DT.M_LEN]),
                 "bits_per_slot": int(m[k, DT.M_W]), "fingerprint_bits": int(m[k, DT.M_FB]),
                 "distance_bits": int(m[k, DT.M_KB] - m[k, DT.M_FB]) if k > 1 else 0,
                 "rank_bits": [int(m[k, DT.M_VW + c]) for c in range(int(m[0, DT.G_NCOLS]))]}
                for k in range(1, self.order + 1)]

    @staticmethod
    def _check_load(load_factor: float) -> None:
        if not MIN_LOAD <= load_factor <= MAX_LOAD:
            raise InvalidArgumentError(f"load factor {load_factor} is outside [{MIN_LOAD}, {MAX_LOAD}]")

    @classmethod
    def bytes_needed(cls, table, load_factor: float = LOAD_FACTOR) -> int:
        """An upper bound of what from_shard(table) allocates, from the shard's n-gram
        counts alone (nothing decoded)."""
        ncols = 1 if table.value_kind == COUNTS else 2
        return bytes_bound(table.vocab_size, [int(n) for n in table.ngrams],
                           ncols, load_factor)

    @classmethod
    def from_shard(cls, table, load_factor: float = LOAD_FACTOR) -> "DecodedTrie":
        """Decodes every level of one ShardTable (either value kind, any shard) through its
        public level-by-level decoding (ShardTable.decode_levels) and header fields only
        (order, vocab_size, value_kind, ngrams), whatever the shard format."""
        cls._check_load(load_factor)
        ncols = 1 if table.value_kind == COUNTS else 2
        order, V = table.order, table.vocab_size
        meta = np.zeros((order + 1, DT.M_FIELDS), np.int64)
        meta[0, DT.G_ORDER], meta[0, DT.G_VOCAB], meta[0, DT.G_NCOLS] = order, V, ncols
        parts: list[np.ndarray] = []  # per order its slot words, then per value column its table
        ngrams = []
        levels = table.decode_levels()
        _, _, raw = next(levels)
        ranks, tables, widths = _ranks(raw, ncols)
        meta[1, DT.M_TW:DT.M_TW + ncols] = widths
        pos = np.arange(V, dtype=np.int64)
        parts.append(_pack(meta[1], V, pos, pos, np.zeros(V, np.uint64), ranks, 0, 0))
        parts += tables
        ngrams.append(V)
        node_ids = V  # ids of the previous order's nodes are below this
        where = pos  # node id of each node of the previous order, in its stored order
        for k, (keys, parent, raw) in enumerate(levels, start=2):
            n = len(keys)
            ngrams.append(n)
            nslots = _homes(n, load_factor)
            parents = where[parent] if n else np.zeros(0, np.int64)
            while True:  # (a level whose key field would not fit 63 bits gets more homes)
                if nslots > MAX_SLOTS:
                    raise InvalidArgumentError(f"order {k}: {n} n-grams, too many for a decoded table")
                wb, b, t, fb = _key_shape(node_ids, V, nslots)
                home, fp, at = np.empty(n, np.int64), np.empty(n, np.uint64), np.empty(n, np.int64)
                longest, last = DT.place_level(parents, keys, wb, b, (b + 1) // 2, t, nslots, fb, home, fp, at)
                kb = fb + _bits(longest + 1)
                if kb <= DT.MAX_KEY_BITS:
                    break
                nslots *= 2
            length = max(nslots, last + 1) + 1  # the last slot stays empty: every probe ends
            if length > MAX_SLOTS:
                raise InvalidArgumentError(f"order {k}: {n} n-grams, too many for a decoded table")
            row = meta[k]
            row[DT.M_NSLOTS], row[DT.M_FB], row[DT.M_WB], row[DT.M_B] = nslots, fb, wb, b
            row[DT.M_T], row[DT.M_S] = t, (b + 1) // 2
            ranks, tables, widths = _ranks(raw, ncols)
            row[DT.M_TW:DT.M_TW + ncols] = widths
            parts.append(_pack(row, length, at, home, fp, ranks, fb, kb))
            parts += tables
            node_ids, where = length, at
        words = _assemble(meta, parts, order, ncols)
        absent = 0 if table.value_kind == COUNTS else LY.NAN_BITS  # (ngram.shard.new_outputs's)
        return cls(words, meta, ngrams, table.value_kind, absent, load_factor)

    def lookup_into(self, ids: np.ndarray, lengths: np.ndarray, match: np.ndarray, raw: np.ndarray) -> None:
        """ShardTable.run_kernel's contract (match and raw pre-filled with absent values)."""
        decoded_lookup_kernel(self.words, self.meta, self.absent, ids, lengths, match, raw)


def _ranks(raw: np.ndarray, ncols: int) -> tuple[np.ndarray, list[np.ndarray], list[int]]:
    """Each node's rank in its column's sorted distinct raw values, those tables as words
    (two 32-bit entries per word when every value fits 32 bits), and their entry bits.
    A column of more than MAX_TABLE distinct values that fit 32 bits (unquantized
    probabilities) keeps its raw values in the slots instead (entry bits 0, no table)."""
    ranks = np.zeros((len(raw), ncols), np.int64)
    tables, widths = [], []
    for c in range(ncols):
        values, inverse = np.unique(raw[:, c], return_inverse=True)
        if len(values) > MAX_TABLE and int(values[-1]) < 2**32:
            ranks[:, c] = raw[:, c].astype(np.int64)
            tables.append(np.zeros(0, np.uint64))
            widths.append(0)
            continue
        ranks[:, c] = inverse.reshape(-1)
        if len(values) == 0 or int(values[-1]) < 2**32:
            halves = np.zeros(len(values) + 2 - len(values) % 2, np.uint32)
            halves[:len(values)] = values
            tables.append(halves.view(np.uint64))
            widths.append(32)
        else:
            tables.append(values.astype(np.uint64))
            widths.append(64)
    return ranks, tables, widths


def _pack(row: np.ndarray, length: int, at, home, fp, ranks: np.ndarray, fb: int, kb: int) -> np.ndarray:
    """One order's slots, bit-packed; fills the row's widths (M_BASE is set later)."""
    rank_bits = np.array([_bits(int(ranks[:, c].max())) if len(ranks) else 0
                          for c in range(ranks.shape[1])] + [0] * (2 - ranks.shape[1]), np.int64)
    w = kb + int(rank_bits.sum())
    row[DT.M_LEN], row[DT.M_W], row[DT.M_KB] = length, w, kb
    row[DT.M_VW:DT.M_VW + 2] = rank_bits
    words = np.zeros((length * w + 63) // 64 + 1, np.uint64)
    if len(at):
        DT.pack_slots(words, w, fb, kb, at, home, fp, ranks, rank_bits)
    return words


def _assemble(meta: np.ndarray, parts: list[np.ndarray], order: int, ncols: int) -> np.ndarray:
    """One words array: per order its slots then its value tables; sets the offsets."""
    offset = 0
    i = 0
    for k in range(1, order + 1):
        meta[k, DT.M_BASE] = offset * 64
        offset += len(parts[i])
        for c in range(ncols):
            meta[k, DT.M_VT + c] = offset
            offset += len(parts[i + 1 + c])
        i += 1 + ncols
    words = np.concatenate(parts + [np.zeros(2, np.uint64)])  # padding: reads look one word ahead
    return words


def bytes_bound(vocab_size: int, ngrams: list[int], ncols: int, load_factor: float = LOAD_FACTOR) -> int:
    """An upper bound of the decoded tables' bytes from the n-gram counts per order (1..N)
    alone (no decoding: Model.open's memory check, deploy requests): every distance and
    every rank as wide as the order's n-gram count could need, every table its tail.
    Real tables are 3-7x smaller (distances need 4-6 bits, ranks 7-11 on en-train; the
    distinct values per column are not known before decoding), which is still no more
    than the 16-byte records of the layout before needed for counts models."""
    DecodedTrie._check_load(load_factor)
    order = len(ngrams)
    total_words = 2
    node_ids = vocab_size
    for k in range(1, order + 1):
        n = int(ngrams[k - 1])
        # backoff columns are float32 bits: at most 2^32 distinct, 32-bit table entries
        floats = ncols == 2
        rank_bits = ncols * min(_bits(n - 1), 32 if floats else 64)
        table_words = ncols * ((n + 2) // 2 if floats else max(n, 1))
        if k == 1:
            length, kb = vocab_size, 0
        else:
            nslots = _homes(n, load_factor)
            _, _, _, fb = _key_shape(node_ids, vocab_size, nslots)
            length = nslots + n + 1
            kb = min(fb + _bits(n), 2 * DT.MAX_KEY_BITS)
            node_ids = length
        total_words += (length * (kb + rank_bits) + 63) // 64 + 1 + table_words
    return total_words * 8 + (order + 1) * DT.M_FIELDS * 8


def available_memory_bytes() -> int | None:
    """The kernel's estimate of memory available to a new allocation (Linux MemAvailable),
    or None where /proc/meminfo does not say."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def check_fits(needed: int, available: int | None, what: str) -> None:
    """Refuse to decode what would not fit: an error now beats the OOM killer mid-decode."""
    if available is not None and needed > available:
        raise InsufficientMemoryError(f"{what}: the decoded layout needs {needed / 2**30:.2f} GiB of RAM, and only "
                          f"{available / 2**30:.2f} GiB is available; serve the compressed layout, or "
                          f"fewer shards per process")
