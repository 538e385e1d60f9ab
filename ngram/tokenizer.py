"""The one tokenizer: how text becomes words and word ids, for building and querying alike.

The rule (the builder's, kenlm's, and every query path's):
- Text is UTF-8. A ``str`` is encoded strictly: a lone surrogate (what Python makes of
  undecodable bytes, e.g. in ``sys.argv``) is not text, and is an InvalidQueryError
  naming its position, as the CLI has always refused it. ``bytes`` are taken as given.
- With ``lowercase`` (a model built with ``--lowercase``) the text is lowercased as
  Unicode (``str.lower``) before splitting, as the builder does.
- Words are separated by ASCII whitespace only (space, \\t, \\n, \\r, \\v, \\f), exactly as
  ``bytes.split()`` and kenlm split: a no-break space (U+00A0) or any other Unicode space
  stays inside its word. Within one query a newline is whitespace like the others.
- A word outside the vocabulary has id 0 (``<unk>``); the literal word ``<unk>`` is id 0
  too, the model's entry for every word its build mapped to <unk> (see ngram.counting
  for what a count of it means).

The settings come from the model's manifest (``Tokenizer.from_manifest``); a backend
hands its consumers ``backend.tokenizer``. Batch methods map many texts in one numba pass.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Sequence

import numpy as np

from .errors import InvalidQueryError, ModelFormatError
from .kernels.vocab_kernels import encode_block
from .vocab import BOS_ID, EOS_ID, UNK_ID, Vocabulary

ASCII_WHITESPACE = b" \t\n\r\x0b\x0c"  # what bytes.split() splits on; nothing else separates words
WHITESPACE_KIND = "whitespace"


@dataclass(frozen=True)
class Tokenizer:
    """A model's tokenizer settings (the manifest's "tokenizer" block) and its rule.

    Only ``kind`` and ``lowercase`` change how a query is read; the other fields record
    how the build read its corpus (vocabulary cut-offs, JSONL field, invalid-byte policy)."""

    kind: str = WHITESPACE_KIND
    lowercase: bool = False
    min_word_count: int | None = None
    max_vocab: int | None = None
    jsonl_field: str | None = None
    on_bad_bytes: str | None = None

    @classmethod
    def from_manifest(cls, manifest: dict) -> "Tokenizer":
        """The tokenizer of a model, from its manifest (a missing block is the default).
        A setting this version does not know is an error, not a silently different reading."""
        block = manifest.get("tokenizer", {})
        if not isinstance(block, dict):
            raise ModelFormatError(f"manifest 'tokenizer' must be an object, not {type(block).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(block) - known)
        if unknown:
            raise ModelFormatError(f"manifest 'tokenizer' has settings this version does not know: {unknown}")
        tok = cls(**block)
        if tok.kind != WHITESPACE_KIND:
            raise ModelFormatError(f"tokenizer kind {tok.kind!r} is not supported (only {WHITESPACE_KIND!r})")
        if not isinstance(tok.lowercase, bool):
            raise ModelFormatError(f"manifest tokenizer 'lowercase' must be true or false, not {tok.lowercase!r}")
        return tok

    def as_manifest(self) -> dict:
        """The "tokenizer" block a build writes (the model id hashes it, so its shape is
        fixed): kind, lowercase, min_word_count and max_vocab always; jsonl_field and
        on_bad_bytes only when they differ from the default (None, "error").
        from_manifest(...).as_manifest() gives back every block the builder writes."""
        block = {"kind": self.kind, "lowercase": self.lowercase, "min_word_count": self.min_word_count,
                 "max_vocab": self.max_vocab}
        if self.jsonl_field is not None:
            block["jsonl_field"] = self.jsonl_field
        if self.on_bad_bytes not in (None, "error"):
            block["on_bad_bytes"] = self.on_bad_bytes
        return block

    # -- one text ----------------------------------------------------------------------
    def normalize(self, text: str | bytes) -> bytes:
        """The UTF-8 bytes the words are split from (lowercased for a lowercase model).
        Bytes that are not UTF-8 are kept as they are (they match no vocabulary word)."""
        if isinstance(text, str):
            return _encode(text.lower() if self.lowercase else text)
        if not isinstance(text, (bytes, bytearray, memoryview)):
            raise InvalidQueryError(f"text must be str or bytes, not {type(text).__name__}")
        data = bytes(text)
        if self.lowercase and not data.isascii():
            return data.decode("utf-8", "surrogateescape").lower().encode("utf-8", "surrogateescape")
        return data.lower() if self.lowercase else data

    def split(self, text: str | bytes) -> list[bytes]:
        """The words of a text, as UTF-8 bytes."""
        return self.normalize(text).split()

    def ids(self, vocab: Vocabulary, text: str | bytes) -> np.ndarray:
        """int32 ids of the words of one text (unknown words -> 0, <unk>)."""
        ids, _ = self.encode(vocab, [text])
        return ids

    # -- many texts, one pass ----------------------------------------------------------
    def encode(self, vocab: Vocabulary, texts: Sequence[str | bytes], unknown_id: int = UNK_ID
               ) -> tuple[np.ndarray, np.ndarray]:
        """(ids int32[T], lengths int64[S]): the words of every text, concatenated; text i
        has lengths[i] words (0 for a blank one). Unknown words get `unknown_id` (0, or -1
        to tell them from a literal <unk>)."""
        raw = [self.normalize(t) for t in texts]
        # a newline inside one text is whitespace, not a text break
        raw = [r.replace(b"\n", b" ") if b"\n" in r else r for r in raw]
        nonblank = np.fromiter((bool(r.strip(ASCII_WHITESPACE)) for r in raw), bool, len(raw))
        joined = b"\n".join(raw)
        buf = np.frombuffer(joined, np.uint8) if joined else np.zeros(0, np.uint8)
        ids, offs = encode_block(buf, vocab.strings, vocab.offsets, vocab.table, unknown_id, BOS_ID, EOS_ID, False)
        if len(offs) - 1 != int(nonblank.sum()):
            raise AssertionError("tokenizer kernel and text split disagree")
        lengths = np.zeros(len(raw), np.int64)
        lengths[nonblank] = np.diff(offs)
        return ids, lengths

    def ngram_ids(self, vocab: Vocabulary, ngrams: Sequence[str | bytes], order: int,
                  unknown_id: int = UNK_ID) -> tuple[np.ndarray, np.ndarray]:
        """(ids int32[B, order], lengths int32[B]): each n-gram's words left-aligned, padding
        0; the batch `lookup` takes. An n-gram with no words, or more than `order`, is an
        InvalidQueryError naming it."""
        ids, lengths = self.encode(vocab, ngrams, unknown_id)
        bad = np.flatnonzero((lengths < 1) | (lengths > order))
        if len(bad):
            b = int(bad[0])
            shown = _show(ngrams[b])
            if lengths[b] == 0:
                raise InvalidQueryError(f"n-gram {b + 1} ({shown}) has no words")
            raise InvalidQueryError(f"n-gram {b + 1} ({shown}) has {int(lengths[b])} words; "
                                    f"the model's order is {order}")
        grid = np.zeros((len(lengths), order), np.int32)
        grid[np.arange(order)[None, :] < lengths[:, None]] = ids
        return grid, lengths.astype(np.int32)


def _encode(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise InvalidQueryError(f"text holds a lone surrogate U+{ord(text[e.start]):04X} at character "
                                f"{e.start}: not valid Unicode (pass bytes to look up raw bytes)") from None


def _show(text: str | bytes, limit: int = 60) -> str:
    s = text.decode("utf-8", "replace") if isinstance(text, (bytes, bytearray)) else str(text)
    return repr(s if len(s) <= limit else s[:limit] + "...")
