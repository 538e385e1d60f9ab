"""Call policy of the remote backend: one place for its defaults, each described."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CallPolicy:
    timeout: float = 10.0            # overall deadline of one lookup call, seconds
    hedge_delay: float | None = 0.05  # hedge no earlier than this; None: never hedge
    hedge_factor: float = 2.0        # ...and no earlier than this times the shard's recent p95,
                                     # so large rounds do not double the load by default
    max_attempts: int = 6            # attempts per shard per call (hedges included)
    backoff_initial: float = 0.01    # first retry pause; doubles, full jitter, under the deadline
    backoff_max: float = 0.5
    eject_seconds: float = 2.0       # a replica that failed goes to the back of the line this long
    max_message_bytes: int = 64 << 20
    fanout_threads: int = 16         # threads waiting on per-shard calls in parallel
    stream_rounds: int = 8           # LookupStream: rounds in flight before submit() waits
