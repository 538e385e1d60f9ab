"""A kernel source edit must not leave numba cache files that inline the old code."""
from __future__ import annotations

import ngram.kernels as K


def test_changed_kernel_sources_drop_cached_kernels(tmp_path):
    # a copy of the layout: <root>/ngram/kernels/*.py with caches in several packages
    kernels = tmp_path / "ngram" / "kernels"
    (kernels / "__pycache__").mkdir(parents=True)
    (kernels / "codecs.py").write_text("X = 1\n")
    other = tmp_path / "client" / "__pycache__"
    other.mkdir(parents=True)
    cached = [kernels / "__pycache__" / "lookup.lookup_kernel-1.py311.nbi", other / "kenlm_compat._rows-2.py311.1.nbc"]
    stamp = kernels / "__pycache__" / "kernel-sources.sha256"
    K._drop_stale_numba_caches(kernels, stamp)  # no stamp yet: start clean
    for f in cached:
        f.write_bytes(b"compiled")
    K._drop_stale_numba_caches(kernels, stamp)  # sources unchanged: caches kept
    assert all(f.exists() for f in cached)
    (kernels / "codecs.py").write_text("X = 2\n")  # an edit, or an upgrade
    K._drop_stale_numba_caches(kernels, stamp)
    assert not any(f.exists() for f in cached)
    assert stamp.read_text() == K._sources_digest(kernels)
