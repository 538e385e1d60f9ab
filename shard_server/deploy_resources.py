"""What a server process of a layout needs: bytes of memory, derived from the model.

Read from the manifest only (no shard is opened), so `ngram deploy requests` is instant
for any model size. Per process: the mapped shard files and the vocabulary (resident once
warm), the decoded hash tables for the `decoded` layout (what
`ngram.decoded_trie.DecodedTrie.bytes_needed` bounds; tests check the two agree), and
the runtime of one process.
"""
from __future__ import annotations

from dataclasses import dataclass

from ngram.chains import COUNTS
from ngram.decoded_trie import LOAD_FACTOR, bytes_bound
from ngram.limits import DEFAULT_LAYOUT, SERVER_PROCESS_OVERHEAD_BYTES
from ngram.manifest import shard_file_name


@dataclass(frozen=True)
class GroupResources:
    group: int
    shards: list[int]
    mapped_bytes: int     # shard files + vocabulary, mmapped
    decoded_bytes: int    # hash tables of the decoded layout (0 for compressed)
    runtime_bytes: int

    @property
    def memory_bytes(self) -> int:
        return self.mapped_bytes + self.decoded_bytes + self.runtime_bytes


def shard_groups(num_shards: int, servers_per_replica: int | None) -> list[list[int]]:
    """Shards dealt round-robin over the servers of one replica, as `ngram cluster up` deals them."""
    k = min(servers_per_replica or num_shards, num_shards)
    return [[s for s in range(num_shards) if s % k == g] for g in range(k)]


def decoded_table_bytes(vocab_size: int, ngrams_above_unigrams: list[int], value_kind: str,
                        load_factor: float = LOAD_FACTOR) -> int:
    """DecodedTrie.bytes_needed from the manifest's counts (orders 2..N of one shard)."""
    return bytes_bound(vocab_size, [vocab_size] + [int(n) for n in ngrams_above_unigrams],
                       1 if value_kind == COUNTS else 2, load_factor)


def group_resources(model, servers_per_replica: int | None = None,
                    layout: str = DEFAULT_LAYOUT) -> list[GroupResources]:
    """Per server group, the bytes a process serving it needs. `model`: an opened Model
    (manifest only is enough: `Model.open(path, shards=[])`)."""
    m = model.manifest
    files = m["files"]
    per_shard = m["ngrams"]["per_shard"]  # orders 2..N of each shard
    vocab_bytes = sum(f["bytes"] for name, f in files.items() if not name.startswith("shard-"))
    out = []
    for g, shards in enumerate(shard_groups(int(model.num_shards), servers_per_replica)):
        mapped = vocab_bytes + sum(files[shard_file_name(s, model.num_shards)]["bytes"] for s in shards)
        decoded = (sum(decoded_table_bytes(len(model.vocab), per_shard[s], model.value_kind) for s in shards)
                   if layout == "decoded" else 0)
        out.append(GroupResources(g, shards, mapped, decoded, SERVER_PROCESS_OVERHEAD_BYTES))
    return out


def mebibytes(n: int) -> str:
    """A Kubernetes quantity, rounded up to whole MiB."""
    return f"{-(-n // 2**20)}Mi"
