"""The spelling service (`ngram spell serve`): a real gRPC server and a real HTTP server on
loopback over a real small model answer what the Python Speller answers; bad input is
INVALID_ARGUMENT / HTTP 400 with a message and the service keeps serving; health,
reflection, metrics, admission, deadlines, and SIGTERM on the real command."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from client.spelling.http import SpellHttpServer
from client.spelling.service import SPELLER_SERVICE, SpellMetrics, SpellServer, SpellService
from client.spelling.speller import Speller
from ngram import limits
from ngram.limits import MAX_SPELL_BATCH_TEXTS, MAX_SPELL_HTTP_BODY_BYTES, MAX_SPELL_TEXT_CHARS
from ngram.wire import pb, pb_grpc

pytestmark = pytest.mark.timeout(240)
ROOT = Path(__file__).resolve().parents[1]
T = 30.0
TEXTS = ["In the begining God craeted the heaven and teh earth .",
         "And the LORD said unto Cain , Where is Abel thy borther ?",
         "And the evening and the morning were the sixth day .",
         "", "   ", "Привет , мир", "And God saw the light , that it was good ."]


@pytest.fixture(scope="module")
def speller(model_dir):
    with Speller(str(model_dir)) as sp:
        yield sp


def _start(speller, model_id, **kw):
    service = SpellService(SpellMetrics(), **kw)
    grpc_server, http_server = SpellServer(service), SpellHttpServer(service, drain_grace=5)
    grpc_server.start()
    http_server.start()
    if speller is not None:
        service.attach(speller, model_id)
        grpc_server.serving()
    return service, grpc_server, http_server


def _stop(service, grpc_server, http_server):
    service.begin_drain()
    http_server.stop()
    grpc_server.drain(5)
    service.close()


@pytest.fixture(scope="module")
def served(speller):
    parts = _start(speller, speller.client.model_id)
    yield parts
    _stop(*parts)


@pytest.fixture(scope="module")
def stub(served):
    with grpc.insecure_channel(served[1].address) as ch:
        yield pb_grpc.SpellerStub(ch)


def _post(port: int, body: bytes, path: str = "/correct") -> tuple[int, dict]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=T) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def _get(port: int, path: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=T) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def _plain(corrections) -> list[dict]:
    """Correction.to_dict()s as JSON gives them back (lists, not tuples)."""
    return json.loads(json.dumps([c.to_dict() for c in corrections]))


def _pb_to_dict(c: pb.SpellCorrection) -> dict:
    return {"text": c.text, "corrected": c.corrected, "changes": [
        {"start": ch.start, "end": ch.end, "original": ch.original, "replacement": ch.replacement,
         "confidence": ch.confidence,
         "alternatives": [{"text": a.text, "confidence": a.confidence} for a in ch.alternatives]}
        for ch in c.changes]}


def _grpc_error(call, *args, **kw) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as e:
        call(*args, **kw)
    return e.value.code(), e.value.details()


def test_grpc_and_http_answer_what_the_python_api_answers(speller, served, stub):
    want = _plain(speller.correct(TEXTS))
    assert any(c["changes"] for c in want), "the model corrects none of the texts: the comparison would be empty"
    resp = stub.Correct(pb.SpellRequest(texts=TEXTS), timeout=T)
    assert [_pb_to_dict(c) for c in resp.corrections] == want
    assert resp.model_id == speller.client.model_id
    status, body = _post(served[2].port, json.dumps({"texts": TEXTS}).encode())
    assert status == 200 and body["corrections"] == want and body["model_id"] == speller.client.model_id


def test_grpc_request_without_a_deadline_gets_the_default_one_and_an_answer(speller, stub):
    # gRPC reports "no deadline" as ~9.2e18 s left: taken as a deadline, a wait that long
    # overflows (or never ends); the service's default applies instead
    resp = stub.Correct(pb.SpellRequest(texts=TEXTS))
    assert [_pb_to_dict(c) for c in resp.corrections] == _plain(speller.correct(TEXTS))


def test_max_alternatives_limits_each_change(speller, served, stub):
    want = speller.correct(TEXTS)
    resp = stub.Correct(pb.SpellRequest(texts=TEXTS, has_max_alternatives=True, max_alternatives=1), timeout=T)
    got = [_pb_to_dict(c) for c in resp.corrections]
    for c, w in zip(got, want):
        assert [ch["alternatives"] for ch in c["changes"]] == [
            [{"text": a.text, "confidence": a.confidence} for a in ch.alternatives[:1]] for ch in w.changes]
    status, body = _post(served[2].port, json.dumps({"texts": TEXTS, "max_alternatives": 0}).encode())
    assert status == 200 and all(not ch["alternatives"] for c in body["corrections"] for ch in c["changes"])


def test_concurrent_requests_batched_together_each_get_their_own_answer(speller, served):
    texts = [[t] for t in TEXTS] + [TEXTS[:3], TEXTS[2:]]
    want = [_plain(speller.correct(t)) for t in texts]
    got: dict[int, list] = {}
    addr = served[1].address

    def ask(i):
        with grpc.insecure_channel(addr) as ch:
            resp = pb_grpc.SpellerStub(ch).Correct(pb.SpellRequest(texts=texts[i]), timeout=T)
            got[i] = [_pb_to_dict(c) for c in resp.corrections]
    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(texts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(T)
    assert [got.get(i) for i in range(len(texts))] == want


BAD_TEXTS = [
    ([], "empty"),
    (["a"] * (MAX_SPELL_BATCH_TEXTS + 1), f"over the limit of {MAX_SPELL_BATCH_TEXTS}"),
    (["ok", "a" * (MAX_SPELL_TEXT_CHARS + 1)], f"texts[1]: {MAX_SPELL_TEXT_CHARS + 1} characters"),
    (["ok", "bell \x07 here"], "texts[1]: control character U+0007 at offset 5"),
    (["nul\x00"], "texts[0]: control character U+0000 at offset 3"),
    (["a" * MAX_SPELL_TEXT_CHARS] * (limits.MAX_SPELL_REQUEST_CHARS // MAX_SPELL_TEXT_CHARS + 1),
     f"over the limit of {limits.MAX_SPELL_REQUEST_CHARS} per request"),
]


@pytest.mark.parametrize("texts,message", BAD_TEXTS, ids=["empty", "too-many", "too-long", "bell", "nul", "too-much"])
def test_bad_grpc_request_is_invalid_argument_and_the_service_keeps_serving(stub, texts, message):
    code, details = _grpc_error(stub.Correct, pb.SpellRequest(texts=texts), timeout=T)
    assert code == grpc.StatusCode.INVALID_ARGUMENT and message in details
    assert stub.Correct(pb.SpellRequest(texts=["teh earth"]), timeout=T).corrections[0].text == "teh earth"


def test_invalid_utf8_in_a_grpc_request_is_invalid_argument(served, stub):
    # field 1 (texts), length 3, bytes that are no UTF-8: what a client in another language may send
    raw = b"\x0a\x03a\xff\xfe"
    with grpc.insecure_channel(served[1].address) as ch:
        call = ch.unary_unary(f"/{SPELLER_SERVICE}/Correct", request_serializer=lambda b: b,
                              response_deserializer=pb.SpellResponse.FromString)
        code, details = _grpc_error(call, raw, timeout=T)
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "UTF-8" in details
    assert len(stub.Correct(pb.SpellRequest(texts=["fine"]), timeout=T).corrections) == 1


HTTP_BAD = [
    (b'{"texts": ["a", ', "not valid JSON"),
    (b'{"texts": ["caf\xff"]}', "not valid UTF-8: byte 0xff at offset 15"),
    (b'["a"]', "must be a JSON object"),
    (b'{"text": ["a"]}', "must be a JSON object"),
    (b'{"texts": "a"}', "expected a list of strings, got str"),
    (b'{"texts": ["a", 3]}', "texts[1]: expected a string, got int"),
    (b'{"texts": []}', "texts: empty"),
    (b'{"texts": ["ab\\ud800"]}', "texts[0]: lone surrogate U+D800 at offset 2"),
    (b'{"texts": ["tab\\tok", "esc\\u001b"]}', "texts[1]: control character U+001B at offset 3"),
    (b'{"texts": ["a"], "max_alternatives": -1}', "max_alternatives"),
    (b'{"texts": ["a"], "beam": 3}', "unknown fields ['beam']"),
    (json.dumps({"texts": ["a" * (MAX_SPELL_TEXT_CHARS + 1)]}).encode(), "texts[0]"),
]


@pytest.mark.parametrize("body,message", HTTP_BAD, ids=range(len(HTTP_BAD)))
def test_bad_http_request_is_400_and_the_service_keeps_serving(served, body, message):
    port = served[2].port
    status, answer = _post(port, body)
    assert status == 400, answer
    assert answer["error"]["code"] == "INVALID_ARGUMENT" and message in answer["error"]["message"]
    status, answer = _post(port, b'{"texts": ["teh earth"]}')
    assert status == 200 and answer["corrections"][0]["text"] == "teh earth"


def test_http_body_over_the_limit_is_413_and_other_paths_are_json_errors(served):
    port = served[2].port
    status, answer = _post(port, b'{"texts": ["' + b"a" * MAX_SPELL_HTTP_BODY_BYTES + b'"]}')
    assert status == 413 and "over the limit" in answer["error"]["message"]
    status, answer = _post(port, b"{}", path="/nowhere")
    assert status == 404 and answer["error"]["code"]
    status, answer = _get(port, "/correct")
    assert status == 405 and answer["error"]["code"]
    assert _post(port, b'{"texts": ["ok"]}')[0] == 200


def test_health_reflection_and_metrics(served, stub):
    service, grpc_server, http_server = served
    with grpc.insecure_channel(grpc_server.address) as ch:
        h = health_pb2_grpc.HealthStub(ch)
        for name in ("", SPELLER_SERVICE):
            assert h.Check(health_pb2.HealthCheckRequest(service=name), timeout=T).status == \
                health_pb2.HealthCheckResponse.SERVING
        answers = reflection_pb2_grpc.ServerReflectionStub(ch).ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=T)
        names = {s.name for a in answers for s in a.list_services_response.service}
        assert SPELLER_SERVICE in names and "grpc.health.v1.Health" in names
    assert _get(http_server.port, "/healthz") == (200, {"status": "SERVING"})
    metrics_port = service.metrics.serve(0)
    try:
        stub.Correct(pb.SpellRequest(texts=["one more"]), timeout=T)
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=T) as r:
            text = r.read().decode()
        assert 'spell_requests_total{code="OK",transport="grpc"}' in text
        assert 'spell_requests_total{code="INVALID_ARGUMENT",transport="http"}' in text
        assert "spell_request_seconds_bucket" in text and "spell_texts_total" in text
    finally:
        service.metrics.close()


def test_not_serving_until_a_speller_is_attached(speller):
    parts = _start(None, "")
    try:
        service, grpc_server, http_server = parts
        with grpc.insecure_channel(grpc_server.address) as ch:
            assert health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=T).status == \
                health_pb2.HealthCheckResponse.NOT_SERVING
            code, details = _grpc_error(pb_grpc.SpellerStub(ch).Correct, pb.SpellRequest(texts=["a"]), timeout=T)
            assert code == grpc.StatusCode.UNAVAILABLE and "starting" in details
        assert _get(http_server.port, "/healthz") == (503, {"status": "NOT_SERVING"})
        assert _post(http_server.port, b'{"texts": ["a"]}')[0] == 503
    finally:
        _stop(*parts)


def test_through_a_cluster_the_same_answers_and_unavailable_when_its_shards_are_gone(model_dir, speller, tmp_path):
    from cluster_harness import Cluster
    with Cluster(model_dir, tmp_path) as c:
        with Speller(str(c.path)) as remote:
            parts = _start(remote, remote.client.model_id)
            try:
                with grpc.insecure_channel(parts[1].address) as ch:
                    stub = pb_grpc.SpellerStub(ch)
                    resp = stub.Correct(pb.SpellRequest(texts=TEXTS), timeout=T)
                    assert [_pb_to_dict(c) for c in resp.corrections] == _plain(speller.correct(TEXTS))
                    for j in range(len(c.servers)):
                        c.kill(j)
                    # words the speller has not seen: its cache cannot answer them
                    code, details = _grpc_error(stub.Correct, pb.SpellRequest(texts=["Moses went up intothe mount"]),
                                                timeout=T)
                    assert code == grpc.StatusCode.UNAVAILABLE and "shard" in details
                    status, answer = _post(parts[2].port, b'{"texts": ["Aaron spake unto the peeple"]}')
                    assert status == 503 and answer["error"]["code"] == "UNAVAILABLE"
            finally:
                _stop(*parts)


def _occupy(service, speller, n=200) -> "object":
    """Submit a big request straight to the service and wait until the batcher runs it."""
    job = service.begin([TEXTS[0]] * n, timeout=T)
    deadline = time.monotonic() + T
    while not job.future.running() and not job.future.done():
        assert time.monotonic() < deadline
        time.sleep(0.001)
    assert not job.future.done(), "the big request finished before the test could use it"
    return job


def test_deadline_passed_while_queued_is_deadline_exceeded_and_never_decoded(speller):
    parts = _start(speller, speller.client.model_id)
    service, grpc_server, _ = parts
    try:
        big = _occupy(service, speller)
        with grpc.insecure_channel(grpc_server.address) as ch:
            t0 = time.monotonic()
            code, _ = _grpc_error(pb_grpc.SpellerStub(ch).Correct, pb.SpellRequest(texts=["late text"]),
                                  timeout=0.05)
            assert code == grpc.StatusCode.DEADLINE_EXCEEDED and time.monotonic() - t0 < 2.0
        assert len(big.future.result(T)) == 200
        # the late request is dropped, not decoded: the service corrected only the big one's texts
        deadline = time.monotonic() + T
        while service.metrics.inflight._value.get() > 0:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert service.metrics.texts._value.get() == 200
    finally:
        _stop(*parts)


def test_full_service_refuses_at_once(speller):
    parts = _start(speller, speller.client.model_id, max_inflight=1)
    service, grpc_server, http_server = parts
    try:
        big = _occupy(service, speller)
        with grpc.insecure_channel(grpc_server.address) as ch:
            code, details = _grpc_error(pb_grpc.SpellerStub(ch).Correct, pb.SpellRequest(texts=["a"]), timeout=T)
        assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and "busy" in details
        status, answer = _post(http_server.port, b'{"texts": ["a"]}')
        assert status == 503 and answer["error"]["code"] == "RESOURCE_EXHAUSTED"
        big.future.result(T)
    finally:
        _stop(*parts)


def test_serve_command_answers_then_drains_on_sigterm(model_dir, speller, tmp_path):
    ready = tmp_path / "ready.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "client.spelling.cli", "spell", "serve", str(model_dir),
                             "--port", "0", "--http-port", "0", "--ready-file", str(ready)],
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 120
        while not ready.exists():
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, "the service never became ready"
            time.sleep(0.1)
        info = json.loads(ready.read_text())
        assert info["model_id"] == speller.client.model_id
        want = _plain(speller.correct(TEXTS))
        with grpc.insecure_channel(info["address"]) as ch:
            resp = pb_grpc.SpellerStub(ch).Correct(pb.SpellRequest(texts=TEXTS), timeout=T)
        assert [_pb_to_dict(c) for c in resp.corrections] == want
        assert _post(info["http_port"], json.dumps({"texts": TEXTS}).encode())[1]["corrections"] == want
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
        log = proc.stderr.read()
        assert "draining" in log and "stopped" in log
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_documented_service_limits_are_the_code_limits():
    from client.spelling.service_cli import serve
    readme = (ROOT / "README.md").read_text()
    sentence = (f"A request holds 1..{limits.MAX_SPELL_BATCH_TEXTS:,} texts of at\nmost "
                f"{limits.MAX_SPELL_TEXT_CHARS:,} characters each ({limits.MAX_SPELL_REQUEST_CHARS:,} in all)")
    assert sentence.replace(",", "") in readme.replace(",", "")
    defaults = {p.name: p.default for p in serve.params}
    assert defaults["timeout"] == limits.DEFAULT_SPELL_TIMEOUT_S
    assert f"`--timeout` ({limits.DEFAULT_SPELL_TIMEOUT_S:g} s)" in readme
    assert defaults["max_inflight"] == limits.DEFAULT_SPELL_MAX_INFLIGHT
    assert f"(`--max-inflight`\n{limits.DEFAULT_SPELL_MAX_INFLIGHT})" in readme
    assert defaults["drain_grace"] == limits.DEFAULT_DRAIN_GRACE_S
