"""The one interface every consumer of a model uses: in-process or over the network.

`Backend` declares all a consumer may use; nobody probes a backend with getattr/hasattr.
`LocalBackend` wraps an opened `Model`; the remote
backend (a cluster of shard servers) lives in `client/` and is found through the
`ngram.backends` entry-point group, so the core never imports gRPC.
"""
from __future__ import annotations

import os
from importlib.metadata import entry_points
from pathlib import Path
from concurrent.futures import Future
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from .chains import Chains
from .errors import ModelFormatError, NgramError
from .model import Model
from .vocab import Vocabulary

if TYPE_CHECKING:
    from .tokenizer import Tokenizer

BACKENDS_GROUP = "ngram.backends"


@runtime_checkable
class RoundStream(Protocol):
    """Pipelined lookup rounds: `submit` returns a Future of Chains at once; at most
    `max_inflight` rounds are unanswered (submit waits, within the stream's deadline).
    A context manager; closing it waits for (or fails, at the deadline) what is in flight."""

    def submit(self, ids: np.ndarray, lengths: np.ndarray) -> "Future[Chains]": ...

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
    """
    order: int
    vocab: Vocabulary
    model_id: str
    value_kind: str
    num_shards: int

    @property
    def tokenizer(self) -> "Tokenizer": ...

    def lookup(self, ids: np.ndarray, lengths: np.ndarray) -> Chains: ...

    def lookup_partial(self, ids: np.ndarray, lengths: np.ndarray) -> tuple[Chains, np.ndarray, dict]: ...

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

    def lookup(self, ids, lengths) -> Chains:
        return self.model.lookup(ids, lengths)

    def close(self) -> None:
        self.model.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
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
