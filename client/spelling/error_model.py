"""`ErrorModel`: log10 P(typed | intended) of a word, from a few weighted edit classes.

A typed word is its intended word put through edits, each of one class with one log10
probability per opportunity (error_kernels.py lists the classes): keyboard-neighbour,
vowel and other substitutions; transpositions; a dropped letter (of a doubled pair, or
other); an extra letter (a repeat, a keyboard neighbour, or other); a first-letter
penalty added to any edit at the first letter. Plus word-level rates: a word typed
correctly (the keep-the-original prior), a space dropped between two words ("inthe")
and a space typed inside a word ("some thing"). Case is ignored (both sides lowercased).

The weights are estimated, never hand-tuned: `python -m client.spelling.train_error_model`
corrupts en-train sentences with our own noise process (noise.py), aligns each typo with
its word (a fewest-edits alignment) and divides each class's count by its opportunities
in the clean text (e.g. a keyboard-neighbour substitution: the neighbours of every
letter typed). It writes client/spelling/data/error_model.json, which `ErrorModel.load()`
reads. No third-party list of misspellings is used.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from ngram.errors import InvalidArgumentError, ModelFormatError

from . import error_kernels as EK

WEIGHT_NAMES = ("sub_adjacent", "sub_vowel", "sub_other", "transpose", "del_double", "del_other",
                "ins_double", "ins_adjacent", "ins_other", "first_letter")
WORD_RATE_NAMES = ("no_error", "space_dropped", "space_inserted")
KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_ROW_SHIFT = (0.0, 0.25, 0.75)   # how far each row of a QWERTY keyboard is shifted right
VOWELS = "aeiouy"
DEFAULT_FILE = "error_model.json"


def keyboard_adjacency() -> np.ndarray:
    """bool[27, 27]: letters whose keys touch on a QWERTY keyboard (class 26: none)."""
    pos = {c: (x + _ROW_SHIFT[r], r) for r, row in enumerate(KEYBOARD_ROWS) for x, c in enumerate(row)}
    adj = np.zeros((27, 27), bool)
    for a, (xa, ra) in pos.items():
        for b, (xb, rb) in pos.items():
            if a != b and abs(ra - rb) <= 1 and abs(xa - xb) <= (1.0 if ra == rb else 0.75):
                adj[ord(a) - 97, ord(b) - 97] = True
    return adj


def vowel_mask() -> np.ndarray:
    v = np.zeros(27, bool)
    v[[ord(c) - 97 for c in VOWELS]] = True
    return v


ADJACENT = keyboard_adjacency()
VOWEL = vowel_mask()


@dataclass(frozen=True)
class ErrorModel:
    """Edit-class log10 weights (WEIGHT_NAMES) and word-level log10 rates (WORD_RATE_NAMES)."""
    weights: dict[str, float]
    word_rates: dict[str, float]
    provenance: dict = field(default_factory=dict)

    def __post_init__(self):
        for names, got in ((WEIGHT_NAMES, self.weights), (WORD_RATE_NAMES, self.word_rates)):
            missing = [n for n in names if n not in got]
            if missing:
                raise InvalidArgumentError(f"error model lacks weights {missing}")
            bad = [n for n in names if not (isinstance(got[n], (int, float)) and math.isfinite(got[n])
                                           and got[n] <= 0)]
            if bad:
                raise InvalidArgumentError(f"error model weights {bad} must be finite log10 values <= 0")
        object.__setattr__(self, "_w", np.array([self.weights[n] for n in WEIGHT_NAMES], np.float64))

    # -- files ----------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path | None = None) -> "ErrorModel":
        """The shipped weights (client/spelling/data/error_model.json) or a given file."""
        try:
            if path is None:
                text = resources.files("client.spelling").joinpath("data", DEFAULT_FILE).read_text("utf-8")
            else:
                text = Path(path).read_text("utf-8")
            d = json.loads(text)
            return cls(dict(d["weights"]), dict(d["word_rates"]), dict(d.get("provenance", {})))
        except (OSError, ValueError, KeyError, TypeError, InvalidArgumentError) as e:
            raise ModelFormatError(f"not a usable error model file: {e}", str(path or DEFAULT_FILE)) from None

    def to_json(self) -> str:
        return json.dumps({"weights": self.weights, "word_rates": self.word_rates, "provenance": self.provenance},
                          indent=1, sort_keys=True) + "\n"

    # -- word rates -----------------------------------------------------------------------
    @property
    def no_error_log10(self) -> float:
        """log10 P(a word is typed as intended): the default keep-the-original prior."""
        return self.word_rates["no_error"]

    @property
    def space_dropped_log10(self) -> float:
        """log10 P(the space between two words is not typed): a SPLIT arc ("inthe")."""
        return self.word_rates["space_dropped"]

    @property
    def space_inserted_log10(self) -> float:
        """log10 P(a space is typed inside a word): a MERGE arc ("some thing")."""
        return self.word_rates["space_inserted"]

    # -- scoring --------------------------------------------------------------------------
    def pairs_log10(self, tchars, toffsets, ichars, ioffsets, typed_index, intended_index) -> np.ndarray:
        """log10 P(typed | intended) of index pairs into two code-point string arrays
        (both sides lowercased), in one kernel call."""
        if len(typed_index) == 0:
            return np.zeros(0, np.float64)
        return EK.pairs_log10(tchars, toffsets, ichars, ioffsets, np.asarray(typed_index, np.int64),
                              np.asarray(intended_index, np.int64), ADJACENT, VOWEL, self._w)

    def log10(self, typed: list[str], intended: list[str]) -> np.ndarray:
        """log10 P(typed[i] | intended[i]) for each pair (case-insensitive)."""
        from .candidates import code_points
        if len(typed) != len(intended):
            raise InvalidArgumentError(f"{len(typed)} typed words but {len(intended)} intended")
        tc, to = code_points([t.lower() for t in typed])
        ic, io = code_points([w.lower() for w in intended])
        idx = np.arange(len(typed), dtype=np.int64)
        return self.pairs_log10(tc, to, ic, io, idx, idx)

    def reference_log10(self, typed: str, intended: str) -> float:
        """The kernel's recurrence in plain Python (the tests' oracle)."""
        return _align(intended.lower(), typed.lower(), self.weights)[0]


# -- plain-Python alignment: the oracle, and the op classes the trainer counts -------------
def _cls(c: str) -> int:
    return ord(c) - 97 if "a" <= c <= "z" else EK.OTHER_CLASS


def sub_class(x: str, y: str) -> str:
    cx, cy = _cls(x), _cls(y)
    if ADJACENT[cx, cy]:
        return "sub_adjacent"
    if VOWEL[cx] and VOWEL[cy]:
        return "sub_vowel"
    return "sub_other"


def del_class(a: str, i: int) -> str:
    """Class of deleting a[i] (0-based) from the intended word."""
    return "del_double" if (i >= 1 and a[i - 1] == a[i]) or (i + 1 < len(a) and a[i + 1] == a[i]) else "del_other"


def ins_class(b: str, j: int) -> str:
    """Class of the extra typed letter b[j] (0-based)."""
    y = b[j]
    if (j >= 1 and b[j - 1] == y) or (j + 1 < len(b) and b[j + 1] == y):
        return "ins_double"
    if (j >= 1 and ADJACENT[_cls(b[j - 1]), _cls(y)]) or (j + 1 < len(b) and ADJACENT[_cls(b[j + 1]), _cls(y)]):
        return "ins_adjacent"
    return "ins_other"


def _align(a: str, b: str, w: dict[str, float]) -> tuple[float, list[tuple[str, int]]]:
    """Best log10 of intended a -> typed b and its edits [(class, intended position)]."""
    n, m = len(a), len(b)
    first = w["first_letter"]
    D = [[-math.inf] * (m + 1) for _ in range(n + 1)]
    back: list[list[tuple | None]] = [[None] * (m + 1) for _ in range(n + 1)]
    D[0][0] = 0.0
    for i in range(n + 1):
        for j in range(m + 1):
            if i == j == 0:
                continue
            opts = []
            f = first if i <= 1 else 0.0
            match = None
            if i and j:
                if a[i - 1] == b[j - 1]:
                    match = (D[i - 1][j - 1], (i - 1, j - 1, None))
                else:
                    c = sub_class(a[i - 1], b[j - 1])
                    opts.append((D[i - 1][j - 1] + w[c] + f, (i - 1, j - 1, c)))
            if i:
                c = del_class(a, i - 1)
                opts.append((D[i - 1][j] + w[c] + f, (i - 1, j, c)))
            if j:
                c = ins_class(b, j - 1)
                opts.append((D[i][j - 1] + w[c] + (first if i == 0 else 0.0), (i, j - 1, c)))
            if i >= 2 and j >= 2 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1] and a[i - 1] != a[i - 2]:
                opts.append((D[i - 2][j - 2] + w["transpose"] + (first if i == 2 else 0.0), (i - 2, j - 2, "transpose")))
            if match is not None:   # last: on a tie the backtrace takes the edit here, so an
                opts.append(match)  # ambiguous edit ("tthe") lands as late in the word as it can
            best = max(opts, key=lambda o: o[0])
            D[i][j], back[i][j] = best
    ops = []
    i, j = n, m
    while (i, j) != (0, 0):
        pi, pj, c = back[i][j]
        if c is not None:
            ops.append((c, pi))
        i, j = pi, pj
    return D[n][m], ops[::-1]


UNIFORM = {n: -1.0 for n in WEIGHT_NAMES} | {"first_letter": 0.0}


def edit_ops(intended: str, typed: str) -> list[tuple[str, int]]:
    """The classes of a fewest-edits alignment of intended -> typed (lowercased), with
    the intended position of each edit: what the trainer counts."""
    return _align(intended.lower(), typed.lower(), UNIFORM)[1]
