"""A model directory opened for queries: manifest, vocabulary and shard tables."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .chains import Chains
from .errors import InvalidArgumentError, ModelFormatError
from .kernels import drop_stale_numba_caches
from .limits import DEFAULT_LAYOUT
from .manifest import VOCAB_FILE, file_digest, read_manifest, shard_file_name
from .kernels.batch_ops import gather_rows
from .query import check_batch
from .shard import LAYOUTS, ShardTable, chains_from_raw, new_outputs, unsort_outputs
from .sharding import routing_order
from .vocab import Vocabulary


SMALL_BATCH = 256


class Model:
    """`Model.open(dir)` maps every shard (or the listed ones), checks versions, sizes,
    headers and layout tables, and (unless `verify=False`) every checksum."""

    def __init__(self, path: Path, manifest: dict, vocab: Vocabulary, shards: dict[int, ShardTable]):
        self.path = path
        self.manifest = manifest
        self.vocab = vocab
        self.shards = shards
        self.order = int(manifest["order"])
        self.num_shards = int(manifest["num_shards"])
        self.shard_seed = int(manifest["sharding"]["seed"])
        self.model_id = manifest["model_id"]
        self.value_kind = manifest["value_kind"]

    @classmethod
    def open(cls, path: str | os.PathLike, shards: list[int] | None = None, verify: bool = True,
             layout: str = DEFAULT_LAYOUT) -> "Model":
        """layout: "compressed" (the mapped files as stored) or "decoded" (each shard also
        decoded into RAM, ngram.decoded_trie: ~5x the bytes, lookups 2-3x faster).

        verify: check the SHA-256 of every file against the manifest (a full read: 37 ms
        for the 64 MB en-train 5-gram model, against 4 ms without, on 2 cores).
        `verify=False` skips it: wrong answers are then possible on a corrupt
        file, never a crash (the structure is checked at open and the kernels check every
        index they read from a file)."""
        if layout not in LAYOUTS:
            raise InvalidArgumentError(f"layout {layout!r}: expected one of {', '.join(LAYOUTS)}")
        drop_stale_numba_caches()  # before any cached kernel loads (once per process)
        path = Path(path)
        manifest = read_manifest(path)
        num_shards = int(manifest["num_shards"])
        wanted = list(range(num_shards)) if shards is None else sorted(set(int(s) for s in shards))
        bad = [s for s in wanted if not 0 <= s < num_shards]
        if bad:
            raise InvalidArgumentError(f"shards {bad} do not exist: the model has shards 0..{num_shards - 1}")
        files = manifest["files"]
        names = [VOCAB_FILE] + [shard_file_name(s, num_shards) for s in wanted]
        for name in names:
            if name not in files:
                raise ModelFormatError(f"manifest does not list {name}", str(path))
            try:
                size = (path / name).stat().st_size
            except FileNotFoundError:
                raise ModelFormatError("file listed in the manifest is missing", str(path / name)) from None
            if size != files[name]["bytes"]:
                raise ModelFormatError(f"size {size} differs from the manifest's {files[name]['bytes']}",
                                       str(path / name))
        vocab = Vocabulary.open(path / VOCAB_FILE)
        if len(vocab) != manifest["vocab_size"]:
            raise ModelFormatError("vocabulary size differs from the manifest", str(path / VOCAB_FILE))
        tables = {}
        for s in wanted:
            t = ShardTable.open(path / shard_file_name(s, num_shards))
            if (t.shard_index, t.num_shards, t.order, t.value_kind, t.vocab_size, t.shard_seed,
                    t.format_version) != (
                    s, num_shards, manifest["order"], manifest["value_kind"], manifest["vocab_size"],
                    manifest["sharding"]["seed"], manifest["format"]["version"]):
                raise ModelFormatError("shard header disagrees with the manifest", str(t.path))
            tables[s] = t
        model = cls(path, manifest, vocab, tables)
        if verify:
            try:
                model.verify(arrays=False)
            except BaseException:
                model.close()
                raise
        if layout == "decoded":
            from .decoded_trie import DecodedTrie, available_memory_bytes, check_fits
            try:
                check_fits(sum(DecodedTrie.bytes_needed(t) for t in tables.values()), available_memory_bytes(),
                           f"{path} shards {sorted(tables)}")
                for t in tables.values():
                    t.decode_in_memory()
            except BaseException:
                model.close()
                raise
        return model

    def verify(self, arrays: bool = True) -> None:
        """Check every open file's size and SHA-256 against the manifest (the files are
        hashed in parallel threads: hashlib releases the GIL) and, with `arrays`, every
        array's CRC-32 too, which names the damaged array. The SHA-256 covers every byte,
        so opening a model checks it alone."""
        from concurrent.futures import ThreadPoolExecutor
        names = [VOCAB_FILE] + [t.path.name for t in self.shards.values()]
        with ThreadPoolExecutor(max_workers=min(len(names), os.cpu_count() or 1)) as pool:
            digests = list(pool.map(lambda name: file_digest(self.path / name), names))
        for name, got in zip(names, digests):
            if got != self.manifest["files"][name]:
                raise ModelFormatError("checksum differs from the manifest: the file is corrupt or was replaced; "
                                       "rebuild the model", str(self.path / name))
        if arrays:
            self.vocab.verify()
            for t in self.shards.values():
                t.verify()

    def lookup(self, ids, lengths, *, check: bool = True) -> Chains:
        """Chains of any batch: routed to the shards in-process. `check=False` skips the
        validation of shapes and ids, for callers that built the batch themselves."""
        if check:
            ids, lengths = check_batch(ids, lengths, self.order, len(self.vocab))
        if len(lengths) <= SMALL_BATCH and self.num_shards == 1:
            # a sentence or a spelling request: sorting would cost more than it saves
            match, raw = new_outputs(len(lengths), self.order, self.value_kind)
            if len(lengths):
                self._shard(0).run_kernel(ids, lengths, match, raw)
            return chains_from_raw(match, raw, self.value_kind)
        _, order, bounds = routing_order(ids, lengths, self.num_shards, self.shard_seed)
        # Kernels walk contiguous, sorted rows (random row access costs a cache miss each).
        sorted_ids, sorted_lengths = gather_rows(ids, lengths, order)
        sorted_match, sorted_raw = new_outputs(len(lengths), self.order, self.value_kind)
        for s in range(self.num_shards):
            a, b = bounds[s], bounds[s + 1]
            if b > a:
                self._shard(s).run_kernel(sorted_ids[a:b], sorted_lengths[a:b], sorted_match[a:b], sorted_raw[a:b])
        match = np.empty_like(sorted_match)
        raw = np.empty_like(sorted_raw)
        unsort_outputs(order, sorted_match, sorted_raw, match, raw)
        return chains_from_raw(match, raw, self.value_kind)

    def _shard(self, s: int) -> ShardTable:
        try:
            return self.shards[s]
        except KeyError:
            raise InvalidArgumentError(f"shard {s} is not open in this process (opened: {sorted(self.shards)})") from None

    @property
    def shard_bytes(self) -> int:
        return sum(f["bytes"] for name, f in self.manifest["files"].items() if name.startswith("shard-"))

    def info(self) -> dict:
        m = self.manifest
        totals = m["ngrams"]["total"]
        total_ngrams = int(sum(totals))
        shard_bytes = self.shard_bytes
        all_bytes = sum(f["bytes"] for f in m["files"].values())
        return {
            "model_id": self.model_id, "path": str(self.path), "order": self.order, "vocab_size": len(self.vocab),
            "value_kind": self.value_kind, "quantization": m.get("quantization"), "num_shards": self.num_shards,
            "format_version": m["format"]["version"],
            "ngrams": totals, "ngrams_total": total_ngrams, "ngrams_per_shard": m["ngrams"]["per_shard"],
            "bytes": shard_bytes, "bytes_per_ngram": shard_bytes / max(total_ngrams, 1),
            "bytes_all_files": all_bytes, "bytes_per_ngram_all_files": all_bytes / max(total_ngrams, 1),
            "corpus": m.get("corpus", {}), "cutoffs": m.get("cutoffs"),
        }

    def close(self) -> None:
        for t in self.shards.values():
            t.close()
