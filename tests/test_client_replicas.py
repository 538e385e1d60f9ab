"""The failover policy's rules (client/replicas.py), step by step, without a network: the
same objects the unary transport and the streams use."""
from __future__ import annotations

import time

import grpc
import pytest

from client.errors import FatalError, ShardDeadlineError, ShardUnavailableError
from client.policy import CallPolicy
from client.replicas import Attempts, ReplicaSet

DEADLINE_EXCEEDED = grpc.StatusCode.DEADLINE_EXCEEDED
UNAVAILABLE = grpc.StatusCode.UNAVAILABLE


def _walk(addresses, timeout=10.0, **policy):
    rs = ReplicaSet(0, addresses, CallPolicy(timeout=timeout, **policy))
    return rs, Attempts(rs, time.monotonic() + timeout, timeout)


def test_attempt_that_can_fail_over_gets_a_budget_and_the_last_gets_the_rest():
    rs, att = _walk(["a", "b"], timeout=10.0, attempt_fraction=0.3)
    first, pause, budget = att.next()
    assert pause == 0 and budget == pytest.approx(3.0, abs=0.05)
    att.failed(first, DEADLINE_EXCEEDED, "budget")      # before the call's deadline: a timeout
    second, pause, budget = att.next()
    assert second != first and pause == 0
    assert budget == pytest.approx(10.0, abs=0.05)      # nobody left to fail over to
    assert rs.is_ejected(first) and not rs.is_ejected(second)
    assert rs.order()[-1] == first                      # ejected replicas go last


def test_a_sole_replica_gets_the_whole_deadline():
    _, att = _walk(["only"], timeout=4.0)
    assert att.next()[2] == pytest.approx(4.0, abs=0.05)


def test_replica_that_timed_out_is_skipped_while_another_remains():
    _, att = _walk(["a", "b", "c"], max_attempts=10)
    frozen, _, _ = att.next()
    att.failed(frozen, DEADLINE_EXCEEDED, "budget")
    seen = []
    for _ in range(4):
        addr, _, _ = att.next()
        seen.append(addr)
        att.failed(addr, UNAVAILABLE, "down")
    assert set(seen) == {"a", "b", "c"} - {frozen}


def test_going_back_to_a_replica_pauses_and_a_fresh_one_does_not():
    _, att = _walk(["a", "b"], backoff_initial=0.2, backoff_max=0.4)
    pauses = []
    for _ in range(5):
        addr, pause, _ = att.next()
        pauses.append(pause)
        att.failed(addr, UNAVAILABLE, "down")
    assert pauses[:2] == [0.0, 0.0]
    assert all(0 <= p <= 0.4 for p in pauses[2:]) and any(p > 0 for p in pauses[2:])


def test_cool_down_doubles_per_consecutive_timeout_up_to_the_cap_and_success_clears_it():
    rs = ReplicaSet(0, ["a", "b"], CallPolicy(eject_seconds=1.0, eject_max_seconds=3.0))
    cools = []
    for _ in range(4):
        rs.failed("a", timed_out=True)
        cools.append(rs.cool_down_left("a"))
    assert [round(c) for c in cools] == [1, 2, 3, 3]
    rs.failed("b", timed_out=False)
    rs.failed("b", timed_out=False)
    assert rs.cool_down_left("b") == pytest.approx(1.0, abs=0.05)  # no growth
    rs.succeeded("a")
    assert not rs.is_ejected("a")
    rs.failed("a", timed_out=True)
    assert rs.cool_down_left("a") == pytest.approx(1.0, abs=0.05)


def test_fatal_codes_end_the_call_and_the_last_error_names_every_replica():
    _, att = _walk(["a", "b"])
    addr, _, _ = att.next()
    with pytest.raises(FatalError):
        att.failed(addr, grpc.StatusCode.FAILED_PRECONDITION, "wrong model")
    _, att = _walk(["a", "b"], max_attempts=2)
    for _ in range(2):
        addr, _, _ = att.next()
        att.failed(addr, UNAVAILABLE, "down")
    assert att.next() is None
    err = att.error()
    assert type(err) is ShardUnavailableError and sorted(err.replicas) == ["a", "b"]


def test_out_of_time_is_a_deadline_error():
    rs = ReplicaSet(0, ["a"], CallPolicy())
    att = Attempts(rs, time.monotonic() - 0.001, 1.0)
    assert att.next() is None
    assert isinstance(att.error(), ShardDeadlineError)


def test_policy_rejects_nonsense():
    for bad in (dict(timeout=0), dict(attempt_fraction=0), dict(attempt_fraction=1.5),
                dict(attempt_timeout=-1), dict(max_attempts=0)):
        with pytest.raises(ValueError):
            CallPolicy(**bad)


def test_failover_defaults_in_the_readme_are_the_code_defaults():
    import re
    from pathlib import Path

    from ngram import limits
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()

    def number(pattern):
        found = re.findall(pattern, readme)
        assert len(found) == 1, pattern
        return float(found[0])

    p = CallPolicy()
    assert number(r"\(`timeout`, (\d+(?:\.\d+)?) s by default\)") == p.timeout
    assert number(r"gets at most\s+(\d+)% of the deadline") / 100 == p.attempt_fraction
    assert number(r"back of the line for (\d+(?:\.\d+)?) s, doubling") == p.eject_seconds
    assert number(r"consecutive timeout up to (\d+(?:\.\d+)?) s") == p.eject_max_seconds
    assert number(r"`max_attempts` \((\d+)\)") == p.max_attempts
    assert number(r"\((\d+) ms to \d+(?:\.\d+)? s\)\. Other codes") / 1000 == p.backoff_initial
    assert number(r"\(\d+ ms to (\d+(?:\.\d+)?) s\)\. Other codes") == p.backoff_max
    assert number(r"lost connection after (\d+(?:\.\d+)?) s") * 1000 == limits.RECONNECT_INITIAL_BACKOFF_MS
    assert number(r"backing off to at most (\d+(?:\.\d+)?) s") * 1000 == limits.RECONNECT_MAX_BACKOFF_MS
    assert number(r"\(an `Info` call, (\d+(?:\.\d+)?) s\)") == p.probe_timeout


def test_slow_replica_does_not_set_the_hedge_delay_and_is_asked_first_rarely():
    """Regression (issue 18's slow-replica scenario): the hedge delay learned from the
    shard's pooled latencies, so a replica 100 ms slower taught the client to wait for it
    and hedging never fired in time. It now follows the fastest replica's p95, and a
    clearly slower replica leads only the exploring share of first attempts."""
    from client.replicas import EXPLORE_EVERY, MIN_SAMPLES
    rs = ReplicaSet(0, ["fast:1", "slow:1", "fast:2"], CallPolicy())
    assert rs.p95() is None
    for i in range(MIN_SAMPLES * 2):
        rs.succeeded("fast:1", 0.005 + i * 1e-5)
        rs.succeeded("fast:2", 0.006)
        rs.succeeded("slow:1", 0.105)
    assert rs.p95() < 0.01
    firsts = [rs.order()[0] for _ in range(EXPLORE_EVERY * 4)]
    assert firsts.count("slow:1") <= 4                      # only on exploring turns
    assert {"fast:1", "fast:2"} <= set(firsts)              # the fast ones still share the load
    # every replica is still tried in a call: the slow one last
    assert sorted(rs.order()) == ["fast:1", "fast:2", "slow:1"]


def test_replicas_of_similar_speed_keep_rotating():
    from client.replicas import MIN_SAMPLES
    rs = ReplicaSet(0, ["a:1", "b:1"], CallPolicy())
    for _ in range(MIN_SAMPLES):
        rs.succeeded("a:1", 0.010)
        rs.succeeded("b:1", 0.015)  # slower, but within SLOW_FACTOR
    firsts = [rs.order()[0] for _ in range(100)]
    assert firsts.count("a:1") == firsts.count("b:1") == 50


def test_replicas_are_learned_until_known_fast():
    """Regression (issue 18: p99 62 ms against the fast replica's 24 ms, from the first
    rounds): while a replica's latency is unknown, or known slow, an attempt sent to it is
    hedged at once (client/transport.py); a replica known fast waits for the hedge delay."""
    from client.replicas import MIN_SAMPLES, SLOW_RECHECK_S
    rs = ReplicaSet(0, ["fast:1", "slow:1"], CallPolicy())
    assert rs.learning("fast:1") and rs.learning("slow:1")  # nothing known yet
    for _ in range(MIN_SAMPLES):
        rs.succeeded("fast:1", 0.005)
    time.sleep(SLOW_RECHECK_S * 1.5)
    assert not rs.learning("fast:1") and rs.learning("slow:1")  # the slow one: still unknown
    for _ in range(MIN_SAMPLES):
        rs.succeeded("slow:1", 0.105)
    time.sleep(SLOW_RECHECK_S * 1.5)
    assert not rs.learning("fast:1") and rs.learning("slow:1")  # known, and slow
