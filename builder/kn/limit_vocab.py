"""`--limit-vocab FILE`, lmplz's `--limit_vocab_file`: every n-gram holding a word not in
FILE (the specials <unk>, <s>, </s> always allowed) leaves the model, as a pruned n-gram
does (its adjusted count still counts in its context's denominator and joins the
context's gamma); the unigrams of those words leave too, and the uniform distribution
divides by the allowed words (lmplz: the unpruned unigrams without <s>).

The ids are ordered so the allowed words come first (0..kept-1, specials included),
each part in the counted vocabulary's order: the model's vocabulary is then a prefix of
the build's, every kept n-gram's ids are already the model's, and the sharding (by
ids) is the model's too."""
from __future__ import annotations

import numpy as np

from ngram.vocab import Vocabulary


def limit_order(vocab: Vocabulary, allowed: set[bytes]) -> tuple[Vocabulary, int]:
    """(the vocabulary with allowed words first, how many are allowed)."""
    words = [vocab.word_bytes(i) for i in range(len(vocab))]
    counts = np.asarray(vocab.counts, np.uint64)
    ok = np.array([i < 3 or w in allowed for i, w in enumerate(words)], bool)
    order = np.concatenate([np.flatnonzero(ok), np.flatnonzero(~ok)])
    return Vocabulary.from_words([words[i] for i in order.tolist()], counts[order]), int(ok.sum())


def model_vocabulary(vocab: Vocabulary, kept: int) -> Vocabulary:
    """The model's vocabulary: the allowed prefix; the other words' counts go to <unk>,
    as the words themselves will (a query maps them to <unk>)."""
    if kept >= len(vocab):
        return vocab
    counts = np.asarray(vocab.counts, np.uint64)[:kept].copy()
    counts[0] += np.asarray(vocab.counts, np.uint64)[kept:].sum(dtype=np.uint64)
    return Vocabulary.from_words([vocab.word_bytes(i) for i in range(kept)], counts)
