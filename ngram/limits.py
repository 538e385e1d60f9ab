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
MAX_BUILD_SHARDS = 1024             # shards one `ngram build` writes: each is a file and a reduce
                                    # task that reads every map task's index, so the cost grows
                                    # with shards^2; more shards than servers buys nothing

# -- scoring -----------------------------------------------------------------------------
DEFAULT_ALPHA = 0.4                  # Stupid Backoff's penalty per backed-off order (Brants et al.)

# -- prediction (ngram.predict) -----------------------------------------------------------
MAX_PREDICT_K = 1000                 # continuations one context may ask for (k is 1..this)
DEFAULT_PREDICT_K = 10
DEFAULT_COMPLETE_K = 5               # `ngram complete`: completions (and beam width)
DEFAULT_COMPLETE_WORDS = 3           # `ngram complete`: longest completion, in words
MAX_COMPLETE_WORDS = 50

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

# -- kenlm facade ------------------------------------------------------------------------
KENLM_WORD_CACHE_ENTRIES = 1 << 17   # (state, word) scores a kenlm_compat.Model keeps for BaseScore; word ids a SentenceScorer keeps
KENLM_CONTEXT_TABLE_MAX = 1 << 20    # contexts the facade's process-wide table interns (~70 B each); past it states keep tuples

# -- input -------------------------------------------------------------------------------
DEFAULT_MAX_LINE_BYTES = 1 << 20     # a corpus line longer than this is an error

# -- client ------------------------------------------------------------------------------
DEFAULT_CALL_TIMEOUT_S = 10.0        # client: deadline of one lookup call or stream round
DEFAULT_ATTEMPT_FRACTION = 0.3       # client: an attempt that can fail over gets this share of it
DEFAULT_EJECT_S = 1.0                # client: cool-down of a replica that failed (doubles per timeout)
DEFAULT_EJECT_MAX_S = 16.0           # client: longest cool-down of a replica that keeps timing out
# gRPC channel reconnect backoff (client and cluster tools). gRPC's defaults start at 1 s,
# grow to 120 s and give a connection attempt >= 20 s (issue 11 saw 13 s pass before a
# replica restarted after a 30 s outage was reached); these retry within a second.
RECONNECT_INITIAL_BACKOFF_MS = 100
# gRPC re-resolves a DNS name when a connection fails, but at most once per 30 s by default:
# a rescheduled pod (new IP, same name) was unreachable for 20 s+ in tests/test_discovery.py.
DNS_MIN_RERESOLVE_MS = 1000
RECONNECT_MAX_BACKOFF_MS = 1000
RECONNECT_MIN_CONNECT_TIMEOUT_MS = 1000

# -- decoders (client/beam.py, client/ctc.py) -------------------------------------------
DECODER_LM_CACHE_PAIRS = 1 << 20     # (state, word) answers an LMEngine keeps (two-generation LRU)
DECODER_BEAM_WIDTH = 100             # CTC beams kept per frame (pyctcdecode's default)
DECODER_BATCH_UTTERANCES = 64        # utterances a CTC decode_batch steps in lockstep

# -- deployment (ngram deploy) -------------------------------------------------------------
SERVER_PROCESS_OVERHEAD_BYTES = 256 << 20  # a server process's runtime (interpreter, numba, gRPC: ~200 MB) plus headroom
DEPLOY_MEMORY_LIMIT_FACTOR = 1.25    # a pod's memory limit over its request (page cache of the mapped shards)
DEPLOY_GRPC_PORT = 7000              # the port the image and the manifests serve on
DEPLOY_METRICS_PORT = 9100
DEFAULT_ROLLOUT_SWITCH_GRACE_S = 5.0  # `cluster rollout`: cluster file names the new model -> old one unloaded
ROLLOUT_LOAD_TIMEOUT_S = 600.0       # a server opening, verifying and warming a new model version
DEPLOY_TERMINATION_MARGIN_S = 5      # terminationGracePeriodSeconds = drain grace + this (the process's exit)

# -- spelling correction (client/spelling/) ----------------------------------------------
SPELL_MAX_DISTANCE = 2               # candidates: vocabulary words within this OSA distance (index supports 0-2)
SPELL_MIN_COUNT = 2                  # candidates: a word seen fewer times in the corpus is never proposed
SPELL_MAX_WORD_CHARS = 32            # a longer word (code points) is neither indexed nor corrected
SPELL_MAX_CANDIDATES = 12            # edit / real-word arcs kept per token (best error + frequency first)
SPELL_CACHE_TEXTS = 1 << 16          # typed texts whose arcs a CandidateGenerator keeps (then starts afresh)
# spelling search and Speller (client/spelling/search.py, speller.py)
MAX_SPELL_TEXT_CHARS = 10_000        # characters of one text a Speller corrects (more: InvalidQueryError)
MAX_SPELL_TOKENS = 500               # tokens of one text (one sentence of the search: rounds ~ tokens)
MAX_SPELL_BATCH_TEXTS = 1_000        # texts of one correct() call
DEFAULT_SPELL_BEAM = 8               # hypotheses per sentence kept at each token position (bench/tune_spell.py)
DEFAULT_SPELL_LAMBDA = 1.25          # weight of log10 P(typed | intended) against the LM's log10 (bench/tune_spell.py)
DEFAULT_SPELL_PRUNE_LOG10 = 8.0      # hypotheses further below their sentence's best are dropped
MAX_SPELL_SEARCH_ROUNDS = 3          # model rounds one spelling search may ask (then estimates decide: search.py)
DEFAULT_SPELL_ALTERNATIVES = 3       # alternatives listed per change
# the service (`ngram spell serve`: client/spelling/service.py, http.py); a request holds at
# most MAX_SPELL_BATCH_TEXTS texts of at most MAX_SPELL_TEXT_CHARS characters each
MAX_SPELL_REQUEST_CHARS = 200_000    # characters of all texts of one request together
MAX_SPELL_HTTP_BODY_BYTES = 8 << 20  # a POST /correct body (JSON) larger than this is refused (413)
DEFAULT_SPELL_TIMEOUT_S = 10.0       # deadline of a request that brings none (HTTP; gRPC without one)
DEFAULT_SPELL_MAX_INFLIGHT = 64      # requests admitted (running or queued) before RESOURCE_EXHAUSTED / 503
