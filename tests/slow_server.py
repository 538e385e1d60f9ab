"""A slow replica for tests: the real shard server whose engine sleeps before every
lookup and prediction (after admission, so the request counts as in flight while it waits).

In-process: ``SlowShardServer(config, delay_s)``. As a process (what the cluster harness
spawns for ``mode="subprocess"``): ``python tests/slow_server.py DELAY_S serve MODEL ...``
runs the real ``python -m shard_server`` command line with that engine.
"""
from __future__ import annotations

import functools
import sys
import time

from shard_server.engine import ShardEngine
from shard_server.server import ShardServer


class SlowEngine(ShardEngine):
    def __init__(self, model, *, delay_s: float, **kwargs):
        super().__init__(model, **kwargs)
        self.delay_s = delay_s

    def lookup(self, model_id, shard, ids, lengths):
        time.sleep(self.delay_s)
        return super().lookup(model_id, shard, ids, lengths)

    def predict(self, *args, **kwargs):
        time.sleep(self.delay_s)
        return super().predict(*args, **kwargs)


class SlowShardServer(ShardServer):
    def __init__(self, config, delay_s: float, version: str = ""):
        super().__init__(config, version)
        self.engine_class = functools.partial(SlowEngine, delay_s=delay_s)


def launcher(delay_s: float) -> list[str]:
    """The command that runs `python -m shard_server` with a slow engine."""
    return [sys.executable, __file__, repr(float(delay_s))]


if __name__ == "__main__":
    delay = float(sys.argv.pop(1))
    ShardServer.engine_class = functools.partial(SlowEngine, delay_s=delay)  # this process only
    from shard_server.__main__ import main
    main()
