"""A tiny authoritative DNS server on loopback UDP, for tests of name re-resolution.

gRPC's c-ares resolver takes the DNS server from the target's authority
(``dns://127.0.0.1:PORT/name:port``), so a test can move a name to another address
without touching /etc/hosts. Answers A queries for the names it holds (TTL 0), an empty
NOERROR for other types, NXDOMAIN for unknown names. Counts the A queries per name.
"""
from __future__ import annotations

import collections
import socket
import struct
import threading


class TinyDNS:
    def __init__(self):
        self.records: dict[str, str] = {}
        self.queries: collections.Counter = collections.Counter()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="tiny-dns", daemon=True)
        self._thread.start()

    def target(self, name: str, port: int) -> str:
        return f"dns://127.0.0.1:{self.port}/{name}:{port}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self._sock.recvfrom(512)
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                self._sock.sendto(self._answer(data), peer)
            except (ValueError, IndexError, struct.error, OSError):
                continue  # a malformed query is dropped

    def _answer(self, q: bytes) -> bytes:
        qid, _flags, qdcount = struct.unpack(">HHH", q[:6])
        i, labels = 12, []
        while q[i]:
            labels.append(q[i + 1:i + 1 + q[i]].decode("ascii").lower())
            i += 1 + q[i]
        question = q[12:i + 5]
        qtype = struct.unpack(">H", q[i + 1:i + 3])[0]
        name = ".".join(labels)
        ip = self.records.get(name)
        answers = b""
        if qtype == 1:
            self.queries[name] += 1
        if ip is not None and qtype == 1:
            answers = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 0, 4) + socket.inet_aton(ip)
        rcode = 3 if ip is None else 0
        header = struct.pack(">HHHHHH", qid, 0x8400 | rcode, 1, 1 if answers else 0, 0, 0)
        return header + question + answers

    def close(self) -> None:
        self._stop.set()
        self._sock.close()
        self._thread.join(2)
