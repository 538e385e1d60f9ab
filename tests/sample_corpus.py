"""The one home of the tests' data paths, and real English text for tests: the samples
bundled in samples/ (always in the repo), and the shared corpus and ARPA files beside the
repository (NGRAM_SHARED or ../shared). conftest.py's `data_paths` fixture hands these out."""
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
HELDOUT_SAMPLE = SAMPLES / "en-heldout-sample.txt"
TRAIN_SAMPLE = SAMPLES / "en-sample.txt.zst"
SHARED = Path(os.environ.get("NGRAM_SHARED", ROOT.parent / "shared"))
ARPA_DIR = SHARED / "arpa"                              # kenlm-test.arpa, en-dev.5.arpa.zst, ...
HELDOUT_CORPUS = SHARED / "corpus" / "en-heldout.txt"


def sample_lines(n: int, source: Path = TRAIN_SAMPLE) -> list[bytes]:
    """The first n sentences of a bundled sample (compressed or plain)."""
    from itertools import islice

    from ngram.compressed_io import open_input
    with open_input(source) as f:
        return [line[:-1] if line.endswith(b"\n") else line for line in islice(f, n)]


def sample_text(n: int) -> bytes:
    return b"\n".join(sample_lines(n))
