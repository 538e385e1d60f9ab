"""Progress bars per phase (tokens/s), peak memory of the whole process tree, and the
closing summary."""
from __future__ import annotations

import os
import threading
import time

from tqdm import tqdm


def bar(desc: str, total: int | None, unit: str, enabled: bool) -> tqdm:
    return tqdm(total=total, desc=desc, unit=unit, unit_scale=True, disable=not enabled, leave=True,
                dynamic_ncols=True, smoothing=0.1)


def tree_rss_bytes(root: int | None = None) -> int:
    """Resident memory of `root` (default: this process) and all its descendants."""
    root = root or os.getpid()
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as f:
                text = f.read()
        except OSError:
            continue
        pid = int(entry)
        ppid = vm = 0
        for line in text.splitlines():
            if line.startswith("PPid:"):
                ppid = int(line.split()[1])
            elif line.startswith("VmRSS:"):
                vm = int(line.split()[1]) * 1024
        children.setdefault(ppid, []).append(pid)
        rss[pid] = vm
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total


class MemorySampler:
    """Samples the process tree's resident memory in a thread; `peak` is the maximum,
    `peaks` the maximum per phase (set `phase` to attribute the samples that follow)."""

    def __init__(self, root: int | None = None, interval: float = 0.1):
        self.root = root
        self.interval = interval
        self.peak = 0
        self.peaks: dict[str, int] = {}
        self.phase: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> None:
        rss = tree_rss_bytes(self.root)
        self.peak = max(self.peak, rss)
        if self.phase is not None:
            self.peaks[self.phase] = max(self.peaks.get(self.phase, 0), rss)

    def _run(self):
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.sample()


class PhaseTimer:
    """Seconds per phase; with a MemorySampler, also attributes its samples to the phase."""

    def __init__(self, memory: MemorySampler | None = None):
        self.seconds: dict[str, float] = {}
        self.memory = memory

    def phase(self, name: str):
        timer = self

        class _Phase:
            def __enter__(self):
                self.t0 = time.perf_counter()
                if timer.memory is not None:
                    timer.memory.phase = name

            def __exit__(self, *exc):
                timer.seconds[name] = round(timer.seconds.get(name, 0.0) + time.perf_counter() - self.t0, 3)
                if timer.memory is not None:
                    timer.memory.sample()  # the phase's last state, before the next one frees it
                    timer.memory.phase = None
        return _Phase()


def format_summary(s: dict) -> str:
    """The closing summary, for people."""
    gib = 2 ** 30
    lines = [
        f"model      {s['out_dir']}  (id {s['model_id']})",
        f"corpus     {s['tokens']:,} tokens, {s['sentences']:,} sentences, {s['files']} file(s)",
        f"vocabulary {s['vocab_size']:,} words",
        "n-grams    " + ", ".join(f"{k}: {n:,}" for k, n in s["ngrams"].items()),
        f"bytes      {s['model_bytes']:,} ({s['model_bytes'] / max(1, s['total_ngrams']):.2f} per n-gram)",
        "time       " + ", ".join(f"{p} {t:.1f}s" for p, t in s["seconds"].items())
        + f"; {s['tokens_per_second'] / 1e6:.2f} M tokens/s",
        f"memory     peak {s['peak_rss_bytes'] / gib:.2f} GiB (all local processes), budget "
        f"{s['memory_budget'] / gib:.2f} GiB",
    ]
    if "smoothing" in s:  # Kneser-Ney models: the discounts per order
        lines.append("discounts  " + "; ".join(f"{k}: " + " ".join(f"{d:.4f}" for d in ds)
                                              for k, ds in s["smoothing"]["discounts"].items()))
    return "\n".join(lines)
