"""Follow a cluster across model rollouts, one model version per round.

`RolloutBackend` wraps the remote backend of the model the cluster file names. Each
round takes the current backend with `round()` and uses it for every lookup of that
round, so no round mixes versions (the id travels in every request, and a server answers
a request only from the version it names). When the cluster file names a new model id
(`ngram cluster rollout` rewrites it once every server has loaded the new version), the
next round checks that every shard has a replica serving it (ListModels) and moves to
it; the old backend is closed once its last round ends.
"""
from __future__ import annotations

import contextlib
import os
import threading
import time

import grpc

from ngram import cluster_file
from ngram.wire import pb, pb_grpc
from ngram.wire.channels import open_channel

RECHECK_S = 0.2  # how often a round looks at the cluster file (a stat)


def serves_everywhere(spec, timeout: float = 2.0) -> bool:
    """True when every shard of `spec` has a replica that serves `spec.model_id` (not retiring)."""
    serving: dict[str, set[int]] = {}
    for address in {a for rs in spec.replicas.values() for a in rs}:
        try:
            with open_channel(address, spec.tls) as ch:
                models = pb_grpc.NgramShardStub(ch).ListModels(pb.AdminListModelsRequest(), timeout=timeout).models
        except grpc.RpcError:
            continue
        serving[address] = {s for m in models if m.model_id == spec.model_id and not m.retiring for s in m.shards}
    return all(any(s in serving.get(a, ()) for a in rs) for s, rs in spec.replicas.items())


class RolloutBackend:
    def __init__(self, path: str | os.PathLike, policy=None):
        from client.remote import open_remote_backend
        self._open = lambda: open_remote_backend(path, policy)
        self.path = path
        self._lock = threading.Lock()
        self._current = self._open()
        self._users: dict[int, int] = {id(self._current): 0}
        self._retired: list = []
        self._file_key = self._stat()
        self._next_check = time.monotonic() + RECHECK_S
        self.switches = 0

    def _stat(self):
        st = os.stat(self.path)
        return st.st_mtime_ns, st.st_ino, st.st_size

    @property
    def model_id(self) -> str:
        return self._current.model_id

    def _maybe_switch(self) -> None:
        now = time.monotonic()
        if now < self._next_check:
            return
        self._next_check = now + RECHECK_S
        try:
            key = self._stat()
        except OSError:
            return  # mid-replace, or gone: keep the current version
        if key == self._file_key:
            return
        try:
            spec = cluster_file.read(self.path)
        except Exception:  # noqa: BLE001 - a file being rewritten: look again next round
            return
        if spec.model_id == self._current.model_id:
            self._file_key = key
            return
        if not serves_everywhere(spec):
            return  # not yet: the next check asks again
        new = self._open()
        with self._lock:
            old, self._current = self._current, new
            self._users[id(new)] = 0
            self._retired.append(old)
            self._file_key = key
            self.switches += 1
        self._close_idle()

    def _close_idle(self) -> None:
        with self._lock:
            idle = [b for b in self._retired if self._users.get(id(b), 0) == 0]
            self._retired = [b for b in self._retired if b not in idle]
            for b in idle:
                self._users.pop(id(b), None)
        for b in idle:
            b.close()

    @contextlib.contextmanager
    def round(self):
        """The backend of one model version, for every lookup of one round."""
        self._maybe_switch()
        with self._lock:
            backend = self._current
            self._users[id(backend)] += 1
        try:
            yield backend
        finally:
            with self._lock:
                self._users[id(backend)] -= 1
            self._close_idle()

    def close(self) -> None:
        with self._lock:
            backends = [self._current, *self._retired]
            self._retired = []
        for b in backends:
            b.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
