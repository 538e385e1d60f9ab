"""`Client`: the one object applications use, over a local model or a cluster.

    with Client.open("cluster.json") as lm:        # or a model directory
        lm.count(["of the", "the cat sat"])
        lm.perplexity(["the cat sat on the mat"])
        lm.lookup_round(contexts, context_lengths, words)   # a decoder round

Everything goes through the declared interface (`ngram.backend.Backend`): text is split
by the model's tokenizer (`backend.tokenizer`), counting is `ngram.counting`, scoring is
the core's `ngram.scoring.Scorer`: the same rules and arithmetic for local and remote. What is added here is transport-facing: deduplicated rounds, partial
results, an optional cache.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from client.cache import CachedBackend
from client.policy import CallPolicy
from ngram.backend import Backend, LocalBackend, RoundStream
from ngram.chains import Chains
from ngram.cluster_file import looks_like_cluster_file
from ngram.counting import ngram_counts
from ngram.errors import InvalidArgumentError
from ngram.limits import DEFAULT_ALPHA, DEFAULT_LAYOUT
from ngram.query import pair_ngrams, unique_rows
from ngram.tokenizer import Tokenizer


class Client:
    def __init__(self, backend: Backend, alpha: float = DEFAULT_ALPHA):
        self.backend = backend
        self.alpha = alpha
        self._scorer = None
        self._predictor = None  # made on the first predict()

    @classmethod
    def open(cls, target: str | os.PathLike, *, policy: CallPolicy | None = None,
             cache_size: int = 0, alpha: float = DEFAULT_ALPHA, layout: str | None = None) -> "Client":
        """A cluster file (.json/.toml) -> the remote backend; a model directory -> local,
        its shards held as `layout` ("compressed", the default, or "decoded": see Model.open)."""
        if looks_like_cluster_file(target):
            if layout is not None:
                raise InvalidArgumentError(f"{target}: a cluster's table layout is chosen by its servers "
                                 "(`ngram serve --layout`), not by the client")
            from client.remote import open_remote_backend
            backend = open_remote_backend(target, policy=policy)
        elif Path(target).is_dir():
            from ngram.model import Model
            backend = LocalBackend(Model.open(target, layout=layout or DEFAULT_LAYOUT))
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

    @property
    def tokenizer(self) -> Tokenizer:
        return self.backend.tokenizer

    # -- lookups -----------------------------------------------------------------------
    def lookup(self, ids, lengths, **kw) -> Chains:
        return self.backend.lookup(ids, lengths, **kw)

    def lookup_partial(self, ids, lengths, **kw) -> tuple[Chains, np.ndarray, dict]:
        """(chains, mask, errors): failed shards leave mask False instead of raising.
        Only the remote backend can fail partly; a local one answers everything."""
        return self.backend.lookup_partial(ids, lengths, **kw)

    def ngram_ids(self, ngrams: list[str | bytes]) -> tuple[np.ndarray, np.ndarray]:
        """N-grams as text -> (ids[B, order], lengths[B]), split by the model's tokenizer
        (ASCII whitespace only); unknown words are 0."""
        return self.tokenizer.ngram_ids(self.vocab, ngrams, self.order)

    def count(self, ngrams: list[str | bytes] | str | bytes) -> np.ndarray | int:
        """Exact counts, by ngram.counting's rule: 0 when absent or holding a word outside
        the vocabulary; a literal <unk> is the model's <unk> entry, looked up like a word."""
        single = isinstance(ngrams, (str, bytes))
        counts = ngram_counts(self.backend, [ngrams] if single else list(ngrams))
        return int(counts[0]) if single else counts

    def lookup_round(self, contexts, context_lengths, words, **kw) -> Chains:
        """A decoder round: the chains of (context, word) n-grams for every pair, each
        distinct n-gram asked once, in one round of RPCs (one per shard)."""
        ids, lengths = pair_ngrams(contexts, context_lengths, words, self.order)
        first, inverse = unique_rows(ids, lengths)
        self.last_round_unique = len(first)  # how much deduplication saved, for callers
        return self.lookup(ids[first], lengths[first], **kw).take(inverse)

    def stream_rounds(self, max_inflight: int | None = None, timeout: float | None = None) -> RoundStream:
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
        log10, _ngram_length = self.scorer.score_ngrams(ids[first], lengths[first])
        return log10[inverse]

    def score_sentences(self, sentences: list[str]):
        return self.scorer.score_sentences(sentences)

    def perplexity(self, sentences: list[str]):
        return self.scorer.perplexity(sentences)

    # -- next-word prediction (client/predict.py; docs/PREDICTION.md) --------------------
    def predict(self, context_ids, context_lengths, k: int = 10, **kw):
        """(word ids int32[B, k], log10 scores float64[B, k]): the top k continuations of
        each context; `prefix`, `min_score`, `exclude_special` as in ngram.predict."""
        if self._predictor is None:
            from client.predict import predictor_for
            self._predictor = predictor_for(self.backend)
        return self._predictor.predict(context_ids, context_lengths, k, **kw)

    def predict_text(self, texts: list[str], k: int = 10, prefix=None) -> list[list[tuple[str, float]]]:
        from ngram.complete import predict_text
        return predict_text(self.predict, self.tokenizer, self.vocab, texts, k, prefix=prefix)

    def complete(self, text: str, k: int = 5, max_words: int = 3, prefix=None):
        """The k most probable completions of `text` (ngram.complete.Completion)."""
        from ngram.complete import complete
        return complete(self.predict, self.tokenizer, self.vocab, text, k, max_words, prefix=prefix)

    # -- lifecycle ---------------------------------------------------------------------
    def close(self) -> None:
        self.backend.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
