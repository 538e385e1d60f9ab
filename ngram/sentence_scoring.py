"""KenLM's per-sentence and per-word scoring (``full_scores``, ``score``, ``BaseScore``)
over any backend: the engine under the kenlm facade (client.kenlm_compat).

Two paths, chosen once when the scorer is made:
- a local model in one shard (``LocalBackend`` or ``Model``): a sentence is tokenized
  and scored in one numba call (ngram.kernels.sentence), and one word after a context in
  another (ngram.kernels.word_score), against the shard as stored ("compressed") or
  decoded into RAM ("decoded", ngram.decoded_trie);
- anything else (several shards, a cluster): one batched ``lookup`` per sentence or
  batch of sentences (the chain of word i-1 is the context chain of word i), and one per
  word after a context.

Scores are log10 with KenLM's exact backoff semantics (ngram.backoff_scoring), returned
as kenlm returns them: float32 values (as Python floats).
"""
from __future__ import annotations

import threading
from array import array

import numpy as np

from .backend import LocalBackend
from .backoff_scoring import MISSING_UNK_PROB, stream_log10
from .chains import BACKOFF
from .errors import InvalidArgumentError, InvalidQueryError
from .kernels.backoff import stream_rows
from .kernels.sentence import BOS_FLAG, EOS_FLAG, sentence_compressed, sentence_decoded
from .kernels.word_score import (word_id, word_score_compressed, word_score_compressed_new, word_score_decoded,
                                 word_score_decoded_new)
from .limits import KENLM_WORD_CACHE_ENTRIES, LAYOUTS, MAX_ORDER
from .model import Model
from .tokenizer import Tokenizer
from .vocab import BOS_ID, EOS_ID, UNK_ID

BATCHED = "batched"  # the layout name of the lookup path
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


def local_shard(source):
    """The ShardTable of a local model held in one shard (a Model or LocalBackend), else None."""
    model = source.model if isinstance(source, LocalBackend) else source
    if isinstance(model, Model) and model.num_shards == 1 and 0 in model.shards:
        return model.shards[0]
    return None


def _entry_point(kernel, args: tuple):
    """The compiled function behind a numba dispatcher for the types of ``args`` (called
    once with them here). A per-word call from Python is mostly dispatch: the dispatcher
    types every argument on every call (~1 us for five, as long as the walk itself), the
    entry point of the one signature a scorer uses does not. Every later call must pass
    arguments of exactly these types (the scorer's own arrays and ints, a tuple of
    MAX_ORDER - 1 ints, an int). Falls back to the dispatcher if numba does not expose it."""
    kernel(*args)
    try:
        (signature,) = kernel.signatures
        return kernel.overloads[signature].entry_point
    except (AttributeError, KeyError, ValueError):
        return kernel


class SentenceScorer:
    """KenLM's scores of sentences and of words after contexts, over a backend of backoff
    probabilities (a ``Backend``, or a ``Model``).

    ``layout``: "compressed" or "decoded" for a local one-shard model ("decoded" decodes
    the shard into RAM first: ~8-15 bytes per n-gram, about twice as fast), None for the
    model's own; any other backend is scored by batched lookups (``layout`` "batched").
    """

    def __init__(self, backend, layout: str | None = None):
        if layout not in (None,) + LAYOUTS:
            raise InvalidArgumentError(f"layout must be one of {LAYOUTS} or None, not {layout!r}")
        if backend.value_kind != BACKOFF:
            raise InvalidQueryError(f"a {backend.value_kind} model has no backoff probabilities; "
                                    "use the Stupid Backoff scorer (ngram.scoring.Scorer) instead")
        self.backend = backend
        # the model's own tokenizer: kenlm's split (ASCII whitespace), lowercased only
        # for a model built lowercased; a str with a lone surrogate is an InvalidQueryError
        tokenizer = Tokenizer.from_manifest(backend.manifest) if isinstance(backend, Model) else backend.tokenizer
        self._normalize = tokenizer.normalize
        self._raw_bytes_ok = not tokenizer.lowercase  # bytes go to the kernels as they are
        self.order = int(backend.order)
        self.vocab = backend.vocab
        self._lookup = backend.lookup
        self._pad = (-1,) * (MAX_ORDER - 1)  # the word kernels' context: one width, one compiled signature
        self._word_ids: dict = {}  # word as given -> id, for the per-word kernels (bounded)
        table = local_shard(backend)
        if table is None:
            if layout == "decoded":
                raise InvalidArgumentError("the decoded layout needs a local model in one shard")
            self.layout = BATCHED
            return
        if layout == "decoded":
            table.decode_in_memory()
        packed = self.vocab.packed()
        if table.decoded is not None:
            self.layout = "decoded"
            trie = table.decoded.args
            self._sentence_kernel, self._word_kernel = sentence_decoded, word_score_decoded
            new_word_kernel = word_score_decoded_new
        else:
            self.layout = "compressed"
            trie = (table.data, table.layout)
            self._sentence_kernel, self._word_kernel = sentence_compressed, word_score_compressed
            new_word_kernel = word_score_compressed_new
        self._kernel_args = trie + (packed,)  # the trie, then the packed vocabulary
        self._packed = packed
        self._scratch = _Scratch()
        # the kernels loaded (or compiled) now, not on the first sentence
        self._score_into(b"a", True, True)
        self._word_call = _entry_point(self._word_kernel, trie + (self._pad, 0))
        self._word_args = trie
        self._word_id_call = _entry_point(word_id, (packed, b"a"))
        self._new_word_call = _entry_point(new_word_kernel, trie + (packed, self._pad, b"a"))
        self.word_in_context = self._local_word_in_context()  # the method, without attribute reads

    # -- words
    def count_words(self, sentence: str | bytes) -> int:
        """Words of a sentence as the model splits it (kenlm's perplexity divides by this + 1)."""
        return len(self._normalize(sentence).split())

    def word_id(self, word: str | bytes) -> int:
        """Id of a word looked up whole, as kenlm's vocabulary does; 0 (<unk>) if absent."""
        return self.vocab.id(word)

    def word_in_context(self, context: tuple[int, ...], word: str | bytes) -> tuple[float, int, int, tuple]:
        """KenLM's FullScore of ``word`` after ``context`` (ids, oldest first, any length:
        only the last N-1 count): (log10, n-gram length, word id, the next word's
        context). The next context is as short as gives the same scores (KenLM's state
        minimization): the words of the longest n-gram with a probability."""
        if type(context) is not tuple:
            context = tuple(int(i) for i in context)
        n = len(context)
        if n >= self.order:
            context = context[n - self.order + 1:] if self.order > 1 else ()
            n = len(context)
        if self.layout == BATCHED:
            data = word if type(word) is bytes and self._raw_bytes_ok else self._normalize(word)
            return self._word_by_lookup(context, data)
        wid = self._word_ids.get(word)
        if wid is None:
            wid = self._word_id_of(word)
        log10, length, m = self._word_call(*self._word_args, self._pad[n:] + context, wid)
        return log10, length, wid, ((context + (wid,))[n + 1 - m:] if m else ())

    def _local_word_in_context(self):
        """word_in_context for a local model as a closure: a decoder calls it per word, and
        its attribute reads cost about as much as the kernel call."""
        call, new_call, args, pad, ids = self._word_call, self._new_word_call, self._word_args, self._pad, self._word_ids
        packed, normalize, raw_bytes_ok = self._packed, self._normalize, self._raw_bytes_ok
        keep = self.order - 1

        def word_in_context(context, word):
            if type(context) is not tuple:
                context = tuple(int(i) for i in context)
            n = len(context)
            if n > keep:
                context = context[n - keep:] if keep else ()
                n = keep
            wid = ids.get(word)
            if wid is None:  # a word's first time: one call finds its id and scores it
                data = word if type(word) is bytes and raw_bytes_ok else normalize(word)
                log10, length, wid, m = new_call(*args, packed, pad[n:] + context, data)
                if len(ids) >= KENLM_WORD_CACHE_ENTRIES:
                    ids.clear()
                ids[word] = wid
            else:
                log10, length, m = call(*args, pad[n:] + context, wid)
            return log10, length, wid, ((context + (wid,))[n + 1 - m:] if m else ())

        word_in_context.__doc__ = SentenceScorer.word_in_context.__doc__
        return word_in_context

    def _word_id_of(self, word: str | bytes) -> int:
        """The id the per-word kernels get for ``word``, remembered (the dict is emptied
        when it holds KENLM_WORD_CACHE_ENTRIES words)."""
        data = word if type(word) is bytes and self._raw_bytes_ok else self._normalize(word)
        wid = int(self._word_id_call(self._packed, data))
        if len(self._word_ids) >= KENLM_WORD_CACHE_ENTRIES:
            self._word_ids.clear()
        self._word_ids[word] = wid
        return wid

    def _word_by_lookup(self, ctx: tuple, data: bytes) -> tuple[float, int, int, tuple]:
        """word_in_context by one lookup of two rows: the n-gram (context, word) for the
        probability, the context for its backoffs, added in float32 as KenLM adds them."""
        wid = self.word_id(data)
        n = len(ctx)
        ids = np.zeros((2, self.order), np.int32)
        ids[0, :n + 1] = ctx + (wid,)
        ids[1, :n] = ctx
        rows = 2 if n else 1
        ch = self._lookup(ids[:rows], np.array([n + 1, n], np.int32)[:rows])
        m = int(ch.match_len[0])
        log10, length = (ch.prob[0, m - 1], m) if m else (np.float32(MISSING_UNK_PROB), 1)
        for j in range(length, n + 1):
            log10 = np.float32(log10 + ch.backoff[1, j - 1])
        return float(log10), length, wid, ((ctx + (wid,))[n + 1 - m:] if m else ())

    # -- sentences
    def tokens(self, sentence: str | bytes, bos: bool = True, eos: bool = True) -> np.ndarray:
        """Ids of a sentence's words (unknown -> 0), with <s> first and </s> last if asked."""
        words = self._normalize(sentence).split()
        ids = np.empty(len(words) + bos + eos, np.int32)
        if bos:
            ids[0] = BOS_ID
        if words:
            ids[bos:bos + len(words)] = self.vocab.encode_lines(b" ".join(words), boundaries=False)[0]
        if eos:
            ids[-1] = EOS_ID
        return ids

    def _stream(self, tokens: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(log10, n-gram length, match length) of each token of concatenated streams."""
        if not len(tokens):
            return np.zeros(0), np.zeros(0, np.int32), np.zeros(0, np.int32)
        ids, lengths = stream_rows(tokens, pos, self.order)
        ch = self._lookup(ids, lengths)
        prob, length = stream_log10(ch.match_len, ch.prob, ch.backoff, pos, self.order)
        return prob, length, ch.match_len

    def _score_into(self, sentence: str | bytes, bos: bool, eos: bool) -> int:
        """Scores one sentence into this thread's buffers with the one-call kernel; the
        count. (Bytes go to numba as they are: np.frombuffer costs more than a short walk.)"""
        data = sentence if type(sentence) is bytes and self._raw_bytes_ok else self._normalize(sentence)
        flags = (BOS_FLAG if bos else 0) | (EOS_FLAG if eos else 0)
        scratch = self._scratch
        n = self._sentence_kernel(*self._kernel_args, data, flags, *scratch.kernel_out)
        if n < 0:  # a sentence longer than the buffers: grow them, once
            scratch.grow(-n)
            n = self._sentence_kernel(*self._kernel_args, data, flags, *scratch.kernel_out)
        return n

    def full_scores(self, sentence: str | bytes, bos: bool = True, eos: bool = True
                    ) -> tuple[list[float], list[int], list[bool]]:
        """(log10, n-gram length, oov) of each word, then of </s> if eos: three lists."""
        if self.layout == BATCHED:
            tokens = self.tokens(sentence, bos, eos)
            prob, length, _ = self._stream(tokens, np.arange(len(tokens), dtype=np.int64))
            s = 1 if bos else 0
            return (prob[s:].astype(np.float32).tolist(), length[s:].tolist(), (tokens[s:] == UNK_ID).tolist())
        n = self._score_into(sentence, bos, eos)
        out = self._scratch  # read after the call: a long sentence replaces the buffers
        return array("f", out.prob[:n]).tolist(), out.length[:n].tolist(), out.oov_view[:n].tolist()

    def score(self, sentence: str | bytes, bos: bool = True, eos: bool = True) -> float:
        """The sentence's total log10 (a float32 value, as kenlm's)."""
        if self.layout == BATCHED:
            return float(np.float32(sum(self.full_scores(sentence, bos, eos)[0])))
        n = self._score_into(sentence, bos, eos)
        return float(np.float32(sum(self._scratch.prob[:n])))  # read after the call, as above

    def full_scores_batch(self, sentences: list, bos: bool = True, eos: bool = True
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(prob float32[W], ngram_length int32[W], oov bool[W], offsets int64[S+1]) of
        many sentences in one lookup: the words of sentence i are [offsets[i], offsets[i+1])."""
        split = [self._normalize(s).split() for s in sentences]
        counts = np.fromiter(map(len, split), np.int64, len(split))
        flat = b" ".join(w for words in split for w in words)
        ids = self.vocab.encode_lines(flat, boundaries=False)[0] if flat else np.zeros(0, np.int32)
        lens = counts + bos + eos
        starts = np.concatenate([[0], np.cumsum(lens)])
        tokens = np.empty(int(starts[-1]), np.int32)
        pos = np.arange(len(tokens), dtype=np.int64) - np.repeat(starts[:-1], lens)
        word_at = (pos >= bos) & (pos < lens.repeat(lens) - eos)
        tokens[word_at] = ids
        if bos:
            tokens[starts[:-1]] = BOS_ID
        if eos:
            tokens[starts[1:] - 1] = EOS_ID
        prob, length, _ = self._stream(tokens, pos)
        keep = pos >= bos
        offsets = np.concatenate([[0], np.cumsum(lens - bos)])
        return prob[keep].astype(np.float32), length[keep], tokens[keep] == UNK_ID, offsets

    def score_batch(self, sentences: list, bos: bool = True, eos: bool = True) -> np.ndarray:
        """Total log10 of each sentence (float32[S])."""
        prob, _, _, offsets = self.full_scores_batch(sentences, bos, eos)
        sums = np.concatenate([[0.0], np.cumsum(prob, dtype=np.float64)])
        return (sums[offsets[1:]] - sums[offsets[:-1]]).astype(np.float32)
