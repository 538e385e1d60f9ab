"""Writing models: the names builders and importers use, in one place.

- ngram.value_columns: a level's value columns (symbol tables, context coding, codecs)
- ngram.shard_writer: `ShardSpec`, `Level`, `encode_shard` (one shard file)
- ngram.model_writer: `ModelWriter` (temporary directory, vocabulary, manifest, publish)
"""
from __future__ import annotations

from .limits import QUANTIZATIONS
from .manifest import VOCAB_FILE
from .model_writer import ModelWriter
from .shard_writer import VALUE_CONTEXT, Level, ShardSpec, encode_shard

__all__ = ["ModelWriter", "Level", "ShardSpec", "encode_shard", "VOCAB_FILE", "QUANTIZATIONS", "VALUE_CONTEXT"]
