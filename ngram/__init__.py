"""Core of the n-gram server: vocabulary, model format, compressed tables, kernels, scoring.

This package never imports ``builder``, ``shard_server`` or ``client``.
"""
__version__ = "0.1.0"
