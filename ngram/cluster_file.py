"""The cluster file: which servers answer which shard of which model.

JSON (written by `ngram cluster up`) or TOML (read only, for hand-written files, e.g. the
DNS names of a Kubernetes StatefulSet). Shared by shard_server/ (writes) and client/
(reads), so it lives in the core. Example::

    {"format": "ngram-cluster", "version": 1, "model_id": "...", "model_path": "/m",
     "order": 5, "num_shards": 2, "shard_seed": 0, "value_kind": "counts",
     "shards": [{"index": 0, "replicas": ["127.0.0.1:7000", "127.0.0.1:7002"]},
                {"index": 1, "replicas": ["127.0.0.1:7001", "127.0.0.1:7003"]}],
     "tls": {"ca": "ca.pem", "cert": "client.pem", "key": "client.key",
             "server_name": "localhost"},
     "servers": [{"address": "127.0.0.1:7000", "shards": [0], "pid": 123,
                  "metrics": "127.0.0.1:9000", "log": "/tmp/s0.log"}]}

`tls` is null/absent for plaintext; its `cert`/`key` are only needed for mutual TLS.
`servers` is optional: `cluster up` records the processes it started so that
`cluster status/down` can find them. Relative paths resolve against the file's folder.
"""
from __future__ import annotations

import json
import os
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ngram.errors import ClusterFileError

FORMAT = "ngram-cluster"
VERSION = 1


@dataclass(frozen=True)
class TLSConfig:
    ca: str | None = None          # PEM roots that sign the servers' certificates
    cert: str | None = None        # client certificate chain, for mutual TLS
    key: str | None = None         # client private key, for mutual TLS
    server_name: str | None = None  # name to verify instead of the address's host

    def read(self) -> tuple[bytes | None, bytes | None, bytes | None]:
        """(root certs, private key, cert chain) as grpc.ssl_channel_credentials wants."""
        def load(p):
            return Path(p).read_bytes() if p else None
        return load(self.ca), load(self.key), load(self.cert)


@dataclass(frozen=True)
class ServerEntry:
    address: str
    shards: list[int]
    pid: int | None = None
    metrics: str | None = None
    log: str | None = None


@dataclass(frozen=True)
class ClusterSpec:
    model_id: str
    model_path: str | None
    order: int
    num_shards: int
    shard_seed: int
    value_kind: str
    replicas: dict[int, list[str]]          # shard index -> addresses, in preference order
    tls: TLSConfig | None = None
    servers: list[ServerEntry] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "format": FORMAT, "version": VERSION, "model_id": self.model_id,
            "model_path": self.model_path, "order": self.order, "num_shards": self.num_shards,
            "shard_seed": self.shard_seed, "value_kind": self.value_kind,
            "shards": [{"index": i, "replicas": list(self.replicas[i])}
                       for i in sorted(self.replicas)],
            "tls": asdict(self.tls) if self.tls else None,
            "servers": [asdict(s) for s in self.servers],
        }


def write(path: str | os.PathLike, spec: ClusterSpec) -> Path:
    """Validate and write `spec` as JSON, atomically (readers never see half a file)."""
    validate(spec)
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(spec.to_dict(), indent=2) + "\n")
    os.replace(tmp, path)
    return path


def read(path: str | os.PathLike) -> ClusterSpec:
    """Read a JSON or TOML cluster file (by suffix; JSON otherwise) and validate it."""
    path = Path(path)
    try:
        text = path.read_bytes()
    except OSError as e:
        raise ClusterFileError(f"cannot read cluster file {path}: {e}") from e
    try:
        raw = tomllib.loads(text.decode()) if path.suffix == ".toml" else json.loads(text)
    except (ValueError, UnicodeDecodeError) as e:
        raise ClusterFileError(f"{path}: not valid {path.suffix.lstrip('.') or 'JSON'}: {e}") from e
    return parse(raw, base=path.parent)


def looks_like_cluster_file(path: str | os.PathLike) -> bool:
    p = Path(path)
    return p.is_file() and p.suffix in (".json", ".toml")


def parse(raw: dict, base: Path | None = None) -> ClusterSpec:
    """Build a ClusterSpec from parsed JSON/TOML, resolving relative paths against `base`."""
    if not isinstance(raw, dict):
        raise ClusterFileError("cluster file: top level must be a table/object")
    if raw.get("format", FORMAT) != FORMAT:
        raise ClusterFileError(f"cluster file: format {raw.get('format')!r}, expected {FORMAT!r}")
    if int(raw.get("version", VERSION)) > VERSION:
        raise ClusterFileError(f"cluster file: version {raw['version']} is newer than {VERSION}")

    def need(key, typ):
        if key not in raw:
            raise ClusterFileError(f"cluster file: missing key {key!r}")
        try:
            return typ(raw[key])
        except (TypeError, ValueError) as e:
            raise ClusterFileError(f"cluster file: bad {key!r}: {raw[key]!r}") from e

    def resolve(p):
        if p is None or base is None or os.path.isabs(p):
            return p
        return str((base / p).resolve())

    shards = raw.get("shards")
    if not isinstance(shards, list):
        raise ClusterFileError("cluster file: 'shards' must be a list of {index, replicas}")
    replicas: dict[int, list[str]] = {}
    for entry in shards:
        try:
            idx, addrs = int(entry["index"]), [str(a) for a in entry["replicas"]]
        except (KeyError, TypeError, ValueError) as e:
            raise ClusterFileError(f"cluster file: bad shard entry {entry!r}") from e
        if idx in replicas:
            raise ClusterFileError(f"cluster file: shard {idx} listed twice")
        replicas[idx] = addrs
    tls_raw = raw.get("tls")
    tls = None
    if tls_raw:
        tls = TLSConfig(ca=resolve(tls_raw.get("ca")), cert=resolve(tls_raw.get("cert")),
                        key=resolve(tls_raw.get("key")), server_name=tls_raw.get("server_name"))
    servers = [ServerEntry(address=str(s["address"]), shards=[int(x) for x in s.get("shards", [])],
                           pid=s.get("pid"), metrics=s.get("metrics"), log=s.get("log"))
               for s in raw.get("servers") or []]
    spec = ClusterSpec(
        model_id=need("model_id", str), model_path=resolve(raw.get("model_path")),
        order=need("order", int), num_shards=need("num_shards", int),
        shard_seed=int(raw.get("shard_seed", 0)), value_kind=str(raw.get("value_kind", "counts")),
        replicas=replicas, tls=tls, servers=servers)
    validate(spec)
    return spec


def validate(spec: ClusterSpec) -> None:
    """Every shard 0..S-1 has at least one replica address; TLS halves come in pairs."""
    if spec.num_shards < 1 or spec.order < 1:
        raise ClusterFileError(f"cluster file: num_shards={spec.num_shards} order={spec.order}")
    missing = [i for i in range(spec.num_shards) if not spec.replicas.get(i)]
    if missing:
        raise ClusterFileError(f"cluster file: no replica address for shard(s) {missing}")
    extra = sorted(set(spec.replicas) - set(range(spec.num_shards)))
    if extra:
        raise ClusterFileError(f"cluster file: shard(s) {extra} outside 0..{spec.num_shards - 1}")
    if spec.value_kind not in ("counts", "backoff"):
        raise ClusterFileError(f"cluster file: unknown value_kind {spec.value_kind!r}")
    if spec.tls and bool(spec.tls.cert) != bool(spec.tls.key):
        raise ClusterFileError("cluster file: tls.cert and tls.key must be given together")
