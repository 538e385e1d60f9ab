"""A backoff shard decoded into plain arrays, for scoring at the speed of an uncompressed
model (KenLM's probing tables) in exchange for memory: a 16-byte record per n-gram in a
hash table half full, ~32 bytes per n-gram, against ~2.3 for the compressed shard
at 8 bits.

Kept in RAM only (built from the shard when a model is opened with it); the file format
does not change. Scored by ngram.kernels.sentence.score_stream_decoded.
"""
from __future__ import annotations

import numpy as np

from .chains import BACKOFF
from .kernels import layout as LY
from .kernels.sentence import EMPTY, fill_child_table

# Half full: a failed lookup (most walks end with one) probes ~2.5 slots instead of ~6
# at 70%. en-dev.5, per held-out sentence in one process: 0.7 -> 22.7 B/n-gram, 5.1 us;
# 0.5 -> 31.6 B, 4.75 us; 0.35 -> 44.9 B, 4.5 us.
LOAD_FACTOR = 0.5


class DecodedTrie:
    """nodes int32[V + S, 4]: records (word, prob float32 bits, backoff float32 bits,
    parent node). Node w < V is unigram w (parent -1); the S records after them are a
    hash table of the longer n-grams by (parent node, word), free slots with parent
    EMPTY (ngram.kernels.sentence.fill_child_table / find_child)."""

    def __init__(self, nodes: np.ndarray, vocab_size: int, order: int, ngrams: list[int]):
        self.nodes, self.vocab_size, self.order = nodes, vocab_size, order
        self.ngrams = ngrams  # per order 1..N, blank nodes included
        self.args = (nodes, vocab_size, order)  # the kernels' leading arguments

    @property
    def nbytes(self) -> int:
        return self.nodes.nbytes

    @classmethod
    def from_shard(cls, table) -> "DecodedTrie":
        """Decodes every level of one backoff ShardTable (a whole model: one shard)."""
        if table.value_kind != BACKOFF:
            raise ValueError(f"a decoded trie holds backoff models, not {table.value_kind!r}")
        if table.num_shards != 1:
            raise ValueError(f"a decoded trie needs the whole model in one shard, not {table.num_shards}")
        order, V = table.order, table.vocab_size
        sizes = [V] + [int(table.layout[k, LY.L_N]) for k in range(2, order + 1)]
        nslots = max(int((sum(sizes) - V) / LOAD_FACTOR) + 1, 1)
        if V + nslots >= 2**31:
            raise ValueError(f"{sum(sizes)} n-grams: too many for a decoded trie (int32 node ids)")
        nodes = np.zeros((V + nslots, 4), np.int32)
        nodes[V:, 3] = EMPTY
        levels = table.decode_levels()
        words, _, raw = next(levels)  # node w is unigram w
        nodes[:V, 0] = words
        nodes[:V, 1:3] = raw.astype(np.uint32).view(np.int32)
        nodes[:V, 3] = -1
        where = words  # node id of each node of the previous level
        for keys, parent, raw in levels:
            where = fill_child_table(nodes, V, keys.astype(np.int32), raw.astype(np.uint32).view(np.int32),
                                     where[parent].astype(np.int32))
        return cls(nodes, V, order, sizes)
