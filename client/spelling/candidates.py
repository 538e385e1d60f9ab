"""`CandidateIndex`: the vocabulary words within edit distance k of a typed word, in batches.

Distance: optimal string alignment (OSA, "restricted Damerau-Levenshtein": insertions,
deletions, substitutions and transpositions of two adjacent characters, no edit of a
transposed pair), on lowercased code points. Matching is case-insensitive: the index is
over *keys*, the distinct lowercased forms of the vocabulary's words ("The", "the" and
"THE" are one key), each key listing its vocabulary spellings ("forms") by frequency.

Only words of letters (any Latin-script letters, with inner apostrophes or hyphens:
"Noah's", "well-known") are keys; numbers, punctuation, code identifiers and other
scripts are never candidates. The delete index (client/spelling/kernels.py) holds the
keys one of whose forms has at least `min_count` occurrences (counts and KN models:
the vocabulary's unigram counts; imported ARPA models have no counts, and every word
passes). Every key, whatever its count, is in the exact-key table (case-insensitive
lookup of a typed word, splits, merges).

Built at start (1-3 s for a 250 k-word vocabulary) from the vocabulary alone; `save` /
`load` keep it in a file (mmap) for a deployment that wants to skip the build.
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass

import numpy as np

from ngram.atomic import write_with
from ngram.chains import COUNTS
from ngram.errors import InvalidArgumentError, ModelFormatError
from ngram.format import open_container, verify_container, write_container
from ngram.limits import DEFAULT_MAX_BATCH, SPELL_MAX_DISTANCE, SPELL_MAX_WORD_CHARS, SPELL_MIN_COUNT

from . import kernels as K

INDEX_KIND = b"SPL1"
LATIN_MAX = 0x24F   # Basic Latin .. Latin Extended-B


def _letter_class() -> str:
    """A regex class of the letters (str.isalpha) up to LATIN_MAX, as code point ranges."""
    ranges, start = [], None
    for c in range(LATIN_MAX + 2):
        alpha = c <= LATIN_MAX and chr(c).isalpha()
        if alpha and start is None:
            start = c
        elif not alpha and start is not None:
            ranges.append(f"\\u{start:04x}-\\u{c - 1:04x}")
            start = None
    return "[" + "".join(ranges) + "]"


# A key: Latin-script letters, runs joined by one apostrophe or hyphen.
_LETTER = _letter_class()
_KEY = rf"{_LETTER}+(?:['\-]{_LETTER}+)*"
_KEY_RE = re.compile(_KEY)
_KEY_LINE_RE = re.compile(rf"^{_KEY}$", re.MULTILINE)


def is_key_word(word: str) -> bool:
    """Whether a (lowercased) word can be a candidate: Latin letters with inner ' or -,
    at most SPELL_MAX_WORD_CHARS code points."""
    return 0 < len(word) <= SPELL_MAX_WORD_CHARS and _KEY_RE.fullmatch(word) is not None


def _key_word_lines(lines: list[str], joined: str) -> np.ndarray:
    """bool[len(lines)]: is_key_word of each line, in one regex pass over
    joined == "\\n".join(lines)."""
    lengths = np.fromiter(map(len, lines), np.int64, len(lines))
    starts = np.zeros(len(lines), np.int64)
    np.cumsum(lengths[:-1] + 1, out=starts[1:])
    out = np.zeros(len(lines), bool)
    found = np.fromiter((m.start() for m in _KEY_LINE_RE.finditer(joined)), np.int64)
    out[np.searchsorted(starts, found)] = True
    return out & (lengths <= SPELL_MAX_WORD_CHARS)


def vocab_strings(vocab) -> list[str]:
    """Every vocabulary word as str (invalid UTF-8 replaced), in one decode."""
    strings = np.asarray(vocab.strings, np.uint8)
    offsets = np.asarray(vocab.offsets, np.int64)
    if len(offsets) <= 1:
        return []
    joined = np.insert(strings, offsets[1:-1], np.uint8(10))  # words never hold a newline
    return joined.tobytes().decode("utf-8", "replace").split("\n")


def code_points(words: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(chars uint32[], offsets int64[n + 1]) of strings (lone surrogates kept as code points)."""
    lengths = np.fromiter(map(len, words), np.int64, len(words))
    offsets = np.zeros(len(words) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    data = "".join(words).encode("utf-32-le", "surrogatepass")
    return np.frombuffer(data, np.uint32), offsets


def word_log10_frequencies(backend) -> np.ndarray:
    """float64[V]: log10 of each vocabulary word's unigram frequency, -inf if unknown.

    Counts models: count / total tokens, from the vocabulary every backend (local or
    remote) holds. Backoff models: the unigram log10 probabilities, which live in the
    shards; one batched unigram lookup asks them (one round per DEFAULT_MAX_BATCH words;
    a remote backend answers a unigram from any shard)."""
    vocab = backend.vocab
    n = len(vocab)
    if backend.value_kind == COUNTS:
        counts = np.asarray(vocab.counts, np.float64)
        total = max(float(vocab.total_tokens), 1.0)
        with np.errstate(divide="ignore"):
            return np.log10(counts / total)
    out = np.full(n, -np.inf)
    for lo in range(0, n, DEFAULT_MAX_BATCH):
        ids = np.arange(lo, min(n, lo + DEFAULT_MAX_BATCH), dtype=np.int32)[:, None]
        chains = backend.lookup(ids, np.ones(len(ids), np.int32))
        prob = np.asarray(chains.prob[:, 0], np.float64)
        out[lo:lo + len(ids)] = np.where(np.isnan(prob), -np.inf, prob)
    return out


@dataclass(frozen=True)
class KeyMatches:
    """Flat result of a batched key lookup: query i matched key[j] at distance[j] for
    every j with query[j] == i (grouped by query, keys ascending)."""
    query: np.ndarray
    key: np.ndarray
    distance: np.ndarray


class CandidateIndex:
    """Case-insensitive OSA-distance candidates over a model's vocabulary."""

    def __init__(self, arrays: dict[str, np.ndarray], meta: dict, container=None):
        self.arrays = arrays
        self.meta = meta
        self.max_distance = int(meta["max_distance"])
        self.min_count = int(meta["min_count"])
        self.model_id = meta.get("model_id", "")
        self._bucket_bits = int(meta["bucket_bits"])
        a = arrays
        self.key_chars, self.key_offsets = a["key_chars"], a["key_offsets"]
        self.form_offsets, self.form_ids = a["form_offsets"], a["form_ids"]
        self.key_log10 = a["key_log10"]        # log10 frequency of a key (all its forms)
        self.key_indexed = a["key_indexed"]    # passes the frequency filter: a candidate
        self.form_ok = a["form_ok"]            # per form (aligned with form_ids): passes it
        self._container = container

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def build(cls, vocab, word_log10: np.ndarray | None = None, *, max_distance: int = SPELL_MAX_DISTANCE,
              min_count: int = SPELL_MIN_COUNT, model_id: str = "") -> "CandidateIndex":
        """The index of a vocabulary. `word_log10` (word_log10_frequencies) orders each
        key's forms and gives its frequency; without it the vocabulary's counts do."""
        if not 0 <= max_distance <= 2:
            raise InvalidArgumentError(f"max_distance {max_distance}: the index supports 0, 1 or 2")
        if min_count < 0:
            raise InvalidArgumentError(f"min_count {min_count} must be >= 0")
        words = vocab_strings(vocab)
        counts = np.asarray(vocab.counts, np.int64)
        if word_log10 is None:
            total = max(float(counts.sum()), 1.0)
            with np.errstate(divide="ignore"):
                word_log10 = np.log10(counts / total)
        word_log10 = np.asarray(word_log10, np.float64)
        joined = "\n".join(words).lower()          # one call; str.lower never makes a newline
        lowered = joined.split("\n")
        word_ids = np.flatnonzero(_key_word_lines(lowered, joined)).astype(np.int32)
        keys_arr, key_of = np.unique(np.array([lowered[i] for i in word_ids.tolist()], dtype=str),
                                     return_inverse=True)
        keys = keys_arr.tolist()   # sorted by code point, as sorted() sorts str
        has_counts = bool(counts.any())  # imported ARPA models carry no counts: nothing is filtered
        order = np.lexsort((word_ids, -word_log10[word_ids], key_of))   # by key, most frequent form first
        form_ids = word_ids[order]
        form_offsets = np.zeros(len(keys) + 1, np.int64)
        np.cumsum(np.bincount(key_of, minlength=len(keys)), out=form_offsets[1:])
        form_ok = (counts[form_ids] >= min_count) if has_counts else np.ones(len(form_ids), bool)
        key_indexed = np.logical_or.reduceat(form_ok, form_offsets[:-1]) if len(keys) else np.zeros(0, bool)
        with np.errstate(divide="ignore"):
            lin = np.power(10.0, word_log10[form_ids]) if len(form_ids) else np.zeros(0)
            key_log10 = np.log10(np.add.reduceat(lin, form_offsets[:-1])) if len(keys) else np.zeros(0)
        chars, offsets = code_points(keys)
        arrays = {"key_chars": chars, "key_offsets": offsets, "form_offsets": form_offsets, "form_ids": form_ids,
                  "key_log10": key_log10.astype(np.float64), "key_indexed": key_indexed.astype(np.uint8),
                  "form_ok": form_ok.astype(np.uint8)}
        entries = int(sum(K.variant_count(int(n), max_distance) for n in np.diff(offsets)[key_indexed]))
        bucket_bits = max(4, math.ceil(math.log2(max(entries, 1) / 4 + 1)))   # ~4 postings a bucket
        bucket_offsets, postings, prints = K.build_delete_index(chars, offsets, key_indexed, max_distance,
                                                                bucket_bits)
        table_bits = max(3, math.ceil(math.log2(2 * len(keys) + 1)))
        arrays.update(bucket_offsets=bucket_offsets, postings=postings, prints=prints,
                      key_table=K.build_key_table(chars, offsets, table_bits))
        meta = {"max_distance": max_distance, "min_count": min_count, "bucket_bits": bucket_bits,
                "model_id": model_id, "vocab_size": len(vocab), "distance": "osa"}
        return cls(arrays, meta)

    @classmethod
    def for_backend(cls, backend, **kw) -> "CandidateIndex":
        """The index of a backend's vocabulary, ordered by its unigram frequencies."""
        return cls.build(backend.vocab, word_log10_frequencies(backend), model_id=backend.model_id, **kw)

    # -- persistence ----------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> int:
        """Write the index as one container file (atomically); returns its bytes."""
        return write_with(path, lambda tmp: write_container(tmp, INDEX_KIND, self.arrays, {"spelling": self.meta}))

    @classmethod
    def load(cls, path: str | os.PathLike, *, model_id: str | None = None, verify: bool = True) -> "CandidateIndex":
        """Map a saved index. `model_id` (when given) must be the one it was built for."""
        c = open_container(path, INDEX_KIND)
        if verify:
            verify_container(c)
        meta = c.header.get("spelling")
        need = ("key_chars", "key_offsets", "form_offsets", "form_ids", "key_log10", "key_indexed", "form_ok",
                "bucket_offsets", "postings", "prints", "key_table")
        if not isinstance(meta, dict) or any(n not in c.arrays for n in need):
            raise ModelFormatError("not a spelling candidate index (metadata or arrays missing)", str(path))
        if model_id is not None and meta.get("model_id") != model_id:
            raise ModelFormatError(f"index was built for model {meta.get('model_id')!r}, not {model_id!r}", str(path))
        _check_arrays(c.arrays, meta, str(path))
        return cls(dict(c.arrays), meta, container=c)

    @property
    def nbytes(self) -> int:
        return int(sum(a.nbytes for a in self.arrays.values()))

    @property
    def num_keys(self) -> int:
        return len(self.key_offsets) - 1

    # -- queries --------------------------------------------------------------------------
    def key_text(self, key: int) -> str:
        lo, hi = int(self.key_offsets[key]), int(self.key_offsets[key + 1])
        return self.key_chars[lo:hi].tobytes().decode("utf-32-le", "surrogatepass")

    def forms(self, key: int) -> np.ndarray:
        """Vocabulary ids spelling the key, most frequent first."""
        return self.form_ids[int(self.form_offsets[key]):int(self.form_offsets[key + 1])]

    def find_keys(self, words: list[str]) -> np.ndarray:
        """int32: the key of each lowercased word, -1 where the vocabulary has no such key."""
        if not words:
            return np.zeros(0, np.int32)
        chars, offsets = code_points(words)
        return K.find_keys(chars, offsets, self.key_chars, self.key_offsets, self.arrays["key_table"])

    def lookup_keys(self, words: list[str], max_distance=None) -> KeyMatches:
        """Keys within `max_distance` (default: the build's; an int, or one int per word,
        -1 for none) of each lowercased word, in one kernel call. An empty word, or one longer than
        SPELL_MAX_WORD_CHARS, matches nothing."""
        k = np.full(len(words), self.max_distance, np.int64) if max_distance is None else (
            np.broadcast_to(np.asarray(max_distance, np.int64), (len(words),)).copy())
        if len(k) and (int(k.min()) < -1 or int(k.max()) > self.max_distance):
            raise InvalidArgumentError(f"max_distance {int(k.max())}: this index was built for 0..{self.max_distance}")
        if not words:
            z = np.zeros(0, np.int32)
            return KeyMatches(z, z, np.zeros(0, np.int8))
        chars, offsets = code_points(words)
        q, key, d = K.lookup_delete_index(chars, offsets, k, self.key_chars, self.key_offsets,
                                          self.arrays["bucket_offsets"], self.arrays["postings"],
                                          self.arrays["prints"], self._bucket_bits, self.max_distance,
                                          SPELL_MAX_WORD_CHARS, SPELL_MAX_WORD_CHARS)
        return KeyMatches(q, key, d)

    def lookup(self, words: list[str], max_distance: int | None = None) -> list[list[tuple[int, int]]]:
        """For each word: (vocabulary id, distance) of every vocabulary word whose
        lowercased form is within `max_distance` of the lowercased word and which passes
        the frequency filter, by id."""
        m = self.lookup_keys([w.lower() for w in words], max_distance)
        out: list[list[tuple[int, int]]] = [[] for _ in words]
        fo, ok = self.form_offsets, self.form_ok
        for q, key, d in zip(m.query.tolist(), m.key.tolist(), m.distance.tolist()):
            lo, hi = int(fo[key]), int(fo[key + 1])
            out[q].extend((int(i), d) for i, good in zip(self.form_ids[lo:hi].tolist(), ok[lo:hi].tolist()) if good)
        for row in out:
            row.sort()
        return out


def _check_arrays(a: dict, meta: dict, path: str) -> None:
    """What the kernels read, checked once at load: no byte pattern may send them outside
    an array."""
    try:
        nkeys = len(a["key_offsets"]) - 1
        bits = int(meta["bucket_bits"])
        ok = (a["key_chars"].dtype == np.uint32 and a["key_offsets"].dtype == np.int64 and nkeys >= 0
              and a["bucket_offsets"].dtype == np.uint32 and a["postings"].dtype == np.uint32
              and a["prints"].dtype == np.uint8 and a["key_table"].dtype == np.int32
              and a["form_ids"].dtype == np.int32 and a["form_offsets"].dtype == np.int64
              and 1 <= bits <= 40 and len(a["bucket_offsets"]) == (1 << bits) + 1
              and len(a["prints"]) == len(a["postings"]) and len(a["form_offsets"]) == nkeys + 1
              and len(a["key_log10"]) == nkeys and len(a["key_indexed"]) == nkeys
              and len(a["form_ok"]) == len(a["form_ids"]) and 0 <= int(meta["max_distance"]) <= 2)
        if ok and nkeys:
            ko, bo, fo, kt = a["key_offsets"], a["bucket_offsets"].astype(np.int64), a["form_offsets"], a["key_table"]
            ok = (ko[0] == 0 and bool((np.diff(ko) >= 0).all()) and ko[-1] == len(a["key_chars"])
                  and int(np.diff(ko).max()) <= SPELL_MAX_WORD_CHARS
                  and bo[0] == 0 and bool((np.diff(bo) >= 0).all()) and bo[-1] == len(a["postings"])
                  and (len(a["postings"]) == 0 or int(a["postings"].max()) < nkeys)
                  and fo[0] == 0 and bool((np.diff(fo) >= 0).all()) and fo[-1] == len(a["form_ids"])
                  and len(kt) & (len(kt) - 1) == 0 and len(kt) > nkeys
                  and int(kt.min()) == 0 and int(kt.max()) <= nkeys   # an empty slot ends every probe
                  and (len(a["form_ids"]) == 0 or (int(a["form_ids"].min()) >= 0
                                                   and int(a["form_ids"].max()) < int(meta["vocab_size"]))))
    except (KeyError, TypeError, ValueError):
        ok = False
    if not ok:
        raise ModelFormatError("spelling index arrays are inconsistent (corrupt file?)", path)
