"""Interpolated modified Kneser-Ney estimation on the builder's map/reduce (design:
docs/KNESER_NEY.md).

  options.py    KnOptions: what `--smoothing kneser-ney` and its options ask for
  rows.py       joins and group-bys of n-gram rows (whole numpy arrays)
  discounts.py  count-of-counts -> discounts D1, D2, D3+ per order (lmplz's rules, errors)
  stages.py     the per-shard tasks K1..K4 and their files in the work directory
  driver.py     runs the stages on the executor and the driver's small reductions

Implemented: estimation as lmplz -o N (exact to float rounding), `--discount-fallback`,
`--prune` (lmplz's semantics). Not yet: `--limit-vocab`.
"""
