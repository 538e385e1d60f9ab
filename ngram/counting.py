"""Exact counts of n-grams given as text, over any backend, in one lookup.

The rule, the same for `ngram count`, `Client.count` and the remote backend:
- the text of each n-gram is split by the model's tokenizer (ngram.tokenizer: ASCII
  whitespace only, lowercased for a lowercase model);
- an n-gram holding a word outside the vocabulary counts 0 (it never occurred as such);
- the literal word ``<unk>`` is the model's ``<unk>`` entry (id 0) and is looked up like
  any other word. The builder maps a literal ``<unk>`` in the corpus, and every word its
  vocabulary cut-offs (--min-word-count, --max-vocab) drop, to that id, so the count of
  "<unk> of" is how often "of" followed <unk> in the corpus as the model holds it:
  exactly the corpus's count of the text "<unk> of" when no cut-off dropped a word.
- an n-gram with no words, or more words than the model's order, is an InvalidQueryError.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

from .chains import COUNTS
from .errors import ValueKindError
from .vocab import UNK_ID

if TYPE_CHECKING:
    from .backend import Backend

_UNKNOWN = -1  # the tokenizer's id for a word outside the vocabulary, told apart from <unk>


def ngram_counts(backend: "Backend", ngrams: Sequence[str | bytes]) -> np.ndarray:
    """uint64 counts of n-grams given as text (str or UTF-8 bytes), in one lookup."""
    if backend.value_kind != COUNTS:
        raise ValueKindError("counts need a counts model; this one stores probabilities")
    if not len(ngrams):
        return np.zeros(0, np.uint64)
    ids, lengths = backend.tokenizer.ngram_ids(backend.vocab, ngrams, backend.order, unknown_id=_UNKNOWN)
    unknown = (ids == _UNKNOWN).any(axis=1)
    ids[ids == _UNKNOWN] = UNK_ID
    chains = backend.lookup(ids, lengths)
    found = (chains.match_len == lengths) & ~unknown
    return np.where(found, chains.counts[np.arange(len(lengths)), lengths - 1], 0).astype(np.uint64)
