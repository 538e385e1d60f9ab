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


KENLM_TEST_MODELS = ["kenlm-test", "kenlm-test_nounk", "kenlm-toy0", "kenlm-toy1"]  # ARPA_DIR/<name>.arpa


def open_kenlm_test_models(tmp_path_factory) -> dict:
    """{(name, quantization): Model} of every KenLM test ARPA file imported in one shard,
    exact ("none") and 8-bit; the caller closes them."""
    from ngram.arpa import import_arpa
    from ngram.model import Model
    out = {}
    for name in KENLM_TEST_MODELS:
        for q in ("none", "8"):
            d = tmp_path_factory.mktemp(f"{name}-{q}") / "m"
            import_arpa(ARPA_DIR / f"{name}.arpa", d, num_shards=1, quantization=q)
            out[name, q] = Model.open(d)
    return out
