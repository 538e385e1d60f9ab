"""An LRU cache in front of any backend, keyed by the n-gram (its used cells and length).

Meant for workloads that repeat n-grams across calls (a spelling service, a decoder's
consecutive rounds). Within one call, duplicate misses are looked up once. The per-row
dictionary probe is Python, so for one-off 100k-row batches use the backend directly.
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np

from ngram.backend import Backend, RoundStream
from ngram.chains import Chains
from ngram.errors import InvalidArgumentError
from ngram.query import check_batch
from ngram.tokenizer import Tokenizer
from ngram.vocab import Vocabulary


class CachedBackend:
    """A Backend (ngram.backend) that answers repeated n-grams from an LRU cache and the
    rest from the backend it wraps."""

    def __init__(self, backend: Backend, capacity: int = 100_000):
        if capacity < 1:
            raise InvalidArgumentError(f"cache capacity must be >= 1, not {capacity}")
        self.backend = backend
        self.capacity = capacity
        self._lru: OrderedDict[bytes, tuple] = OrderedDict()
        self.hits = 0
        self.misses = 0

    # -- the Backend interface (ngram.backend), stated, not forwarded by __getattr__ -----
    @property
    def order(self) -> int:
        return self.backend.order

    @property
    def vocab(self) -> Vocabulary:
        return self.backend.vocab

    @property
    def model_id(self) -> str:
        return self.backend.model_id

    @property
    def value_kind(self) -> str:
        return self.backend.value_kind

    @property
    def num_shards(self) -> int:
        return self.backend.num_shards

    @property
    def tokenizer(self) -> Tokenizer:
        return self.backend.tokenizer

    def stream_rounds(self, max_inflight: int | None = None, timeout: float | None = None) -> RoundStream:
        """The wrapped backend's rounds, uncached: a decoder's pipelined rounds are new
        n-grams mostly, and a stream's answers arrive on other threads."""
        return self.backend.stream_rounds(max_inflight=max_inflight, timeout=timeout)

    def _keys(self, ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        # Canonical row: padding beyond the length is ignored, so blank it, add the length.
        w = ids.shape[1]
        canon = np.where(np.arange(w)[None, :] < lengths[:, None], ids, -1).astype(np.int32)
        rows = np.ascontiguousarray(np.column_stack([canon, lengths]).astype(np.int32))
        return rows.view(np.dtype((np.void, 4 * (w + 1)))).ravel()

    def lookup(self, ids, lengths, timeout: float | None = None) -> Chains:
        chains, _mask, errors = self._lookup(ids, lengths, timeout, partial=False)
        return chains

    def lookup_partial(self, ids, lengths, timeout: float | None = None) -> tuple[Chains, np.ndarray, dict]:
        """As the wrapped backend's: rows of failed shards are False in the mask (and are
        not cached); cached rows are answered."""
        return self._lookup(ids, lengths, timeout, partial=True)

    def _lookup(self, ids, lengths, timeout, partial: bool) -> tuple[Chains, np.ndarray, dict]:
        ids, lengths = check_batch(ids, lengths, self.backend.order, len(self.backend.vocab))
        keys = self._keys(ids, lengths)
        out = Chains.empty(len(lengths), self.backend.order, self.backend.value_kind)
        mask = np.ones(len(lengths), bool)
        errors: dict = {}
        columns = list(out.arrays().values())  # the result's own arrays, written in place
        key_bytes = keys.tolist()
        miss = []
        for b, k in enumerate(key_bytes):
            hit = self._lru.get(k)
            if hit is None:
                miss.append(b)
                continue
            self._lru.move_to_end(k)
            for column, value in zip(columns, hit):
                column[b] = value
        self.hits += len(key_bytes) - len(miss)
        self.misses += len(miss)
        if miss:
            miss = np.asarray(miss, dtype=np.int64)
            _, first, inverse = np.unique(keys[miss], return_index=True, return_inverse=True)
            uniq = miss[first]
            if partial:
                fetched, answered, errors = self.backend.lookup_partial(ids[uniq], lengths[uniq], timeout=timeout)
            else:
                fetched, answered = self.backend.lookup(ids[uniq], lengths[uniq], timeout=timeout), None
            inverse = inverse.ravel()
            out.scatter(miss, fetched.take(inverse))
            if answered is not None:
                mask[miss] = answered[inverse]
            arrays = list(fetched.arrays().values())
            for j, b in enumerate(uniq.tolist()):
                if answered is None or answered[j]:
                    self._lru[key_bytes[b]] = tuple(a[j].copy() for a in arrays)
            while len(self._lru) > self.capacity:
                self._lru.popitem(last=False)
        return out, mask, errors

    def close(self) -> None:
        self._lru.clear()
        self.backend.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
