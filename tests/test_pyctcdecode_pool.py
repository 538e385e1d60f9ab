"""pyctcdecode's ``decode_batch`` with a multiprocessing pool ('fork' context), with
client.kenlm_compat registered as ``kenlm``, on a cluster model: the forked workers
use the client their parent opened (client/remote.py recreates its pools and channels
after fork), decode the texts real kenlm gives (tests/fixtures/pyctcdecode_expected.npz),
and a server killed (SIGKILL) during the batch makes it fail within the call deadline
(Config.call_timeout) instead of hanging."""
from __future__ import annotations

import hashlib
import json
import multiprocessing
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import client.kenlm_compat as facade

_kenlm_before = sys.modules.get("kenlm")
facade.install()  # before pyctcdecode imports kenlm
pytest.importorskip("pyctcdecode")
from pyctcdecode.alphabet import Alphabet  # noqa: E402
from pyctcdecode.decoder import BeamSearchDecoderCTC  # noqa: E402
from pyctcdecode.language_model import LanguageModel  # noqa: E402

from client.errors import ClientError  # noqa: E402
from cluster_harness import Cluster  # noqa: E402
from ngram.arpa import import_arpa  # noqa: E402

pytestmark = [pytest.mark.timeout(240),
              pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork")]

ROOT = Path(__file__).resolve().parents[1]
ARPA = ROOT.parent / "shared" / "arpa"
FIXTURE = np.load(ROOT / "tests" / "fixtures" / "pyctcdecode_expected.npz", allow_pickle=False)
META = json.loads(str(FIXTURE["meta"]))
UTTERANCES = 4       # each BaseScore miss is a round trip: keep the batch small
CALL_TIMEOUT_S = 2.0  # the facade's per-lookup deadline in these tests
WORKERS = 2


@pytest.fixture(scope="module", autouse=True)
def _restore_kenlm_module():
    yield
    if _kenlm_before is None:
        sys.modules.pop("kenlm", None)
    else:
        sys.modules["kenlm"] = _kenlm_before


def _logits(i: int) -> np.ndarray:
    off = FIXTURE["offsets"]
    return FIXTURE["logits"][off[i]:off[i + 1]].astype(np.float32)


@pytest.fixture(scope="module")
def en_dev(tmp_path_factory):
    d = tmp_path_factory.mktemp("endev") / "model"
    import_arpa(ARPA / META["arpa"], d, num_shards=1, quantization="none")
    unigrams = list(facade.Model(d).words())
    assert hashlib.sha256("\n".join(sorted(unigrams)).encode()).hexdigest() == META["unigram_sha256"]
    return d, unigrams


def _decoder(cluster_path: Path, unigrams: list[str]) -> BeamSearchDecoderCTC:
    config = facade.Config()
    config.call_timeout = CALL_TIMEOUT_S
    model = facade.Model(cluster_path, config)
    assert model.layout == "batched"
    return BeamSearchDecoderCTC(Alphabet.build_alphabet(META["labels"]),
                                LanguageModel(model, unigrams, alpha=META["alpha"], beta=META["beta"]))


def test_decode_batch_with_a_fork_pool_on_a_cluster_gives_kenlms_texts(en_dev, tmp_path):
    model_dir, unigrams = en_dev
    with Cluster(model_dir, tmp_path / "cluster", mode="subprocess") as c:
        decoder = _decoder(c.path, unigrams)
        decoder.decode(_logits(0), beam_width=META["beam_width"])  # the parent uses the client before forking
        with multiprocessing.get_context("fork").Pool(WORKERS) as pool:
            got = decoder.decode_batch(pool, [_logits(i) for i in range(UTTERANCES)],
                                       beam_width=META["beam_width"])
    assert got == FIXTURE["decoded"][:UTTERANCES].tolist()


def test_server_killed_during_decode_batch_fails_within_the_deadline(en_dev, tmp_path):
    model_dir, unigrams = en_dev
    logits = [_logits(i) for i in range(len(FIXTURE["decoded"]))]  # far more than decodes before the kill
    with Cluster(model_dir, tmp_path / "cluster", mode="subprocess") as c:
        decoder = _decoder(c.path, unigrams)
        with multiprocessing.get_context("fork").Pool(WORKERS) as pool:
            killer = threading.Timer(1.0, c.kill, args=(0,))
            t0 = time.monotonic()
            killer.start()
            try:
                with pytest.raises(ClientError):
                    decoder.decode_batch(pool, logits, beam_width=META["beam_width"])
            finally:
                killer.cancel()
            elapsed = time.monotonic() - t0
            assert not killer.is_alive()
    # the kill at 1 s, then each worker's current lookup fails within its deadline
    # (retries included); generous slack for a loaded machine, far below a hang
    assert elapsed < 1.0 + 10 * CALL_TIMEOUT_S, elapsed


def test_client_errors_unpickle_in_a_pool_parent():
    # regression: LookupFailedError(errors) etc. were rebuilt as cls(*args) on unpickling,
    # which raised in the parent's result thread: Pool.map (decode_batch) then hung forever
    import pickle

    import grpc

    from client.errors import LookupFailedError, RetryableError, ShardDeadlineError

    error = LookupFailedError({0: ShardDeadlineError(0, {"a:1": "timed out"}, 2.0),
                               3: RetryableError(3, "b:2", grpc.StatusCode.UNAVAILABLE, "down")})
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is LookupFailedError and str(back) == str(error)
    assert back.shards == [0, 3] and back.errors[0].timeout == 2.0
    assert back.errors[3].code == grpc.StatusCode.UNAVAILABLE and back.errors[3].address == "b:2"
