"""Input text -> `Token`s with exact character spans, and case restoration.

The model's corpus is whitespace-tokenized with punctuation split off words ("And Adam
said , This is now bone of my bones ."), so `tokenize` splits the same way, but keeps
each token's span [start, end) in the ORIGINAL text (text[start:end] == token.text
always), so a corrected text is rebuilt from the input by replacing spans:

- a word: a run of word characters (letters, digits, underscore, combining marks) with
  single inner apostrophes, hyphens or dots joining runs: "Noah's", "well-known",
  "sys.path", "3.11", "don't" (the corpus keeps these whole; a trailing dot is split
  off, as the corpus does: "e.g." -> "e.g" "."). A typographic apostrophe (U+2019) joins
  too: it is looked up as "'" (`lookup_form`).
- every other character that is not whitespace is a token of its own ("," "(" "!" and
  control characters, lone surrogates, symbols).
- whitespace (any Unicode space) separates tokens and belongs to none.
"""
from __future__ import annotations

import re

from .types import Token

_WORD_CHARS = r"[\w\u0300-\u036f]"
_TOKEN_RE = re.compile(rf"{_WORD_CHARS}+(?:['\u2019.\-]{_WORD_CHARS}+)*|[^\s]")


def tokenize(text: str) -> list[Token]:
    """The tokens of `text` in order, spans in code points of `text`."""
    if not isinstance(text, str):
        raise TypeError(f"text must be str, not {type(text).__name__}")
    return [Token(m.group(), m.start(), m.end()) for m in _TOKEN_RE.finditer(text)]


def lookup_form(word: str) -> str:
    """The form of a typed word looked up in the vocabulary (typographic apostrophe -> ')."""
    return word.replace("\u2019", "'") if "\u2019" in word else word


def case_pattern(word: str) -> str:
    """"upper" (two or more cased letters, all upper: "TEH"), "title" (first letter
    upper: "Teh", "I"), "lower" (first letter lower or uncased)."""
    if word.islower() or not word:
        return "lower"
    if word.isupper() and sum(1 for c in word if c.isupper()) > 1:
        return "upper"
    for c in word:
        if c.isalpha():
            return "title" if c.isupper() else "lower"
    return "lower"


def apply_case(template: str, word: str) -> str:
    """`word` in the case of the typed `template`: "TEH" -> "THE", "Teh" -> "The"; a
    lowercase template keeps the word as given (the vocabulary's spelling: "adma" ->
    "Adam")."""
    pattern = case_pattern(template)
    if pattern == "upper":
        return word.upper()
    if pattern == "title":
        for i, c in enumerate(word):
            if c.isalpha():
                return word[:i] + c.upper() + word[i + 1:]
    return word


def apply_case_words(template: str, words: tuple[str, ...]) -> tuple[str, ...]:
    """Case of one typed token applied to the words it becomes (a split): an upper
    template uppercases all, a title template capitalizes the first only."""
    if not words:
        return words
    pattern = case_pattern(template)
    if pattern == "upper":
        return tuple(w.upper() for w in words)
    return (apply_case(template, words[0]),) + tuple(words[1:])
