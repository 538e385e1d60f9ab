"""Build options, checked before any work starts, and the memory plan derived from them."""
from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass, field

from .errors import BuildError
from .inputs import BAD_BYTES_POLICIES, DEFAULT_MAX_LINE_BYTES, STDIN, TextOptions

MAX_ORDER = 8
MIN_MEMORY = 1 << 20
DEFAULT_MEMORY_FRACTION = 0.25
FRAME_ROWS = 1 << 15  # rows per compressed frame of a run: the unit the reduce reads


def total_ram() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def parse_size(text: str) -> int:
    """'512M', '2G', '1.5GiB', '300000000' -> bytes; '40%' -> that share of RAM."""
    t = text.strip().upper()
    if t.endswith("%"):
        return int(float(t[:-1]) / 100 * total_ram())
    m = re.fullmatch(r"([0-9.]+)\s*([KMGT]?)(I?B)?", t)
    if not m:
        raise BuildError(f"cannot read memory size {text!r} (use e.g. 800M, 2G, 25%)")
    return int(float(m.group(1)) * 1024 ** " KMGT".index(m.group(2) or " "))


def parse_cutoffs(text: str | None, order: int) -> list[int]:
    """'1,1,2' -> one minimum count per order 1..N; the last value repeats."""
    if not text:
        return [1] * order
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise BuildError(f"--min-count wants integers separated by commas, got {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise BuildError(f"--min-count values must be >= 1, got {text!r}")
    if len(values) > order:
        raise BuildError(f"--min-count has {len(values)} values for an order-{order} model")
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
        if not 1 <= self.order <= MAX_ORDER:
            raise BuildError(f"order must be 1..{MAX_ORDER}, got {self.order}")
        if self.order < 2:
            raise BuildError("order must be at least 2 (unigrams alone are the vocabulary)")
        if self.num_shards < 1:
            raise BuildError(f"need at least one shard, got {self.num_shards}")
        self.cutoffs = list(self.cutoffs) or [1] * self.order
        if len(self.cutoffs) != self.order or any(c < 1 for c in self.cutoffs):
            raise BuildError(f"need {self.order} cutoffs >= 1, got {self.cutoffs}")
        if self.cutoffs[0] != 1:
            raise BuildError("the unigram cutoff must be 1: prune words with --min-word-count")
        if self.min_word_count < 1:
            raise BuildError("--min-word-count must be >= 1")
        if self.max_vocab is not None and self.max_vocab < 3:
            raise BuildError("--max-vocab must be at least 3 (<unk>, <s>, </s>)")
        if self.text.on_bad_bytes not in BAD_BYTES_POLICIES:
            raise BuildError(f"--on-bad-bytes must be one of {', '.join(BAD_BYTES_POLICIES)}")
        if self.text.max_line_bytes < 1:
            raise BuildError("--max-line-bytes must be positive")
        self.workers = self.workers or os.cpu_count() or 1
        self.memory = self.memory or int(DEFAULT_MEMORY_FRACTION * total_ram())
        if self.memory < MIN_MEMORY:
            raise BuildError(f"--memory must be at least {MIN_MEMORY >> 20} MiB")
        if self.kn is not None:
            self.kn.check()
            if any(c > 1 for c in self.cutoffs):
                raise BuildError("--min-count does not apply to Kneser-Ney estimation")
        self.work_dir = self.work_dir or str(self.out_dir).rstrip("/") + ".work"
        if os.path.abspath(self.work_dir) == os.path.abspath(self.out_dir):
            raise BuildError("--work-dir must differ from the output directory")
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
        return self.chunk_bytes or max(4096, min(64 << 20, self.task_memory // 48))

    def fingerprint(self, paths: list[str]) -> dict:
        """What the work directory's content depends on; --resume requires it unchanged."""
        files = []
        for p in paths:
            if p == STDIN:
                files.append({"path": STDIN})
            else:
                st = os.stat(p)
                files.append({"path": os.path.abspath(p), "size": st.st_size, "mtime_ns": st.st_mtime_ns})
        keys = dict(order=self.order, num_shards=self.num_shards, shard_seed=self.shard_seed,
                    cutoffs=self.cutoffs, min_word_count=self.min_word_count, max_vocab=self.max_vocab,
                    text=asdict(self.text), chunk_bytes=self.planned_chunk_bytes, files=files)
        if self.kn is not None:
            keys["kn"] = self.kn.fingerprint()
        keys["hash"] = hashlib.sha256(json.dumps(keys, sort_keys=True).encode()).hexdigest()[:16]
        return keys


def text_options(lowercase: bool = False, jsonl_field: str | None = None, on_bad_bytes: str = "error",
                 max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> TextOptions:
    return TextOptions(lowercase, jsonl_field, on_bad_bytes, max_line_bytes)
