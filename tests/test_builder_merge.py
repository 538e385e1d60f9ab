"""The multi-pass merge: groups of runs merged into intermediate runs until at most the
fan-in remain; the totals are those of merging everything at once."""
import numpy as np

from builder import keys as K
from builder.merge import fan_in, merge_section, reduce_fan_in
from builder.runs import RunWriter


def write_runs(tmp_path, n, layout, k, rng):
    sources, everything = [], {}
    for i in range(n):
        keys = np.unique(rng.integers(0, 1 << 12, size=(rng.integers(0, 60), layout.limbs(k)), dtype=np.uint64),
                         axis=0)
        counts = rng.integers(1, 5, size=len(keys), dtype=np.uint64)
        w = RunWriter(tmp_path / f"r{i}.run", 7)
        w.add(0, k, keys, counts)
        sources.append((tmp_path / f"r{i}.run", w.close()["sections"].get(f"0,{k}", [])))
        for key, c in zip(map(tuple, keys.tolist()), counts.tolist()):
            everything[key] = everything.get(key, 0) + c
    return sources, everything


def test_fan_in_is_at_least_two_and_grows_with_memory():
    assert fan_in(1, 1 << 15, 24) == 2
    assert fan_in(100 << 20, 1 << 15, 24) > fan_in(20 << 20, 1 << 15, 24) > 2


def test_multi_pass_merge_keeps_totals(tmp_path):
    rng = np.random.default_rng(1)
    layout, k = K.KeyLayout(bits=12), 5
    sources, everything = write_runs(tmp_path, 23, layout, k, rng)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    merged = reduce_fan_in(sources, 0, k, layout.limbs(k), 2, 7, scratch)
    assert len(merged) <= 2
    assert sorted(scratch.iterdir()) == sorted(p for p, _ in merged if p.parent == scratch)  # earlier passes gone
    keys, counts = merge_section(merged, k, layout, 1)
    assert {tuple(r): c for r, c in zip(keys.tolist(), counts.tolist())} == everything
    assert (np.diff(keys[:, 0].astype(np.float64)) >= 0).all()
    keys3, counts3 = merge_section(merged, k, layout, 3)  # cutoffs apply to the totals
    assert {tuple(r): c for r, c in zip(keys3.tolist(), counts3.tolist())} == {
        g: c for g, c in everything.items() if c >= 3}
