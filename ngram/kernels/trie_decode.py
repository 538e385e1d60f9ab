"""Kernels that decode a whole shard back into sorted n-gram arrays (export, tests)."""
from __future__ import annotations

import numpy as np
from numba import njit

from .codecs import EF_SAMPLE, ef_pair, fixed_get, nib_decode_at, nib_mant_pos
from .layout import (EF_DIR, EF_HI, EF_HI_WORDS, EF_L, EF_LO, EF_RANK, K_DIR, K_MANT, K_NIB, K_SIDE, K_SIDE_W,
                     K_W, RESTART)
from .lookup import column_sym, symbol_raw

JIT = dict(nogil=True, cache=True)


@njit(**JIT)
def decode_values(buf, lay, row, parent, parent_sym, sym, raw):
    """raw[j, c] and sym[j, c]: stored raw value and symbol of node j, column c, of layout
    row `row`; parent[j] indexes parent_sym (the previous level's symbols), -1 for none."""
    for j in range(raw.shape[0]):
        p = parent[j]
        for c in range(raw.shape[1]):
            s = column_sym(buf, lay, row, c, j, parent_sym[p, c] if p >= 0 else -1)
            sym[j, c] = s
            raw[j, c] = symbol_raw(buf, lay, row, c, s)


@njit(**JIT)
def decode_level(buf, lay, k, n_parent, keys, parent):
    """Leftmost word and parent index of every node of level k (n_parent nodes at k-1).
    Child ranges are clipped to the level (and to ascending order), so corrupt pointers
    give wrong parents, never a write outside `parent`."""
    ndir = (n_parent + EF_SAMPLE) // EF_SAMPLE
    n = parent.shape[0]
    done = np.int64(0)
    for p in range(n_parent):
        lo, hi = ef_pair(buf, lay[k, EF_L], lay[k, EF_LO], lay[k, EF_HI], lay[k, EF_HI_WORDS], lay[k, EF_DIR],
                         ndir, lay[k, EF_RANK], p)
        for j in range(max(lo, done), min(hi, n)):
            parent[j] = p
        done = max(done, min(hi, n))
    W = lay[k, K_W]
    mpos = nib_mant_pos(buf, lay[k, K_NIB], lay[k, K_DIR], W, 0)
    key = np.int64(0)
    for j in range(keys.shape[0]):
        v, mpos = nib_decode_at(buf, lay[k, K_NIB], lay[k, K_MANT], W, j, mpos)
        if j % RESTART == 0:
            key = fixed_get(buf, lay[k, K_SIDE], lay[k, K_SIDE_W], j // RESTART)
        elif parent[j] != parent[j - 1]:
            key = v
        else:
            key = key + v + 1
        keys[j] = key
