"""An LRU cache in front of any backend, keyed by the n-gram (its used cells and length).

Meant for workloads that repeat n-grams across calls (a spelling service, a decoder's
consecutive rounds). Within one call, duplicate misses are looked up once. The per-row
dictionary probe is Python, so for one-off 100k-row batches use the backend directly.
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np

from ngram.chains import Chains
from ngram.query import check_batch


class CachedBackend:
    def __init__(self, backend, capacity: int = 100_000):
        if capacity < 1:
            raise ValueError("cache capacity must be >= 1")
        self.backend = backend
        self.capacity = capacity
        self._lru: OrderedDict[bytes, tuple] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __getattr__(self, name):  # order, vocab, model_id, value_kind, num_shards, ...
        return getattr(self.backend, name)

    def _keys(self, ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        # Canonical row: padding beyond the length is ignored, so blank it, add the length.
        w = ids.shape[1]
        canon = np.where(np.arange(w)[None, :] < lengths[:, None], ids, -1).astype(np.int32)
        rows = np.ascontiguousarray(np.column_stack([canon, lengths]).astype(np.int32))
        return rows.view(np.dtype((np.void, 4 * (w + 1)))).ravel()

    def lookup(self, ids, lengths, **kwargs) -> Chains:
        ids, lengths = check_batch(ids, lengths, self.backend.order, len(self.backend.vocab))
        keys = self._keys(ids, lengths)
        out = Chains.empty(len(lengths), self.backend.order, self.backend.value_kind)
        names = list(out.arrays())
        key_bytes = keys.tolist()
        miss = []
        for b, k in enumerate(key_bytes):
            hit = self._lru.get(k)
            if hit is None:
                miss.append(b)
                continue
            self._lru.move_to_end(k)
            for name, value in zip(names, hit):
                getattr(out, name)[b] = value
        self.hits += len(key_bytes) - len(miss)
        self.misses += len(miss)
        if miss:
            miss = np.asarray(miss, dtype=np.int64)
            _, first, inverse = np.unique(keys[miss], return_index=True, return_inverse=True)
            uniq = miss[first]
            fetched = self.backend.lookup(ids[uniq], lengths[uniq], **kwargs)
            out.scatter(miss, fetched.take(inverse.ravel()))
            arrays = [a for a in fetched.arrays().values()]
            for j, b in enumerate(uniq.tolist()):
                self._lru[key_bytes[b]] = tuple(a[j].copy() for a in arrays)
            while len(self._lru) > self.capacity:
                self._lru.popitem(last=False)
        return out

    def close(self) -> None:
        self._lru.clear()
        self.backend.close()
