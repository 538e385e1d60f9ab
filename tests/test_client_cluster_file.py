"""The cluster file: JSON round trip, TOML reading, and errors that say what is wrong."""
from __future__ import annotations

import json
import re

import pytest

from ngram import cluster_file
from ngram.cluster_file import ClusterFileError, ClusterSpec, TLSConfig


def spec(**kw):
    base = dict(model_id="abc", model_path="/m", order=5, num_shards=2, shard_seed=0,
                value_kind="counts", replicas={0: ["h:1", "h:3"], 1: ["h:2"]})
    return ClusterSpec(**{**base, **kw})


def test_json_round_trip(tmp_path):
    s = spec(tls=TLSConfig(ca="/ca.pem", server_name="localhost"))
    p = cluster_file.write(tmp_path / "c.json", s)
    assert cluster_file.read(p) == s


def test_toml_with_relative_paths(tmp_path):
    (tmp_path / "c.toml").write_text('''
model_id = "abc"
model_path = "model"
order = 3
num_shards = 2
[[shards]]
index = 0
replicas = ["ngram-0.ngram:7000", "ngram-2.ngram:7000"]
[[shards]]
index = 1
replicas = ["ngram-1.ngram:7000"]
[tls]
ca = "certs/ca.pem"
''')
    s = cluster_file.read(tmp_path / "c.toml")
    assert s.replicas[0] == ["ngram-0.ngram:7000", "ngram-2.ngram:7000"]
    assert s.model_path == str(tmp_path / "model") and s.tls.ca == str(tmp_path / "certs/ca.pem")


@pytest.mark.parametrize("change, words", [
    (lambda d: d.pop("model_id"), "model_id"),
    (lambda d: d["shards"].pop(), "no replica address for shard(s) [1]"),
    (lambda d: d["shards"].append({"index": 0, "replicas": ["x:1"]}), "listed twice"),
    (lambda d: d["shards"].append({"index": 7, "replicas": ["x:1"]}), "outside"),
    (lambda d: d.update(value_kind="bogus"), "value_kind"),
    (lambda d: d.update(tls={"cert": "a.pem"}), "together"),
    (lambda d: d.update(format="other"), "format"),
])
def test_invalid_files_are_refused_with_the_reason(tmp_path, change, words):
    d = spec().to_dict()
    change(d)
    (tmp_path / "c.json").write_text(json.dumps(d))
    with pytest.raises(ClusterFileError, match=re.escape(words)):
        cluster_file.read(tmp_path / "c.json")


def test_unreadable_and_unparsable(tmp_path):
    with pytest.raises(ClusterFileError, match="cannot read"):
        cluster_file.read(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ClusterFileError, match="not valid"):
        cluster_file.read(tmp_path / "bad.json")
