"""Validation of lookup batches: shapes, lengths and ids, with errors that say which."""
from __future__ import annotations

import numpy as np

from .errors import InvalidQueryError
from .kernels.batch_ops import first_bad_query


def check_batch(ids, lengths, order: int, vocab_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (ids int32[B, W], lengths int32[B]) as C-contiguous arrays, or raise
    InvalidQueryError naming the first problem."""
    ids = np.asarray(ids)
    lengths = np.asarray(lengths)
    if ids.ndim != 2:
        raise InvalidQueryError(f"ids must be a 2-D array [batch, width], got shape {ids.shape}")
    if lengths.ndim != 1 or len(lengths) != ids.shape[0]:
        raise InvalidQueryError(f"lengths must be 1-D with one entry per row of ids ({ids.shape[0]}), "
                                f"got shape {lengths.shape}")
    if ids.dtype.kind not in "iu" or lengths.dtype.kind not in "iu":
        raise InvalidQueryError(f"ids and lengths must be integer arrays, got {ids.dtype} and {lengths.dtype}")
    if len(lengths) == 0:
        return np.zeros((0, max(ids.shape[1], 1)), np.int32), np.zeros(0, np.int32)
    if ids.dtype not in (np.int32, np.int64) or not ids.flags.c_contiguous:
        ids = np.ascontiguousarray(ids, dtype=np.int64)  # exact for any integer id, for the check
    kind, b, c = first_bad_query(ids, np.ascontiguousarray(lengths, dtype=np.int64), order, vocab_size)
    if kind in (1, 2, 3):
        limit = "the model order %d" % order if kind == 2 else "the width %d of ids" % ids.shape[1]
        if kind == 1:
            raise InvalidQueryError(f"lengths[{b}] = {int(lengths[b])}: every n-gram needs at least one word")
        raise InvalidQueryError(f"lengths[{b}] = {int(lengths[b])} exceeds {limit}")
    if kind == 4:
        raise InvalidQueryError(f"ids[{b}, {c}] = {int(ids[b, c])} is outside the vocabulary of {vocab_size} words")
    return np.ascontiguousarray(ids, dtype=np.int32), np.ascontiguousarray(lengths, dtype=np.int32)
