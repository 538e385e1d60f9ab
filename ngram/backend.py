"""The one interface every consumer of a model uses: in-process or over the network.

A backend has `order`, `vocab`, `model_id`, `value_kind`, `num_shards` and
`lookup(ids, lengths) -> Chains`. `LocalBackend` wraps an opened `Model`; the remote
backend (a cluster of shard servers) lives in `client/` and is found through the
`ngram.backends` entry-point group, so the core never imports gRPC.
"""
from __future__ import annotations

import os
from importlib.metadata import entry_points
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from .chains import Chains
from .errors import ModelFormatError, NgramError
from .model import Model
from .vocab import Vocabulary

BACKENDS_GROUP = "ngram.backends"


@runtime_checkable
class Backend(Protocol):
    order: int
    vocab: Vocabulary
    model_id: str
    value_kind: str
    num_shards: int

    def lookup(self, ids: np.ndarray, lengths: np.ndarray) -> Chains: ...

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
