"""Build options, checked before any work starts, and the memory plan derived from them."""
from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass, field

from ngram.limits import DEFAULT_MAX_LINE_BYTES, MAX_BUILD_SHARDS, MAX_ORDER

from .errors import BuildError, BuildOptionError
from .inputs import BAD_BYTES_POLICIES, TextOptions

MIN_MEMORY = 1 << 20
DEFAULT_MEMORY_FRACTION = 0.25
FRAME_ROWS = 1 << 15  # rows per compressed frame of a run: the unit the reduce reads
# Chunks no larger than this whatever the budget: a map task's sorts then stay near the
# caches, and a corpus makes enough tasks to keep every worker busy (measured on en-train,
# 5-gram: 44 MB chunks, the default budget's, took 9.6 CPU-s to count in 2 tasks, one of
# 8.4 s; 8 MB chunks 7.9 s in 7 tasks; 2 MB 7.2 s in 26).
SPEED_CHUNK_BYTES = 4 << 20


def total_ram() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def parse_size(text: str) -> int:
    """'512M', '2G', '1.5GiB', '300000000' -> bytes; '40%' -> that share of RAM (0-100%]."""
    t = text.strip().upper()
    m = re.fullmatch(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*(%|[KMGT]?(?:I?B)?)", t)
    if not m:
        raise BuildOptionError(f"cannot read memory size {text!r} (use e.g. 800M, 2G, 25%)", "--memory")
    value, unit = float(m.group(1)), m.group(2)
    if unit == "%":
        if not 0 < value <= 100:
            raise BuildOptionError(f"a share of RAM must be in (0%, 100%], got {text!r}", "--memory")
        return int(value / 100 * total_ram())
    size = int(value * 1024 ** " KMGT".index(unit[:1] or " "))
    if size < MIN_MEMORY:
        raise BuildOptionError(f"must be at least {MIN_MEMORY >> 20} MiB, got {text!r}", "--memory")
    return size


def parse_cutoffs(text: str | None, order: int) -> list[int]:
    """'1,1,2' -> one minimum count per order 1..N; the last value repeats."""
    if not text:
        return [1] * order
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise BuildOptionError(f"wants integers separated by commas, got {text!r}", "--min-count") from None
    if not values or any(v < 1 for v in values):
        raise BuildOptionError(f"values must be >= 1, got {text!r}", "--min-count")
    if len(values) > order:
        raise BuildOptionError(f"has {len(values)} values for an order-{order} model", "--min-count")
    return values + [values[-1]] * (order - len(values))


@dataclass
class BuildConfig:
    """Everything a build needs to know; `check()` validates before any work starts."""
    inputs: list[str]
    out_dir: str
    order: int = 5
    num_shards: int = 8
    shard_seed: int = 0
    cutoffs: list[int] = field(default_factory=list)  # per order 1..N; empty: all 1
    min_word_count: int = 1
    max_vocab: int | None = None
    text: TextOptions = field(default_factory=TextOptions)
    memory: int = 0  # bytes for all workers and the driver; 0: a quarter of RAM
    workers: int = 0  # 0: all cores
    dask: str | None = None  # None, "local" or a scheduler address
    work_dir: str | None = None  # default: <out_dir>.work beside the output
    resume: bool = False
    keep_work: bool = False
    progress: bool = True
    chunk_bytes: int = 0  # 0: derived from the memory budget
    kn: object = None  # builder.kn.options.KnOptions: estimate Kneser-Ney; None: a counts model

    def check(self) -> "BuildConfig":
        """Every option in range, before any input is read (BuildOptionError names it)."""
        # MAX_ORDER is every model's bound; the builder's keys add none of their own
        # (k words of <= 32 bits in ceil(k * bits / 64) limbs; w_{k-1}, w_k in limb 0).
        if not 2 <= self.order <= MAX_ORDER:
            raise BuildOptionError(f"must be 2..{MAX_ORDER} (unigrams alone are the vocabulary), "
                                   f"got {self.order}", "--order")
        if not 1 <= self.num_shards <= MAX_BUILD_SHARDS:
            raise BuildOptionError(f"must be 1..{MAX_BUILD_SHARDS}, got {self.num_shards}", "--shards")
        if not 0 <= self.shard_seed < 1 << 32:
            raise BuildOptionError(f"must be 0..2^32-1, got {self.shard_seed}", "--shard-seed")
        self.cutoffs = list(self.cutoffs) or [1] * self.order
        if len(self.cutoffs) != self.order or any(c < 1 for c in self.cutoffs):
            raise BuildOptionError(f"need {self.order} cutoffs >= 1, got {self.cutoffs}", "--min-count")
        if self.cutoffs[0] != 1:
            raise BuildOptionError("the unigram cutoff must be 1: prune words with --min-word-count",
                                   "--min-count")
        if self.min_word_count < 1:
            raise BuildOptionError("must be >= 1", "--min-word-count")
        if self.max_vocab is not None and self.max_vocab < 3:
            raise BuildOptionError("must be at least 3 (<unk>, <s>, </s>)", "--max-vocab")
        if self.text.on_bad_bytes not in BAD_BYTES_POLICIES:
            raise BuildOptionError(f"must be one of {', '.join(BAD_BYTES_POLICIES)}", "--on-bad-bytes")
        if self.text.max_line_bytes < 1:
            raise BuildOptionError("must be positive", "--max-line-bytes")
        if self.workers < 0:
            raise BuildOptionError(f"must be >= 0 (0: all cores), got {self.workers}", "--workers")
        self.workers = self.workers or os.cpu_count() or 1
        self.memory = self.memory or int(DEFAULT_MEMORY_FRACTION * total_ram())
        if self.memory < MIN_MEMORY:
            raise BuildOptionError(f"must be at least {MIN_MEMORY >> 20} MiB", "--memory")
        if self.dask is None and self.memory > total_ram():
            raise BuildOptionError(f"{self.memory:,} bytes is more than this machine's RAM "
                                   f"({total_ram():,} bytes)", "--memory")
        if self.kn is not None:
            self.kn.check()
            if any(c > 1 for c in self.cutoffs):
                raise BuildOptionError("does not apply to Kneser-Ney estimation (use --prune)", "--min-count")
        self.work_dir = self.work_dir or str(self.out_dir).rstrip("/") + ".work"
        if os.path.abspath(self.work_dir) == os.path.abspath(self.out_dir):
            raise BuildOptionError("must differ from the output directory", "--work-dir")
        if os.path.exists(self.out_dir) and not os.path.isdir(self.out_dir):
            raise BuildError("output exists and is not a directory", self.out_dir)
        return self

    # --- the memory plan (see DESIGN: memory stays within --memory whatever the corpus size)
    @property
    def task_memory(self) -> int:
        """Budget of one task: the workers' tasks and the driver share --memory equally."""
        return self.memory // (self.workers + 1)

    @property
    def planned_chunk_bytes(self) -> int:
        # A task holds its chunk's text (~1x), ids (~1x) and the keys of one order at a
        # time (~15x text bytes for 5-grams), plus the sorted counts of all orders.
        return self.chunk_bytes or max(4096, min(SPEED_CHUNK_BYTES, self.task_memory // 48))

    def fingerprint(self) -> dict:
        """The options the work directory's content depends on; --resume requires them
        unchanged (the inputs are checked apart, see builder.input_identity)."""
        keys = dict(order=self.order, num_shards=self.num_shards, shard_seed=self.shard_seed,
                    cutoffs=self.cutoffs, min_word_count=self.min_word_count, max_vocab=self.max_vocab,
                    text=asdict(self.text), chunk_bytes=self.planned_chunk_bytes)
        if self.kn is not None:
            keys["kn"] = self.kn.fingerprint()
        keys["hash"] = hashlib.sha256(json.dumps(keys, sort_keys=True).encode()).hexdigest()[:16]
        return keys


def text_options(lowercase: bool = False, jsonl_field: str | None = None, on_bad_bytes: str = "error",
                 max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> TextOptions:
    return TextOptions(lowercase, jsonl_field, on_bad_bytes, max_line_bytes)
