"""`Client`: the one object applications use, over a local model or a cluster.

    with Client.open("cluster.json") as lm:        # or a model directory
        lm.count(["of the", "the cat sat"])
        lm.perplexity(["the cat sat on the mat"])
        lm.lookup_round(contexts, context_lengths, words)   # a decoder round

Scoring is the core's `ngram.scoring.Scorer`, given our backend: the same arithmetic for
local and remote. What is added here is transport-facing: deduplicated rounds, partial
results, an optional cache.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from client.cache import CachedBackend
from client.policy import CallPolicy
from client.rounds import pair_ngrams, unique_rows
from ngram.chains import COUNTS, Chains
from ngram.cluster_file import looks_like_cluster_file


class Client:
    def __init__(self, backend, alpha: float = 0.4):
        self.backend = backend
        self.alpha = alpha
        self._scorer = None

    @classmethod
    def open(cls, target: str | os.PathLike, *, policy: CallPolicy | None = None,
             cache_size: int = 0, alpha: float = 0.4, layout: str | None = None) -> "Client":
        """A cluster file (.json/.toml) -> the remote backend; a model directory -> local,
        its shards held as `layout` ("compressed", the default, or "decoded": see Model.open)."""
        if looks_like_cluster_file(target):
            if layout is not None:
                raise ValueError(f"{target}: a cluster's table layout is chosen by its servers "
                                 "(`ngram serve --layout`), not by the client")
            from client.remote import open_remote_backend
            backend = open_remote_backend(target, policy=policy)
        elif Path(target).is_dir():
            from ngram.backend import LocalBackend
            from ngram.model import Model
            backend = LocalBackend(Model.open(target, layout=layout or "compressed"))
        else:
            raise FileNotFoundError(f"{target}: neither a cluster file nor a model directory")
        if cache_size:
            backend = CachedBackend(backend, cache_size)
        return cls(backend, alpha)

    # -- properties of the model ---------------------------------------------------------
    @property
    def order(self) -> int:
        return self.backend.order

    @property
    def vocab(self):
        return self.backend.vocab

    @property
    def model_id(self) -> str:
        return self.backend.model_id

    # -- lookups -----------------------------------------------------------------------
    def lookup(self, ids, lengths, **kw) -> Chains:
        return self.backend.lookup(ids, lengths, **kw)

    def lookup_partial(self, ids, lengths, **kw) -> tuple[Chains, np.ndarray, dict]:
        """(chains, mask, errors): failed shards leave mask False instead of raising.
        Only the remote backend can fail partly; a local one answers everything."""
        fn = getattr(self.backend, "lookup_partial", None)
        if fn is None:
            chains = self.backend.lookup(ids, lengths)
            return chains, np.ones(len(chains), bool), {}
        return fn(ids, lengths, **kw)

    def ngram_ids(self, ngrams: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Whitespace-split n-grams -> (ids[B, order], lengths[B]); unknown words are 0."""
        toks = [g.split() for g in ngrams]
        bad = [g for g, t in zip(ngrams, toks) if not 1 <= len(t) <= self.order]
        if bad:
            from ngram.errors import InvalidQueryError
            raise InvalidQueryError(f"n-gram {bad[0]!r} must have 1..{self.order} words")
        lengths = np.array([len(t) for t in toks], np.int32)
        flat = self.vocab.ids([w for t in toks for w in t]) if toks else np.zeros(0, np.int32)
        ids = np.zeros((len(toks), self.order), np.int32)
        ids[np.arange(self.order)[None, :] < lengths[:, None]] = flat
        return ids, lengths

    def count(self, ngrams: list[str] | str) -> np.ndarray | int:
        """Exact counts (0 when absent or containing an unknown word)."""
        single = isinstance(ngrams, str)
        ids, lengths = self.ngram_ids([ngrams] if single else list(ngrams))
        if self.backend.value_kind != COUNTS:
            raise ValueError("count() needs a counts model; this one stores probabilities")
        chains = self.lookup(ids, lengths)
        rows = np.arange(len(lengths))
        unknown = ((ids == 0) & (np.arange(self.order)[None, :] < lengths[:, None])).any(axis=1)
        found = (chains.match_len == lengths) & ~unknown
        counts = np.where(found, chains.counts[rows, lengths - 1], 0).astype(np.uint64)
        return int(counts[0]) if single else counts

    def lookup_round(self, contexts, context_lengths, words, **kw) -> Chains:
        """A decoder round: the chains of (context, word) n-grams for every pair, each
        distinct n-gram asked once, in one round of RPCs (one per shard)."""
        ids, lengths = pair_ngrams(contexts, context_lengths, words, self.order)
        first, inverse = unique_rows(ids, lengths)
        self.last_round_unique = len(first)  # how much deduplication saved, for callers
        return self.lookup(ids[first], lengths[first], **kw).take(inverse)

    def stream_rounds(self, max_inflight: int | None = None, timeout: float | None = None):
        """Pipelined decoder rounds: `.submit_pairs(contexts, context_lengths, words)` (or
        `.submit(ids, lengths)`) returns a Future at once; over a cluster, one LookupStream
        per shard carries up to `max_inflight` rounds. Use as a context manager."""
        return self.backend.stream_rounds(max_inflight=max_inflight, timeout=timeout)

    # -- scoring (the core's Scorer over our backend) -----------------------------------
    @property
    def scorer(self):
        if self._scorer is None:
            from ngram.scoring import Scorer
            self._scorer = Scorer(self.backend, alpha=self.alpha)
        return self._scorer

    def score_round(self, contexts, context_lengths, words) -> np.ndarray:
        """log10 p(word | context) for many pairs; duplicates are scored once."""
        ids, lengths = pair_ngrams(contexts, context_lengths, words, self.order)
        first, inverse = unique_rows(ids, lengths)
        ctx_len = lengths[first] - 1
        ctx = np.where(np.arange(self.order - 1)[None, :] < ctx_len[:, None],
                       ids[first, :self.order - 1], 0).astype(np.int32)
        log10, _ngram_length = self.scorer.score_pairs(ctx, ctx_len, ids[first, ctx_len])
        return np.asarray(log10)[inverse]

    def score_sentences(self, sentences: list[str]):
        return self.scorer.score_sentences(sentences)

    def perplexity(self, sentences: list[str]):
        return self.scorer.perplexity(sentences)

    # -- lifecycle ---------------------------------------------------------------------
    def close(self) -> None:
        self.backend.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
