"""Extensions of the kenlm facade (client.kenlm_compat) that the kenlm module lacks: the
most probable next words after a context, and multi-word completions (KenLM cannot do
either: its reversed trie finds an n-gram's suffixes, not its continuations). They are
``Model.predict_next`` and ``Model.complete``, over the public Client API (client.Client:
``predict`` and ``complete``; docs/PREDICTION.md), so a local model and a cluster answer
alike. They need the model's successor index: a model directory without it says so (add
it with ``ngram index-successors DIR``); an ARPA file the facade imported gets it on the
first prediction.
"""
from __future__ import annotations

import threading
from typing import NamedTuple

import numpy as np

from client.client import Client
from ngram.complete import context_ids
from ngram.limits import DEFAULT_PREDICT_K


class Prediction(NamedTuple):
    word: str
    log10: float  # the model's score of the word after the context (log10 probability for a backoff model)


class Extensions:
    """The extension calls of one facade Model (made on its first extension call)."""

    def __init__(self, model):
        self._model = model  # a client.kenlm_compat.Model
        self._client: Client | None = None
        self._lock = threading.Lock()

    def client(self) -> Client:
        with self._lock:
            if self._client is None:
                imported = self._model.imported_dir()
                if imported is not None:  # an ARPA file read into a temporary directory: index it once
                    from ngram.successors import write_index
                    write_index(imported)
                    self._client = Client.open(imported)
                else:
                    self._client = Client(self._model.backend)
            return self._client

    def predict_next(self, context_ids: tuple[int, ...], k: int, prefix, min_score) -> list[Prediction]:
        ids = np.zeros((1, max(len(context_ids), 1)), np.int32)
        ids[0, :len(context_ids)] = context_ids
        words, scores = self.client().predict(ids, np.array([len(context_ids)], np.int32), k, prefix=prefix,
                                              min_score=min_score)
        vocab = self._model.vocab
        return [Prediction(vocab.word(int(w)), float(s)) for w, s in zip(words[0], scores[0]) if w >= 0]

    def text_context(self, text: str | bytes) -> tuple[int, ...]:
        """<s> and the ids of a text's words (an unknown word is an InvalidQueryError)."""
        client = self.client()
        return tuple(context_ids(client.tokenizer, client.vocab, text))

    def complete(self, text: str | bytes, k: int, max_words: int, prefix):
        return self.client().complete(text, k, max_words, prefix=prefix)


def predict_next(model, context, k: int = DEFAULT_PREDICT_K, prefix: str | bytes | None = None,
                 min_score: float | None = None) -> list[Prediction]:
    """``Model.predict_next`` (see client.kenlm_compat.Model)."""
    ext = model._extensions()
    ids = ext.text_context(context) if isinstance(context, (str, bytes)) else model.context_ids(context)
    return ext.predict_next(ids, k, prefix, min_score)
