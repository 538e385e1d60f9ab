"""Our synthetic noise process: typos put into clean text, seeded, with every change named.

It trains the error model (train_error_model.py: en-train) and makes the benchmark's
test sets (en-heldout, another seed). Each eligible word (Latin letters, inner ' or -
allowed, 2+ letters) is corrupted with probability `word_rate`; its kind is drawn from
`mix` (relative weights):

  keyboard      a letter replaced by a QWERTY neighbour            "the" -> "thr"
  substitution  a letter replaced by a letter that is not          "the" -> "tbe"
  vowel         a vowel replaced by another vowel                   "than" -> "then"
  transposition two adjacent letters swapped                        "from" -> "form"
  deletion      a letter dropped                                    "because" -> "becuse"
  undoubling    one letter of a doubled pair dropped                "letter" -> "leter"
  doubling      a letter typed twice                                "then" -> "thenn"
  insertion     a keyboard neighbour of a letter typed beside it    "the" -> "thre"
  two_edits     two of the single-edit kinds above
  real_word     a single edit that makes another word of `vocabulary` ("then" -> "than");
                where none does (or without a vocabulary), a word of CONFUSIONS (our
                own short list of English near-homophones)
  split         a space typed inside a word                         "something" -> "some thing"
  merge         the space between two words dropped                 "in the" -> "inthe"

Edits at a word's first letter are `first_letter_factor` times as likely as elsewhere
(people rarely get the first letter wrong). Case is kept: a replaced capital stays one.
The kind names above are the ones reported in `NoiseEdit.kind`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ngram.errors import InvalidArgumentError

from .error_model import ADJACENT, KEYBOARD_ROWS, VOWELS

EDIT_KINDS = ("keyboard", "substitution", "vowel", "transposition", "deletion", "undoubling", "doubling",
              "insertion")
KINDS = EDIT_KINDS + ("two_edits", "real_word", "split", "merge")
DEFAULT_MIX = {"keyboard": 0.16, "substitution": 0.05, "vowel": 0.10, "transposition": 0.12, "deletion": 0.12,
               "undoubling": 0.05, "doubling": 0.06, "insertion": 0.06, "two_edits": 0.10, "real_word": 0.10,
               "split": 0.04, "merge": 0.04}
# Our own list of common English near-homophones and near-words (no misspelling corpus).
CONFUSIONS = (("then", "than"), ("form", "from"), ("their", "there"), ("its", "it's"), ("to", "too"),
              ("of", "off"), ("lose", "loose"), ("affect", "effect"), ("quite", "quiet"), ("where", "were"),
              ("accept", "except"), ("whether", "weather"), ("your", "you're"), ("advice", "advise"),
              ("breath", "breathe"), ("principal", "principle"), ("passed", "past"), ("who's", "whose"),
              ("die", "dye"), ("know", "now"), ("hear", "here"), ("peace", "piece"), ("weak", "week"))
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_KEYS = set("".join(KEYBOARD_ROWS))


@dataclass(frozen=True)
class NoiseRates:
    word_rate: float = 0.10
    mix: dict = field(default_factory=lambda: dict(DEFAULT_MIX))
    first_letter_factor: float = 0.25

    def __post_init__(self):
        unknown = sorted(set(self.mix) - set(KINDS))
        if unknown or not 0 <= self.word_rate <= 1 or not self.mix or min(self.mix.values()) < 0 \
                or sum(self.mix.values()) <= 0 or self.first_letter_factor < 0:
            raise InvalidArgumentError(f"bad noise rates (unknown kinds {unknown}, word_rate {self.word_rate}, mix {self.mix})")


@dataclass(frozen=True)
class NoiseEdit:
    """One corrupted stretch: original token `index` (and index + 1 for a merge), its
    text `original` ("in the" for a merge) and what was typed, `typo` ("some thing" for a
    split)."""
    index: int
    kind: str
    original: str
    typo: str


def eligible(word: str) -> bool:
    """Words the process corrupts: 2+ ASCII letters, inner ' or - allowed."""
    core = word.replace("'", "").replace("-", "")
    return len(core) >= 2 and core.isascii() and core.isalpha() and word[0].isalpha() and word[-1].isalpha()


def _like(c: str, new: str) -> str:
    return new.upper() if c.isupper() else new


def _pick_position(rng, positions: list[int], factor: float) -> int | None:
    if not positions:
        return None
    w = np.array([factor if p == 0 else 1.0 for p in positions])
    if w.sum() <= 0:
        return None
    return positions[int(rng.choice(len(positions), p=w / w.sum()))]


def single_edit(word: str, kind: str, rng, first_letter_factor: float = 0.25) -> str | None:
    """`word` with one edit of `kind` (EDIT_KINDS), or None where the kind cannot apply."""
    low = word.lower()
    letters = [i for i, c in enumerate(low) if c in _KEYS]
    f = first_letter_factor
    if kind == "keyboard":
        i = _pick_position(rng, letters, f)
        if i is None:
            return None
        near = [c for c in _LETTERS if ADJACENT[ord(low[i]) - 97, ord(c) - 97]]
        return word[:i] + _like(word[i], near[int(rng.integers(len(near)))]) + word[i + 1:]
    if kind == "substitution":
        i = _pick_position(rng, letters, f)
        if i is None:
            return None
        far = [c for c in _LETTERS if c != low[i] and not ADJACENT[ord(low[i]) - 97, ord(c) - 97]
               and not (low[i] in VOWELS and c in VOWELS)]
        return word[:i] + _like(word[i], far[int(rng.integers(len(far)))]) + word[i + 1:]
    if kind == "vowel":
        i = _pick_position(rng, [p for p in letters if low[p] in "aeiou"], f)
        if i is None:
            return None
        other = [c for c in "aeiou" if c != low[i]]
        return word[:i] + _like(word[i], other[int(rng.integers(len(other)))]) + word[i + 1:]
    if kind == "transposition":
        i = _pick_position(rng, [p for p in range(len(low) - 1) if low[p] != low[p + 1]
                                 and low[p].isalpha() and low[p + 1].isalpha()], f)
        return None if i is None else word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if kind == "deletion":
        i = _pick_position(rng, [p for p in letters if not _doubled(low, p)], f)
        return None if i is None or len(word) < 3 else word[:i] + word[i + 1:]
    if kind == "undoubling":
        i = _pick_position(rng, [p for p in letters if p + 1 < len(low) and low[p] == low[p + 1]], f)
        return None if i is None else word[:i] + word[i + 1:]
    if kind == "doubling":
        i = _pick_position(rng, [p for p in letters if not _doubled(low, p)], f)
        return None if i is None else word[:i + 1] + word[i] + word[i + 1:]
    if kind == "insertion":
        i = _pick_position(rng, letters, f)
        if i is None:
            return None
        near = [c for c in _LETTERS if ADJACENT[ord(low[i]) - 97, ord(c) - 97]]
        c = _like(word[i], near[int(rng.integers(len(near)))])
        return word[:i] + c + word[i:] if rng.random() < 0.5 else word[:i + 1] + c + word[i + 1:]
    raise InvalidArgumentError(f"unknown edit kind {kind!r}")


def _doubled(low: str, p: int) -> bool:
    return (p > 0 and low[p - 1] == low[p]) or (p + 1 < len(low) and low[p + 1] == low[p])


def _typo(word: str, kind: str, rng, rates: NoiseRates, vocabulary) -> str | None:
    if kind in EDIT_KINDS:
        return single_edit(word, kind, rng, rates.first_letter_factor)
    if kind == "two_edits":
        once = single_edit(word, EDIT_KINDS[int(rng.integers(len(EDIT_KINDS)))], rng, rates.first_letter_factor)
        return None if once is None else single_edit(once, EDIT_KINDS[int(rng.integers(len(EDIT_KINDS)))], rng,
                                                     rates.first_letter_factor)
    if kind == "real_word":
        return _real_word(word, rng, rates, vocabulary)
    if kind == "split":
        cuts = [p for p in range(2, len(word) - 1) if word[p - 1].isalpha() and word[p].isalpha()]
        return None if len(word) < 4 or not cuts else (lambda p: word[:p] + " " + word[p:])(cuts[int(rng.integers(len(cuts)))])
    raise InvalidArgumentError(f"unknown kind {kind!r}")


def _real_word(word: str, rng, rates: NoiseRates, vocabulary) -> str | None:
    low = word.lower()
    confusions = [b if a == low else a for a, b in CONFUSIONS if low in (a, b)]
    if vocabulary is not None:   # a single edit that makes another word of the vocabulary
        tries = [single_edit(word, k, rng, rates.first_letter_factor) for k in EDIT_KINDS for _ in range(3)]
        found = sorted({t for t in tries if t is not None and t.lower() != low and t.lower() in vocabulary})
        if found:
            return found[int(rng.integers(len(found)))]
    if not confusions:
        return None
    new = confusions[int(rng.integers(len(confusions)))]
    return new.capitalize() if word[:1].isupper() else new


def corrupt_sentence(tokens: list[str], rng: np.random.Generator, rates: NoiseRates | None = None,
                     vocabulary: set[str] | None = None) -> tuple[list[str], list[NoiseEdit]]:
    """(noisy tokens, edits by original index). `vocabulary`: lowercased words a
    real-word error may produce (None: CONFUSIONS only). A split yields two noisy
    tokens, a merge one for two; an edit's `index` is into `tokens`."""
    rates = rates or NoiseRates()
    kinds = list(rates.mix)
    weights = np.array([rates.mix[k] for k in kinds], np.float64)
    out: list[str] = []
    edits: list[NoiseEdit] = []
    i = 0
    while i < len(tokens):
        word = tokens[i]
        if not eligible(word) or rng.random() >= rates.word_rate:
            out.append(word)
            i += 1
            continue
        w = weights.copy()
        done = False
        while w.sum() > 0 and not done:
            k = int(rng.choice(len(kinds), p=w / w.sum()))
            kind = kinds[k]
            w[k] = 0.0  # a kind that cannot apply here is not drawn again for this word
            if kind == "merge":
                if i + 1 < len(tokens) and eligible(tokens[i + 1]):
                    out.append(word + tokens[i + 1])
                    edits.append(NoiseEdit(i, kind, word + " " + tokens[i + 1], word + tokens[i + 1]))
                    i += 2
                    done = True
                continue
            typo = _typo(word, kind, rng, rates, vocabulary)
            if typo is not None and typo != word:
                out.extend(typo.split(" "))
                edits.append(NoiseEdit(i, kind, word, typo))
                i += 1
                done = True
        if not done:
            out.append(word)
            i += 1
    return out, edits


def corrupt_lines(lines, seed: int, rates: NoiseRates | None = None, vocabulary: set[str] | None = None):
    """Yields (clean tokens, noisy tokens, edits) per line (whitespace-tokenized), from
    one generator seeded with `seed`: the same seed and lines give the same output."""
    rng = np.random.default_rng(seed)
    for line in lines:
        tokens = line.split()
        noisy, edits = corrupt_sentence(tokens, rng, rates, vocabulary)
        yield tokens, noisy, edits
