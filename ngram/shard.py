"""One shard of a model: a reversed succinct trie over a single mmap-ed file."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import numpy as np

from .chains import BACKOFF, COUNTS, Chains
from .errors import InvalidArgumentError, InvalidQueryError, ModelFormatError
from .format import SHARD_KIND, SHARD_VERSIONS, Container, open_container, verify_container
from .kernels import layout as LY
from .kernels.lookup import lookup_kernel
from .kernels.route import first_misrouted, route_batch
from .kernels.trie_decode import decode_level, decode_values
from .kernels.batch_ops import gather_rows, is_sorted, radix_argsort, scatter_into
from .limits import LAYOUTS, MAX_ORDER
from .query import check_batch

# (LAYOUTS: how a shard is held in memory: the mapped file as stored, ~2 bytes per
# n-gram, or also decoded into hash tables, ngram.decoded_trie: ~8-10 bytes per n-gram,
# lookups 2-3x faster)
__all__ = ["LAYOUTS", "SHARD_KIND", "ShardTable", "chains_from_raw", "new_outputs", "raw_to_columns",
           "unsort_outputs"]


class ShardTable:
    """Opened with mmap in about a millisecond whatever its size; `lookup` runs the numba
    kernel (which releases the GIL) over a whole batch."""

    def __init__(self, container: Container):
        self._container = container
        h = container.header
        path = str(container.path)
        try:
            self.data = container.arrays["data"]
            self.format_version = container.version
            self.layout = _widened_layout(container.arrays["layout"], container.version, path)
            self.shard_index = _int(h["shard"])
            self.num_shards = _int(h["num_shards"])
            self.order = _int(h["order"])
            self.value_kind = h["value_kind"]
            self.vocab_size = _int(h["vocab_size"])
            self.shard_seed = _int(h["sharding"]["seed"])
            self.ngrams = [_int(n) for n in h["ngrams"]]
        except (KeyError, TypeError, ValueError) as e:
            raise ModelFormatError(f"shard header is incomplete ({e})", path) from None
        self._check_layout(path)
        self.decoded = None  # a DecodedTrie once decode_in_memory() ran

    def decode_in_memory(self) -> None:
        """Decode the shard into RAM (ngram.decoded_trie); lookups then read the decoded
        table. Costs ~2 s and ~8 bytes per n-gram (decoded alone) for a shard of 3.5 M n-grams."""
        if self.decoded is None:
            from .decoded_trie import DecodedTrie
            self.decoded = DecodedTrie.from_shard(self)

    @property
    def layout_name(self) -> str:
        return "compressed" if self.decoded is None else "decoded"

    @property
    def memory_bytes(self) -> int:
        """Bytes this shard holds in memory: the mapped file, plus the decoded table."""
        return self.nbytes + (0 if self.decoded is None else self.decoded.nbytes)

    def _check_layout(self, path: str) -> None:
        """Every field of the layout table within its kind's range (ngram.kernels.layout):
        offsets inside the data array, widths the decoders can read, codes they know, node
        counts equal to the header's. The kernels then never index outside the data array
        (they also clamp every read) and the decoders never write outside their outputs,
        whatever the data words hold; a damaged stream gives wrong answers, which only
        the checksums (verification) catch."""
        lay, data = self.layout, self.data
        if not (1 <= self.order <= MAX_ORDER and self.value_kind in (COUNTS, BACKOFF)
                and 0 <= self.shard_index < self.num_shards and 3 <= self.vocab_size < 2**31
                and len(self.ngrams) == self.order and self.ngrams[0] == self.vocab_size
                and min(self.ngrams) >= 0 and all(self.ngrams[k - 1] or not self.ngrams[k]
                                                  for k in range(1, self.order))):
            raise ModelFormatError("shard header holds an impossible order, value kind, shard or size", path)
        if data.dtype != np.uint64 or data.ndim != 1 or len(data) < 3:
            raise ModelFormatError("shard data array is not a uint64 vector", path)
        if lay.dtype != np.int64 or lay.shape != (self.order + 1, LY.FIELDS):
            raise ModelFormatError("shard layout does not match its order", path)
        if lay[0, LY.G_VERSION] != (0 if self.format_version == 1 else self.format_version):
            raise ModelFormatError(f"shard layout says format version {lay[0, LY.G_VERSION]}, the file "
                                   f"{self.format_version}", path)
        words = len(data)
        ncols = 1 if self.value_kind == COUNTS else 2
        levels = lay[1:]
        expected_globals = {LY.G_ORDER: self.order, LY.G_VOCAB: self.vocab_size, LY.G_NCOLS: ncols,
                            LY.G_ABSENT: 0 if self.value_kind == COUNTS else LY.NAN_BITS, LY.G_WORDS: words}
        codecs = levels[:, [LY.column_index(c, "codec") for c in range(ncols)]]
        tables = levels[:, [LY.column_index(c, "tkind") for c in range(ncols)]]
        if (any(lay[0, col] != want for col, want in expected_globals.items())
                or list(levels[:, LY.L_N]) != self.ngrams
                or not _within(levels[:, LY.level_columns(LY.OFFSET)], 0, words - 1)
                or not _within(levels[:, LY.level_columns(LY.WORDS)], 0, words)
                or not _within(levels[:, LY.level_columns(LY.WIDTH)], 0, LY.MAX_WIDTH)
                or not np.isin(codecs, LY.CODECS).all() or not np.isin(tables, LY.TABLE_KINDS).all()):
            raise ModelFormatError("shard layout points outside the file or disagrees with its header", path)
        # v2's large-range tables: BIG_ENTRY words per range inside the data array (the
        # kernels clamp every read, so the entries' values need no check here)
        nbig, big = levels[:, LY.K_BIG_N], levels[:, LY.K_BIG]
        if (nbig < 0).any() or (nbig > words).any() or ((nbig > 0) & (big + LY.BIG_ENTRY * nbig > words)).any():
            raise ModelFormatError("shard layout's large-range table lies outside the file", path)

    @classmethod
    def open(cls, path: str | os.PathLike) -> "ShardTable":
        return cls(open_container(path, SHARD_KIND))

    @property
    def path(self) -> Path:
        return self._container.path

    @property
    def nbytes(self) -> int:
        return self._container.size

    def verify(self) -> None:
        verify_container(self._container)

    def lookup(self, ids, lengths, *, check: bool = True) -> Chains:
        """Chains of a batch whose n-grams of length >= 2 all belong to this shard."""
        if check:
            ids, lengths = check_batch(ids, lengths, self.order, self.vocab_size)
            if self.num_shards > 1 and len(lengths):
                b, owner = first_misrouted(ids, lengths, self.num_shards, self.shard_seed, self.shard_index)
                if b >= 0:
                    raise InvalidQueryError(f"n-gram {b} belongs to shard {owner}, "
                                            f"not to shard {self.shard_index}")
        return self.lookup_unchecked(ids, lengths)

    def lookup_unchecked(self, ids: np.ndarray, lengths: np.ndarray) -> Chains:
        """Kernel call without validation (ids int32[B, W], lengths int32[B])."""
        match, raw = new_outputs(len(lengths), self.order, self.value_kind)
        if len(lengths):
            _, keys = route_batch(ids, lengths, 1, 0)
            if is_sorted(keys):  # a router already sorted it (client.router, Model.lookup)
                self.run_kernel(ids, lengths, match, raw)
                return chains_from_raw(match, raw, self.value_kind)
            order = radix_argsort(keys)
            sorted_match, sorted_raw = new_outputs(len(lengths), self.order, self.value_kind)
            self.run_kernel(*gather_rows(ids, lengths, order), sorted_match, sorted_raw)
            unsort_outputs(order, sorted_match, sorted_raw, match, raw)
        return chains_from_raw(match, raw, self.value_kind)

    def run_kernel(self, ids, lengths, match, raw) -> None:
        """Walk a contiguous batch (best sorted by last words), writing match and raw."""
        if self.decoded is not None:
            self.decoded.lookup_into(ids, lengths, match, raw)
        else:
            lookup_kernel(self.data, self.layout, ids, lengths, match, raw)

    def decode_levels(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """The shard level by level, in stored order: (word ids, parent indices, raw values
        [n, C]) for k = 1..N. Level 1 is every word (parents -1); node j of level k >= 2 is
        word keys[j] before the (k-1)-gram at index parent[j] of level k-1."""
        ncols = 1 if self.value_kind == COUNTS else 2
        V = self.vocab_size
        raw = np.zeros((V, ncols), np.uint64)
        syms = np.zeros((V, ncols), np.int64)
        parent = np.full(V, -1, np.int64)
        decode_values(self.data, self.layout, 1, parent, syms, syms, raw)
        yield np.arange(V, dtype=np.int64), parent, raw
        n_prev = V
        for k in range(2, self.order + 1):
            n = int(self.layout[k, LY.L_N])
            keys = np.zeros(n, np.int64)
            parent = np.zeros(n, np.int64)
            raw = np.zeros((n, ncols), np.uint64)
            level_syms = np.zeros((n, ncols), np.int64)
            if n:
                decode_level(self.data, self.layout, k, n_prev, keys, parent)
                decode_values(self.data, self.layout, k, parent, syms, level_syms, raw)
            yield keys, parent, raw
            n_prev, syms = n, level_syms

    def decode(self) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
        """The whole shard as arrays: (unigram raw values [V, C], [(grams [n, k], raw values
        [n, C]) for k = 2..N]) with rows in stored order (sorted by (w_k, ..., w_1)). Raw
        values are counts, or float32 bits of log10 prob/backoff (see `raw_to_columns`)."""
        levels_iter = self.decode_levels()
        _, _, uni = next(levels_iter)
        prev = np.arange(self.vocab_size, dtype=np.uint32)[:, None]
        levels = []
        for k, (keys, parent, raw) in enumerate(levels_iter, start=2):
            grams = np.empty((len(keys), k), np.uint32)
            grams[:, 0] = keys
            grams[:, 1:] = prev[parent]
            levels.append((grams, raw))
            prev = grams
        return uni, levels

    def close(self) -> None:
        self.decoded = None
        self._container.close()


def _widened_layout(lay: np.ndarray, version: int, path: str) -> np.ndarray:
    """The layout table at the current width: a v1 table (FIELDS_V1 columns) gets the v2
    columns as zeros (no large-range directories), which the kernels read as v1."""
    if version not in SHARD_VERSIONS:
        raise ModelFormatError(f"shard format version {version}, this reader reads versions "
                               f"{', '.join(map(str, SHARD_VERSIONS))}", path)
    if version == 1 and lay.ndim == 2 and lay.shape[1] == LY.FIELDS_V1 and lay.dtype == np.int64:
        wide = np.zeros((lay.shape[0], LY.FIELDS), np.int64)
        wide[:, :LY.FIELDS_V1] = lay
        return wide
    return np.ascontiguousarray(lay)


def _int(x) -> int:
    if not isinstance(x, int) or isinstance(x, bool):
        raise TypeError(f"{x!r} is not an integer")
    return x


def _within(a: np.ndarray, lo: int, hi: int) -> bool:
    return bool(a.size == 0 or (a.min() >= lo and a.max() <= hi))


def unsort_outputs(order: np.ndarray, sorted_match, sorted_raw, match, raw) -> None:
    """match[order] = sorted_match; raw[order] = sorted_raw (rows of order x columns)."""
    if not (raw.flags.c_contiguous and sorted_raw.flags.c_contiguous):
        raise InvalidArgumentError("unsort_outputs needs C-contiguous raw arrays (it writes through a 2-D view)")
    scatter_into(order, sorted_match, match)
    width = int(np.prod(raw.shape[1:]))  # (an empty batch cannot infer it with -1)
    scatter_into(order, sorted_raw.reshape(len(sorted_raw), width), raw.reshape(len(raw), width))


def new_outputs(batch: int, order: int, value_kind: str) -> tuple[np.ndarray, np.ndarray]:
    """(match_len, raw values) arrays pre-filled with the absent values."""
    ncols = 1 if value_kind == COUNTS else 2
    raw = np.zeros((batch, order, ncols), np.uint64)
    if value_kind == BACKOFF:
        raw[:, :, 0] = LY.NAN_BITS
    return np.zeros(batch, np.int32), raw


def raw_to_columns(raw: np.ndarray, value_kind: str) -> dict[str, np.ndarray]:
    """Raw stored values [n, C] as named columns: counts, or prob and backoff (float32)."""
    if value_kind == COUNTS:
        return {"counts": raw[:, 0].copy()}
    return {"prob": raw[:, 0].astype(np.uint32).view(np.float32),
            "backoff": raw[:, 1].astype(np.uint32).view(np.float32)}


def chains_from_raw(match: np.ndarray, raw: np.ndarray, value_kind: str) -> Chains:
    if value_kind == COUNTS:
        return Chains(match, counts=np.ascontiguousarray(raw[:, :, 0]))
    return Chains(match, prob=raw[:, :, 0].astype(np.uint32).view(np.float32),
                  backoff=raw[:, :, 1].astype(np.uint32).view(np.float32))
