"""A drop-in for the ``kenlm`` Python module, over local or sharded remote models.

    import client.kenlm_compat as kenlm      # instead of: import kenlm
    model = kenlm.Model("model_dir")         # or a cluster file, or an ARPA file
    model.score("this is a sentence .", bos=True, eos=True)
    for prob, ngram_length, oov in model.full_scores("this is a sentence ."):
        ...
    state, out = kenlm.State(), kenlm.State()
    model.BeginSentenceWrite(state)
    model.BaseScore(state, "this", out)

Scores are log10 with KenLM's exact backoff semantics (ngram.backoff_scoring). On a
local one-shard model a sentence is tokenized and scored word by word in one numba call
(ngram.kernels.sentence); elsewhere it costs one batched lookup (the chain of word i-1
is the context chain of word i). ``score_batch``/``full_scores_batch`` score many
sentences in one lookup.

Layouts (``Config().layout``): ``"compressed"`` scores the mmap-ed shard as stored
(~2.3 bytes per n-gram at 8 bits); ``"decoded"`` first decodes it into plain arrays in
RAM (ngram.decoded_trie: ~32 bytes per n-gram, a hash table probed once a level as
KenLM's probing model is; ~0.2 s per million n-grams to open) and scores about twice
as fast. The default: decoded for an ARPA file (read into memory anyway, as kenlm
does), compressed for a model directory.

Differences from kenlm: ``State`` keeps the last N-1 words (KenLM minimizes the state
to the words that can still extend; the scores are the same, and two states that
KenLM would call equal may compare unequal here). Where an ARPA file lacks the suffix of
one of its n-grams, the reported n-gram length can be shorter than KenLM's (the
probability is the same); see ngram/backoff_scoring.py.
"""
from __future__ import annotations

import os
import tempfile
import threading
import weakref
from array import array
from itertools import repeat
from pathlib import Path
from typing import Iterator, NamedTuple

import numpy as np

from ngram.backoff_scoring import stream_log10
from ngram.decoded_trie import DecodedTrie
from ngram.kernels.backoff import stream_rows
from ngram.kernels.sentence import (BOS_FLAG, EOS_FLAG, score_stream_compressed, score_stream_decoded,
                                    sentence_compressed, sentence_decoded)
from ngram.vocab import BOS_ID, EOS_ID, UNK_ID

__all__ = ["Model", "LanguageModel", "State", "Config", "FullScoreReturn", "LoadMethod"]


class LoadMethod:
    LAZY, POPULATE_OR_LAZY, POPULATE_OR_READ, READ, PARALLEL_READ = range(5)


LAYOUTS = ("compressed", "decoded")


class Config:
    """kenlm's loading options (accepted; a model directory is always mmap-ed), plus
    ``layout``: "compressed", "decoded", or None (decoded for ARPA files only)."""

    def __init__(self):
        self.load_method = LoadMethod.LAZY
        self.arpa_complain = 0
        self.show_progress = False
        self.layout: str | None = None


class FullScoreReturn(NamedTuple):
    log_prob: float
    ngram_length: int
    oov: bool


class State:
    """The context of the next word: the ids of the last (at most N-1) words."""

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

    def __repr__(self) -> str:
        return f"State({list(self.words)})"


def _utf8(text: str | bytes) -> bytes:
    return text if isinstance(text, bytes) else text.encode("utf-8", "surrogateescape")


def _single_local_shard(backend):
    """The ShardTable of a local model with one shard, else None."""
    model = getattr(backend, "model", backend)
    shards = getattr(model, "shards", None)
    if getattr(model, "num_shards", None) != 1 or not isinstance(shards, dict) or 0 not in shards:
        return None
    t = shards[0]
    return t if hasattr(t, "data") and hasattr(t, "layout") else None


_INT32 = next(c for c in "ilh" if array(c).itemsize == 4)


class _Scratch(threading.local):
    """Per-thread output buffers of the one-call sentence kernels. prob and length are
    array.array, written by the kernel through numpy views: slicing an array.array copies
    out plain floats and ints faster than numpy's slice + tolist (~0.5 us a sentence)."""

    def __init__(self):
        self.grow(256)

    def grow(self, n: int) -> None:
        self.prob, self.length = array("d", bytes(8 * n)), array(_INT32, bytes(4 * n))
        self.oov = np.zeros(n, np.bool_)
        self.oov_view = memoryview(self.oov)  # its tolist gives bools
        self.kernel_out = (np.frombuffer(self.prob, np.float64), np.frombuffer(self.length, np.int32), self.oov)


def _is_arpa(path: Path) -> bool:
    from ngram.arpa import open_compressed

    try:
        with open_compressed(path) as f:
            head = f.read(4096)
    except OSError:
        return False
    return head.lstrip().startswith(b"\\data\\")


def _open_backend(target: str):
    try:
        from ngram.backend import open_backend
    except ImportError:  # the core's backend layer is optional here; a model dir still works
        from ngram.model import Model as _M

        return _M.open(target)
    return open_backend(target)


class Model:
    """``Model(path)``: a model directory, a cluster file, or an ARPA file (plain, .gz,
    .zst, .xz; imported into a temporary directory, exact float32 values)."""

    def __init__(self, path: str | os.PathLike, config: Config | None = None, *, backend=None):
        self.path = str(path)
        self._tmp = None
        layout = getattr(config, "layout", None)
        if layout not in (None,) + LAYOUTS:
            raise ValueError(f"Config.layout must be one of {LAYOUTS} or None, not {layout!r}")
        if backend is None:
            p = Path(path)
            if p.is_file() and _is_arpa(p):
                layout = layout or "decoded"
                from ngram.arpa import import_arpa

                self._tmp = tempfile.TemporaryDirectory(prefix="ngram-arpa-")
                weakref.finalize(self, self._tmp.cleanup)
                target = os.path.join(self._tmp.name, "model")
                import_arpa(p, target, num_shards=1, quantization="none")
                backend = _open_backend(target)
            else:
                backend = _open_backend(str(path))
        self.backend = backend
        if getattr(backend, "value_kind", "backoff") != "backoff":
            raise ValueError(f"{path}: a {backend.value_kind} model has no backoff probabilities; "
                             "use the Stupid Backoff scorer instead")
        self.order = int(backend.order)
        self.vocab = backend.vocab
        # keyed by UTF-8 bytes: sentences are split as kenlm splits them (bytes.split(),
        # ASCII whitespace only; a no-break space stays inside its word)
        self._index = {self.vocab.word_bytes(i): i for i in range(len(self.vocab))}
        # A single local shard: a sentence is tokenized and scored in one numba call
        # (ngram.kernels.sentence), without the backend's per-call array set-up.
        # Kernels loaded (or compiled) now, not on the first sentence.
        self.layout = self._open_layout(layout or "compressed")
        if self.layout != "batched":
            self._scratch = _Scratch()
            self._sentence_args = self._trie_args + (self.vocab.packed(),)
            self._score_into(b"a", True, True)

    def _open_layout(self, layout: str) -> str:
        """Sets the kernels of a one-shard local model; "batched" (backend lookups) else."""
        table = _single_local_shard(self.backend)
        if table is None:
            if layout == "decoded":
                raise ValueError(f"{self.path}: the decoded layout needs a local model in one shard")
            return "batched"
        if layout == "decoded":
            self.decoded = DecodedTrie.from_shard(table)
            self._trie_args = self.decoded.args
            self._sentence_kernel, self._stream_kernel = sentence_decoded, score_stream_decoded
        else:
            self._trie_args = (table.data, table.layout)
            self._sentence_kernel, self._stream_kernel = sentence_compressed, score_stream_compressed
        return layout

    # -- vocabulary
    def __contains__(self, word: str | bytes) -> bool:
        return self.index(word) != UNK_ID

    def index(self, word: str | bytes) -> int:
        """Id of a word; 0 (``<unk>``) when it is not in the vocabulary."""
        return self._index.get(_utf8(word), UNK_ID)

    def word(self, i: int) -> str:
        return self.vocab.word(i)

    def words(self) -> Iterator[str]:
        """Every word of the vocabulary, by id (0-2: <unk>, <s>, </s>)."""
        return (w.decode("utf-8", "surrogateescape") for w in self._index)

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    # -- states
    def BeginSentenceWrite(self, state: State) -> None:
        state.words = (BOS_ID,)

    def NullContextWrite(self, state: State) -> None:
        state.words = ()

    def BaseFullScore(self, in_state: State, word: str, out_state: State) -> FullScoreReturn:
        wid = self.index(word)
        ctx = in_state.words[max(0, len(in_state.words) - (self.order - 1)):] if self.order > 1 else ()
        tokens = np.asarray(ctx + (wid,), np.int32)
        prob, length = self._stream(tokens, np.arange(len(tokens), dtype=np.int64))
        out_state.words = (ctx + (wid,))[max(0, len(ctx) + 1 - (self.order - 1)):] if self.order > 1 else ()
        return FullScoreReturn(float(prob[-1]), int(length[-1]), wid == UNK_ID)

    def BaseScore(self, in_state: State, word: str, out_state: State) -> float:
        return self.BaseFullScore(in_state, word, out_state).log_prob

    # -- sentences
    def _tokens(self, sentence: str | bytes, bos: bool, eos: bool) -> np.ndarray:
        words = _utf8(sentence).split()
        ids = np.empty(len(words) + bos + eos, np.int32)
        if bos:
            ids[0] = BOS_ID
        ids[bos:bos + len(words)] = np.fromiter(map(self._index.get, words, repeat(UNK_ID)), np.int32, len(words))
        if eos:
            ids[-1] = EOS_ID
        return ids

    def _stream(self, tokens: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if not len(tokens):
            return np.zeros(0), np.zeros(0, np.int32)
        if self.layout != "batched" and pos[-1] == len(pos) - 1:  # one stream
            prob, length = np.empty(len(tokens), np.float64), np.empty(len(tokens), np.int32)
            self._stream_kernel(*self._trie_args, np.ascontiguousarray(tokens, dtype=np.int32), 0, prob, length)
            return prob, length
        ids, lengths = stream_rows(tokens, pos, self.order)
        ch = self.backend.lookup(ids, lengths)
        return stream_log10(ch.match_len, ch.prob, ch.backoff, pos, self.order)

    def _score_into(self, sentence: str | bytes, bos: bool, eos: bool) -> int:
        """Scores one sentence into this thread's buffers with the one-call kernel; the
        count. (Bytes go to numba as they are: np.frombuffer costs more than a short walk.)"""
        data = _utf8(sentence)
        flags = (BOS_FLAG if bos else 0) | (EOS_FLAG if eos else 0)
        n = self._sentence_kernel(*self._sentence_args, data, flags, *self._scratch.kernel_out)
        if n < 0:  # a sentence longer than the buffers: grow them, once
            self._scratch.grow(-n)
            n = self._sentence_kernel(*self._sentence_args, data, flags, *self._scratch.kernel_out)
        return n

    def _batched_sentence(self, sentence: str | bytes, bos: bool, eos: bool
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(log10 prob, n-gram length, oov) of each scored word, by one backend lookup."""
        tokens = self._tokens(sentence, bos, eos)
        prob, length = self._stream(tokens, np.arange(len(tokens), dtype=np.int64))
        s = 1 if bos else 0
        return prob[s:], length[s:], tokens[s:] == UNK_ID

    def full_scores(self, sentence: str, bos: bool = True, eos: bool = True) -> Iterator[tuple[float, int, bool]]:
        """(log10 prob, n-gram length, oov) of each word, then of ``</s>`` if eos."""
        if self.layout == "batched":
            prob, length, oov = self._batched_sentence(sentence, bos, eos)
            return zip(prob.tolist(), length.tolist(), oov.tolist())
        n = self._score_into(sentence, bos, eos)
        out = self._scratch  # (slices copy: the buffers are reused by the next sentence)
        return zip(out.prob[:n], out.length[:n], out.oov_view[:n].tolist())

    def score(self, sentence: str, bos: bool = True, eos: bool = True) -> float:
        if self.layout == "batched":
            return sum(self._batched_sentence(sentence, bos, eos)[0].tolist())
        return sum(self._scratch.prob[:self._score_into(sentence, bos, eos)])

    def perplexity(self, sentence: str) -> float:
        words = len(_utf8(sentence).split()) + 1  # </s>
        return 10.0 ** (-self.score(sentence) / words)

    # -- batches (not in kenlm): many sentences, one lookup
    def full_scores_batch(self, sentences: list[str], bos: bool = True, eos: bool = True
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(prob float64[W], ngram_length int32[W], oov bool[W], offsets int64[S+1]):
        the words of sentence i are [offsets[i], offsets[i+1])."""
        toks = [self._tokens(s, bos, eos) for s in sentences]
        lens = np.fromiter((len(t) for t in toks), np.int64, len(toks))
        tokens = np.concatenate(toks) if toks else np.zeros(0, np.int32)
        starts = np.concatenate([[0], np.cumsum(lens)])
        pos = np.arange(len(tokens), dtype=np.int64) - np.repeat(starts[:-1], lens)
        prob, length = self._stream(tokens, pos)
        keep = pos >= (1 if bos else 0)
        offsets = np.concatenate([[0], np.cumsum(lens - (1 if bos else 0))])
        return prob[keep], length[keep], tokens[keep] == UNK_ID, offsets

    def score_batch(self, sentences: list[str], bos: bool = True, eos: bool = True) -> np.ndarray:
        prob, _, _, offsets = self.full_scores_batch(sentences, bos, eos)
        sums = np.concatenate([[0.0], np.cumsum(prob)])
        return sums[offsets[1:]] - sums[offsets[:-1]]

    def __repr__(self) -> str:
        return f"<Model from {self.path!r}, order {self.order}>"


LanguageModel = Model
