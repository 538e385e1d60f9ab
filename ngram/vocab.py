"""The vocabulary: ids by descending frequency, mmap-able, with a batch string-to-id index.

Ids 0, 1, 2 are ``<unk>``, ``<s>``, ``</s>``; the other words follow by descending count,
ties broken by byte order, so equal corpora give equal ids whatever the build's
parallelism. Words are UTF-8 bytes. ``encode_lines`` tokenizes a whole block of text and
maps it to ids in one numba pass (no per-word Python).
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from .atomic import write_with
from .errors import InvalidArgumentError, ModelFormatError
from .format import VOCAB_KIND, open_container, verify_container, write_container
from .kernels.vocab_kernels import PACKED_HEAD, build_index, encode_block

UNK_ID, BOS_ID, EOS_ID = 0, 1, 2
UNK, BOS, EOS = b"<unk>", b"<s>", b"</s>"
SPECIAL_TOKENS = (UNK, BOS, EOS)


def _as_bytes(word: str | bytes) -> bytes:
    return word.encode("utf-8") if isinstance(word, str) else bytes(word)


class Vocabulary:
    """Words <-> ids, unigram counts, and a hash index, all numpy arrays (mmap-able)."""

    def __init__(self, strings: np.ndarray, offsets: np.ndarray, counts: np.ndarray,
                 table: np.ndarray | None = None, container=None):
        self.strings = strings
        self.offsets = offsets
        self.counts = counts
        self.table = table if table is not None else build_index(strings, offsets, index_table_size(len(offsets) - 1))
        self._container = container
        self._packed = None

    def packed(self) -> np.ndarray:
        """strings, offsets and the hash index copied into one uint8 array (a head of the
        segments' (start, end) byte bounds, int64; segments 8-byte aligned), for kernels
        called per sentence (ngram.kernels.vocab_kernels.packed_views). Built on first
        use, then kept."""
        if self._packed is None:
            parts = [np.ascontiguousarray(self.strings, np.uint8), np.ascontiguousarray(self.offsets, np.uint64),
                     np.ascontiguousarray(self.table, np.uint32)]
            head, start = [], PACKED_HEAD
            for a in parts:
                head += [start, start + a.nbytes]
                start = (start + a.nbytes + 7) // 8 * 8
            packed = np.zeros(start, np.uint8)
            packed[:PACKED_HEAD].view(np.int64)[:] = head
            for a, lo in zip(parts, head[::2]):
                packed[lo:lo + a.nbytes] = a.view(np.uint8)
            self._packed = packed
        return self._packed

    # -- construction
    @classmethod
    def from_words(cls, words: Sequence[str | bytes], counts: Iterable[int] | None = None) -> "Vocabulary":
        """A vocabulary with the given id order. The specials take ids 0-2: where the list
        holds them they are moved there with their counts, otherwise added with count 0."""
        if set(map(type, words)) != {bytes}:
            words = [_as_bytes(w) for w in words]
        if counts is None:
            counts = np.zeros(len(words), np.uint64)
        else:
            counts = np.asarray(counts if isinstance(counts, np.ndarray) else list(counts), dtype=np.uint64)
        if len(counts) != len(words):
            raise InvalidArgumentError(f"{len(words)} words but {len(counts)} counts")
        if len(set(words)) != len(words):
            seen = set()
            dup = next(w for w in words if w in seen or seen.add(w))
            raise InvalidArgumentError(f"duplicate word {dup!r} in vocabulary")
        special_counts = {s: 0 for s in SPECIAL_TOKENS}
        special_at = sorted(i for i in (_index_of(words, s) for s in SPECIAL_TOKENS) if i >= 0)
        for i in special_at:
            special_counts[words[i]] = int(counts[i])
        rest_w = list(words)
        for i in reversed(special_at):
            del rest_w[i]
        all_words = list(SPECIAL_TOKENS) + rest_w
        lengths = np.fromiter(map(len, all_words), np.uint64, len(all_words))
        offsets = np.zeros(len(all_words) + 1, np.uint64)
        np.cumsum(lengths, out=offsets[1:])
        strings = np.frombuffer(b"".join(all_words), np.uint8).copy()
        _check_words(strings, offsets, lengths)
        all_counts = np.concatenate([np.array([special_counts[s] for s in SPECIAL_TOKENS], np.uint64),
                                     np.delete(counts, special_at)])
        return cls(strings, offsets, all_counts)

    # -- persistence
    def save(self, path: str | os.PathLike) -> int:
        """Write the vocabulary file (atomically: temp file, then rename); returns bytes."""
        arrays = {"offsets": self.offsets, "strings": self.strings, "counts": self.counts, "index": self.table}
        return write_with(path, lambda tmp: write_container(tmp, VOCAB_KIND, arrays, {"size": len(self)}))

    @classmethod
    def open(cls, path: str | os.PathLike) -> "Vocabulary":
        c = open_container(path, VOCAB_KIND)
        a = c.arrays
        try:
            offsets, strings, counts, table = a["offsets"], a["strings"], a["counts"], a["index"]
        except KeyError as e:
            raise ModelFormatError(f"vocabulary lacks array {e}", str(path)) from None
        if (offsets.dtype != np.uint64 or strings.dtype != np.uint8 or counts.dtype != np.uint64
                or table.dtype != np.uint32 or any(x.ndim != 1 for x in (offsets, strings, counts, table))):
            raise ModelFormatError("vocabulary arrays have the wrong types", str(path))
        n = c.header.get("size")
        if (not isinstance(n, int) or n != len(offsets) - 1 or len(counts) != n or n < 3
                or int(offsets[-1]) != len(strings) or len(table) & (len(table) - 1) or len(table) <= n):
            raise ModelFormatError("vocabulary arrays are inconsistent", str(path))
        # O(V) but cheap (~1 ms per 250 k words): word bounds in order. The tokenizer
        # kernels check each index entry and bound as they read it.
        if n and (offsets[0] != 0 or (offsets[1:] < offsets[:-1]).any()):
            raise ModelFormatError("vocabulary word offsets are not in order", str(path))
        return cls(strings, offsets, counts, table, container=c)

    def verify(self) -> None:
        if self._container is not None:
            verify_container(self._container)

    # -- queries
    def __len__(self) -> int:
        return len(self.offsets) - 1

    def word_bytes(self, i: int) -> bytes:
        return self.strings[int(self.offsets[i]):int(self.offsets[i + 1])].tobytes()

    def word(self, i: int) -> str:
        if not 0 <= i < len(self):
            raise IndexError(f"id {i} outside the vocabulary of {len(self)} words")
        return self.word_bytes(i).decode("utf-8", errors="replace")

    def words(self, ids: Iterable[int]) -> list[str]:
        return [self.word(int(i)) for i in ids]

    def __iter__(self):
        return (self.word(i) for i in range(len(self)))

    def __contains__(self, word: str | bytes) -> bool:
        return self.id(word) != UNK_ID or _as_bytes(word) == UNK

    def id(self, word: str | bytes) -> int:
        return self._id_one(_as_bytes(word))

    def ids(self, words: Sequence[str | bytes]) -> np.ndarray:
        """Ids of a batch of words (unknown -> 0), one numba pass over the words joined by
        newlines. An empty word or one holding whitespace is no vocabulary word: <unk>."""
        if not words:
            return np.zeros(0, np.int32)
        raw = [_as_bytes(w) for w in words]
        ids, offsets = self.encode_lines(b"\n".join(raw), boundaries=False)
        if len(offsets) - 1 == len(raw) and len(ids) == len(raw):
            return ids  # every line held exactly one token
        return np.array([self._id_one(w) for w in raw], np.int32)

    def _id_one(self, word: bytes) -> int:
        if not word or word.split() != [word]:
            return UNK_ID
        ids, _ = self.encode_lines(word, boundaries=False)
        return int(ids[0])

    def encode_lines(self, data: bytes, boundaries: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Tokenize newline-separated sentences (blank lines skipped) and map to ids.

        Returns (ids int32[T], offsets int64[S+1]); with `boundaries` each sentence is
        wrapped in <s> ... </s>.
        """
        buf = np.frombuffer(data, np.uint8) if data else np.zeros(0, np.uint8)
        return encode_block(buf, self.strings, self.offsets, self.table, UNK_ID, BOS_ID, EOS_ID, boundaries)

    @property
    def total_tokens(self) -> int:
        """Tokens a model predicts: every unigram count but <s>'s (the Stupid Backoff base)."""
        return int(self.counts.sum()) - int(self.counts[BOS_ID])


def index_table_size(n: int) -> int:
    """Slots of the hash index of n words: a power of two, at most half full."""
    size = 8
    while size < 2 * n:
        size *= 2
    return size


def build_vocabulary(word_counts: Mapping[bytes, int], *, num_sentences: int, min_count: int = 1,
                     max_size: int | None = None) -> Vocabulary:
    """Ids by descending count (ties by bytes); words under `min_count` or beyond
    `max_size` (counting the specials) become <unk>, their counts added to its count."""
    unk = int(word_counts.get(UNK, 0))
    plain = dict(word_counts)
    for s in SPECIAL_TOKENS:
        plain.pop(s, None)
    items = sorted(plain.items())  # byte order (words are distinct): the tie-break
    words = [w for w, _ in items]
    counts = np.array([c for _, c in items], np.uint64)
    order = np.argsort(-counts.astype(np.int64), kind="stable")  # descending count, ties stay in byte order
    keep = order[counts[order] >= min_count]
    if max_size is not None:
        keep = keep[:max(0, max_size - 3)]
    unk += int(counts.sum()) - int(counts[keep].sum())
    kept_words = [words[i] for i in keep.tolist()]
    return Vocabulary.from_words([UNK, BOS, EOS] + kept_words,
                                 np.concatenate([np.array([unk, num_sentences, num_sentences], np.uint64),
                                                 counts[keep]]))


def _index_of(words: list[bytes], word: bytes) -> int:
    try:
        return words.index(word)
    except ValueError:
        return -1


_WHITESPACE = np.zeros(256, bool)
_WHITESPACE[list(b" \t\n\r\x0b\x0c")] = True


def _check_words(strings: np.ndarray, offsets: np.ndarray, lengths: np.ndarray) -> None:
    """Every word non-empty and free of whitespace (checked over the joined bytes)."""
    bad = np.flatnonzero(lengths == 0)
    spaces = np.flatnonzero(_WHITESPACE[strings])
    if len(spaces):
        bad = np.union1d(bad, np.searchsorted(offsets, spaces, side="right") - 1)
    if len(bad):
        i = int(bad[0])
        word = strings[int(offsets[i]):int(offsets[i + 1])].tobytes()
        raise InvalidArgumentError(f"invalid word {word!r}: empty or contains whitespace")
