"""The beam-search engine's language-model side: interned n-gram states and batched,
cached rounds, shared by every decoder on the client (CTC, spelling correction).

A hypothesis carries its LM context as a *state*: an int naming the tuple of its last
(at most order-1) word ids in a context table. Equal contexts get the same int, so
hypotheses of different utterances that end in the same words share their LM answers.
A decoder step hands the engine every (state, word) extension of every live hypothesis
of every utterance at once:

    engine = LMEngine(Client.open("model_dir") | backend | "cluster.json")
    s0 = engine.start_states(n)                        # <s> contexts
    log10, nxt = engine.extend(states, word_ids)       # one round for the whole step

`extend` removes duplicates, answers pairs it has already asked from its cache, and asks
the model for the rest in one round (`Scorer.score_pairs`: one lookup, i.e. one RPC per
shard over a cluster). `prefetch` sends a round for likely next pairs without waiting
(over `stream_rounds`), so the model works while the decoder does its own bookkeeping.
"""
from __future__ import annotations

import os
from concurrent.futures import Future

import numpy as np

from ngram.chains import BACKOFF
from ngram.limits import DECODER_LM_CACHE_PAIRS
from ngram.vocab import BOS_ID, EOS_ID

NULL_STATE = 0   # the empty context (no <s>)
START_STATE = 1  # the context "<s>"


def as_client(lm):
    """A Client over `lm`: a Client, a backend, or a path (model directory or cluster file)."""
    from client.client import Client
    if isinstance(lm, Client):
        return lm
    if isinstance(lm, (str, os.PathLike)):
        return Client.open(lm)
    return Client(lm)


class LMEngine:
    """Batched, cached (state, word) -> (log10 p(word | state), next state) over one model.

    Not thread-safe: one engine per decoding thread (they may share one Client).
    """

    def __init__(self, lm, *, cache_pairs: int = DECODER_LM_CACHE_PAIRS, float32: bool | None = None):
        self.client = as_client(lm)
        self.order = int(self.client.order)
        self.vocab = self.client.vocab
        self.width = max(self.order - 1, 0)
        # KenLM returns float32 scores; backoff (ARPA) models round to it so decoders
        # see the numbers KenLM-based decoders see.
        self.float32 = (self.client.backend.value_kind == BACKOFF) if float32 is None else float32
        self._contexts: list[tuple[int, ...]] = []
        self._index: dict[tuple[int, ...], int] = {}
        self._ctx = np.zeros((16, max(self.width, 1)), np.int32)
        self._len = np.zeros(16, np.int32)
        assert self.intern(()) == NULL_STATE
        assert self.intern((BOS_ID,) if self.width else ()) == (START_STATE if self.width else NULL_STATE)
        # two-generation LRU: hits in `_old` move to `_young`; a full `_young` becomes `_old`
        self.cache_pairs = int(cache_pairs)
        self._young: dict[int, tuple[float, int]] = {}
        self._old: dict[int, tuple[float, int]] = {}
        self._pending: list[tuple[np.ndarray, Future]] = []
        self._pool: ThreadPoolExecutor | None = None  # the prefetch thread, started on first use
        self.rounds = 0        # rounds asked of the model
        self.pairs_asked = 0   # distinct pairs sent to the model
        self.pairs_seen = 0    # pairs handed to extend (before dedup and cache)

    # -- states ------------------------------------------------------------------------
    def intern(self, context: tuple[int, ...]) -> int:
        """The state of a context (its last order-1 word ids are kept)."""
        context = tuple(context[max(0, len(context) - self.width):]) if self.width else ()
        sid = self._index.get(context)
        if sid is None:
            sid = len(self._contexts)
            if sid == len(self._len):
                self._ctx = np.concatenate([self._ctx, np.zeros_like(self._ctx)])
                self._len = np.concatenate([self._len, np.zeros_like(self._len)])
            self._contexts.append(context)
            self._index[context] = sid
            self._ctx[sid, :len(context)] = context
            self._len[sid] = len(context)
        return sid

    def context(self, state: int) -> tuple[int, ...]:
        return self._contexts[state]

    def start_states(self, n: int, bos: bool = True) -> np.ndarray:
        return np.full(n, START_STATE if (bos and self.width) else NULL_STATE, np.int64)

    def word_ids(self, words: list[str]) -> np.ndarray:
        """Exact-string vocabulary ids (KenLM's lookup: no case folding); unknown -> 0."""
        return self.vocab.ids(words) if words else np.zeros(0, np.int32)

    # -- rounds ------------------------------------------------------------------------
    def extend(self, states, words) -> tuple[np.ndarray, np.ndarray]:
        """(log10 float64[P], next_states int64[P]) of every pair, in one model round
        for the distinct pairs not cached (none when all are)."""
        states = np.asarray(states, np.int64)
        words = np.asarray(words, np.int64)
        self.pairs_seen += len(states)
        if len(states) == 0:
            return np.zeros(0), np.zeros(0, np.int64)
        keys, inverse = np.unique((states << 32) | words, return_inverse=True)
        log10 = np.empty(len(keys))
        nxt = np.empty(len(keys), np.int64)
        found = [self._get(k) for k in keys.tolist()]
        miss = np.fromiter((f is None for f in found), bool, len(found))
        hit = np.flatnonzero(~miss)
        if len(hit):
            vals = [found[i] for i in hit.tolist()]
            log10[hit] = [v[0] for v in vals]
            nxt[hit] = [v[1] for v in vals]
        todo = np.flatnonzero(miss)
        if len(todo):
            self._ask(keys[todo], log10, nxt, todo)
        return log10[inverse.ravel()], nxt[inverse.ravel()]

    def end_scores(self, states) -> np.ndarray:
        """log10 p(</s> | state) of each state."""
        states = np.asarray(states, np.int64)
        return self.extend(states, np.full(len(states), EOS_ID, np.int64))[0]

    def prefetch(self, states, words) -> None:
        """Start a round for pairs a later `extend` will likely ask, without waiting.
        Its answers enter the cache at the next `extend` (or `drain`)."""
        states = np.asarray(states, np.int64)
        keys = np.unique((states << 32) | np.asarray(words, np.int64))
        keys = keys[[self._get(k) is None for k in keys.tolist()]] if len(keys) else keys
        if len(keys) == 0:
            return
        from concurrent.futures import ThreadPoolExecutor
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="lm-prefetch")
        ctx, clen, w = self._pairs(keys)
        self.rounds += 1
        self.pairs_asked += len(keys)
        self._pending.append((keys, self._pool.submit(self.client.scorer.score_pairs, ctx, clen, w)))

    def drain(self, timeout: float | None = None) -> None:
        """Wait for prefetched rounds and cache their answers."""
        pending, self._pending = self._pending, []
        for keys, fut in pending:
            log10, _ = fut.result(timeout=timeout)
            self._store(keys, np.asarray(log10, np.float64))

    # -- internals ---------------------------------------------------------------------
    def _get(self, key: int):
        v = self._young.get(key)
        if v is None:
            v = self._old.get(key)
            if v is not None:
                self._put(key, v)
        return v

    def _put(self, key: int, value: tuple[float, int]) -> None:
        if len(self._young) >= self.cache_pairs:
            self._old, self._young = self._young, {}
        self._young[key] = value

    def _pairs(self, keys: np.ndarray):
        st = (keys >> 32).astype(np.int64)
        return self._ctx[st, :self.width], self._len[st], (keys & 0xFFFFFFFF).astype(np.int32)

    def _ask(self, keys, log10, nxt, where) -> None:
        if self._pending:
            self.drain()
            # the prefetched answers may cover some of these keys now
            again = [self._get(k) for k in keys.tolist()]
            have = np.fromiter((v is not None for v in again), bool, len(again))
            for i in np.flatnonzero(have).tolist():
                log10[where[i]], nxt[where[i]] = again[i]
            keys, where = keys[~have], where[~have]
            if len(keys) == 0:
                return
        ctx, clen, w = self._pairs(keys)
        got, _length = self.client.scorer.score_pairs(ctx, clen, w)
        self.rounds += 1
        self.pairs_asked += len(keys)
        log10[where], nxt[where] = self._store(keys, np.asarray(got, np.float64))

    def _store(self, keys: np.ndarray, got: np.ndarray):
        if self.float32:
            got = got.astype(np.float32).astype(np.float64)
        st = (keys >> 32).tolist()
        ws = (keys & 0xFFFFFFFF).tolist()
        nxt = np.fromiter((self.intern(self._contexts[s] + (w,)) for s, w in zip(st, ws)), np.int64, len(st))
        for k, g, n in zip(keys.tolist(), got.tolist(), nxt.tolist()):
            self._put(k, (g, n))
        return got, nxt

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
