"""A fault-injecting TCP proxy of our own, for fault tests over loopback (this kernel has
no netem): put it between a client and one replica and change what the link does while
rounds run.

    proxy = FaultProxy("127.0.0.1", server_port)     # listens on proxy.address
    proxy.latency, proxy.jitter = 0.05, 0.01         # seconds added to every chunk, each way
    proxy.bandwidth = 1 << 20                        # bytes/s each way (None: unlimited)
    proxy.freeze()                                   # gray failure: connections stay open, nothing moves
    proxy.thaw()
    proxy.cut()                                      # drop every connection (RST) and refuse new ones
    proxy.restore()
    proxy.close()

Delays keep the byte order of a connection: each direction has a queue of (due time,
chunk) drained by its own sender thread.
"""
from __future__ import annotations

import heapq
import itertools
import random
import socket
import struct
import threading
import time

CHUNK = 64 << 10


def _reset(sock: socket.socket) -> None:
    """Close with RST (SO_LINGER 0), as a dead link or a killed host looks to the peer."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RDWR)  # wakes this connection's threads blocked in recv
    except OSError:
        pass
    sock.close()


class _Pipe:
    """One direction of one connection: read, delay, (throttle), send."""

    def __init__(self, proxy: "FaultProxy", src: socket.socket, dst: socket.socket, name: str):
        self.proxy, self.src, self.dst = proxy, src, dst
        self.queue: list = []
        self.cv = threading.Condition()
        self.seq = itertools.count()
        self.done = False
        self.reader = threading.Thread(target=self._read, name=f"proxy-read-{name}", daemon=True)
        self.sender = threading.Thread(target=self._send, name=f"proxy-send-{name}", daemon=True)
        self.reader.start()
        self.sender.start()

    def _read(self) -> None:
        try:
            while True:
                data = self.src.recv(CHUNK)
                if not data:
                    break
                p = self.proxy
                due = time.monotonic() + p.latency + (random.uniform(0, p.jitter) if p.jitter else 0.0)
                with self.cv:
                    heapq.heappush(self.queue, (due, next(self.seq), data))
                    self.cv.notify()
        except OSError:
            pass
        with self.cv:
            self.done = True
            self.cv.notify()

    def _send(self) -> None:
        try:
            while True:
                with self.cv:
                    while not self.queue and not self.done:
                        self.cv.wait(0.1)
                    if not self.queue:
                        break
                    due, _, data = self.queue[0]
                    wait = due - time.monotonic()
                    if wait > 0 or self.proxy.frozen.is_set():
                        self.cv.wait(min(max(wait, 0.005), 0.05))
                        continue
                    heapq.heappop(self.queue)
                self.dst.sendall(data)
                if self.proxy.bandwidth:
                    time.sleep(len(data) / self.proxy.bandwidth)
        except OSError:
            pass
        try:
            self.dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


class FaultProxy:
    def __init__(self, upstream_host: str, upstream_port: int, listen_host: str = "127.0.0.1"):
        self.upstream = (upstream_host, upstream_port)
        self.latency = 0.0
        self.jitter = 0.0
        self.bandwidth: float | None = None
        self.frozen = threading.Event()
        self._cut = threading.Event()
        self._lock = threading.Lock()
        self._conns: list[tuple[socket.socket, socket.socket]] = []
        self._listener = socket.create_server((listen_host, 0))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self.address = f"{listen_host}:{self.port}"
        self.accepted = 0
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="proxy-accept", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            if self._cut.is_set():
                _reset(client)
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=2)
                server.settimeout(None)
            except OSError:
                _reset(client)
                continue
            for s in (client, server):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._conns.append((client, server))
                self.accepted += 1
            _Pipe(self, client, server, "up")
            _Pipe(self, server, client, "down")

    def freeze(self) -> None:
        self.frozen.set()

    def thaw(self) -> None:
        self.frozen.clear()

    def _drop_all(self) -> None:
        with self._lock:
            conns, self._conns = self._conns, []
        for a, b in conns:
            _reset(a)
            _reset(b)

    def cut(self) -> None:
        self._cut.set()
        self._drop_all()

    def restore(self) -> None:
        self._cut.clear()

    def close(self) -> None:
        self._closed.set()
        self._listener.close()
        self._drop_all()
        self._thread.join(2)
