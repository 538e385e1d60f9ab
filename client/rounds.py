"""Decoder rounds: (context, word) pairs -> the n-grams to ask for, each once.

The rule lives in the core (ngram.query.pair_ngrams and unique_rows, shared with the
Scorer and the local rounds); this module keeps the names the client's modules import.
"""
from ngram.query import pair_ngrams, unique_rows

__all__ = ["pair_ngrams", "unique_rows"]
