"""Synthetic CTC logits for a text: a seeded noise model of what an acoustic model emits.

Each character becomes a run of 1-3 frames of its label, runs are separated by 0-2 blank
frames (always one between equal characters), and every frame's logits are noisy: the
true label's logit is high but varies, a confusable character (a similar sound or a
neighbouring key) sometimes rivals or beats it, and the other labels are noise. The
decoder then needs the language model to recover words.
"""
from __future__ import annotations

import numpy as np

LABELS = ["", " ", "'"] + [chr(c) for c in range(ord("a"), ord("z") + 1)]
CONFUSABLE = {
    "a": "e", "e": "i", "i": "e", "o": "u", "u": "o", "b": "p", "p": "b", "d": "t", "t": "d",
    "g": "k", "k": "c", "c": "k", "s": "z", "z": "s", "f": "v", "v": "f", "m": "n", "n": "m",
    "l": "r", "r": "l", "w": "v", "y": "i", "h": "n", "j": "g", "q": "k", "x": "s", "'": " ",
}


def normalize_text(line: str) -> str:
    """Lower case, only the label characters, single spaces."""
    keep = set(LABELS[1:])
    return " ".join("".join(ch for ch in line.lower() if ch in keep).split())


def synthetic_logits(text: str, rng: np.random.Generator, *, confuse: float = 0.25,
                     strength: float = 1.0) -> np.ndarray:
    """float64 logits [frames, len(LABELS)] for `text` (already normalized)."""
    index = {c: i for i, c in enumerate(LABELS)}
    frames: list[int] = []
    prev = None
    for ch in text:
        blanks = int(rng.integers(0, 3))
        if ch == prev:
            blanks = max(blanks, 1)
        frames += [0] * blanks
        frames += [index[ch]] * int(rng.integers(1, 4))
        prev = ch
    frames += [0] * int(rng.integers(1, 3))
    T, L = len(frames), len(LABELS)
    x = rng.normal(0.0, 1.0, (T, L))
    truth = np.array(frames)
    x[np.arange(T), truth] += rng.normal(6.0, 1.5, T) * strength
    x[:, 0] += 1.0  # blanks are likely everywhere, as in real CTC output
    for t, lab in enumerate(frames):
        ch = LABELS[lab]
        if ch in CONFUSABLE and rng.random() < confuse:
            x[t, index[CONFUSABLE[ch]]] = x[t, lab] + rng.normal(-0.5, 1.5)
    return x
