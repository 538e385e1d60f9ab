"""A stable counting sort of rows by label (the shard of each n-gram)."""
from __future__ import annotations

import numpy as np
from numba import njit

from . import JIT


@njit(**JIT)
def partition(labels, num_labels):
    """Stable counting sort: (perm, bounds) with rows of label s at perm[bounds[s]:bounds[s+1]]."""
    bounds = np.zeros(num_labels + 1, np.int64)
    for i in range(labels.shape[0]):
        bounds[labels[i] + 1] += 1
    for s in range(num_labels):
        bounds[s + 1] += bounds[s]
    fill = bounds[:-1].copy()
    perm = np.empty(labels.shape[0], np.int64)
    for i in range(labels.shape[0]):
        s = labels[i]
        perm[fill[s]] = i
        fill[s] += 1
    return perm, bounds
