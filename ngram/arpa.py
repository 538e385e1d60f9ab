"""ARPA backoff language models: a streaming reader and a writer.

Reading follows KenLM's conventions (lm/read_arpa.hh, lm/search_hashed.cc):

- plain, gzip, zstd or xz text, recognised by its magic bytes, decompressed as a stream;
  the text is never held in memory, only the per-order id and value arrays;
- blank lines may precede ``\\data\\`` and separate sections; ``ngram k=count`` lines
  must name the orders 1..N in turn; sections ``\\k-grams:`` follow in order and hold
  exactly the header's count; ``\\end\\`` closes the file;
- a unigram's backoff may be absent (0), positive or ``-0.0``; ``<s>`` may have any
  probability (-99 in SRILM files, 0 in lmplz's); a missing ``<unk>`` is added with
  log10 probability -100 (KenLM's default); a missing ``<s>`` or ``</s>`` is an error;
- every k-gram's context (w1..w_{k-1}) must be an n-gram of the file, as KenLM requires;
- an n-gram whose suffix (w2..wk) is absent is accepted: the suffix is inserted as a
  blank node (probability NaN, backoff 0), so the reversed trie stays consistent and a
  lookup walks through it (KenLM inserts the same nodes, see ``FixSRI``);
- any violation raises :class:`ngram.errors.ArpaFormatError` with the file and the
  1-based line number.

Ids: ``<unk>``, ``<s>``, ``</s>`` take 0-2; the other words follow by descending unigram
probability (ties by bytes), which keeps the ids of frequent words small.
"""
from __future__ import annotations

import gzip
import io
import lzma
import math
import os
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import BinaryIO, Iterator

import numpy as np

from .errors import ArpaFormatError
from .kernels.arpa_lines import NUMBER_WIDTH, parse_section_block
from .kernels.backoff import MISSING_UNK_PROB  # KenLM's score of a word when the model lacks <unk>
from .kernels.vocab_kernels import build_index
from .vocab import index_table_size

UNK, BOS, EOS = b"<unk>", b"<s>", b"</s>"
_CHUNK = 1 << 16  # lines parsed per batch

_MAGIC = (
    (b"\x1f\x8b", "gzip"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"\xfd7zXZ\x00", "xz"),
)


# -- opening compressed files -------------------------------------------------------

def open_compressed(path: str | os.PathLike) -> BinaryIO:
    """Open plain, gzip, zstd or xz files for streaming binary reading (by magic bytes)."""
    f = open(path, "rb")
    head = f.read(6)
    f.seek(0)
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            if kind == "gzip":
                return gzip.GzipFile(fileobj=f, mode="rb")
            if kind == "xz":
                return lzma.LZMAFile(f, "rb")
            import zstandard

            reader = zstandard.ZstdDecompressor().stream_reader(f, read_across_frames=True, closefd=True)
            return io.BufferedReader(reader, buffer_size=1 << 20)
    return f


def create_compressed(path: str | os.PathLike) -> BinaryIO:
    """Open a file for writing, compressed according to its suffix (.gz, .zst, .xz)."""
    path = str(path)
    if path.endswith(".gz"):
        return gzip.open(path, "wb", compresslevel=6)
    if path.endswith(".xz"):
        return lzma.open(path, "wb")
    if path.endswith(".zst"):
        import zstandard

        return zstandard.ZstdCompressor(level=6).stream_writer(open(path, "wb"), closefd=True)
    return open(path, "wb")


# -- the parsed model ---------------------------------------------------------------

@dataclass
class ArpaLevel:
    """One order k >= 2: rows unique and sorted in ``np.lexsort(grams.T)`` order (last
    word most significant); blanks (inserted missing suffixes) have prob NaN."""

    grams: np.ndarray  # uint32[n, k]
    prob: np.ndarray  # float32[n]
    backoff: np.ndarray  # float32[n]

    @property
    def num_blank(self) -> int:
        return int(np.isnan(self.prob).sum())


@dataclass
class ArpaModel:
    order: int
    words: list[bytes]  # id order; 0-2 are <unk>, <s>, </s>
    unigram_prob: np.ndarray  # float32[V]
    unigram_backoff: np.ndarray  # float32[V]
    levels: list[ArpaLevel]  # orders 2..N
    counts: list[int]  # n-grams per order as in the file (1..N)
    added_unk: bool = False
    blanks: list[int] = field(default_factory=list)  # blanks inserted per order 2..N

    @property
    def num_ngrams(self) -> int:
        return sum(self.counts)


# -- reading ---------------------------------------------------------------------------

class _Lines:
    """Line iterator that knows the 1-based number of the last line it returned."""

    def __init__(self, f: BinaryIO):
        self._f = f
        self.lineno = 0
        self._pending: bytes | None = None

    def push_back(self, line: bytes) -> None:
        self._pending = line
        self.lineno -= 1

    def next(self) -> bytes | None:
        if self._pending is not None:
            line, self._pending = self._pending, None
            self.lineno += 1
            return line
        line = self._f.readline()
        if not line:
            return None
        self.lineno += 1
        return line

    def next_nonblank(self) -> bytes | None:
        while True:
            line = self.next()
            if line is None or line.strip():
                return line

    def chunk(self, n: int) -> list[bytes]:
        if self._pending is not None:
            first = [self.next()]
            return first + self.chunk(n - 1)
        lines = list(islice(self._f, n))
        self.lineno += len(lines)
        return lines


def read_arpa(path: str | os.PathLike) -> ArpaModel:
    """Parse an ARPA file (plain, .gz, .zst, .xz) into per-order id arrays."""
    name = str(path)

    def fail(msg: str, line: int | None) -> ArpaFormatError:
        return ArpaFormatError(msg, name, line)

    with open_compressed(path) as f:
        src = _Lines(f)
        counts = _read_header(src, fail)
        order = len(counts)
        words, uprob, uback, ufirst = _read_unigrams(src, counts[0], order == 1, fail)
        vocab = {w: i for i, w in enumerate(words)}
        index = _WordIndex(words)
        raw: list[tuple[np.ndarray, np.ndarray, np.ndarray, int]] = []
        for k in range(2, order + 1):
            raw.append(_read_section(src, k, counts[k - 1], k == order, vocab, index, fail))
        line = src.next_nonblank()
        if line is None or line.strip() != b"\\end\\":
            raise fail("expected \\end\\" + (f", found {_show(line)}" if line is not None else " before the end of the file"),
                       src.lineno)

    added_unk = UNK not in vocab
    # id order: specials, then by descending probability, ties by bytes
    specials = [UNK, BOS, EOS]
    for s in (BOS, EOS):
        if s not in vocab:
            raise fail(f"the unigrams lack {s.decode()}", ufirst)
    rest = [i for i, w in enumerate(words) if w not in specials]
    rest.sort(key=lambda i: (-uprob[i], words[i]))
    old_ids = [vocab.get(UNK, -1), vocab[BOS], vocab[EOS]] + rest
    new_words = specials + [words[i] for i in rest]
    remap = np.empty(len(words), np.uint32)
    src_ids = np.asarray([i for i in old_ids if i >= 0], np.int64)
    dst_ids = np.arange(len(new_words), dtype=np.uint32)[[j for j, i in enumerate(old_ids) if i >= 0]]
    remap[src_ids] = dst_ids
    uprob_a = np.asarray(uprob, np.float32)
    uback_a = np.asarray(uback, np.float32)
    V = len(new_words)
    unigram_prob = np.zeros(V, np.float32)
    unigram_backoff = np.zeros(V, np.float32)
    unigram_prob[dst_ids] = uprob_a[src_ids]
    unigram_backoff[dst_ids] = uback_a[src_ids]
    if added_unk:
        unigram_prob[0] = MISSING_UNK_PROB
        unigram_backoff[0] = 0.0

    levels: list[ArpaLevel] = []
    firsts: list[int] = []
    for k, (g, p, b, first) in enumerate(raw, start=2):
        g = remap[g] if len(g) else g.astype(np.uint32)
        perm = np.lexsort(g.T) if len(g) else np.zeros(0, np.int64)
        g, p, b = g[perm], p[perm], b[perm]
        keys = _keys(g)
        if len(keys) > 1:
            dup = np.flatnonzero(keys[1:] == keys[:-1])
            if len(dup):
                lines = first + np.maximum(perm[dup], perm[dup + 1])
                raise fail(f"duplicate {k}-gram", int(lines.min()))
        levels.append(ArpaLevel(g, p, b))
        firsts.append(first)
        # keep the original line numbers for the context check below
        levels[-1]._lines = first + perm  # type: ignore[attr-defined]

    blanks = _insert_blanks(levels)
    _check_contexts(levels, fail)
    for lev in levels:
        lev.__dict__.pop("_lines", None)
    return ArpaModel(order, new_words, unigram_prob, unigram_backoff, levels, counts, added_unk, blanks)


def _show(line: bytes | None) -> str:
    if line is None:
        return "end of file"
    s = line.rstrip(b"\r\n").decode("utf-8", "replace")
    return repr(s if len(s) < 80 else s[:77] + "...")


def _read_header(src: _Lines, fail) -> list[int]:
    line = src.next_nonblank()
    if line is None or line.strip() != b"\\data\\":
        raise fail(f"expected \\data\\, found {_show(line)}", src.lineno)
    counts: list[int] = []
    while True:
        line = src.next()
        if line is None:
            raise fail("the file ends inside the \\data\\ header", src.lineno)
        s = line.strip()
        if not s:
            if counts:
                break
            continue
        if not s.startswith(b"ngram "):
            raise fail(f"expected 'ngram k=count' in the header, found {_show(line)}", src.lineno)
        try:
            k, n = (int(x) for x in s[6:].split(b"="))
        except ValueError:
            raise fail(f"bad header line {_show(line)}", src.lineno) from None
        if k != len(counts) + 1:
            raise fail(f"header names order {k} where order {len(counts) + 1} was expected", src.lineno)
        if n < 0:
            raise fail(f"negative n-gram count in {_show(line)}", src.lineno)
        counts.append(n)
    if counts[0] == 0:
        raise fail("the header lists no unigrams", src.lineno)
    return counts


def _expect_section(src: _Lines, k: int, fail) -> int:
    line = src.next_nonblank()
    want = b"\\%d-grams:" % k
    if line is None or line.strip() != want:
        raise fail(f"expected {want.decode()}, found {_show(line)}", src.lineno)
    return src.lineno + 1


def _parse_float(tok: bytes, what: str, line: int, fail) -> float:
    try:
        x = float(tok)
    except ValueError:
        raise fail(f"bad {what} {tok.decode('utf-8', 'replace')!r}", line) from None
    if not math.isfinite(x):
        raise fail(f"{what} {tok.decode('utf-8', 'replace')!r} is not finite", line)
    return x


def _read_unigrams(src: _Lines, n: int, highest: bool, fail):
    first = _expect_section(src, 1, fail)
    words: list[bytes] = []
    probs: list[float] = []
    backs: list[float] = []
    seen: set[bytes] = set()
    for i in range(n):
        line = src.next()
        parts = line.split() if line is not None else []
        if not parts:
            raise fail(f"the header announces {n} 1-grams, the section has {i}", src.lineno)
        if len(parts) == 3 and not highest:
            backs.append(_parse_float(parts[2], "backoff", src.lineno, fail))
        elif len(parts) == 2:
            backs.append(0.0)
        else:
            raise fail(f"expected 'prob word [backoff]', found {_show(line)}", src.lineno)
        probs.append(_parse_float(parts[0], "probability", src.lineno, fail))
        w = parts[1]
        if w in seen:
            raise fail(f"duplicate unigram {w.decode('utf-8', 'replace')!r}", src.lineno)
        seen.add(w)
        words.append(w)
    _expect_section_end(src, 1, n, fail)
    return words, probs, backs, first


def _expect_section_end(src: _Lines, k: int, n: int, fail) -> None:
    line = src.next()
    if line is not None and line.strip():
        if line.strip().startswith(b"\\"):
            src.push_back(line)
            return
        raise fail(f"the header announces {n} {k}-grams, the section has more", src.lineno)



class _WordIndex:
    """The unigrams' words as the vocabulary kernels' hash index (for parse_section_block)."""

    def __init__(self, words: list[bytes]):
        lengths = np.fromiter(map(len, words), np.uint64, len(words))
        self.offsets = np.zeros(len(words) + 1, np.uint64)
        np.cumsum(lengths, out=self.offsets[1:])
        self.strings = np.frombuffer(b"".join(words), np.uint8)
        self.table = build_index(self.strings, self.offsets, index_table_size(len(words)))


def _read_section(src: _Lines, k: int, n: int, highest: bool, vocab: dict, index: _WordIndex, fail):
    first = _expect_section(src, k, fail)
    grams = np.empty((n, k), np.int64)
    probs = np.empty(n, np.float32)
    backs = np.zeros(n, np.float32)
    done = 0
    while done < n:
        lines = src.chunk(min(_CHUNK, n - done))
        start_line = first + done
        if not lines:
            raise fail(f"the header announces {n} {k}-grams, the section has {done}", src.lineno + 1)
        c = len(lines)
        parsed = _parse_block_fast(lines, k, highest, index)
        if parsed is None:  # something irregular: the line-by-line parser names it
            parsed = _parse_block(lines, k, n, done, start_line, highest, vocab, fail)
        grams[done:done + c], probs[done:done + c], backs[done:done + c] = parsed
        done += c
    _expect_section_end(src, k, n, fail)
    return grams, probs, backs, first


def _parse_block_fast(lines: list[bytes], k: int, highest: bool, index: _WordIndex):
    """(ids [c, k], prob, backoff) of a block of regular lines, or None."""
    c = len(lines)
    block = np.zeros((c, k), np.int64)
    ptok = np.zeros((c, NUMBER_WIDTH), np.uint8)
    btok = np.zeros((c, NUMBER_WIDTH), np.uint8)
    if parse_section_block(b"".join(lines), k, highest, index.strings, index.offsets, index.table,
                           block, ptok, btok) >= 0:
        return None
    try:
        pv = ptok.view(f"S{NUMBER_WIDTH}").ravel().astype(np.float64)
        bv = btok.view(f"S{NUMBER_WIDTH}").ravel().astype(np.float64)
    except ValueError:
        return None
    if not (np.isfinite(pv).all() and np.isfinite(bv).all()):
        return None
    return block, pv, bv


def _parse_block(lines: list[bytes], k: int, n: int, done: int, start_line: int, highest: bool, vocab: dict,
                 fail):
    """_parse_block_fast line by line in Python, raising the error of the first bad line."""
    get = vocab.get
    flat: list[bytes] = []
    ptok: list[bytes] = []
    btok: list[bytes] = []
    for j, line in enumerate(lines):
        parts = line.split()
        m = len(parts)
        if m == k + 1:
            ptok.append(parts[0])
            btok.append(b"0")
            flat += parts[1:]
        elif m == k + 2 and not highest:
            ptok.append(parts[0])
            btok.append(parts[-1])
            flat += parts[1:-1]
        elif m == 0:
            raise fail(f"the header announces {n} {k}-grams, the section has {done + j}", start_line + j)
        else:
            what = "'prob w1..wk'" if highest else "'prob w1..wk [backoff]'"
            raise fail(f"expected {what} with k={k}, found {_show(line)}", start_line + j)
    ids = [get(w, -1) for w in flat]
    c = len(lines)
    block = np.asarray(ids, np.int64).reshape(c, k)
    bad = np.flatnonzero((block < 0).any(axis=1))
    if len(bad):
        j = int(bad[0])
        w = [flat[j * k + i] for i in range(k) if block[j, i] < 0][0]
        raise fail(f"word {w.decode('utf-8', 'replace')!r} is not among the unigrams", start_line + j)
    try:
        pv = np.asarray(ptok).astype(np.float64)
        bv = np.asarray(btok).astype(np.float64)
        ok = np.isfinite(pv) & np.isfinite(bv)
    except ValueError:
        ok = None
    if ok is None or not ok.all():
        for j in range(c):  # find the offending line
            _parse_float(ptok[j], "probability", start_line + j, fail)
            _parse_float(btok[j], "backoff", start_line + j, fail)
    return block, pv, bv


# -- sorted-row utilities --------------------------------------------------------------

def _keys(grams: np.ndarray) -> np.ndarray:
    """One opaque key per row whose byte order is ``np.lexsort(grams.T)`` order."""
    n, k = grams.shape
    rev = np.ascontiguousarray(grams[:, ::-1].astype(">u4"))
    return rev.view(np.dtype((np.void, 4 * k))).reshape(n)


def _member(sorted_keys: np.ndarray, queries: np.ndarray) -> np.ndarray:
    if len(sorted_keys) == 0:
        return np.zeros(len(queries), bool)
    i = np.searchsorted(sorted_keys, queries)
    i = np.minimum(i, len(sorted_keys) - 1)
    return sorted_keys[i] == queries


def _insert_blanks(levels: list[ArpaLevel]) -> list[int]:
    """Add every missing suffix (w2..wk) of a k-gram to level k-1 as a blank, from the
    highest order down (a blank's own suffix may be missing too)."""
    added = [0] * len(levels)
    for li in range(len(levels) - 1, 0, -1):  # level index li holds order li + 2
        hi, lo = levels[li], levels[li - 1]
        suffixes = hi.grams[:, 1:]
        if not len(suffixes):
            continue
        present = _member(_keys(lo.grams), _keys(suffixes))
        missing = suffixes[~present]
        if not len(missing):
            continue
        # suffixes of a sorted level are grouped but may repeat (several first words)
        missing = np.unique(missing, axis=0)
        g = np.concatenate([lo.grams, missing.astype(np.uint32)])
        p = np.concatenate([lo.prob, np.full(len(missing), np.nan, np.float32)])
        b = np.concatenate([lo.backoff, np.zeros(len(missing), np.float32)])
        lines = np.concatenate([lo._lines, np.full(len(missing), -1, np.int64)])  # type: ignore[attr-defined]
        perm = np.lexsort(g.T)
        new = ArpaLevel(g[perm], p[perm], b[perm])
        new._lines = lines[perm]  # type: ignore[attr-defined]
        levels[li - 1] = new
        added[li - 1] = len(missing)
    return added


def _check_contexts(levels: list[ArpaLevel], fail) -> None:
    """Every k-gram's context w1..w_{k-1} must be an n-gram (KenLM's rule)."""
    for li in range(1, len(levels)):
        hi, lo = levels[li], levels[li - 1]
        real = ~np.isnan(hi.prob)
        ctx = hi.grams[real, :-1]
        if not len(ctx):
            continue
        ok = _member(_keys(lo.grams), _keys(ctx))
        if not ok.all():
            lines = hi._lines[real][~ok]  # type: ignore[attr-defined]
            raise fail(f"the context of this {li + 2}-gram is not among the {li + 1}-grams", int(lines.min()))


# -- writing ---------------------------------------------------------------------------

def format_floats(values: np.ndarray) -> np.ndarray:
    """Shortest decimal strings (bytes) that parse back to the same float32 values."""
    values = np.asarray(values, np.float32)
    out = np.empty(len(values), dtype=object)
    todo = np.arange(len(values))
    for digits in (6, 7, 8, 9):
        if not len(todo):
            break
        v = values[todo]
        s = np.char.mod(f"%.{digits}g", v.astype(np.float64))
        ok = s.astype(np.float64).astype(np.float32) == v
        if digits == 9:
            ok[:] = True
        out[todo[ok]] = [x.encode() for x in s[ok]]
        todo = todo[~ok]
    return out


def write_arpa(out: BinaryIO, order: int, words: list[bytes], unigram_prob: np.ndarray,
               unigram_backoff: np.ndarray, levels: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> list[int]:
    """Write an ARPA file. ``levels[k-2] = (grams uint32[n, k], prob, backoff)`` for
    orders 2..N; rows with a NaN probability (blanks) are skipped. Returns the counts."""
    kept = []
    for g, p, b in levels:
        real = ~np.isnan(p)
        g, p, b = g[real], p[real], b[real]
        perm = np.lexsort(g.T[::-1]) if len(g) else np.zeros(0, np.int64)  # w1 most significant
        kept.append((g[perm], p[perm], b[perm]))
    counts = [len(words)] + [len(g) for g, _, _ in kept]
    out.write(b"\\data\\\n")
    for k, n in enumerate(counts, start=1):
        out.write(b"ngram %d=%d\n" % (k, n))
    wa = np.asarray(words, dtype=object)
    _write_section(out, 1, wa[:, None] if len(wa) else wa.reshape(0, 1), unigram_prob, unigram_backoff,
                   order == 1, uni=True)
    for k, (g, p, b) in enumerate(kept, start=2):
        _write_section(out, k, wa[g] if len(g) else np.zeros((0, k), object), p, b, k == order)
    out.write(b"\n\\end\\\n")
    return counts


def _write_section(out: BinaryIO, k: int, wordmat: np.ndarray, prob, backoff, highest: bool, uni=False) -> None:
    out.write(b"\n\\%d-grams:\n" % k)
    n = len(wordmat)
    step = 1 << 16
    for s in range(0, n, step):
        e = min(n, s + step)
        ps = format_floats(prob[s:e])
        texts = [b" ".join(r) for r in wordmat[s:e]]
        if highest:
            lines = [a + b"\t" + t for a, t in zip(ps, texts)]
        else:
            bv = np.asarray(backoff[s:e], np.float32)
            bs = format_floats(bv)
            lines = [a + b"\t" + t + b"\t" + c for a, t, c in zip(ps, texts, bs)]
        out.write(b"\n".join(lines))
        out.write(b"\n")


def iter_lines(path: str | os.PathLike) -> Iterator[bytes]:
    with open_compressed(path) as f:
        yield from f


def atomic_output(path: str | os.PathLike):
    """Context manager: a temp file beside ``path`` renamed into place on success."""
    return _AtomicFile(Path(path))


class _AtomicFile:
    def __init__(self, path: Path):
        self.path = path
        self.tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")

    def __enter__(self) -> BinaryIO:
        self.f = create_compressed(str(self.tmp) + "".join(s for s in self.path.suffixes[-1:]
                                                          if s in (".gz", ".zst", ".xz")))
        self._written = Path(str(self.tmp) + "".join(s for s in self.path.suffixes[-1:] if s in (".gz", ".zst", ".xz")))
        return self.f

    def __exit__(self, exc_type, exc, tb) -> None:
        self.f.close()
        if exc_type is None:
            os.replace(self._written, self.path)
        else:
            self._written.unlink(missing_ok=True)


# -- model directories --------------------------------------------------------------

def import_arpa(path: str | os.PathLike, out_dir: str | os.PathLike, *, num_shards: int = 1,
                quantization: str = "8", shard_seed: int = 0, value_context: str = "auto") -> dict:
    """Read an ARPA file and write it as a model directory (value kind ``backoff``);
    returns the manifest. Nothing is published if anything fails."""
    from .sharding import shard_of_pair
    from .vocab import Vocabulary
    from .writer import Level, ModelWriter, ShardSpec

    arpa = read_arpa(path)
    vocab = Vocabulary.from_words(arpa.words)
    spec = ShardSpec(order=arpa.order, num_shards=num_shards, shard_seed=shard_seed, value_kind="backoff",
                     quantization=str(quantization), value_context=value_context)
    owners = [shard_of_pair(lv.grams[:, -2], lv.grams[:, -1], num_shards, shard_seed) if len(lv.grams)
              else np.zeros(0, np.int32) for lv in arpa.levels]
    writer = ModelWriter(out_dir, spec, vocab)
    try:
        for s in range(num_shards):
            levels = []
            for lv, own in zip(arpa.levels, owners):
                sel = own == s
                levels.append(Level(np.ascontiguousarray(lv.grams[sel]), prob=lv.prob[sel], backoff=lv.backoff[sel]))
            writer.write_shard(s, levels, unigram_prob=arpa.unigram_prob, unigram_backoff=arpa.unigram_backoff)
        return writer.commit({
            "source": {"format": "arpa", "file": os.path.basename(str(path)), "ngrams": arpa.counts,
                       "blank_nodes": arpa.blanks, "added_unk": arpa.added_unk},
            "provenance": {"tool": "ngram import-arpa", "source_path": os.path.abspath(str(path))},
        })
    except BaseException:
        writer.abort()
        raise


def model_levels(model) -> tuple[np.ndarray, np.ndarray, list[tuple[np.ndarray, np.ndarray, np.ndarray]]]:
    """Every n-gram of an opened backoff model (``ngram.model.Model``): unigram prob and
    backoff, and per order 2..N the (grams, prob, backoff) of all shards, blanks included."""

    if model.value_kind != "backoff":
        raise ValueError(f"{model.path}: value kind {model.value_kind!r}, not a backoff model")
    per_order: list[list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = [[] for _ in range(model.order - 1)]
    uni = None
    for s in sorted(model.shards):
        t = model.shards[s]
        levels, u = _decode_shard(t)
        if uni is None:
            uni = u
        for k, lv in enumerate(levels):
            per_order[k].append(lv)
    assert uni is not None
    out = []
    for k, parts in enumerate(per_order, start=2):
        g = np.concatenate([p[0] for p in parts]) if parts else np.zeros((0, k), np.uint32)
        out.append((g, np.concatenate([p[1] for p in parts]), np.concatenate([p[2] for p in parts])))
    return uni[0], uni[1], out


def _decode_shard(table):
    """(levels [(grams, prob, backoff)], (unigram prob, unigram backoff)) of one shard."""
    from .shard import raw_to_columns

    uni_raw, levels = table.decode()
    u = raw_to_columns(uni_raw, "backoff")
    out = []
    for grams, raw in levels:
        cols = raw_to_columns(raw, "backoff")
        out.append((grams, cols["prob"], cols["backoff"]))
    return out, (u["prob"], u["backoff"])


def export_arpa(model_dir: str | os.PathLike, out: str | os.PathLike | None = None) -> list[int]:
    """Write a backoff model directory as an ARPA file (``out`` None: standard output;
    compressed by suffix; written to a temporary file and renamed). Returns the counts."""
    import sys

    from .model import Model

    model = Model.open(model_dir)
    try:
        uprob, uback, levels = model_levels(model)
        words = [model.vocab.word_bytes(i) for i in range(len(model.vocab))]
        if out is None:
            return write_arpa(sys.stdout.buffer, model.order, words, uprob, uback, levels)
        with atomic_output(out) as f:
            return write_arpa(f, model.order, words, uprob, uback, levels)
    finally:
        model.close()
