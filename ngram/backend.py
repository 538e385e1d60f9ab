"""The one interface every consumer of a model uses: in-process or over the network.

`Backend` declares all a consumer may use; nobody probes a backend with getattr/hasattr.
`LocalBackend` wraps an opened `Model` (its rounds: `LocalRoundStream`); the remote
backend (a cluster of shard servers) lives in `client/` and is found through the
`ngram.backends` entry-point group, so the core never imports gRPC.
"""
from __future__ import annotations

import os
from importlib.metadata import entry_points
from pathlib import Path
from concurrent.futures import Future
from typing import Protocol, runtime_checkable

import numpy as np

from .chains import Chains
from .errors import InvalidArgumentError, ModelFormatError, NgramError, RoundStreamClosedError
from .limits import DEFAULT_STREAM_ROUNDS
from .model import Model
from .query import pair_ngrams, unique_rows
from .tokenizer import Tokenizer
from .vocab import Vocabulary

BACKENDS_GROUP = "ngram.backends"


@runtime_checkable
class RoundStream(Protocol):
    """Pipelined lookup rounds: `submit` returns a Future of Chains at once; at most
    `max_inflight` rounds are unanswered (submit waits, within the stream's deadline).
    A context manager; closing it waits for (or fails, at the deadline) what is in flight.
    `submit_pairs` takes a decoder round of (context, word) pairs (ngram.query.pair_ngrams),
    asks each distinct n-gram once, and answers one row per pair."""

    def submit(self, ids: np.ndarray, lengths: np.ndarray, timeout: float | None = None) -> "Future[Chains]": ...

    def submit_pairs(self, contexts: np.ndarray, context_lengths: np.ndarray, words: np.ndarray,
                     timeout: float | None = None) -> "Future[Chains]": ...

    def close(self) -> None: ...

    def __enter__(self) -> "RoundStream": ...

    def __exit__(self, *exc) -> None: ...


@runtime_checkable
class Backend(Protocol):
    """Everything a consumer (Scorer, Client, the kenlm facade, applications) may use.

    - `tokenizer`: the model's tokenizer settings (ngram.tokenizer.Tokenizer), so every
      consumer splits and normalizes text exactly as the model was built.
    - `lookup`: every n-gram answered, or an error (a remote shard that no replica
      answered raises, naming the shard).
    - `lookup_partial`: (chains, answered bool[B], errors by shard); a local backend
      answers everything.
    - `stream_rounds`: a RoundStream; a local backend answers its rounds in-process.
    - `timeout` (seconds) bounds a remote call (its policy's default when None); a local
      backend never waits on anything, so it accepts and needs none.
    - `close`: releases everything (files, channels, threads); a backend is also a context
      manager.
    """
    order: int
    vocab: Vocabulary
    model_id: str
    value_kind: str
    num_shards: int

    @property
    def tokenizer(self) -> Tokenizer: ...

    def lookup(self, ids: np.ndarray, lengths: np.ndarray, timeout: float | None = None) -> Chains: ...

    def lookup_partial(self, ids: np.ndarray, lengths: np.ndarray, timeout: float | None = None
                       ) -> tuple[Chains, np.ndarray, dict]: ...

    def stream_rounds(self, max_inflight: int | None = None, timeout: float | None = None) -> RoundStream: ...

    def close(self) -> None: ...


class LocalBackend:
    """A model directory answered in this process (the shard kernels, no network)."""

    def __init__(self, model: Model):
        self.model = model
        self.order = model.order
        self.vocab = model.vocab
        self.model_id = model.model_id
        self.value_kind = model.value_kind
        self.num_shards = model.num_shards
        self.manifest = model.manifest
        self._tokenizer = Tokenizer.from_manifest(model.manifest)

    @property
    def tokenizer(self) -> Tokenizer:
        return self._tokenizer

    def lookup(self, ids, lengths, timeout: float | None = None) -> Chains:
        return self.model.lookup(ids, lengths)

    def lookup_partial(self, ids, lengths, timeout: float | None = None) -> tuple[Chains, np.ndarray, dict]:
        """Everything is answered in-process: mask all True, no errors (a bad batch raises)."""
        chains = self.model.lookup(ids, lengths)
        return chains, np.ones(len(chains), bool), {}

    def stream_rounds(self, max_inflight: int | None = None, timeout: float | None = None) -> "LocalRoundStream":
        return LocalRoundStream(self, max_inflight=max_inflight, timeout=timeout)

    def close(self) -> None:
        self.model.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class LocalRoundStream:
    """RoundStream over a backend in this process: each round is answered inside `submit`,
    which returns a completed Future. At most one round is ever in flight and nothing
    waits, so `max_inflight` and `timeout` (checked like the remote stream's) are bounds a
    local stream cannot reach. A bad round raises at submit, as the remote stream's does."""

    def __init__(self, backend: Backend, max_inflight: int | None = None, timeout: float | None = None):
        self.max_inflight = DEFAULT_STREAM_ROUNDS if max_inflight is None else int(max_inflight)
        if self.max_inflight < 1:
            raise InvalidArgumentError(f"max_inflight must be >= 1, not {max_inflight}")
        if timeout is not None and not timeout > 0:
            raise InvalidArgumentError(f"timeout must be > 0 seconds, not {timeout}")
        self.timeout = timeout
        self.backend = backend
        self._closed = False

    def submit(self, ids, lengths, timeout: float | None = None) -> "Future[Chains]":
        if self._closed:
            raise RoundStreamClosedError("round submitted to a closed RoundStream")
        fut: Future = Future()
        fut.set_running_or_notify_cancel()
        fut.set_result(self.backend.lookup(ids, lengths))
        return fut

    def submit_pairs(self, contexts, context_lengths, words, timeout: float | None = None) -> "Future[Chains]":
        """A decoder round of (context, word) pairs: each distinct n-gram asked once; the
        Chains has one row per pair."""
        ids, lengths = pair_ngrams(contexts, context_lengths, words, self.backend.order)
        first, inverse = unique_rows(ids, lengths)
        fut = self.submit(ids[first], lengths[first], timeout)
        done: Future = Future()
        done.set_running_or_notify_cancel()
        done.set_result(fut.result().take(inverse))
        return done

    def close(self, wait: bool = True) -> None:
        self._closed = True

    def __enter__(self) -> "LocalRoundStream":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_backend(target: str | os.PathLike, **kw):
    """A model directory -> LocalBackend; a file (a cluster file, JSON or TOML) -> the
    backend registered as `cluster` in the `ngram.backends` entry-point group."""
    path = Path(target)
    if path.is_dir():
        return LocalBackend(Model.open(path, **kw))
    if not path.exists():
        raise ModelFormatError("no such model directory or cluster file", str(path))
    eps = [ep for ep in entry_points(group=BACKENDS_GROUP) if ep.name == "cluster"]
    if not eps:
        raise NgramError(f"{path}: a cluster file needs the remote backend, but no '{BACKENDS_GROUP}' "
                         "entry point named 'cluster' is installed (pip install -e . in the full repository)")
    return eps[0].load()(str(path), **kw)
