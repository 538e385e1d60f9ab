"""Data types shared by the spelling service's steps (see the package docstring)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

# Arc kinds
ORIGINAL = "original"    # the typed token itself (a vocabulary word or not)
EDIT = "edit"            # a vocabulary word within the edit distance, not itself typed
REAL_WORD = "real-word"  # an edit whose typed token is itself a vocabulary word
SPLIT = "split"          # one typed token -> two words ("inthe" -> "in the")
MERGE = "merge"          # two typed tokens -> one word ("some thing" -> "something")


@dataclass(frozen=True)
class Token:
    """One token of the input: its text and its character span [start, end) in the input."""
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Arc:
    """One edge of a sentence's candidate lattice.

    It covers the typed tokens [first, last) (one token; two for a merge) and proposes
    `words` (one word; two for a split), already in the case of the input ("Teh" ->
    ("The",)). `lm_words` are the same words as the model's vocabulary spells them (the
    case the model knows), which the search scores. `error_log10` is log10 P(typed |
    intended) of the error model; for ORIGINAL arcs it is the keep-the-original prior.
    """
    first: int
    last: int
    words: tuple[str, ...]
    lm_words: tuple[str, ...]
    error_log10: float
    kind: str
    distance: int = 0


@dataclass(frozen=True)
class Alternative:
    text: str
    confidence: float


@dataclass(frozen=True)
class Change:
    """One changed stretch of the input: characters [start, end) of the input, the
    original text there, its replacement, a confidence in [0, 1] and the next-best
    alternatives (best first, the replacement excluded)."""
    start: int
    end: int
    original: str
    replacement: str
    confidence: float
    alternatives: tuple[Alternative, ...] = ()


@dataclass(frozen=True)
class Correction:
    """The answer for one input text: the text, its corrected form and the changes
    (in input order; applying them to `text` gives `corrected`)."""
    text: str
    corrected: str
    changes: tuple[Change, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict:
        return asdict(self)
