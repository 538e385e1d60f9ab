"""A shard decoded into plain arrays, for lookups at the speed of an uncompressed model
(KenLM's probing tables) in exchange for memory: a 16-byte record per n-gram in a hash
table half full, 32-35 bytes per n-gram (31.6 for en-dev.5, 34.8 for en-train), against
~2 for the compressed shard.

Kept in RAM only (built from the shard when a model is opened with it); the file format
does not change. Read by ngram.kernels.sentence (one sentence, backoff models) and
ngram.kernels.decoded_lookup (batches, either value kind).
"""
from __future__ import annotations

import numpy as np

from .chains import BACKOFF, COUNTS
from .errors import InsufficientMemoryError, InvalidArgumentError
from .kernels import layout as LY
from .kernels.decoded_lookup import decoded_lookup_kernel
from .kernels.decoded_table import EMPTY, fill_child_table

# Half full: a failed lookup (most walks end with one) probes ~2.5 slots instead of ~6
# at 70%. en-dev.5, per held-out sentence in one process: 0.7 -> 22.7 B/n-gram, 5.1 us;
# 0.5 -> 31.6 B, 4.75 us; 0.35 -> 44.9 B, 4.5 us.
LOAD_FACTOR = 0.5


def _value_words(raw: np.ndarray, value_kind: str) -> np.ndarray:
    """Raw values [n, C] as the records' two int32 value words [n, 2]: (prob, backoff)
    float32 bits, or a count's low and high halves."""
    if value_kind == COUNTS:
        return np.ascontiguousarray(raw[:, 0], dtype=np.uint64).view(np.int32).reshape(-1, 2)
    return raw.astype(np.uint32).view(np.int32)


class DecodedTrie:
    """nodes int32[V + S, 4]: records (word, value word 0, value word 1, parent node).
    Node w < V is unigram w (parent -1); the S records after them are a hash table of
    the longer n-grams by (parent node, word), free slots with parent EMPTY
    (ngram.kernels.decoded_table)."""

    def __init__(self, nodes: np.ndarray, vocab_size: int, order: int, ngrams: list[int],
                 value_kind: str = BACKOFF, absent: int = LY.NAN_BITS):
        self.nodes, self.vocab_size, self.order = nodes, vocab_size, order
        self.ngrams = ngrams  # per order 1..N, blank nodes included
        self.value_kind, self.absent = value_kind, np.uint64(absent)
        self.args = (nodes, vocab_size, order)  # the kernels' leading arguments

    @property
    def nbytes(self) -> int:
        return self.nodes.nbytes

    @staticmethod
    def _slots(table, load_factor: float) -> tuple[list[int], int]:
        if not 0.05 <= load_factor <= 0.95:
            raise InvalidArgumentError(f"load factor {load_factor} is outside [0.05, 0.95]")
        V = table.vocab_size
        sizes = [V] + [int(table.layout[k, LY.L_N]) for k in range(2, table.order + 1)]
        return sizes, max(int((sum(sizes) - V) / load_factor) + 1, 1)

    @classmethod
    def bytes_needed(cls, table, load_factor: float = LOAD_FACTOR) -> int:
        """What from_shard(table) will allocate, known before decoding anything."""
        _, nslots = cls._slots(table, load_factor)
        return (table.vocab_size + nslots) * 4 * np.dtype(np.int32).itemsize

    @classmethod
    def from_shard(cls, table, load_factor: float = LOAD_FACTOR) -> "DecodedTrie":
        """Decodes every level of one ShardTable (either value kind, any shard)."""
        order, V = table.order, table.vocab_size
        sizes, nslots = cls._slots(table, load_factor)
        if V + nslots >= 2**31:
            raise InvalidArgumentError(f"{sum(sizes)} n-grams: too many for a decoded trie (int32 node ids)")
        nodes = np.zeros((V + nslots, 4), np.int32)
        nodes[V:, 3] = EMPTY
        levels = table.decode_levels()
        words, _, raw = next(levels)  # node w is unigram w
        nodes[:V, 0] = words
        nodes[:V, 1:3] = _value_words(raw, table.value_kind)
        nodes[:V, 3] = -1
        where = words  # node id of each node of the previous level
        for keys, parent, raw in levels:
            where = fill_child_table(nodes, V, keys.astype(np.int32), _value_words(raw, table.value_kind),
                                     where[parent].astype(np.int32))
        return cls(nodes, V, order, sizes, table.value_kind, int(table.layout[0, LY.G_ABSENT]))

    def lookup_into(self, ids: np.ndarray, lengths: np.ndarray, match: np.ndarray, raw: np.ndarray) -> None:
        """ShardTable.run_kernel's contract (match and raw pre-filled with absent values)."""
        decoded_lookup_kernel(self.nodes, self.vocab_size, self.order, self.absent, ids, lengths, match, raw)


def available_memory_bytes() -> int | None:
    """The kernel's estimate of memory available to a new allocation (Linux MemAvailable),
    or None where /proc/meminfo does not say."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def check_fits(needed: int, available: int | None, what: str) -> None:
    """Refuse to decode what would not fit: an error now beats the OOM killer mid-decode."""
    if available is not None and needed > available:
        raise InsufficientMemoryError(f"{what}: the decoded layout needs {needed / 2**30:.2f} GiB of RAM, and only "
                          f"{available / 2**30:.2f} GiB is available; serve the compressed layout, or "
                          f"fewer shards per process")
