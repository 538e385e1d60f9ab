"""The container image, checked offline: no container engine runs here, so the Dockerfile
is parsed for what the image promises, and the commands it runs are run for real."""
from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from shard_server import deploy_health
from shard_server.server import ServerConfig, ShardServer

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per instruction, continuation lines joined, comments dropped."""
    out, pending = [], ""
    for line in text.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line.rstrip("\\").strip() + " " if line.rstrip().endswith("\\") else line.strip()
        if not line.rstrip().endswith("\\"):
            word, _, rest = pending.partition(" ")
            out.append((word.upper(), rest.strip()))
            pending = ""
    return out


def stages(ins):
    """The instructions of each build stage (split at FROM)."""
    result = []
    for word, rest in ins:
        if word == "FROM":
            result.append([(word, rest)])
        elif result:
            result[-1].append((word, rest))
    return result


@pytest.fixture(scope="module")
def final():
    return stages(instructions(DOCKERFILE.read_text()))[-1]


def test_image_is_multi_stage_on_a_slim_python_base():
    ins = instructions(DOCKERFILE.read_text())
    base = dict(a.split("=", 1) for w, a in ins if w == "ARG" and "=" in a).get("PYTHON_IMAGE", "")
    assert base.startswith("python:") and "slim" in base
    st = stages(ins)
    assert len(st) >= 2
    build_name = st[0][0][1].split(" AS ")[-1].strip()
    assert any(w == "COPY" and f"--from={build_name}" in a for w, a in st[-1])


def test_image_runs_as_a_non_root_user(final):
    users = [a for w, a in final if w == "USER"]
    assert users, "the final stage sets no USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")


def test_image_has_an_entrypoint_healthcheck_and_a_models_volume(final):
    words = dict(final)
    assert words["ENTRYPOINT"] == '["ngram", "serve"]'
    assert "shard_server.deploy_health" in words["HEALTHCHECK"]
    assert "/models" in words["VOLUME"]


def test_image_compiles_the_kernels_into_its_cache_before_switching_user(final):
    env = " ".join(a for w, a in final if w == "ENV")
    assert "NUMBA_CACHE_DIR=" in env
    order = [w for w, _ in final]
    runs = [i for i, (w, a) in enumerate(final) if w == "RUN" and "shard_server.deploy_warmup" in a]
    assert runs and runs[0] < order.index("USER")
    assert [i for i, (w, _) in enumerate(final) if w == "ENV"][0] < runs[0]


def test_copied_sources_exist_and_are_not_docker_ignored():
    ins = instructions(DOCKERFILE.read_text())
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    for word, args in ins:
        if word == "COPY" and "--from" not in args:
            for src in shlex.split(args)[:-1]:
                assert (ROOT / src).exists(), src
                assert src not in ignored, src


def test_warm_up_command_of_the_image_runs():
    """The RUN step's command, run here: it builds a tiny model and warms every layout.
    (Run with this checkout's numba cache: a cold compile takes minutes under load.)"""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "shard_server.deploy_warmup"], capture_output=True,
                          text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "layouts compressed, decoded" in done.stderr


def test_health_check_command_says_serving_or_fails(model_dir, capsys):
    server = ShardServer(ServerConfig())
    server.start()
    try:
        assert deploy_health.main([server.address]) == 1  # bound, shards not open yet
        server.open_model(model_dir, shards=[0])
        assert deploy_health.main([server.address]) == 0
        assert "SERVING" in capsys.readouterr().out
    finally:
        server.stop()
    assert deploy_health.main([server.address]) == 1  # stopped: nothing answers
