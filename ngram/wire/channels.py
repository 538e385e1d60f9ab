"""The one way to open a gRPC channel to a shard server, plaintext or TLS, used by the
client (client/transport.py) and the cluster tools (shard_server/cluster.py), which may
not import each other. Message limits and reconnect backoff come from ngram/limits.py.
"""
from __future__ import annotations

import grpc

from ngram.cluster_file import TLSConfig
from ngram.limits import (DEFAULT_MAX_MESSAGE_BYTES, DNS_MIN_RERESOLVE_MS, RECONNECT_INITIAL_BACKOFF_MS,
                          RECONNECT_MAX_BACKOFF_MS, RECONNECT_MIN_CONNECT_TIMEOUT_MS)


def channel_options(max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> list[tuple[str, int]]:
    """Message limits both ways, and a reconnect backoff short enough that a restarted
    server is reached again within about a second (gRPC's default grows to 120 s), and a
    DNS name re-resolved within a second of a failure (a pod that moved has a new IP)."""
    return [("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
            ("grpc.initial_reconnect_backoff_ms", RECONNECT_INITIAL_BACKOFF_MS),
            ("grpc.max_reconnect_backoff_ms", RECONNECT_MAX_BACKOFF_MS),
            ("grpc.min_reconnect_backoff_ms", RECONNECT_MIN_CONNECT_TIMEOUT_MS),
            ("grpc.dns_min_time_between_resolutions_ms", DNS_MIN_RERESOLVE_MS)]


def open_channel(address: str, tls: TLSConfig | None = None, *,
                 max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> grpc.Channel:
    """A channel to `address`: plaintext without `tls`, else TLS with its roots, optional
    client certificate (mutual TLS) and optional name to verify instead of the host."""
    options = channel_options(max_message_bytes)
    if tls is None:
        return grpc.insecure_channel(address, options=options)
    roots, key, chain = tls.read()
    if tls.server_name:
        options.append(("grpc.ssl_target_name_override", tls.server_name))
    return grpc.secure_channel(address, grpc.ssl_channel_credentials(roots, key, chain), options)
