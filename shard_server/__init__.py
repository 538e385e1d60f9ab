"""Shard servers: answer batched n-gram lookups for some shards of one model over gRPC.

engine.py (validation + kernel calls, no gRPC) <- servicer.py (decode/call/encode/map
errors) <- server.py (health, reflection, metrics, TLS, drain) <- cli.py (click).
"""
