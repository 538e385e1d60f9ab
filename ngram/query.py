"""Validation of lookup batches: shapes, lengths and ids, with errors that say which."""
from __future__ import annotations

import numpy as np

from .errors import InvalidQueryError


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
    bad = np.flatnonzero((lengths < 1) | (lengths > min(order, ids.shape[1])))
    if len(bad):
        b = int(bad[0])
        limit = "the model order %d" % order if lengths[b] > order else "the width %d of ids" % ids.shape[1]
        if lengths[b] < 1:
            raise InvalidQueryError(f"lengths[{b}] = {int(lengths[b])}: every n-gram needs at least one word")
        raise InvalidQueryError(f"lengths[{b}] = {int(lengths[b])} exceeds {limit}")
    width = ids.shape[1]
    used = np.arange(width)[None, :] < lengths[:, None]
    out = (ids < 0) | (ids >= vocab_size)
    bad = np.argwhere(out & used)
    if len(bad):
        b, c = (int(x) for x in bad[0])
        raise InvalidQueryError(f"ids[{b}, {c}] = {int(ids[b, c])} is outside the vocabulary of {vocab_size} words")
    return np.ascontiguousarray(ids, dtype=np.int32), np.ascontiguousarray(lengths, dtype=np.int32)
