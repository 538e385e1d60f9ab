"""Numba kernels of the builder, one module per kind; all whole-array, nogil and cached.

  key_pack      n-gram keys: packing windows of word ids, unpacking, the suffix test
  key_sort      the permutation that sorts key rows (a radix sort finishing numpy's)
  run_merge     summing sorted runs, merging two runs, counting rows below a bound
  shard_partition a stable counting sort by shard label
  row_hash      group-by and join of n-gram rows by a hash table; context statistics (KN)
  text_scan     counting sentences in cleaned text

An n-gram key is the bit string of the word ids of a k-gram in the order the model
sorts it, (w_k, w_{k-1}, ..., w_1), ``bits`` bits each, most significant first, stored
left-aligned in ``L = ceil(k * bits / 64)`` uint64 limbs. Comparing keys limb by limb is
then comparing n-grams in the trie's order (``np.lexsort(grams.T)``), and the key of the
suffix (w_2..w_k) is the key's first (k-1) * bits bits.

Each module is self-contained (its inlined helpers live in it): numba keys a cached
function on its own source file only, so a helper inlined from another module could go
stale in the cache after an edit.
"""
from __future__ import annotations

JIT = dict(nogil=True, cache=True)
# Helpers taking arrays are inlined at IR level: a call between separately compiled
# functions costs an atomic refcount update per array argument.
INLINE = dict(JIT, inline="always")
