"""Fixtures shared by the test modules: the data paths, the small models."""
from __future__ import annotations


import pytest

from cluster_harness import small_model
from ngram.kernels import drop_stale_numba_caches
from ngram.model import Model
from sample_corpus import ARPA_DIR, ROOT, SAMPLES, SHARED


def pytest_configure(config):
    # Before anything compiles: a test process that compiled kernels which a CLI
    # subprocess then finds stale would make every such subprocess recompile them.
    drop_stale_numba_caches()


@pytest.fixture(scope="session")
def data_paths():
    """Where test data lives: the bundled samples, the shared corpus and ARPA files (the
    paths of tests/sample_corpus.py, which module-level constants import directly)."""
    from types import SimpleNamespace
    return SimpleNamespace(root=ROOT, samples=SAMPLES, shared=SHARED, corpus=SHARED / "corpus", arpa=ARPA_DIR)


@pytest.fixture(scope="module")
def model_dir():
    """A small counts model built once from the bundled sample (cached by the harness)."""
    return small_model()


@pytest.fixture(scope="module")
def local(model_dir):
    """The same model opened in-process: the reference remote answers must equal."""
    m = Model.open(model_dir)
    yield m
    m.close()
