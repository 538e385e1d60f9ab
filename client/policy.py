"""Call policy of the remote backend: one place for its knobs, each described. Defaults
shared with the servers and tools come from ngram/limits.py; the rules that use these
knobs live in client/replicas.py (for unary calls and streams alike)."""
from __future__ import annotations

from dataclasses import dataclass

from ngram.errors import InvalidArgumentError
from ngram.limits import (DEFAULT_ATTEMPT_FRACTION, DEFAULT_CALL_TIMEOUT_S, DEFAULT_EJECT_MAX_S,
                          DEFAULT_EJECT_S, DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_STREAM_ROUNDS)


@dataclass(frozen=True)
class CallPolicy:
    timeout: float = DEFAULT_CALL_TIMEOUT_S  # overall deadline of one lookup call, seconds
    # An attempt that could still fail over to another replica gets at most this long
    # (None: `attempt_fraction` of the call's timeout); the last candidate gets all the
    # time left. So a frozen replica costs a fraction of the deadline, not all of it.
    attempt_timeout: float | None = None
    attempt_fraction: float = DEFAULT_ATTEMPT_FRACTION
    hedge_delay: float | None = 0.05  # hedge no earlier than this; None: never hedge
    hedge_factor: float = 2.0        # ...and no earlier than this times the fastest replica's recent p95,
                                     # so large rounds do not double the load by default
    max_attempts: int = 6            # attempts per shard per call (hedges included)
    backoff_initial: float = 0.01    # pause before going back to a replica already tried in
    backoff_max: float = 0.5         # the call: doubles, full jitter, under the deadline
    eject_seconds: float = DEFAULT_EJECT_S        # a failed replica goes to the back of the line
    eject_max_seconds: float = DEFAULT_EJECT_MAX_S  # ...doubling per consecutive timeout, up to this
    probe_timeout: float = 0.5       # Info probe of a replica in a timeout cool-down (replicas.py)
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    fanout_threads: int = 16         # threads waiting on per-shard calls in parallel
    stream_rounds: int = DEFAULT_STREAM_ROUNDS  # LookupStream: rounds in flight before submit() waits

    def __post_init__(self):
        if not self.timeout > 0:
            raise InvalidArgumentError(f"timeout must be > 0 seconds, got {self.timeout!r}")
        if self.attempt_timeout is not None and not self.attempt_timeout > 0:
            raise InvalidArgumentError(f"attempt_timeout must be > 0 seconds or None, got {self.attempt_timeout!r}")
        if not 0 < self.attempt_fraction <= 1:
            raise InvalidArgumentError(f"attempt_fraction must be in (0, 1], got {self.attempt_fraction!r}")
        if self.max_attempts < 1:
            raise InvalidArgumentError(f"max_attempts must be >= 1, got {self.max_attempts!r}")

    def attempt_budget(self, timeout: float) -> float:
        """Longest attempt that can still fail over, in a call of `timeout` seconds."""
        return self.attempt_timeout if self.attempt_timeout is not None else self.attempt_fraction * timeout
