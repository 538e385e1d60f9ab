"""Count-of-counts -> modified Kneser-Ney discounts D1, D2, D3+ per order (Chen & Goodman
eq. 26), in float32 as lmplz computes them, with its range checks and fallback."""
from __future__ import annotations

import numpy as np

from ..errors import BuildError

F = np.float32


def discounts_of_order(k: int, t: list[int], fallback: tuple[float, float, float] | None) -> tuple[float, ...]:
    """D1, D2, D3+ of order k from t = [t1, t2, t3, t4] (n-grams of adjusted count 1..4)."""
    try:
        for j in (1, 2, 3):
            if t[j - 1] == 0:
                raise BuildError(
                    f"cannot estimate Kneser-Ney discounts of order {k}: no {k}-gram has adjusted count {j} "
                    f"(count-of-counts t{j} = 0; t1..t4 = {t}); the corpus is too small or artificial: "
                    "rerun with --discount-fallback to use D = 0.5, 1, 1.5")
        y = F(t[0]) / (F(t[0]) + F(2.0) * F(t[1]))
        d = []
        for j in (1, 2, 3):
            dj = F(j) - F(j + 1) * y * F(t[j]) / F(t[j - 1])
            if not 0.0 <= dj <= j:
                raise BuildError(
                    f"Kneser-Ney discount D{j} of order {k} is out of range [0, {j}]: {float(dj):.6g} "
                    f"(count-of-counts t1..t4 = {t}); rerun with --discount-fallback to use D = 0.5, 1, 1.5")
            d.append(float(dj))
        return tuple(d)
    except BuildError:
        if fallback is None:
            raise
        return tuple(float(x) for x in fallback)


def all_discounts(count_of_counts: list[list[int]], fallback) -> list[tuple[float, ...]]:
    """Per order 1..N."""
    return [discounts_of_order(k, t, fallback) for k, t in enumerate(count_of_counts, start=1)]


def discount(d: tuple[float, ...], adjusted: np.ndarray) -> np.ndarray:
    """D(a) per row: 0 for a = 0, D1, D2, D3+ for 1, 2, >= 3 (float64)."""
    table = np.array([0.0, d[0], d[1], d[2]])
    return table[np.minimum(adjusted.astype(np.int64), 3)]
