"""Scalar quantization of log10 probabilities and backoffs.

``quantize(values, bits)`` maps each value to one of at most ``2**bits`` centers:

1. If there are no more distinct values than centers, every distinct value is its own
   center: quantization is then exact (small models, round trips of quantized models).
2. Otherwise values that alone hold at least 1/m of the population (typically the 0.0
   backoff of n-grams without extensions), and the smallest and largest values (the
   -100 of an added <unk>), get exact, pinned centers.
3. The rest start from equal-population bins with their means as centers (KenLM's
   quantizer, lm/quantize.cc), refined by weighted 1-D Lloyd iterations (k-means, which
   lowers the mean squared error further). Equal values never straddle two bins.

Everything works on the sorted distinct values with their multiplicities, so the cost
is one ``np.unique`` plus O(distinct * log m) per iteration. Deterministic.
"""
from __future__ import annotations

import numpy as np
from .errors import InvalidArgumentError

LLOYD_ITERATIONS = 12


def quantize(values: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(codes uint32[n], centers float32[m])`` with ``m <= 2**bits`` sorted
    centers and ``centers[codes]`` the quantized values."""
    values = np.asarray(values, np.float32)
    if values.ndim != 1:
        raise InvalidArgumentError("quantize expects a 1-D array")
    if not 1 <= bits <= 24:
        raise InvalidArgumentError(f"bits must be in 1..24, not {bits}")
    if len(values) and not np.isfinite(values).all():
        raise InvalidArgumentError("quantize expects finite values (blanks are the writer's business)")
    m = 1 << bits
    uniq, inverse, weight = np.unique(values, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    if len(uniq) <= m:
        return inverse.astype(np.uint32), uniq.astype(np.float32)
    u = uniq.astype(np.float64)
    w = weight.astype(np.float64)
    n = float(w.sum())

    # exact centers for heavy values and for the extremes (an added <unk> at -100 must
    # stay -100, not be averaged with its neighbours)
    pinned = np.union1d(np.flatnonzero(w >= n / m), [0, len(u) - 1])
    free = m - len(pinned)
    rest = np.ones(len(u), bool)
    rest[pinned] = False
    # equal-population initial bins over the unpinned values
    ru, rw = u[rest], w[rest]
    cum = np.cumsum(rw) - rw / 2  # population position of each distinct value's middle
    bins = np.minimum((cum * free / rw.sum()).astype(np.int64), free - 1)
    sums = np.bincount(bins, rw * ru, minlength=free)
    cnt = np.bincount(bins, rw, minlength=free)
    init = sums[cnt > 0] / cnt[cnt > 0]
    centers = np.concatenate([init, u[pinned]])
    fixed = np.concatenate([np.zeros(len(init), bool), np.ones(len(pinned), bool)])
    order = np.argsort(centers, kind="stable")
    centers, fixed = centers[order], fixed[order]

    for _ in range(LLOYD_ITERATIONS):
        assign = _assign(u, centers)
        sums = np.bincount(assign, w * u, minlength=len(centers))
        cnt = np.bincount(assign, w, minlength=len(centers))
        new = np.where(fixed | (cnt == 0), centers, sums / np.maximum(cnt, 1e-300))
        if np.array_equal(new, centers):
            break
        order = np.argsort(new, kind="stable")
        centers, fixed = new[order], fixed[order]

    assign = _assign(u, centers)
    used = np.unique(assign)
    remap = np.full(len(centers), -1, np.int64)
    remap[used] = np.arange(len(used))
    codes = remap[assign][inverse].astype(np.uint32)
    return codes, centers[used].astype(np.float32)


def _assign(u: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Index of the nearest center (sorted centers) for each sorted value."""
    mids = (centers[1:] + centers[:-1]) / 2
    return np.searchsorted(mids, u, side="left")
