"""A kernel source edit must not leave numba cache files that inline the old code."""
from __future__ import annotations

import subprocess
import sys

import ngram.kernels as K


def _tree(tmp_path):
    """A copy of the project's layout: kernels in ngram/kernels/ and builder/kernels/,
    an @njit function outside any kernels package, caches in several packages."""
    kernels = tmp_path / "ngram" / "kernels"
    (kernels / "__pycache__").mkdir(parents=True)
    (kernels / "codecs.py").write_text("X = 1\n")
    (tmp_path / "builder" / "kernels").mkdir(parents=True)
    (tmp_path / "builder" / "kernels" / "count_kernels.py").write_text("Y = 1\n")
    (tmp_path / "client").mkdir()
    (tmp_path / "client" / "facade.py").write_text("from numba import njit\n\n@njit(cache=True)\ndef f():\n    return 1\n")
    (tmp_path / "client" / "plain.py").write_text("Z = 1\n")
    other = tmp_path / "client" / "__pycache__"
    other.mkdir(parents=True)
    cached = [kernels / "__pycache__" / "lookup.lookup_kernel-1.py311.nbi", other / "facade._rows-2.py311.1.nbc"]
    return kernels / "__pycache__" / "kernel-sources.sha256", cached


def _check(root, stamp):
    K.drop_stale_numba_caches(root, stamp, force=True)


def test_changed_kernel_sources_drop_cached_kernels(tmp_path):
    stamp, cached = _tree(tmp_path)
    _check(tmp_path, stamp)  # no stamp yet: start clean
    for f in cached:
        f.write_bytes(b"compiled")
    _check(tmp_path, stamp)  # sources unchanged: caches kept
    assert all(f.exists() for f in cached)
    (tmp_path / "ngram" / "kernels" / "codecs.py").write_text("X = 2\n")  # an edit, or an upgrade
    _check(tmp_path, stamp)
    assert not any(f.exists() for f in cached)
    assert stamp.read_text() == K.sources_digest(tmp_path)


def test_every_package_kernel_module_is_covered_by_rule(tmp_path):
    stamp, cached = _tree(tmp_path)
    names = {p.relative_to(tmp_path).as_posix() for p in K.kernel_sources(tmp_path)}
    assert names == {"ngram/kernels/codecs.py", "builder/kernels/count_kernels.py", "client/facade.py"}
    for edited in ("builder/kernels/count_kernels.py", "client/facade.py"):
        _check(tmp_path, stamp)
        for f in cached:
            f.write_bytes(b"compiled")
        (tmp_path / edited).write_text((tmp_path / edited).read_text() + "# edited\n")
        _check(tmp_path, stamp)
        assert not any(f.exists() for f in cached), edited
    _check(tmp_path, stamp)
    for f in cached:
        f.write_bytes(b"compiled")
    (tmp_path / "client" / "plain.py").write_text("Z = 2\n")  # no kernel: caches stay
    _check(tmp_path, stamp)
    assert all(f.exists() for f in cached)


def test_the_real_tree_covers_every_cached_njit_module():
    import re
    sources = set(K.kernel_sources())
    for package in K.PACKAGES:
        for path in (K._ROOT / package).glob("**/*.py"):
            if re.search(r"njit\(.*cache=True|njit\(\*\*(JIT|INLINE)", path.read_text()):
                assert path in sources, path


def test_importing_the_kernels_has_no_side_effect(tmp_path):
    # the guard runs where kernels are first used, never at import
    code = ("import ngram.kernels, ngram.kernels.lookup, ngram.kernels.codecs\n"
            "assert not ngram.kernels._checked\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr


def test_model_open_and_the_cli_run_the_guard(tmp_path):
    code = ("import ngram.kernels as K\nfrom ngram.errors import ModelFormatError\nfrom ngram.model import Model\n"
            "assert not K._checked\n"
            f"try:\n    Model.open({str(tmp_path / 'none')!r})\nexcept ModelFormatError:\n    pass\n"
            "assert K._checked\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr
    code = ("import sys, ngram.kernels as K\nfrom ngram.cli import main\n"
            "sys.argv = ['ngram', 'count']\n"  # a usage error: no model is opened
            "try:\n    main()\nexcept SystemExit:\n    pass\nassert K._checked\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr
