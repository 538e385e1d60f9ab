"""A CTC beam-search decoder with word-level n-gram fusion, on the batched client.

Its API mirrors pyctcdecode's, so switching is a one-line change:

    from client.ctc import build_ctcdecoder
    decoder = build_ctcdecoder(labels, "model_dir" | "cluster.json" | client | backend,
                               alpha=0.5, beta=1.5)
    text = decoder.decode(logits)                       # logits: [frames, labels]
    texts = decoder.decode_batch(None, logits_list)     # utterances share LM rounds

With equal alpha, beta, beam width and pruning parameters it finds pyctcdecode's
(+ KenLM) best paths. The differences: `unigrams=None` means the model's own vocabulary
(pyctcdecode then reads the ARPA's unigrams, or uses none for a binary model), and
`decode_batch` steps all utterances together in one process (the pool argument is
accepted and ignored), asking the model once per frame for all of them.
"""
from __future__ import annotations

import math
import re

import numpy as np

from client.beam import LMEngine
from client.ctc_search import Search, UnigramTrie, WordScorer
from client.ctc_step import Params, finish, start, step
from ngram.limits import DECODER_BATCH_UTTERANCES, DECODER_BEAM_WIDTH
from ngram.errors import InvalidArgumentError

DEFAULT_ALPHA = 0.5
DEFAULT_BETA = 1.5
DEFAULT_UNK_OFFSET = -10.0
DEFAULT_PRUNE_LOGP = -10.0
DEFAULT_TOKEN_MIN_LOGP = -5.0
DEFAULT_HOTWORD_WEIGHT = 10.0
MIN_PROB = 1e-15               # probabilities are clipped here before the log
UNK_LABEL = "⁇"
_BLANK = re.compile(r"^[<\[]pad[>\]]$", re.IGNORECASE)
_UNK = re.compile(r"^[<\[]unk[>\]]$", re.IGNORECASE)


def normalize_labels(labels: list[str]) -> list[str]:
    """Labels as the search uses them: blank "" (from <pad>, [pad] or _ , else appended),
    space " " (from | when there is no space), <unk> as ⁇."""
    labels = list(labels)
    if len(set(labels)) != len(labels):
        raise InvalidArgumentError("labels contain duplicates")
    if any(x.startswith("##") or x.startswith("▁") for x in labels):
        raise NotImplementedError("BPE label sets are not supported yet; use character labels")
    if "|" in labels and " " not in labels:
        labels[labels.index("|")] = " "
    labels = ["" if _BLANK.match(x) else x for x in labels]
    if "_" in labels and "" not in labels:
        labels[labels.index("_")] = ""
    if "" not in labels:
        labels.append("")
    return [UNK_LABEL if _UNK.match(x) else x for x in labels]


def log_probs(logits: np.ndarray) -> np.ndarray:
    """float64 log-probabilities of a [frames, labels] matrix: rows that sum to 1 are taken
    as probabilities, anything else as logits (log-softmax); clipped at log(MIN_PROB)."""
    x = np.asarray(logits, np.float64)
    if x.ndim != 2:
        raise InvalidArgumentError(f"logits must be [frames, labels], not shape {x.shape}")
    if len(x) and math.isclose(x.sum(axis=1).mean(), 1):
        return np.log(np.clip(x, MIN_PROB, 1))
    if len(x) == 0:
        return x
    top = np.amax(x, axis=1, keepdims=True)
    top[~np.isfinite(top)] = 0
    shifted = x - top
    with np.errstate(divide="ignore"):
        out = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return np.clip(out, np.log(MIN_PROB), 0)


class CTCDecoder:
    def __init__(self, labels: list[str], lm=None, *, unigrams=None, alpha: float = DEFAULT_ALPHA,
                 beta: float = DEFAULT_BETA, unk_score_offset: float = DEFAULT_UNK_OFFSET,
                 lm_score_boundary: bool = True):
        self.labels = normalize_labels(labels)
        self.engine = LMEngine(lm) if lm is not None and not isinstance(lm, LMEngine) else lm
        self.alpha, self.beta = float(alpha), float(beta)
        self.unk_score_offset = float(unk_score_offset)
        self.score_boundary = bool(lm_score_boundary)
        self.unigrams = self._unigrams(unigrams) if self.engine is not None else []
        single = all(len(x) <= 1 for x in self.labels)
        self._trie = UnigramTrie(self.unigrams, self.labels) if single else None

    def _unigrams(self, unigrams) -> list[str]:
        vocab = self.engine.vocab
        if unigrams is None:
            words = [vocab.word(i) for i in range(3, len(vocab))]   # not <unk>, <s>, </s>
        else:
            words = sorted(set(unigrams))
        ids = self.engine.word_ids(words)
        return [w for w, i in zip(words, ids.tolist()) if i != 0]

    def reset_params(self, alpha=None, beta=None, unk_score_offset=None, lm_score_boundary=None) -> None:
        if alpha is not None:
            self.alpha = float(alpha)
        if beta is not None:
            self.beta = float(beta)
        if unk_score_offset is not None:
            self.unk_score_offset = float(unk_score_offset)
        if lm_score_boundary is not None:
            self.score_boundary = bool(lm_score_boundary)

    # -- decoding ----------------------------------------------------------------------
    def beams_batch(self, logits_list, beam_width: int = DECODER_BEAM_WIDTH,
                    beam_prune_logp: float = DEFAULT_PRUNE_LOGP, token_min_logp: float = DEFAULT_TOKEN_MIN_LOGP,
                    prune_history: bool = False, hotwords=None, hotword_weight: float = DEFAULT_HOTWORD_WEIGHT,
                    batch_size: int = DECODER_BATCH_UTTERANCES):
        """Beams of every utterance: lists of (text, lm_state, [(word, (start, end))],
        acoustic score, combined score), best first; `batch_size` utterances are stepped
        together (one LM round per frame for all of them)."""
        if beam_width < 1:
            raise InvalidArgumentError(f"beam_width must be at least 1, not {beam_width}")
        p = Params(int(beam_width), float(beam_prune_logp), float(token_min_logp), bool(prune_history))
        out = []
        for i in range(0, len(logits_list), max(1, batch_size)):
            out.extend(self._decode_group(logits_list[i:i + batch_size], p, hotwords, hotword_weight))
        return out

    def _decode_group(self, logits_list, p: Params, hotwords, hotword_weight):
        X_list = []
        for i, x in enumerate(logits_list):
            x = np.asarray(x)
            if x.ndim == 2 and x.shape[1] != len(self.labels):
                raise InvalidArgumentError(f"utterance {i}: logits have {x.shape[1]} labels, the decoder {len(self.labels)}")
            bad = np.argwhere(np.isnan(x) | np.isposinf(x)) if x.dtype.kind == "f" else []
            if len(bad):
                raise InvalidArgumentError(f"utterance {i}: logits hold NaN or +inf (first at frame {bad[0][0]})")
            X_list.append(log_probs(x))
        n = len(X_list)
        if n == 0:
            return []
        lengths = np.array([len(x) for x in X_list])
        by_len = np.argsort(-lengths, kind="stable")   # live utterances are always a prefix
        X = np.full((n, int(lengths.max()), len(self.labels)), -np.inf)
        for j, i in enumerate(by_len.tolist()):
            X[j, :lengths[i]] = X_list[i]
        words = WordScorer(self.engine, self.unigrams, self.unk_score_offset, hotwords, hotword_weight, self._trie)
        search = Search(self.labels, words, self.alpha, self.beta, self.score_boundary)
        beams = start(search, n)
        sorted_len = lengths[by_len]
        for t in range(X.shape[1]):
            beams = step(search, beams, X, t, int((sorted_len > t).sum()), p)
        final, states = finish(search, beams, p)
        per_utt: list[list] = [[] for _ in range(n)]
        for k in range(len(final.utt)):
            part = int(final.part[k])
            text = search.text(int(final.text[k]))
            if part:
                text = f"{text} {search.part_str(part)}" if text else search.part_str(part)
            frames = search.frames(int(final.fnode[k]))
            if part:
                frames.append((int(final.pstart[k]), int(final.pend[k])))
            state = self.engine.context(int(states[k])) if self.engine is not None else None
            per_utt[int(final.utt[k])].append((" ".join(text.split()), state, list(zip(text.split(), frames)),
                                                float(final.logit[k]), float(final.score[k])))
        result = [None] * n
        for j, i in enumerate(by_len.tolist()):
            result[i] = per_utt[j]
        return result

    # -- pyctcdecode's API: `pool` is accepted and ignored (or the first argument may be
    # the list); decode and decode_batch prune by shared history, as pyctcdecode does
    def decode_beams(self, logits, **kw):
        return self.beams_batch([logits], **kw)[0]

    def decode_beams_batch(self, pool, logits_list=None, **kw):
        """Per utterance: (text, word frames, acoustic score, combined score), best first."""
        beams = self.beams_batch(pool if logits_list is None else logits_list, **kw)
        return [[(b[0], b[2], b[3], b[4]) for b in utt] for utt in beams]

    def decode(self, logits, **kw) -> str:
        kw.setdefault("prune_history", True)
        return self.decode_beams(logits, **kw)[0][0]

    def decode_batch(self, pool, logits_list=None, **kw) -> list[str]:
        kw.setdefault("prune_history", True)
        beams = self.beams_batch(pool if logits_list is None else logits_list, **kw)
        return [utt[0][0] for utt in beams]

    def close(self) -> None:
        if self.engine is not None:
            self.engine.close()


def build_ctcdecoder(labels: list[str], kenlm_model_path=None, unigrams=None, alpha: float = DEFAULT_ALPHA,
                     beta: float = DEFAULT_BETA, unk_score_offset: float = DEFAULT_UNK_OFFSET,
                     lm_score_boundary: bool = True) -> CTCDecoder:
    """pyctcdecode's constructor: `kenlm_model_path` may be a model directory, a cluster
    file, a Client, a backend or an LMEngine (or None: no LM)."""
    return CTCDecoder(labels, kenlm_model_path, unigrams=unigrams, alpha=alpha, beta=beta,
                      unk_score_offset=unk_score_offset, lm_score_boundary=lm_score_boundary)
