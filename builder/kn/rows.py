"""Joins and group-bys of n-gram rows (uint32[n, k]) on whole arrays.

Rows are packed into uint64 limbs (`bits` bits a word), so numpy's numeric sorts group
them: several times faster than comparing rows as byte strings.
"""
from __future__ import annotations

import numpy as np


def pack(grams: np.ndarray, bits: int) -> list[np.ndarray]:
    """Rows as uint64 limbs, `bits` bits a word, first word most significant: equal rows
    have equal limbs (a numeric sort of limbs is much faster than one of byte strings)."""
    n, k = grams.shape
    per = max(1, 64 // bits)
    limbs = []
    for start in range(0, k, per):
        limb = np.zeros(n, np.uint64)
        for j in range(start, min(k, start + per)):
            limb = (limb << np.uint64(bits)) | grams[:, j].astype(np.uint64)
        limbs.append(limb)
    return limbs or [np.zeros(n, np.uint64)]


def group(grams: np.ndarray, bits: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """(unique rows, index of each input row's group); the order of the unique rows is a
    function of the rows and `bits` only (every task grouping the same rows agrees).
    The first limb's words are grouped by one numeric unique; each further word is folded
    into the group id (id << bits | word: fits 64 bits while ids < 2**(64 - bits))."""
    n, k = grams.shape
    per = max(1, 64 // bits)
    key = pack(grams[:, :per], bits)[0]
    for j in range(per, k):
        _, inverse = np.unique(key, return_inverse=True)
        key = (inverse.reshape(-1).astype(np.uint64) << np.uint64(bits)) | grams[:, j].astype(np.uint64)
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    return np.ascontiguousarray(grams[first]), inverse.reshape(-1).astype(np.int64)


def find(queries: np.ndarray, table: np.ndarray, bits: int = 32) -> np.ndarray:
    """Index in `table` (rows unique) of each query row; -1 where absent."""
    if len(table) == 0 or len(queries) == 0:
        return np.full(len(queries), -1, np.int64)
    _, inverse = group(np.concatenate([table, queries]), bits)
    at = np.full(int(inverse.max()) + 1, -1, np.int64)
    at[inverse[:len(table)]] = np.arange(len(table))
    return at[inverse[len(table):]]


def sum_by(inverse: np.ndarray, n: int, values: np.ndarray) -> np.ndarray:
    """Per group sums of integer values (exact, int64)."""
    out = np.zeros(n, np.int64)
    np.add.at(out, inverse, values.astype(np.int64))
    return out


def count_classes(adjusted: np.ndarray, kept: np.ndarray | None = None) -> np.ndarray:
    """int64[n, 3]: one-hot of adjusted count 1, 2, >= 3 (0 for count 0 and pruned rows)."""
    cls = np.zeros((len(adjusted), 3), np.int64)
    a = adjusted.astype(np.int64)
    if kept is not None:
        a = np.where(kept, a, 0)
    for j in (1, 2):
        cls[:, j - 1] = a == j
    cls[:, 2] = a >= 3
    return cls


def count_of_counts(adjusted: np.ndarray) -> list[int]:
    """t1..t4: how many rows have adjusted count 1, 2, 3, 4."""
    a = adjusted.astype(np.int64)
    return [int(np.count_nonzero(a == j)) for j in (1, 2, 3, 4)]
