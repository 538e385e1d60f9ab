"""Text-level prediction and completion over any `predict` function (a local Predictor or
a client): `predict_text` (the next words of texts, a partly typed last word completed
by prefix) and `complete` (the k most probable multi-word continuations, a beam search
that asks one batched round of predictions per step)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .errors import InvalidQueryError
from .vocab import EOS_ID

PredictFn = Callable[..., tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Completion:
    words: tuple[str, ...]
    log10: float
    ended: bool  # the completion ends the sentence (</s> was predicted)


def context_ids(tokenizer, vocab, text: str | bytes, bos: bool = True) -> list[int]:
    """Context ids of a text (the model's tokenizer), <s> first. A word the model does
    not know is an InvalidQueryError naming it (a prediction after <unk> means little)."""
    ids = [1] if bos else []
    for w in tokenizer.split(text):
        if w not in vocab:
            raise InvalidQueryError(f"word {w.decode('utf-8', 'replace')!r} of the context is not in the vocabulary")
        ids.append(int(vocab.id(w)))
    return ids


def _batch(contexts: list[list[int]]):
    W = max([len(c) for c in contexts] + [1])
    ids = np.zeros((len(contexts), W), np.int32)
    for i, c in enumerate(contexts):
        ids[i, :len(c)] = c
    return ids, np.array([len(c) for c in contexts], np.int32)


def predict_text(predict: PredictFn, tokenizer, vocab, texts: list[str | bytes], k: int, prefix=None,
                 min_score=None) -> list[list[tuple[str, float]]]:
    """[(word, log10)] best first for each text, in one batched call; `prefix` (a partly
    typed next word) keeps the words that start with it."""
    words, scores = predict(*_batch([context_ids(tokenizer, vocab, t) for t in texts]), k, prefix=prefix,
                            min_score=min_score)
    return [[(vocab.word(int(w)), float(s)) for w, s in zip(words[r], scores[r]) if w >= 0]
            for r in range(len(texts))]


def complete(predict: PredictFn, tokenizer, vocab, text: str | bytes, k: int, max_words: int,
             prefix=None) -> list[Completion]:
    """The k best completions of `text` of 1..max_words words (a completion may end early
    with </s>), by total log10 score, ties by word ids; `prefix` (a partly typed next
    word) filters the first word."""
    if max_words < 1:
        raise InvalidQueryError(f"max_words = {max_words}: must be at least 1")
    ctx = context_ids(tokenizer, vocab, text)
    partial = prefix
    beam = [((), 0.0, False)]  # (word ids added, log10, ended)
    done: list = []
    for step in range(max_words):
        live = [h for h in beam if not h[2]]
        if not live:
            break
        words, scores = predict(*_batch([ctx + list(h[0]) for h in live]), k,
                                prefix=partial if step == 0 else None)
        cand = list(done)
        for r, h in enumerate(live):
            for w, s in zip(words[r], scores[r]):
                if w >= 0:
                    cand.append((h[0] + (int(w),), h[1] + float(s), int(w) == EOS_ID))
        cand.sort(key=lambda c: (-c[1], c[0]))
        beam = cand[:k]
        done = [h for h in beam if h[2]]
    return [Completion(tuple(vocab.word(w) for w in h[0] if w != EOS_ID), h[1], h[2]) for h in beam]
