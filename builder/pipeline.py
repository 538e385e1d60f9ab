"""The build pipeline, as a table of contents. Input: corpus files; output: a model
directory published atomically.

  0. check the options, lock the work directory, check a resumed one is this build's
  1/3 vocabulary: clean and chunk the corpus, count words in parallel, merge, assign ids
  2/3 counting:   per chunk, n-grams of orders 2..N -> sorted runs per shard (map)
  3/3 reducing:   per shard, merge runs, sum counts, cutoffs, encode (reduce)
  4. publish:     manifest, checksums, rename into place; then drop the work directory

Every task leaves a marker in the work directory when it finishes (see
``builder.workdir``); `--resume` skips the tasks whose markers exist.
"""
from __future__ import annotations

import itertools
import os
import shutil
import socket
import time
from dataclasses import asdict

from ngram.manifest import shard_file_name
from ngram.vocab import Vocabulary
from ngram.writer import ModelWriter, ShardSpec

from . import progress
from .config import FRAME_ROWS, BuildConfig
from .errors import BuildError
from .executors import make_executor, run_tasks
from .input_identity import check_chunk, record_chunks
from .inputs import expand_inputs, iter_chunks
from .keys import KeyLayout
from .map_stage import MapPlan, finished_map_task, map_task
from .reduce_stage import ReducePlan, finished_reduce_task, reduce_task
from .vocab_pass import VocabMerger, finished_vocab_task, vocab_task
from .work_prep import claim_work_dir, prepare_work_dir
from .workdir import WorkDir, read_json, write_json


def build(cfg: BuildConfig, executor=None) -> dict:
    """Build the model `cfg` describes; returns the summary. Raises BuildError."""
    cfg.check()
    paths = expand_inputs(cfg.inputs)
    work = WorkDir(cfg.work_dir)
    lock = claim_work_dir(work)  # before any work: a second build to this --out stops here
    try:
        return _build(cfg, paths, work, executor)
    finally:
        lock.release()


def _build(cfg: BuildConfig, paths: list[str], work: WorkDir, executor) -> dict:
    try:
        read_from = prepare_work_dir(cfg, paths, work)
    except OSError as e:  # spooling stdin, writing build.json, rereading inputs
        raise BuildError(f"{e.strerror or e} (disk full?) preparing the work directory", e.filename) from e
    t0 = time.perf_counter()
    own_executor = executor is None
    with progress.MemorySampler() as memory:
        timer = progress.PhaseTimer(memory)
        executor = executor or make_executor(cfg.dask, cfg.workers)
        try:
            with timer.phase("vocabulary"):
                vocab, stats = vocabulary_pass(cfg, paths, work, executor, read_from)
            with timer.phase("counting"):
                chunks = counting_pass(cfg, vocab, stats, work, executor)
            executor.fresh_workers()  # reduce tasks start from clean heaps (see LocalExecutor)
            smoothing = None
            if cfg.kn is not None:  # Kneser-Ney: its own stages replace the reduce (builder/kn)
                from .kn.driver import kn_pass
                writer, reduce_markers, smoothing = kn_pass(cfg, vocab, stats, chunks, work, executor, timer)
            else:
                with timer.phase("reducing"):
                    writer, reduce_markers = reduce_pass(cfg, vocab, chunks, work, executor)
            with timer.phase("publishing"):
                manifest = publish(cfg, paths, writer, stats, timer, executor, smoothing)
        except OSError as e:  # the driver's own writes: markers, vocabulary, manifest
            raise BuildError(f"{e.strerror or e} (disk full?); the work directory is kept: rerun with "
                             "--resume to finish", e.filename) from e
        finally:
            if own_executor:
                executor.close()
    if not cfg.keep_work:
        shutil.rmtree(work.root, ignore_errors=True)
    seconds = time.perf_counter() - t0
    ngrams = {k: sum(m["ngrams"][k - 2] for m in reduce_markers) for k in range(2, cfg.order + 1)}
    ngrams = {1: (smoothing or {}).get("vocab_size", len(vocab)), **ngrams}
    return {
        "out_dir": str(cfg.out_dir), "model_id": manifest["model_id"],
        "tokens": stats["tokens"], "sentences": stats["sentences"], "files": len(paths),
        "vocab_size": ngrams[1], "ngrams": ngrams, "total_ngrams": sum(ngrams.values()),
        "model_bytes": sum(f.stat().st_size for f in os.scandir(cfg.out_dir) if f.is_file()),
        "seconds": {**timer.seconds, "total": round(seconds, 3)},
        "tokens_per_second": stats["tokens"] / max(seconds, 1e-9),
        "peak_rss_bytes": memory.peak, "peak_rss_bytes_by_phase": dict(memory.peaks), "memory_budget": cfg.memory,
        "workers": executor.workers, "executor": executor.name,
        **({"smoothing": smoothing} if smoothing else {}),  # Kneser-Ney: discounts, count-of-counts
    }


def vocabulary_pass(cfg: BuildConfig, paths: list[str], work: WorkDir, executor, read_from: dict[str, str]):
    """=== 1/3 Vocabulary === -> (Vocabulary, corpus statistics)."""
    if work.vocab_json.exists() and work.vocab_bin.exists():
        return Vocabulary.open(work.vocab_bin), read_json(work.vocab_json)
    merger = VocabMerger()
    bar = progress.bar("1/3 vocabulary", None, "tok", cfg.progress)

    def add(result):
        merger.add(result)
        bar.update(result.tokens)

    def tasks():
        for chunk in iter_chunks(paths, cfg.planned_chunk_bytes, cfg.text.max_line_bytes, read_from):
            done = finished_vocab_task(work, chunk.index) if cfg.resume else None
            if done is not None:
                check_chunk(chunk, done.path, done.digest, str(work.root))  # the same input as then
                add(done)
            else:
                yield vocab_task, (chunk, cfg.text, str(work.root))

    try:
        run_tasks(executor, tasks(), add, window=executor.workers + 1)
    finally:
        bar.close()
    if merger.sentences == 0:
        raise BuildError("the input holds no sentences (every line is blank)")
    record_chunks(work, merger.chunk_digests)  # before vocab.json, the pass's marker
    vocab = merger.vocabulary(cfg.min_word_count, cfg.max_vocab)
    stats = {"chunks": merger.chunks, "tokens": merger.tokens, "sentences": merger.sentences}
    if cfg.kn is not None and cfg.kn.limit_vocab is not None:  # allowed words first (builder/kn/limit_vocab.py)
        from .kn.limit_vocab import limit_order
        from .kn.options import limit_vocab_words
        vocab, stats["limit_vocab_kept"] = limit_order(vocab, limit_vocab_words(cfg.kn.limit_vocab,
                                                                                 cfg.text.lowercase))
    vocab.save(work.vocab_bin)
    write_json(work.vocab_json, stats)
    return Vocabulary.open(work.vocab_bin), stats


MAP_TASKS_PER_WORKER = 16


def counting_pass(cfg: BuildConfig, vocab: Vocabulary, stats: dict, work: WorkDir, executor) -> int:
    """=== 2/3 Counting n-grams (map) === -> the number of chunks counted. Their markers
    (each run's frame index) stay on disk: reduce tasks read them, so the driver's memory
    does not grow with the corpus."""
    plan = MapPlan.make(str(work.root), cfg.order, cfg.num_shards, cfg.shard_seed, len(vocab),
                        cfg.task_memory, FRAME_ROWS)
    done_chunks = 0
    bar = progress.bar("2/3 counting", stats["tokens"] + 2 * stats["sentences"], "tok", cfg.progress)

    def add(marker):
        nonlocal done_chunks
        done_chunks += 1
        bar.update(marker["tokens"])

    def tasks():
        for i in range(stats["chunks"]):
            done = finished_map_task(work, i) if cfg.resume else None
            if done is not None:
                add(done)
            else:
                yield map_task, (i, plan)

    # Workers are replaced after every MAP_TASKS_PER_WORKER tasks each, so the fragments
    # their heaps keep cannot pile up over a long corpus (the 10x corpus's counting peak
    # was ~15 MB above 1x's); a corpus of up to that many chunks per worker is untouched.
    pending = tasks()
    group = MAP_TASKS_PER_WORKER * executor.workers
    try:
        batch = list(itertools.islice(pending, group))
        while batch:
            run_tasks(executor, iter(batch), add, window=executor.workers)
            batch = list(itertools.islice(pending, group))
            if batch:
                executor.fresh_workers()
    finally:
        bar.close()
    return done_chunks


def reduce_pass(cfg: BuildConfig, vocab: Vocabulary, chunks: int, work: WorkDir, executor):
    """=== 3/3 Merging, pruning, encoding shards (reduce) === -> (ModelWriter, markers)."""
    spec = ShardSpec(order=cfg.order, num_shards=cfg.num_shards, shard_seed=cfg.shard_seed)
    plan = ReducePlan.make(str(work.root), spec, KeyLayout.for_vocab(len(vocab)), tuple(cfg.cutoffs),
                           cfg.task_memory)
    same_fs = _same_filesystem(work.root, cfg.out_dir)
    try:
        writer = ModelWriter(cfg.out_dir, spec, vocab, tmp_dir=work.model_dir if same_fs else None)
    except FileExistsError as e:
        raise BuildError(str(e), str(cfg.out_dir)) from None
    work.model_dir.mkdir(exist_ok=True)
    markers: list[dict] = []
    bar = progress.bar("3/3 reducing", cfg.num_shards, "shard", cfg.progress)

    def add(marker):
        markers.append(marker)
        writer.add_summary(marker["summary"])
        bar.update(1)

    def tasks():
        for s in range(cfg.num_shards):
            done = finished_reduce_task(work, s, cfg.num_shards) if cfg.resume else None
            if done is not None:
                add(done)
            else:
                yield reduce_task, (s, plan, chunks)

    try:
        run_tasks(executor, tasks(), add, window=executor.workers)
    finally:
        bar.close()
    if not same_fs:  # the model is assembled beside the output, so the final rename is atomic
        for s in range(cfg.num_shards):
            name = shard_file_name(s, cfg.num_shards)
            shutil.copyfile(work.model_dir / name, writer.tmp_dir / name)
    return writer, sorted(markers, key=lambda m: m["shard"])


def publish(cfg: BuildConfig, paths: list[str], writer: ModelWriter, stats: dict, timer, executor,
            smoothing: dict | None = None) -> dict:
    """Manifest, checksums and the atomic rename into place."""
    tokenizer = {"kind": "whitespace", "lowercase": cfg.text.lowercase, "min_word_count": cfg.min_word_count,
                 "max_vocab": cfg.max_vocab}
    if cfg.text.jsonl_field is not None:
        tokenizer["jsonl_field"] = cfg.text.jsonl_field
    if cfg.text.on_bad_bytes != "error":
        tokenizer["on_bad_bytes"] = cfg.text.on_bad_bytes
    return writer.commit({
        **({"smoothing": smoothing} if smoothing else {}),
        "corpus": {"tokens": stats["tokens"], "sentences": stats["sentences"]},
        "cutoffs": list(cfg.cutoffs),
        "tokenizer": tokenizer,
        "provenance": {
            "builder": "mapreduce", "sources": paths, "host": socket.gethostname(),
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "executor": executor.name,
            "workers": executor.workers, "memory_budget": cfg.memory,
            "chunks": stats["chunks"], "text": asdict(cfg.text), "seconds": dict(timer.seconds),
        },
    })


def _same_filesystem(work_root, out_dir) -> bool:
    parent = os.path.dirname(os.path.abspath(out_dir)) or "."
    os.makedirs(parent, exist_ok=True)
    return os.stat(work_root).st_dev == os.stat(parent).st_dev
