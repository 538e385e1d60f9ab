"""ARPA backoff language models: read, write, import as a model directory, export.

One job per module:

- ``model``: the parsed model (``ArpaModel``, ``ArpaLevel``), per-order id arrays;
- ``text``: the file as numbered lines (decompressed by ``ngram.compressed_io``);
- ``sections``: the header and the sections parsed into raw per-order arrays;
- ``reader``: ``read_arpa``, which numbers the words and checks the model as a whole;
- ``writer``: ``write_arpa`` and the shortest float formatting;
- ``convert``: ``import_arpa`` / ``export_arpa`` between ARPA files and model directories.

Reading follows KenLM's conventions (lm/read_arpa.hh, lm/search_hashed.cc); see
``reader`` for the rules. Any violation raises :class:`ngram.errors.ArpaFormatError`
with the file and the 1-based line number.
"""
from __future__ import annotations

from ..compressed_io import open_input as open_compressed  # for callers that predate compressed_io
from .convert import export_arpa, import_arpa, model_levels
from .model import BOS, EOS, UNK, ArpaLevel, ArpaModel
from .reader import read_arpa
from .writer import format_floats, write_arpa

__all__ = ["ArpaLevel", "ArpaModel", "BOS", "EOS", "UNK", "export_arpa", "format_floats", "import_arpa",
           "model_levels", "open_compressed", "read_arpa", "write_arpa"]
