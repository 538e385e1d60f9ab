"""N-gram keys: the packing layout, and sorting / summing / merging whole arrays of keys.

See ``builder.kernels`` for the layout. Sorting uses numpy's vectorised sort on
(top bits of the key, row number) packed in one uint64, then numba sorts only the rows
whose top bits tie, on their next bits: several times faster than ``np.lexsort``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ngram.sharding import shard_of_pair

from .errors import BuildError

from .kernels import key_pack, key_sort, run_merge, shard_partition

_NO_COUNTS = np.zeros(0, np.uint64)


@dataclass(frozen=True)
class KeyLayout:
    """How the ids of a vocabulary of `vocab_size` words pack into uint64 limbs."""
    bits: int

    @classmethod
    def for_vocab(cls, vocab_size: int) -> "KeyLayout":
        bits = max(1, int(vocab_size - 1).bit_length())
        if bits > 32:
            raise BuildError(f"vocabulary of {vocab_size:,} words does not fit 32-bit ids (limit it with "
                             "--max-vocab or --min-word-count)")
        return cls(bits)

    def limbs(self, k: int) -> int:
        return -(-k * self.bits // 64)

    def row_bytes(self, k: int) -> int:
        """Bytes of one (key, count) row of order k."""
        return 8 * self.limbs(k) + 8


def empty(layout: KeyLayout, k: int) -> tuple[np.ndarray, np.ndarray]:
    return np.zeros((0, layout.limbs(k)), np.uint64), np.zeros(0, np.uint64)


def window_keys(ids: np.ndarray, offsets: np.ndarray, k: int, layout: KeyLayout) -> np.ndarray:
    return key_pack.window_keys(ids, offsets, k, layout.bits, layout.limbs(k))


def sort_order(keys: np.ndarray, total_bits: int) -> np.ndarray:
    """Permutation that sorts the rows of `keys` (keys of `total_bits` bits)."""
    n = len(keys)
    idx_bits = max(1, int(n - 1).bit_length())
    mask = np.uint64((1 << idx_bits) - 1)
    packed = (keys[:, 0] & ~mask) | np.arange(n, dtype=np.uint64)
    packed.sort()
    return key_sort.finish_sort(keys, packed, idx_bits, total_bits)


def sort_unique(keys: np.ndarray, k: int, layout: KeyLayout,
                counts: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique rows of `keys` with their summed counts (1 per row if None)."""
    if len(keys) == 0:
        return keys, np.zeros(0, np.uint64)
    if keys.shape[1] == 1 and counts is None:  # the whole key is one number: sort it
        values, n = run_merge.count_sorted_values(np.sort(keys[:, 0]))
        return values.reshape(-1, 1), n
    perm = sort_order(keys, k * layout.bits)
    return run_merge.sum_runs(keys, perm, _NO_COUNTS if counts is None else counts)


def merge_all(runs: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Merge sorted unique runs into one, summing counts; pairwise, as a balanced tree."""
    runs = [r for r in runs if len(r[1])] or runs[:1]
    while len(runs) > 1:
        merged = [run_merge.merge_sum(*runs[i], *runs[i + 1]) for i in range(0, len(runs) - 1, 2)]
        if len(runs) % 2:
            merged.append(runs[-1])
        runs = merged
    return runs[0]


def last_two_words(keys: np.ndarray, layout: KeyLayout) -> tuple[np.ndarray, np.ndarray]:
    """(w_{k-1}, w_k) of k-gram keys, k >= 2 (both live in limb 0: bits <= 32)."""
    mask = np.uint64((1 << layout.bits) - 1)
    limb = keys[:, 0]
    last = limb >> np.uint64(64 - layout.bits)
    prev = (limb >> np.uint64(64 - 2 * layout.bits)) & mask
    return prev, last


def shard_labels(keys: np.ndarray, layout: KeyLayout, num_shards: int, seed: int) -> np.ndarray:
    prev, last = last_two_words(keys, layout)
    return shard_of_pair(prev, last, num_shards, seed)


def split_by_shard(keys: np.ndarray, counts: np.ndarray, layout: KeyLayout, num_shards: int,
                   seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The rows of each shard, still sorted (the partition is stable)."""
    perm, bounds = shard_partition.partition(shard_labels(keys, layout, num_shards, seed), num_shards)
    out = []
    for s in range(num_shards):
        rows = perm[bounds[s]:bounds[s + 1]]
        out.append((keys[rows], counts[rows]))
    return out


def unpack(keys: np.ndarray, k: int, layout: KeyLayout) -> np.ndarray:
    return key_pack.unpack(keys, k, layout.bits)


def has_suffix(keys: np.ndarray, k: int, layout: KeyLayout, suffix_keys: np.ndarray) -> np.ndarray:
    return key_pack.has_suffix(keys, k, layout.bits, suffix_keys)
