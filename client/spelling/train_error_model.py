"""Estimate the error model's weights from our own noise: `python -m client.spelling.train_error_model`.

1. Read every `--every`-th sentence of the corpus (default en-train, every 25th: ~30 k
   sentences), up to `--sentences`.
2. Corrupt them with noise.py (`--seed`, default mix and rates).
3. For each single-word typo (the edit kinds and two_edits; not real_word, split or
   merge, whose rates are word-level), align word -> typo with the fewest edits
   (error_model.edit_ops) and count each edit's class, and whether it hit the first letter.
4. Count each class's opportunities in the clean words (e.g. sub_adjacent: the QWERTY
   neighbours of every letter; del_double: letters of doubled pairs) and write
   log10(count / opportunities); first_letter: log10 of (edits per first letter) /
   (edits per other letter); the word-level rates from the counts of words.
The result is deterministic for a given corpus, seed and sample; the shipped
client/spelling/data/error_model.json is this script's output with its defaults (its
"provenance" records the arguments).
"""
from __future__ import annotations

import argparse
import math
import os
from collections import Counter
from itertools import islice
from pathlib import Path

from ngram.atomic import write_text_atomic

from .error_model import ADJACENT, VOWEL, WEIGHT_NAMES, ErrorModel, edit_ops
from .noise import EDIT_KINDS, NoiseRates, corrupt_lines, eligible

DEFAULT_CORPUS = (Path(os.environ.get("NGRAM_SHARED", Path(__file__).resolve().parents[3] / "shared"))
                  / "corpus" / "en-train.txt.zst")
DEFAULT_OUT = Path(__file__).resolve().parent / "data" / "error_model.json"
DEFAULTS = {"every": 25, "sentences": 30000, "seed": 20261203}
TYPO_KINDS = set(EDIT_KINDS) | {"two_edits"}
_SUB_ADJ = {c: int(ADJACENT[c].sum()) for c in range(26)}
# letters y != x neither adjacent to x nor (both vowels): the sub_other choices of x
_SUB_VOWEL = {c: int(sum(1 for y in range(26) if y != c and VOWEL[c] and VOWEL[y] and not ADJACENT[c, y]))
              for c in range(26)}
_SUB_OTHER = {c: 25 - _SUB_ADJ[c] - _SUB_VOWEL[c] for c in range(26)}


def read_sentences(corpus: str | Path, every: int, limit: int) -> list[str]:
    from ngram.compressed_io import open_input
    with open_input(Path(corpus)) as f:
        lines = (line.decode("utf-8", "replace").strip() for i, line in enumerate(f) if i % every == 0)
        return [line for line in islice(lines, limit) if line]


def _opportunities(word: str, opp: Counter) -> None:
    """Add the places where each edit class could happen in a clean (lowercased) word."""
    w = word.lower()
    n = len(w)
    for i, ch in enumerate(w):
        c = ord(ch) - 97 if "a" <= ch <= "z" else None
        where = "first" if i == 0 else "rest"
        opp[where] += 1
        if c is not None:
            opp["sub_adjacent"] += _SUB_ADJ[c]
            opp["sub_vowel"] += _SUB_VOWEL[c]
            opp["sub_other"] += _SUB_OTHER[c]
            opp["ins_adjacent"] += _SUB_ADJ[c]          # a neighbour's key typed beside this letter
        doubled = (i > 0 and w[i - 1] == ch) or (i + 1 < n and w[i + 1] == ch)
        opp["del_double" if doubled else "del_other"] += 1
        opp["ins_double"] += 1                          # this letter typed twice
        opp["ins_other"] += 20                          # ~the other keys, at the gap beside it
        if i + 1 < n and w[i + 1] != ch:
            opp["transpose"] += 1


def estimate(sentences: list[str], seed: int, rates: NoiseRates | None = None) -> ErrorModel:
    rates = rates or NoiseRates()
    counts: Counter = Counter()
    opp: Counter = Counter()
    words = kept = pairs = 0
    kinds: Counter = Counter()
    for clean, _noisy, edits in corrupt_lines(sentences, seed, rates):
        elig = [w for w in clean if eligible(w)]
        words += len(elig)
        pairs += sum(1 for a, b in zip(clean, clean[1:]) if eligible(a) and eligible(b))
        for w in elig:
            _opportunities(w, opp)
        kinds.update(e.kind for e in edits)
        for e in edits:
            if e.kind in TYPO_KINDS:
                for cls, pos in edit_ops(e.original, e.typo):
                    counts[cls] += 1
                    counts["edits_first" if pos == 0 else "edits_rest"] += 1
        kept += len(elig) - len(edits)
    weights = {}
    for name in WEIGHT_NAMES:
        if name == "first_letter":
            first = (counts["edits_first"] + 1) / (opp["first"] + 1)
            rest = (counts["edits_rest"] + 1) / (opp["rest"] + 1)
            weights[name] = round(min(0.0, math.log10(first / rest)), 4)
        else:
            weights[name] = round(math.log10((counts[name] + 1) / (opp[name] + 1)), 4)
    word_rates = {
        "no_error": round(math.log10(max(kept, 1) / max(words, 1)), 4),
        "space_dropped": round(math.log10((kinds["merge"] + 1) / (pairs + 1)), 4),
        "space_inserted": round(math.log10((kinds["split"] + 1) / (words + 1)), 4),
    }
    provenance = {"script": "python -m client.spelling.train_error_model", "seed": seed,
                  "sentences": len(sentences), "words": words, "typos_by_kind": dict(sorted(kinds.items())),
                  "edit_counts": {k: counts[k] for k in sorted(counts)}, "word_rate": rates.word_rate,
                  "mix": rates.mix, "first_letter_factor": rates.first_letter_factor}
    return ErrorModel(weights, word_rates, provenance)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    p.add_argument("--every", type=int, default=DEFAULTS["every"], help="read every N-th sentence")
    p.add_argument("--sentences", type=int, default=DEFAULTS["sentences"], help="at most this many sentences")
    p.add_argument("--seed", type=int, default=DEFAULTS["seed"])
    p.add_argument("--out", default=str(DEFAULT_OUT))
    a = p.parse_args(argv)
    sentences = read_sentences(a.corpus, a.every, a.sentences)
    model = estimate(sentences, a.seed)
    model.provenance.update(corpus=Path(a.corpus).name, every=a.every)
    write_text_atomic(a.out, model.to_json())
    print(f"{a.out}: {len(sentences)} sentences, weights {model.weights}, word rates {model.word_rates}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
