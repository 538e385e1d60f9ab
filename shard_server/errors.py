"""Errors of the shard server package. Each is an NgramError, so the CLI reports it as one
line and exit code 1; the servicer maps the request errors to gRPC status codes."""
from __future__ import annotations

from ngram.errors import NgramError


class WrongModelError(NgramError):
    """The request names another model id than the one this server holds."""


class ShardNotServedError(NgramError):
    """The request targets a shard this server does not hold (a stale cluster file)."""


class ServerStartError(NgramError):
    """A server could not start: its address cannot be bound, or it has nothing to serve."""


class ClusterError(NgramError):
    """A server did not start, or did not become healthy in time; says which and why."""


class PredictionUnavailableError(NgramError):
    """A Predict request to a server whose model has no successor index (says how to add it)."""
