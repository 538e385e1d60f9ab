"""One home for the limits and defaults shared by the core, builder, servers and client.

Every module that needs one of these imports it from here; tests/test_defaults.py checks
that each documented default (README, CLI help) equals the value defined here.
"""
from __future__ import annotations

# -- model -------------------------------------------------------------------------------
MAX_ORDER = 16                      # longest n-gram any model, build or import may hold
LAYOUTS = ("compressed", "decoded")  # table layouts of an opened shard
DEFAULT_LAYOUT = "compressed"
QUANTIZATIONS = ("none", "8", "16")  # backoff-model value quantization, as the CLI spells it

# -- scoring -----------------------------------------------------------------------------
DEFAULT_ALPHA = 0.4                  # Stupid Backoff's penalty per backed-off order (Brants et al.)

# -- serving -----------------------------------------------------------------------------
DEFAULT_MAX_BATCH = 1_000_000        # n-grams per Lookup request a server accepts
DEFAULT_MAX_MESSAGE_BYTES = 64 << 20  # gRPC message limit, both directions, server and client
DEFAULT_SERVER_MAX_INFLIGHT = 16     # lookups + open streams a server runs before RESOURCE_EXHAUSTED
DEFAULT_SERVER_HOST = "127.0.0.1"    # servers bind loopback unless told otherwise
MAX_PORT = 65535
DEFAULT_CLUSTER_START_TIMEOUT_S = 120.0  # `cluster up`: every server healthy within this
DEFAULT_CLUSTER_STOP_GRACE_S = 30.0  # `cluster down`: SIGKILL a server still running after this
DEFAULT_STREAM_WINDOW = 8            # requests of one LookupStream a server answers concurrently
DEFAULT_STREAM_ROUNDS = 8            # client: rounds in flight on a stream before submit() waits
DEFAULT_DRAIN_GRACE_S = 30.0         # seconds a draining server finishes accepted requests

# -- input -------------------------------------------------------------------------------
DEFAULT_MAX_LINE_BYTES = 1 << 20     # a corpus line longer than this is an error
