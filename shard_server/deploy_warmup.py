"""Fill numba's cache with every kernel a shard server runs, for a container image.

`python -m shard_server.deploy_warmup` builds a tiny model (with the `ngram build`
command, in a subprocess: shard_server/ never imports builder/), opens it in each table
layout and runs the server's own warm-up (`shard_server.server.warm_up`: both request
orders, the packed answer's encoding and the client's decoding). The Dockerfile runs it
at image build time with NUMBA_CACHE_DIR pointing into the image, so a new pod loads
compiled kernels instead of compiling them (~10 s) before it reports SERVING.
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ngram.limits import LAYOUTS

# Enough text for every n-gram order and both shards to hold entries.
_CORPUS = "\n".join(f"the cat {w} on the mat {i % 7}" for i, w in
                    enumerate(["sat", "lay", "sat", "slept", "sat", "ran"] * 20)) + "\n"


def build_tiny_model(workdir: Path, order: int = 3, shards: int = 2) -> Path:
    corpus, out = workdir / "corpus.txt", workdir / "model"
    corpus.write_text(_CORPUS)
    cmd = [sys.executable, "-m", "ngram.cli", "build", str(corpus), "--out", str(out),
           "--order", str(order), "--shards", str(shards)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"warm-up: `{' '.join(cmd)}` failed ({done.returncode}):\n{done.stderr}")
    return out


def warm_all_layouts(model_dir: Path) -> list[str]:
    """Run the server's warm-up on every layout; returns the layouts warmed."""
    from ngram.kernels import drop_stale_numba_caches
    from ngram.model import Model
    from shard_server.engine import ShardEngine
    from shard_server.server import warm_up

    drop_stale_numba_caches()
    for layout in LAYOUTS:
        model = Model.open(model_dir, layout=layout)
        try:
            warm_up(ShardEngine(model))
        finally:
            model.close()
    return list(LAYOUTS)


def main() -> int:
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ngram-warmup-") as tmp:
        layouts = warm_all_layouts(build_tiny_model(Path(tmp)))
    print(f"warm-up: kernels of layouts {', '.join(layouts)} compiled or loaded in "
          f"{time.monotonic() - start:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
