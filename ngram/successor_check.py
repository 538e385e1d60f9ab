"""Deep check of an opened successor part (docs/PREDICTION.md): every structure a kernel
walks is consistent, so a file that passed (with its checksums) is read exactly. Reads
never leave their arrays either way (the kernels clamp); this is about right answers."""
from __future__ import annotations

import numpy as np
from numba import njit

from .kernels.bits import JIT, popcount
from .kernels.successors import (EFHI, EFHI_BASE, EFLO, EFLO_BASE, EFS, EFS_BASE, M_CW, M_LOW, M_N, M_TABLE,
                                 M_TAIL, MBITS, MBITS_BASE, META, MRANK, MRANK_BASE, MROUND, MROUND_BASE, REC,
                                 REC_BASE, VALUES_BASE)
from .kernels.succinct import RANK_BLOCK_WORDS, SAMPLE_EVERY, ef_get


@njit(**JIT)
def _ef_problem(hi, samples, lo, low_bits, n, end):
    """0 if the n+1 values start at 0, never decrease and end at `end`, else 1."""
    if samples.shape[0] != (n + 1 + SAMPLE_EVERY - 1) // SAMPLE_EVERY:
        return 1
    prev = np.int64(0)
    for i in range(n + 1):
        if i % SAMPLE_EVERY == 0:
            s = samples[i // SAMPLE_EVERY]
            if s < 0 or s >= hi.shape[0] * 64 or not (hi[s >> 6] >> np.uint64(s & 63)) & np.uint64(1):
                return 1
        v = ef_get(hi, samples, lo, low_bits, i)
        if (i == 0 and v != 0) or v < prev:
            return 1
        prev = v
    return 0 if prev == end else 1


@njit(**JIT)
def _rank_problem(bits, ranks, n):
    r = np.int64(0)
    for w in range(bits.shape[0]):
        if w % RANK_BLOCK_WORDS == 0:
            if w // RANK_BLOCK_WORDS >= ranks.shape[0] or ranks[w // RANK_BLOCK_WORDS] != r:
                return 1
        r += popcount(bits[w])
    return 0 if r == n else 1


def deep_problem(part, manifest: dict, shard: int) -> str | None:
    P = part.arrays
    meta = P[META]
    N = int(manifest["order"])
    levels = ([1] if N > 1 else []) if shard < 0 else list(range(2, N))
    for j in range(N):
        if j not in levels and (meta[j] != 0).any():
            return f"level {j} has contexts in the wrong part"
    for j in levels:
        n, low, cw, tail, table = (int(meta[j, c]) for c in (M_N, M_LOW, M_CW, M_TAIL, M_TABLE))
        if j == 1 and n != int(manifest["vocab_size"]):
            return "the one-word level does not have one context per word"
        vals = int(P[VALUES_BASE][j + 1] - P[VALUES_BASE][j])
        if n < 0 or not 0 <= low <= 62 or not 0 <= cw <= 62 or table != vals or not -1 <= tail < max(table, 0) \
                or (table and cw < table.bit_length()):
            return f"level {j}'s table of sizes and widths is out of range"
        sl = lambda f, b: P[f][P[b][j]:P[b][j + 1]]  # noqa: E731
        rec_bits = 64 * max(int(P[REC_BASE][j + 1] - P[REC_BASE][j]) - 1, 0)
        ef_end = ef_get(sl(EFHI, EFHI_BASE), sl(EFS, EFS_BASE), sl(EFLO, EFLO_BASE), low, n) if n >= 0 else -1
        if n and (ef_end > rec_bits or _ef_problem(sl(EFHI, EFHI_BASE), sl(EFS, EFS_BASE), sl(EFLO, EFLO_BASE), low, n,
                                                   ef_end)):
            return f"level {j}'s record offsets are not monotone inside the records"
        if j >= 2 and n:
            bits, ranks, rounds = sl(MBITS, MBITS_BASE), sl(MRANK, MRANK_BASE), sl(MROUND, MROUND_BASE)
            if len(rounds) == 0 or (rounds[:, 1] <= 0).any() or rounds[0, 0] != 0 or \
                    (rounds[1:, 0] != rounds[:-1, 0] + rounds[:-1, 1]).any() or rounds[-1].sum() > 64 * len(bits):
                return f"level {j}'s hash rounds do not tile its bit array"
            if _rank_problem(bits, ranks, n):
                return f"level {j}'s hash ranks do not count its slots"
    return None
