"""The batched client: the remote backend (router -> per-shard transport -> merge), an LRU
cache layer, pipelined rounds over LookupStream, and the `Client` facade. Imports
`ngram`, never `shard_server`."""
from client.client import Client
from client.errors import (ClientError, FatalError, LookupFailedError, RetryableError,
                           ShardDeadlineError, ShardUnavailableError, StreamBusyError,
                           StreamClosedError)
from client.policy import CallPolicy
from client.remote import RemoteBackend, open_remote_backend
from client.stream import RoundStream

__all__ = ["Client", "CallPolicy", "RemoteBackend", "open_remote_backend", "RoundStream",
           "ClientError", "FatalError", "RetryableError", "ShardUnavailableError",
           "ShardDeadlineError", "LookupFailedError", "StreamBusyError", "StreamClosedError"]
