"""A drop-in for the ``kenlm`` Python module, over local or sharded remote models.

    import client.kenlm_compat as kenlm      # instead of: import kenlm
    model = kenlm.Model("model_dir")         # or a cluster file, or an ARPA file
    model.score("this is a sentence .", bos=True, eos=True)
    for prob, ngram_length, oov in model.full_scores("this is a sentence ."):
        ...
    state, out = kenlm.State(), kenlm.State()
    model.BeginSentenceWrite(state)
    model.BaseScore(state, "this", out)

For a library that does ``import kenlm`` itself (pyctcdecode, ...), call
``client.kenlm_compat.install()`` before importing it: this module is then ``kenlm``.

Scoring is ngram.sentence_scoring's (KenLM's exact backoff semantics, float32 values as
kenlm returns them): on a local one-shard model a sentence costs one numba call, and so
does a word after a state; elsewhere each costs one batched lookup (through a cluster, a
network round trip: a decoder should ask the batched client API a whole step at once).
``score_batch``/``full_scores_batch`` score many sentences in one lookup.

Layouts (``Config().layout``): ``"compressed"`` scores the mmap-ed shard as stored;
``"decoded"`` first decodes it into a hash table in RAM (~32 bytes per n-gram, ~0.2 s
per million n-grams to open) and scores about twice as fast. The default: decoded for an
ARPA file (read into memory anyway, as kenlm does), compressed for a model directory.

``BaseScore``/``BaseFullScore`` answer repeated (state, word) pairs from a bounded cache
(a beam search asks the same ones again and again). States interoperate: a ``State`` of
this module, or any object the caller made with another ``kenlm.State`` class (such as
the real module's), tracked by identity while the caller holds it.

Differences from kenlm: a State keeps the words of the longest n-gram with a probability
that ends at the last word (KenLM further drops words that no longer n-gram extends; the
scores are the same, but two states that KenLM calls equal may compare unequal here).
Where an ARPA file lacks the suffix of one of its n-grams, the reported n-gram length
can be shorter than KenLM's (the probability is the same); see ngram/backoff_scoring.py.
"""
from __future__ import annotations

import os
import sys
import tempfile
import warnings
import weakref
from pathlib import Path
from typing import Iterator, NamedTuple

import numpy as np

from client.policy import CallPolicy
from ngram.arpa import import_arpa, open_compressed
from ngram.backend import open_backend
from ngram.limits import KENLM_WORD_CACHE_ENTRIES
from ngram.sentence_scoring import SentenceScorer
from ngram.vocab import BOS_ID, UNK_ID

__all__ = ["Model", "LanguageModel", "State", "Config", "FullScoreReturn", "LoadMethod", "ARPALoadComplain",
           "install"]


def install() -> object:
    """Registers this module as ``kenlm`` in ``sys.modules``, so that libraries which
    ``import kenlm`` themselves (pyctcdecode, ...) use it. Call it before importing them:
    a module that imported the real kenlm earlier keeps it (a warning says so)."""
    me = sys.modules[__name__]
    previous = sys.modules.get("kenlm")
    if previous is not None and previous is not me:
        warnings.warn("kenlm was already imported: modules that imported it before install() keep the real "
                      "module; call client.kenlm_compat.install() before importing them", stacklevel=2)
    sys.modules["kenlm"] = me
    return me


class LoadMethod:
    LAZY, POPULATE_OR_LAZY, POPULATE_OR_READ, READ, PARALLEL_READ = range(5)


class ARPALoadComplain:
    ALL, EXPENSIVE, NONE = range(3)


class Config:
    """kenlm's loading options (accepted; a model directory is always mmap-ed), plus
    ``layout``: "compressed", "decoded", or None (decoded for ARPA files only), and
    ``call_timeout``: for a cluster file, the deadline in seconds of each lookup (a
    ``BaseScore`` miss, a sentence, a batch); None for the client's default
    (client.policy.CallPolicy). A call past it raises (a dead server never hangs it)."""

    def __init__(self):
        self.load_method = LoadMethod.LAZY
        self.arpa_complain = ARPALoadComplain.ALL
        self.show_progress = False
        self.layout: str | None = None
        self.call_timeout: float | None = None


class FullScoreReturn(NamedTuple):
    log_prob: float
    ngram_length: int
    oov: bool


class State:
    """The context of the next word: the ids of its last words (at most N-1)."""

    __slots__ = ("words",)

    def __init__(self):
        self.words: tuple[int, ...] = ()

    def __eq__(self, other) -> bool:
        return isinstance(other, State) and self.words == other.words

    def __lt__(self, other: "State") -> bool:
        return self.words < other.words

    def __hash__(self) -> int:
        return hash(self.words)

    def __copy__(self) -> "State":
        s = State()
        s.words = self.words
        return s

    def __deepcopy__(self, memo) -> "State":
        return self.__copy__()

    def __repr__(self) -> str:
        return f"State({list(self.words)})"


class _ForeignStates:
    """Contexts of state objects this module cannot write into (the real kenlm's State
    has no attributes): kept by identity, with a reference so that an id is not reused
    while listed. An entry goes once nobody else holds its state (it cannot be passed
    again), swept when the table has doubled."""

    def __init__(self):
        self._by_id: dict[int, tuple[object, tuple]] = {}
        self._sweep_at = 1024

    def get(self, state) -> tuple:
        entry = self._by_id.get(id(state))
        if entry is None or entry[0] is not state:
            raise TypeError(f"{type(state).__module__}.{type(state).__name__} object was never written by this "
                            "model: call BeginSentenceWrite or NullContextWrite on it first (a copy of a "
                            "state of another kenlm module does not keep its context: use this module's State)")
        return entry[1]

    def set(self, state, words: tuple) -> None:
        self._by_id[id(state)] = (state, words)
        if len(self._by_id) >= self._sweep_at:
            self._sweep()

    def _sweep(self) -> None:
        # refcount 3 = this table's tuple + the loop variable + getrefcount's argument
        for key, (state, _) in list(self._by_id.items()):
            if sys.getrefcount(state) <= 3:
                self._by_id.pop(key, None)
        self._sweep_at = max(1024, 2 * len(self._by_id))


class _BoundedCache(dict):
    """A dict emptied when it reaches its bound: a hit costs one dict read (a beam search
    repeats a pair within a few steps, so an occasional reset costs little). Threads may
    share it: a race only computes a value twice."""

    def __init__(self, entries: int):
        super().__init__()
        self.entries = entries

    def add(self, key, value) -> None:
        if len(self) >= self.entries:
            self.clear()
        self[key] = value


def _is_arpa(path: Path) -> bool:
    try:
        with open_compressed(path) as f:
            head = f.read(4096)
    except OSError:
        return False
    return head.lstrip().startswith(b"\\data\\")


class Model:
    """``Model(path)``: a model directory, a cluster file, or an ARPA file (plain, .gz,
    .zst, .xz; imported into a temporary directory, exact float32 values)."""

    def __init__(self, path: str | os.PathLike | bytes, config: Config | None = None, *, backend=None):
        self.path = os.path.abspath(os.fsencode(path))  # bytes, as kenlm's
        layout = config.layout if config is not None else None
        call_timeout = config.call_timeout if config is not None else None
        self._tmp = None
        if backend is None:
            p = Path(os.fsdecode(path))
            if p.is_file() and _is_arpa(p):
                layout = layout or "decoded"
                self._tmp = tempfile.TemporaryDirectory(prefix="ngram-arpa-")
                weakref.finalize(self, self._tmp.cleanup)
                target = os.path.join(self._tmp.name, "model")
                import_arpa(p, target, num_shards=1, quantization="none")
                backend = open_backend(target)
            elif p.is_file() and call_timeout is not None:  # a cluster file
                backend = open_backend(p, policy=CallPolicy(timeout=call_timeout))
            else:
                backend = open_backend(p)
        self.backend = backend
        self._scorer = SentenceScorer(backend, layout)
        self.layout = self._scorer.layout
        self.order = self._scorer.order
        self.vocab = backend.vocab
        self._scores = _BoundedCache(KENLM_WORD_CACHE_ENTRIES)  # (context, word) -> word_in_context's
        self._cached = self._scores.get
        self._word_in_context = self._scorer.word_in_context
        self._in_vocab = _BoundedCache(KENLM_WORD_CACHE_ENTRIES)  # word -> bool
        self._foreign = _ForeignStates()
        if type(self).BaseScore is Model.BaseScore:  # (a subclass's override wins)
            self.BaseScore = self._base_score()

    # -- vocabulary
    def __contains__(self, word: str | bytes) -> bool:
        known = self._in_vocab.get(word)
        if known is None:
            known = self.index(word) != UNK_ID
            self._in_vocab.add(word, known)
        return known

    def index(self, word: str | bytes) -> int:
        """Id of a word; 0 (``<unk>``) when it is not in the vocabulary."""
        return self._scorer.word_id(word)

    def word(self, i: int) -> str:
        return self.vocab.word(i)

    def words(self) -> Iterator[str]:
        """Every word of the vocabulary, by id (0-2: <unk>, <s>, </s>)."""
        return (self.vocab.word_bytes(i).decode("utf-8", "surrogateescape") for i in range(len(self.vocab)))

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    # -- states
    def _write(self, state, words: tuple) -> None:
        try:
            state.words = words
        except AttributeError:  # another module's State (the real kenlm's has no attributes)
            self._foreign.set(state, words)

    def BeginSentenceWrite(self, state) -> None:
        self._write(state, (BOS_ID,))

    def NullContextWrite(self, state) -> None:
        self._write(state, ())

    def _score(self, in_state, word: str | bytes) -> tuple:
        """(log10, n-gram length, word id, next context) of word after in_state, cached."""
        try:
            ctx = in_state.words
        except AttributeError:
            ctx = self._foreign.get(in_state)
        key = (ctx, word)
        hit = self._cached(key)
        if hit is None:
            hit = self._word_in_context(ctx, word)
            self._scores.add(key, hit)
        return hit

    def BaseFullScore(self, in_state, word: str | bytes, out_state) -> FullScoreReturn:
        log10, length, wid, nxt = self._score(in_state, word)
        self._write(out_state, nxt)
        return FullScoreReturn(log10, length, wid == UNK_ID)

    def BaseScore(self, in_state, word: str | bytes, out_state) -> float:
        # the hot path of a decoder (~400-2,700 calls an utterance): _score, the cache's
        # add and _write inlined (each frame costs about a tenth of kenlm's whole call)
        try:
            ctx = in_state.words
        except AttributeError:
            ctx = self._foreign.get(in_state)
        key = (ctx, word)
        hit = self._cached(key)
        if hit is None:
            hit = self._word_in_context(ctx, word)
            scores = self._scores
            if len(scores) >= KENLM_WORD_CACHE_ENTRIES:
                scores.clear()
            scores[key] = hit
        try:
            out_state.words = hit[3]
        except AttributeError:
            self._foreign.set(out_state, hit[3])
        return hit[0]

    def _base_score(self):
        """BaseScore as a closure over this model's caches: the same steps, no attribute
        reads (a decoder calls it ~400-2,700 times an utterance; each read costs ~5% of
        kenlm's whole call)."""
        scores, cached, word_in_context, foreign = self._scores, self._cached, self._word_in_context, self._foreign
        limit = scores.entries

        def BaseScore(in_state, word, out_state):
            try:
                ctx = in_state.words
            except AttributeError:
                ctx = foreign.get(in_state)
            key = (ctx, word)
            hit = cached(key)
            if hit is None:
                hit = word_in_context(ctx, word)
                if len(scores) >= limit:
                    scores.clear()
                scores[key] = hit
            try:
                out_state.words = hit[3]
            except AttributeError:
                foreign.set(out_state, hit[3])
            return hit[0]

        BaseScore.__doc__ = Model.BaseScore.__doc__
        return BaseScore

    # -- sentences
    def full_scores(self, sentence: str | bytes, bos: bool = True, eos: bool = True
                    ) -> Iterator[tuple[float, int, bool]]:
        """(log10 prob, n-gram length, oov) of each word, then of ``</s>`` if eos."""
        return zip(*self._scorer.full_scores(sentence, bos, eos))

    def score(self, sentence: str | bytes, bos: bool = True, eos: bool = True) -> float:
        return self._scorer.score(sentence, bos, eos)

    def perplexity(self, sentence: str | bytes) -> float:
        words = self._scorer.count_words(sentence) + 1  # </s>
        return 10.0 ** (-self.score(sentence) / words)

    # -- batches (not in kenlm): many sentences, one lookup
    def full_scores_batch(self, sentences: list, bos: bool = True, eos: bool = True
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(prob float32[W], ngram_length int32[W], oov bool[W], offsets int64[S+1]):
        the words of sentence i are [offsets[i], offsets[i+1])."""
        return self._scorer.full_scores_batch(sentences, bos, eos)

    def score_batch(self, sentences: list, bos: bool = True, eos: bool = True) -> np.ndarray:
        return self._scorer.score_batch(sentences, bos, eos)

    def __repr__(self) -> str:
        return f"<Model from {self.path!r}, order {self.order}>"


LanguageModel = Model
