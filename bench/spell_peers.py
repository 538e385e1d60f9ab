"""The open spelling correctors the spell suite measures ours against, each given what it
learns from the same en-train corpus (built once, cached under $NGRAM_BENCH_WORK/spell):

  symspell-word      symspellpy `lookup` (Verbosity.TOP, distance 2) of each word token,
                     over the corpus's word counts
  symspell-compound  symspellpy `lookup_compound` (distance 2) of each run of word tokens
                     between punctuation (it drops punctuation itself), with the corpus's
                     word and word-pair counts, case transferred
  pyspellchecker     `SpellChecker.correction` (distance 2) of each word token, over the
                     corpus's word counts
  jamspell           `TSpellCorrector.FixFragment` of the sentence, with a 3-gram model
                     trained on en-train by JamSpell's own trainer

Each peer maps sentences (lists of whitespace tokens, the corpus's tokenization) to
sentences. Word tokens are those of letters only (str.isalpha, apostrophes inside
allowed); the others (punctuation, numbers) are left to the peers that take whole text
and skipped by the word-by-word ones. Install the peers with `make spell-peers` (JamSpell
builds with SWIG 3 and needs an en_US.UTF-8 locale: the target compiles one into
build/locale when the system has none, and this module points LOCPATH there).
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

from bench.common import TRAIN, WORK

SPELL_WORK = WORK / "spell"
REPO = Path(__file__).resolve().parent.parent
LOCALE_DIR = REPO / "build" / "locale"
MAX_DISTANCE = 2
MIN_WORD_COUNT = 2      # dictionary words: seen at least this often in en-train (once-seen
                        # types, half of all, include the corpus's own typos)
MIN_PAIR_COUNT = 2      # symspell-compound's word pairs
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*\Z")


def is_word(token: str) -> bool:
    return bool(_WORD.match(token))


def match_case(word: str, like: str) -> str:
    """`word` in the case of `like` (UPPER, Capitalized or lower)."""
    if len(like) > 1 and like.isupper():
        return word.upper()
    if like[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def _train_lines():
    import zstandard
    with open(TRAIN, "rb") as f, zstandard.ZstdDecompressor().stream_reader(f) as r:
        import io
        yield from io.TextIOWrapper(r, encoding="utf-8")


def _cached_counts(name: str, count, min_count: int = 1) -> Path:
    path = SPELL_WORK / name
    if not path.exists():
        SPELL_WORK.mkdir(parents=True, exist_ok=True)
        print(f"counting {name} from {TRAIN} ...", flush=True)
        counts = count()
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            for key, n in counts.most_common():
                if n < min_count:
                    break
                f.write(f"{key}\t{n}\n")
        os.replace(tmp, path)
    return path


def word_counts_file() -> Path:
    """lowercased word -> count over en-train (word tokens only), as `word<TAB>count`."""
    def count():
        c = Counter()
        for line in _train_lines():
            c.update(t.lower() for t in line.split() if is_word(t))
        return c
    return _cached_counts("en-train-words.tsv", count)


def pair_counts_file() -> Path:
    """Adjacent lowercased word pairs (both word tokens) seen MIN_PAIR_COUNT times or more
    -> count, as `w1 w2<TAB>count`."""
    def count():
        c = Counter()
        for line in _train_lines():
            toks = [t.lower() if is_word(t) else None for t in line.split()]
            c.update(f"{a} {b}" for a, b in zip(toks, toks[1:]) if a and b)
        return c
    return _cached_counts(f"en-train-pairs-min{MIN_PAIR_COUNT}.tsv", count, MIN_PAIR_COUNT)


def read_counts(path: Path, min_count: int):
    with open(path, encoding="utf-8") as f:
        for line in f:
            key, n = line.rstrip("\n").split("\t")
            n = int(n)
            if n < min_count:
                break  # the file is sorted by count, most common first
            yield key, n


# -- the peers ---------------------------------------------------------------------------
class SymSpellWord:
    name = "symspell-word"

    def __init__(self):
        from symspellpy import SymSpell, Verbosity
        self.verbosity = Verbosity.TOP
        self.sym = SymSpell(max_dictionary_edit_distance=MAX_DISTANCE)
        for word, n in read_counts(word_counts_file(), MIN_WORD_COUNT):
            self.sym.create_dictionary_entry(word, n)

    def _word(self, token: str) -> str:
        found = self.sym.lookup(token, self.verbosity, MAX_DISTANCE, include_unknown=True, transfer_casing=True)
        return found[0].term if found else token

    def correct(self, sentences: list[list[str]]) -> list[list[str]]:
        return [[self._word(t) if is_word(t) else t for t in s] for s in sentences]


class SymSpellCompound(SymSpellWord):
    name = "symspell-compound"

    def __init__(self):
        super().__init__()
        self.sym.load_bigram_dictionary(pair_counts_file(), term_index=0, count_index=1, separator="\t")

    def _run(self, words: list[str]) -> list[str]:
        found = self.sym.lookup_compound(" ".join(words), MAX_DISTANCE, transfer_casing=True)
        return found[0].term.split() if found and found[0].term else words

    def correct(self, sentences: list[list[str]]) -> list[list[str]]:
        out = []
        for s in sentences:
            fixed, run = [], []
            for t in s + [None]:
                if t is not None and is_word(t):
                    run.append(t)
                    continue
                if run:
                    fixed += self._run(run)
                    run = []
                if t is not None:
                    fixed.append(t)
            out.append(fixed)
        return out


class PySpellChecker:
    name = "pyspellchecker"

    def __init__(self):
        from spellchecker import SpellChecker
        self.spell = SpellChecker(language=None, distance=MAX_DISTANCE)
        self.spell.word_frequency.load_json(dict(read_counts(word_counts_file(), MIN_WORD_COUNT)))

    def _word(self, token: str) -> str:
        low = token.lower()
        if low in self.spell:  # known: kept (correction() would say the same, slower)
            return token
        best = self.spell.correction(low)
        return match_case(best, token) if best else token

    def correct(self, sentences: list[list[str]]) -> list[list[str]]:
        return [[self._word(t) if is_word(t) else t for t in s] for s in sentences]


class JamSpell:
    name = "jamspell"
    ALPHABET = "abcdefghijklmnopqrstuvwxyz'"

    def __init__(self):
        use_repo_locale()
        import jamspell
        self.model = train_jamspell()
        self.corrector = jamspell.TSpellCorrector()
        if not self.corrector.LoadLangModel(str(self.model)):
            raise RuntimeError(f"JamSpell could not load {self.model}")

    def correct(self, sentences: list[list[str]]) -> list[list[str]]:
        return [self.corrector.FixFragment(" ".join(s)).split() for s in sentences]


def use_repo_locale() -> None:
    """JamSpell's library builds a std::locale("en_US.UTF-8") when it loads (and aborts
    the process without one): use the one `make spell-peers` compiled when present."""
    if (LOCALE_DIR / "en_US.utf8").is_dir():
        os.environ["LOCPATH"] = str(LOCALE_DIR)


def jamspell_usable() -> str | None:
    """None when JamSpell imports and builds a corrector here, else why not (checked in a
    child process: a missing locale aborts the process that loads it)."""
    use_repo_locale()
    probe = subprocess.run([sys.executable, "-c", "import jamspell; jamspell.TSpellCorrector()"],
                           capture_output=True, text=True, env=dict(os.environ))
    if probe.returncode == 0:
        return None
    return (probe.stderr.strip().splitlines() or [f"exit code {probe.returncode}"])[-1] \
        + " (run `make spell-peers`)"


def train_jamspell() -> Path:
    """JamSpell's 3-gram model of en-train, trained once by its own trainer (~2 min)."""
    model = SPELL_WORK / "jamspell-en-train-3g.bin"
    if model.exists():
        return model
    import jamspell
    SPELL_WORK.mkdir(parents=True, exist_ok=True)
    alphabet = SPELL_WORK / "alphabet_en.txt"
    alphabet.write_text(JamSpell.ALPHABET)
    text = SPELL_WORK / "en-train.txt"
    if not text.exists():
        with open(text.with_suffix(".tmp"), "w", encoding="utf-8") as f:
            f.writelines(_train_lines())
        os.replace(text.with_suffix(".tmp"), text)
    print(f"training JamSpell on {text} ...", flush=True)
    tmp = model.with_suffix(".tmp")
    if not jamspell.TSpellCorrector().TrainLangModel(str(text), str(alphabet), str(tmp)):
        raise RuntimeError("JamSpell's trainer failed")
    os.replace(tmp, model)
    return model


PEERS = {p.name: p for p in (SymSpellWord, SymSpellCompound, PySpellChecker, JamSpell)}
