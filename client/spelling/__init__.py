"""The spelling-correction service: context-aware correction over the served model.

Pipeline (one module per step):
  text.py        input text -> `Token`s with character spans (the one tokenizer of the service)
  candidates.py  vocabulary words within Damerau-Levenshtein distance k (symmetric-delete index)
  error_model.py log10 P(typed | intended) from weighted edits, trained on our own noise
  noise.py       the synthetic noise process (training data for the error model; bench test sets)
  lattice.py     `CandidateGenerator`: per sentence, the `Arc`s of its candidate lattice
                 (edits, splits, merges, real-word alternatives, the original, case restored)
  search.py      beam search over the lattice on the shared `client.beam.LMEngine`
  speller.py     `Speller(backend_or_path).correct(texts) -> list[Correction]`
  cli.py         `ngram spell ...`; service.py / http.py: the gRPC and HTTP services

The data types every step shares live in `types.py`.
"""
from .types import Alternative, Arc, Change, Correction, Token

__all__ = ["Alternative", "Arc", "Change", "Correction", "Token"]
