"""Client errors. Retryable (another replica or a later attempt may succeed) and fatal
(the request itself is wrong, or the cluster file is stale) are different types, and
every error names the shard and the replicas that failed."""
from __future__ import annotations

import grpc

from ngram.errors import NgramError, RoundStreamClosedError

# Codes worth another attempt on another replica: the server is down, draining or full.
# CANCELLED reaches the policy only from the server (the client's own cancellations of
# hedged attempts are never recorded as failures): a server whose drain grace ran out, or
# that stopped, cancels the requests it had accepted; another replica can answer them.
RETRYABLE_CODES = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED,
                             grpc.StatusCode.ABORTED, grpc.StatusCode.CANCELLED})


class ClientError(NgramError):
    """Base class of remote-lookup failures."""

    def __reduce__(self):
        # picklable although subclasses' __init__ take other arguments than .args: a
        # multiprocessing worker's error must reach its parent (an error that fails to
        # unpickle there kills the pool's result thread, and Pool.map then waits forever)
        return _rebuild_error, (type(self), self.args, self.__dict__)


def _rebuild_error(cls, args, state):
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


def _describe(failures: dict[str, str]) -> str:
    return "; ".join(f"{addr}: {why}" for addr, why in failures.items()) or "no replica tried"


class RetryableError(ClientError):
    """One attempt failed in a way another replica or a retry may fix."""

    def __init__(self, shard: int, address: str, code: grpc.StatusCode, details: str):
        super().__init__(f"shard {shard} replica {address}: {code.name}: {details}")
        self.shard, self.address, self.code, self.details = shard, address, code, details


class FatalError(ClientError):
    """A replica rejected the request (INVALID_ARGUMENT, FAILED_PRECONDITION, ...): retrying
    elsewhere would give the same answer, so the call fails at once."""

    def __init__(self, shard: int, address: str, code: grpc.StatusCode, details: str):
        super().__init__(f"shard {shard} replica {address} rejected the request: "
                         f"{code.name}: {details}")
        self.shard, self.address, self.code, self.details = shard, address, code, details


class ShardUnavailableError(ClientError):
    """No replica of a shard answered within the call's deadline and retry budget."""

    def __init__(self, shard: int, failures: dict[str, str], reason: str = "no replica answered"):
        super().__init__(f"shard {shard}: {reason} ({_describe(failures)})")
        self.shard, self.failures = shard, dict(failures)

    @property
    def replicas(self) -> list[str]:
        return list(self.failures)


class ShardDeadlineError(ShardUnavailableError):
    """The call's deadline passed before any replica of the shard answered."""

    def __init__(self, shard: int, failures: dict[str, str], timeout: float):
        super().__init__(shard, failures, reason=f"deadline of {timeout:g} s exceeded")
        self.timeout = timeout


class LookupFailedError(ClientError):
    """A fan-out where some shards failed; `errors` maps shard -> its error."""

    def __init__(self, errors: dict[int, ClientError]):
        first = errors[min(errors)]
        more = f" (and {len(errors) - 1} more shard(s): {sorted(errors)})" if len(errors) > 1 else ""
        super().__init__(f"{first}{more}")
        self.errors = errors

    @property
    def shards(self) -> list[int]:
        return sorted(self.errors)


class StreamClosedError(ClientError, RoundStreamClosedError):
    """A round was submitted to (or was still in flight on) a closed RoundStream."""


class StreamBusyError(ClientError):
    """No round slot freed before the round's deadline: `max_inflight` rounds unanswered."""
