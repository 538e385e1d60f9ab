"""Pass 1, vocabulary: each task cleans one input chunk, keeps the cleaned text for
pass 2 (zstd, in the work directory) and counts its words and sentences; the driver
merges the counts and builds the vocabulary (ids by descending count)."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import zstandard

from ngram.vocab import Vocabulary, build_vocabulary

from .inputs import Chunk, TextOptions, chunk_digest, clean_chunk
from .kernels.text_scan import count_sentences
from .workdir import WorkDir, read_pickle, write_atomic, write_pickle


@dataclass
class ChunkCounts:
    """What one vocabulary task found in its chunk."""
    index: int
    path: str
    words: Counter
    tokens: int
    sentences: int
    raw_bytes: int
    text_bytes: int
    digest: str  # sha256 of the chunk's raw lines: --resume checks the input is the same


def vocab_task(chunk: Chunk, opts: TextOptions, work_root: str) -> ChunkCounts:
    """Clean `chunk`, store its text for pass 2, count its words. Idempotent: a rerun
    rewrites the same files; the marker (the pickled counts) is written last."""
    work = WorkDir(work_root)
    text = clean_chunk(chunk, opts)
    write_atomic(work.chunk_text(chunk.index), zstandard.ZstdCompressor(level=1).compress(text))
    words = Counter(text.split())
    result = ChunkCounts(chunk.index, chunk.path, words, sum(words.values()),
                         count_sentences(np.frombuffer(text, np.uint8)), len(chunk.data), len(text),
                         chunk_digest(chunk.data))
    write_pickle(work.vocab_marker(chunk.index), result)
    return result


def finished_vocab_task(work: WorkDir, index: int) -> ChunkCounts | None:
    marker = work.vocab_marker(index)
    if marker.exists() and work.chunk_text(index).exists():
        return read_pickle(marker)
    return None


class VocabMerger:
    """Sums the chunks' counts as they arrive (in any order)."""

    def __init__(self):
        self.words: Counter = Counter()
        self.tokens = 0
        self.sentences = 0
        self.chunks = 0
        self.chunk_digests: list[tuple[int, str, str]] = []

    def add(self, c: ChunkCounts) -> None:
        self.chunk_digests.append((c.index, c.path, c.digest))
        self.words.update(c.words)
        self.tokens += c.tokens
        self.sentences += c.sentences
        self.chunks += 1

    def vocabulary(self, min_count: int, max_size: int | None) -> Vocabulary:
        return build_vocabulary(self.words, num_sentences=self.sentences, min_count=min_count, max_size=max_size)


def read_chunk_text(work: WorkDir, index: int) -> bytes:
    with open(work.chunk_text(index), "rb") as f:
        return zstandard.ZstdDecompressor().stream_reader(f).read()
