"""Joins and group-bys of n-gram rows (uint32[n, k]) on whole arrays.

A row is turned into one fixed-size byte string (big-endian words), so numpy's sort,
unique and searchsorted compare whole rows (lexicographically, first word first).
"""
from __future__ import annotations

import numpy as np


def row_keys(grams: np.ndarray) -> np.ndarray:
    grams = np.ascontiguousarray(grams, dtype=">u4")
    if grams.shape[1] == 0:
        return np.zeros(len(grams), np.dtype((np.void, 1)))
    return grams.view(np.dtype((np.void, 4 * grams.shape[1]))).ravel()


def group(grams: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(unique rows sorted first word first, index of each input row's group)."""
    keys = row_keys(grams)
    uniq, inverse = np.unique(keys, return_inverse=True)
    rows = np.frombuffer(uniq.tobytes(), dtype=">u4").reshape(len(uniq), grams.shape[1]).astype(np.uint32)
    return rows, inverse.reshape(-1)


def find(queries: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Index in `table` (rows unique, any order) of each query row; -1 where absent."""
    if len(table) == 0 or len(queries) == 0:
        return np.full(len(queries), -1, np.int64)
    tk = row_keys(table)
    order = np.argsort(tk, kind="stable")
    sk = tk[order]
    qk = row_keys(queries)
    pos = np.searchsorted(sk, qk)
    pos_c = np.minimum(pos, len(sk) - 1)
    hit = sk[pos_c] == qk
    return np.where(hit, order[pos_c], -1).astype(np.int64)


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
