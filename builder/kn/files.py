"""The files of the Kneser-Ney stages (docs/KNESER_NEY.md, "Stages") and their plan.

Every task reads and writes files under the work directory's `kn/`, writes each output
to a temporary name and renames it, and writes its marker last: a rerun overwrites an
earlier attempt's leftovers, so tasks are idempotent and `--resume` skips marked ones.
Arrays are n-gram rows uint32[n, k] in suffix order (w_k, ..., w_1) unless a name says
otherwise; adjusted counts int64.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..workdir import read_json


@dataclass(frozen=True)
class KnPlan:
    """Picklable parameters of every KN task."""
    work_root: str
    order: int
    num_shards: int
    shard_seed: int
    vocab_size: int
    task_memory: int
    quantize: str
    prune: tuple[int, ...] = ()  # per order 1..N (all 0: nothing pruned)
    kept_words: int = 0  # --limit-vocab: ids below this are allowed words; 0: every word

    @property
    def bits(self) -> int:
        """Bits of a word id (how rows.group packs rows)."""
        return max(1, int(self.vocab_size - 1).bit_length())

    @property
    def model_vocab_size(self) -> int:
        return self.kept_words or self.vocab_size

    def threshold(self, k: int) -> int:
        return self.prune[k - 1] if self.prune else 0

    @property
    def dir(self) -> Path:
        return Path(self.work_root) / "kn"

    def marker(self, stage: str, shard: int) -> Path:
        return self.dir / stage / f"s{shard:05d}.json"

    def shard_data(self, stage: str, shard: int) -> Path:
        return self.dir / stage / f"s{shard:05d}.npz"

    def exchange(self, stage: str, src: int, dst: int) -> Path:
        return self.dir / stage / f"f{src:05d}-t{dst:05d}.npz"

    @property
    def globals1(self) -> Path:  # discounts and unigram probabilities (driver D1)
        return self.dir / "d1.npz"

    @property
    def globals2(self) -> Path:  # statistics of unigram contexts (driver D2)
        return self.dir / "d2.npz"

    def make_dirs(self) -> None:
        for stage in ("k1", "k2", "k3", "k4"):
            (self.dir / stage).mkdir(parents=True, exist_ok=True)


def save_npz(path: Path, **arrays) -> None:
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def load_npz(path: Path) -> dict:
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def finished(plan: KnPlan, stage: str, shard: int) -> dict | None:
    m = plan.marker(stage, shard)
    return read_json(m) if m.exists() else None
