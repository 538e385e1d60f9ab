"""``read_arpa``: an ARPA file as per-order id arrays, checked as a whole.

Follows KenLM's conventions (lm/read_arpa.hh, lm/search_hashed.cc):

- plain, gzip, zstd or xz text, recognised by its magic bytes, decompressed as a stream;
  the text is never held in memory, only the per-order id and value arrays;
- the header and sections as ``ngram.arpa.sections`` describes;
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

import os

import numpy as np

from ..compressed_io import open_input
from ..kernels.backoff import MISSING_UNK_PROB  # KenLM's score of a word when the model lacks <unk>
from .model import BOS, EOS, UNK, ArpaLevel, ArpaModel
from .sections import WordIndex, read_header, read_section, read_unigrams
from .text import Lines, show


def read_arpa(path: str | os.PathLike) -> ArpaModel:
    """Parse an ARPA file (plain, .gz, .zst, .xz) into per-order id arrays."""
    with open_input(path) as f:  # a file that cannot be opened is an InputError
        src = Lines(f, str(path))
        counts = read_header(src)
        order = len(counts)
        words, uprob, uback, ufirst = read_unigrams(src, counts[0], order == 1)
        vocab = {w: i for i, w in enumerate(words)}
        index = WordIndex(words)
        raw = [read_section(src, k, counts[k - 1], k == order, vocab, index) for k in range(2, order + 1)]
        line = src.next_nonblank()
        if line is None or line.strip() != b"\\end\\":
            raise src.fail("expected \\end\\" + (f", found {show(line)}" if line is not None
                                                 else " before the end of the file"), src.lineno)
    for s in (BOS, EOS):
        if s not in vocab:
            raise src.fail(f"the unigrams lack {s.decode()}", ufirst)
    new_words, remap, unigram_prob, unigram_backoff = _number_words(words, vocab, uprob, uback)
    levels: list[ArpaLevel] = []
    lines: list[np.ndarray] = []  # each row's line in the file (-1: a blank), for errors
    for k, (g, p, b, first) in enumerate(raw, start=2):
        g = remap[g] if len(g) else g.astype(np.uint32)
        perm = np.lexsort(g.T) if len(g) else np.zeros(0, np.int64)
        g, p, b = g[perm], p[perm], b[perm]
        keys = _keys(g)
        if len(keys) > 1:
            dup = np.flatnonzero(keys[1:] == keys[:-1])
            if len(dup):
                at = first + np.maximum(perm[dup], perm[dup + 1])
                raise src.fail(f"duplicate {k}-gram", int(at.min()))
        levels.append(ArpaLevel(g, p, b))
        lines.append(first + perm)
    blanks = _insert_blanks(levels, lines)
    _check_contexts(levels, lines, src)
    return ArpaModel(order, new_words, unigram_prob, unigram_backoff, levels, counts, UNK not in vocab, blanks)


def _number_words(words: list[bytes], vocab: dict, uprob: list[float], uback: list[float]):
    """(words in id order, file index -> id, unigram prob, unigram backoff by id): the
    specials first, then by descending probability, ties by bytes; a missing <unk> added."""
    specials = [UNK, BOS, EOS]
    rest = [i for i, w in enumerate(words) if w not in specials]
    rest.sort(key=lambda i: (-uprob[i], words[i]))
    old_ids = [vocab.get(UNK, -1), vocab[BOS], vocab[EOS]] + rest
    new_words = specials + [words[i] for i in rest]
    remap = np.empty(len(words), np.uint32)
    src_ids = np.asarray([i for i in old_ids if i >= 0], np.int64)
    dst_ids = np.arange(len(new_words), dtype=np.uint32)[[j for j, i in enumerate(old_ids) if i >= 0]]
    remap[src_ids] = dst_ids
    V = len(new_words)
    unigram_prob = np.zeros(V, np.float32)
    unigram_backoff = np.zeros(V, np.float32)
    unigram_prob[dst_ids] = np.asarray(uprob, np.float32)[src_ids]
    unigram_backoff[dst_ids] = np.asarray(uback, np.float32)[src_ids]
    if UNK not in vocab:
        unigram_prob[0] = MISSING_UNK_PROB
        unigram_backoff[0] = 0.0
    return new_words, remap, unigram_prob, unigram_backoff


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


def _insert_blanks(levels: list[ArpaLevel], lines: list[np.ndarray]) -> list[int]:
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
        at = np.concatenate([lines[li - 1], np.full(len(missing), -1, np.int64)])
        perm = np.lexsort(g.T)
        levels[li - 1] = ArpaLevel(g[perm], p[perm], b[perm])
        lines[li - 1] = at[perm]
        added[li - 1] = len(missing)
    return added


def _check_contexts(levels: list[ArpaLevel], lines: list[np.ndarray], src: Lines) -> None:
    """Every k-gram's context w1..w_{k-1} must be an n-gram (KenLM's rule)."""
    for li in range(1, len(levels)):
        hi, lo = levels[li], levels[li - 1]
        real = ~np.isnan(hi.prob)
        ctx = hi.grams[real, :-1]
        if not len(ctx):
            continue
        ok = _member(_keys(lo.grams), _keys(ctx))
        if not ok.all():
            at = lines[li][real][~ok]
            raise src.fail(f"the context of this {li + 2}-gram is not among the {li + 1}-grams", int(at.min()))
