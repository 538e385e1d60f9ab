"""What `--smoothing kneser-ney` asks for; carried (picklable) by BuildConfig.kn."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from ngram.limits import QUANTIZATIONS

from ..errors import BuildOptionError

# lmplz's --discount_fallback defaults: D1, D2, D3+
DEFAULT_FALLBACK = (0.5, 1.0, 1.5)


@dataclass(frozen=True)
class KnOptions:
    quantize: str = "8"  # bits per stored log10 value, as `ngram import-arpa --quantize`
    discount_fallback: tuple[float, float, float] | None = None  # None: out-of-range is an error
    prune: tuple[int, ...] = ()  # lmplz --prune: per order 1..N, drop n-grams with count <= t; () none
    limit_vocab: str | None = None  # lmplz --limit_vocab_file: n-grams with a word not in FILE leave the model

    def check(self) -> "KnOptions":
        if str(self.quantize) not in QUANTIZATIONS:
            raise BuildOptionError(f"must be one of {', '.join(QUANTIZATIONS)}, got {self.quantize!r}", "--quantize")
        if self.discount_fallback is not None:
            d = self.discount_fallback
            if len(d) != 3 or not all(0 <= x <= j for j, x in enumerate(d, start=1)):
                raise BuildOptionError(f"fallback discounts must be D1 in [0,1], D2 in [0,2], D3+ in [0,3], got {d}",
                                       "--discount-fallback")
        if self.prune:
            t = list(self.prune)
            if any(x < 0 for x in t) or t != sorted(t):
                raise BuildOptionError(f"thresholds must be non-decreasing and >= 0, got {','.join(map(str, t))}",
                                       "--prune")
            if t[0] != 0:
                raise BuildOptionError("unigrams are not pruned: the first threshold must be 0", "--prune")
        if self.limit_vocab is not None:
            read_limit_vocab_bytes(self.limit_vocab)  # readable, before any work
        return self

    def thresholds(self, order: int) -> tuple[int, ...]:
        """Per order 1..N; the last value given repeats (as lmplz)."""
        t = list(self.prune) or [0]
        return tuple((t + [t[-1]] * order)[:order])

    def fingerprint(self) -> dict:
        out = {"quantize": str(self.quantize), "discount_fallback": self.discount_fallback,
               "prune": list(self.prune)}
        if self.limit_vocab is not None:  # the file's content, not its name: --resume after an edit must refuse
            out["limit_vocab_sha256"] = hashlib.sha256(read_limit_vocab_bytes(self.limit_vocab)).hexdigest()
        return out


def read_limit_vocab_bytes(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise BuildOptionError(f"cannot read {path}: {e.strerror or e}", "--limit-vocab") from None


def limit_vocab_words(path: str, lowercase: bool) -> set[bytes]:
    """The allowed words of FILE: separated by whitespace, as lmplz reads them (any
    layout: one a line, or several), lowercased when the corpus is."""
    data = read_limit_vocab_bytes(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise BuildOptionError(f"{path}: byte {e.start} is not UTF-8", "--limit-vocab") from None
    if lowercase:
        data = text.lower().encode()
    return set(data.split())  # the corpus's tokenizer: ASCII whitespace
