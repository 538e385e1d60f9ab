"""Fixtures shared by the server and client test modules."""
from __future__ import annotations

import pytest

from cluster_harness import small_model
from ngram.model import Model


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
