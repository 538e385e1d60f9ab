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

# -- serving -----------------------------------------------------------------------------
DEFAULT_MAX_BATCH = 1_000_000        # n-grams per Lookup request a server accepts
DEFAULT_MAX_MESSAGE_BYTES = 64 << 20  # gRPC message limit, both directions, server and client
DEFAULT_SERVER_MAX_INFLIGHT = 16     # lookups + open streams a server runs before RESOURCE_EXHAUSTED
DEFAULT_STREAM_WINDOW = 8            # requests of one LookupStream a server answers concurrently
DEFAULT_STREAM_ROUNDS = 8            # client: rounds in flight on a stream before submit() waits
DEFAULT_DRAIN_GRACE_S = 10.0         # seconds a draining server finishes accepted requests

# -- kenlm facade ------------------------------------------------------------------------
KENLM_WORD_CACHE_ENTRIES = 1 << 17   # (state, word) scores a kenlm_compat.Model keeps for BaseScore

# -- input -------------------------------------------------------------------------------
DEFAULT_MAX_LINE_BYTES = 1 << 20     # a corpus line longer than this is an error
