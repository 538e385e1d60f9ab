"""Prometheus metrics of one shard server, on its own registry (several servers may share
a process in tests) and served on `--metrics-port`."""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

# Round latencies of interest run from ~0.1 ms (a spelling query) to ~100 ms (a decoder round).
LATENCY_BUCKETS = (0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1,
                   0.2, 0.5, 1.0, 2.5, 5.0)


class ServerMetrics:
    def __init__(self):
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("ngram_requests", "Lookup requests answered, by method and status code",
                                ["method", "code"], registry=r)
        self.lookups = Counter("ngram_lookups", "n-grams looked up", registry=r)
        self.latency = Histogram("ngram_request_seconds", "Time to answer one lookup request",
                                 ["method"], buckets=LATENCY_BUCKETS, registry=r)
        self.errors = Counter("ngram_errors", "Failed requests, by status code", ["code"], registry=r)
        self.inflight = Gauge("ngram_inflight", "Lookup requests being answered", registry=r)
        self.streams = Gauge("ngram_streams", "Open LookupStream calls", registry=r)
        self.table_bytes = Gauge("ngram_table_bytes", "Bytes of the served shard tables in memory "
                                 "(mapped files, plus decoded tables), by layout", ["layout"], registry=r)
        self._http = None

    def serve(self, port: int, host: str = "127.0.0.1") -> int:
        """Start the /metrics HTTP endpoint; returns the bound port (port 0 picks one)."""
        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        self._http = server
        return server.server_address[1]

    def close(self) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
