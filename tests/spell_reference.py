"""Plain-Python oracles for the spelling service's candidate step (no numba, no index)."""
from __future__ import annotations


def osa_distance(a: str, b: str) -> int:
    """Optimal string alignment distance: insertions, deletions, substitutions and
    transpositions of adjacent characters, no substring edited twice."""
    n, m = len(a), len(b)
    d = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n + 1):
        d[i][0] = i
    for j in range(m + 1):
        d[0][j] = j
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[n][m]


def brute_force_lookup(words: list[str], counts: list[int], query: str, max_distance: int, min_count: int,
                       is_candidate, max_chars: int = 32) -> list[tuple[int, int]]:
    """(id, distance) of every vocabulary word (by id) that may be a candidate, was seen
    min_count times (a vocabulary without counts, as an imported ARPA model's, is not
    filtered), and whose lowercased form is within max_distance of the lowercased query."""
    q = query.lower()
    if not q or len(q) > max_chars:   # an empty or over-long word has no candidates
        return []
    if not any(counts):
        min_count = 0
    out = []
    for i, (w, c) in enumerate(zip(words, counts)):
        if c >= min_count and is_candidate(w.lower()):
            d = osa_distance(q, w.lower())
            if d <= max_distance:
                out.append((i, d))
    return out
