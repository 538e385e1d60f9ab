"""Every way of asking for an n-gram gives the same answer: `Client.count` in-process, the
real `ngram count` command, `Client.count` over a real local cluster, and the kenlm facade
(`client.kenlm_compat`, public API only), all against a plain-Python count of the corpus.

The corpus and the queries are built to make the copies of a rule disagree if they can:
words holding a no-break space, other Unicode spaces and control characters (one word
each for `bytes.split()`, several for `str.split()`), a literal `<unk>`, upper case,
unknown words, lone surrogates, empty and over-long n-grams. One cluster per module.
"""
from __future__ import annotations

import math
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reference_builder import build_model_inmemory
from client import Client
from client import kenlm_compat
from cluster_harness import Cluster
from ngram.errors import InvalidQueryError

pytestmark = pytest.mark.timeout(300)

ORDER = 3
REPO = Path(__file__).resolve().parents[1]
# Corpus words: ASCII, a no-break space, an em space, an ideographic space, the
# separators \x1c and \x85 that str.split() splits on, a control character, accents.
ODD_WORDS = ["a\u00a0b", "c\u2003d", "e\u3000f", "x\x1cy", "n\x85l", "q\x01r", "\u00e9t\u00e9", "Zo\u00eb", "<unk>"]
PLAIN_WORDS = "the of and to in cat sat on mat a b c d e f".split()
ASCII_SPACES = [" ", "\t", "  ", "\n", "\r\n", "\x0b", "\x0c", " \t "]
UNICODE_SPACES = ["\u00a0", "\u2003", "\u3000", "\u2028", "\x85", "\x1c", "\x1f", "\x01", ""]
NOISE = ["<unk>", "zzqx", "THE", "<s>", "</s>", "\udcff", "\x00"]


def corpus_lines(n: int = 400, seed: int = 7) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    vocab = PLAIN_WORDS * 3 + ODD_WORDS
    return [[vocab[i] for i in rng.integers(0, len(vocab), rng.integers(1, 9))] for _ in range(n)]


CORPUS = corpus_lines()


def reference_counts(lines: list[list[str]], order: int) -> Counter:
    """Counts of every n-gram (words as UTF-8 bytes) of the corpus with <s> and </s>."""
    ref: Counter = Counter()
    for words in lines:
        toks = [b"<s>"] + [w.encode() for w in words] + [b"</s>"]
        for n in range(1, order + 1):
            for i in range(len(toks) - n + 1):
                ref[tuple(toks[i:i + n])] += 1
    return ref


REF = reference_counts(CORPUS, ORDER)
VOCAB = {w for g in REF for w in g} | {b"<unk>"}


def truth(query: str) -> int | str:
    """The count of the query by the documented rule, or the kind of error it is."""
    try:
        data = query.encode("utf-8")
    except UnicodeEncodeError:
        return "surrogate"
    words = tuple(data.split())  # ASCII whitespace only
    if not words:
        return "no words"
    if len(words) > ORDER:
        return "too long"
    if any(w not in VOCAB for w in words):
        return 0
    return REF.get(words, 0)


def write_arpa(path: Path, ref: Counter, order: int) -> None:
    """A backoff model holding exactly the corpus's n-grams (any finite values will do)."""
    by_order = {n: sorted(g for g in ref if len(g) == n) for n in range(1, order + 1)}
    if (b"<unk>",) not in ref:
        by_order[1].append((b"<unk>",))
    out = [b"\\data\\"] + [b"ngram %d=%d" % (n, len(by_order[n])) for n in by_order] + [b""]
    for n, grams in by_order.items():
        out.append(b"\\%d-grams:" % n)
        for g in grams:
            ctx = ref.get(g[:-1], 0) if n > 1 else sum(c for k, c in ref.items() if len(k) == 1)
            prob = b"-99" if g == (b"<s>",) else b"%.4f" % math.log10(max(ref.get(g, 1), 1) / max(ctx, 1) / 2)
            out.append(prob + b"\t" + b" ".join(g) + (b"\t-0.1" if n < order else b""))
        out.append(b"")
    out.append(b"\\end\\")
    path.write_bytes(b"\n".join(out) + b"\n")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("agree")
    model = tmp / "model"
    text = "\n".join(" ".join(words) for words in CORPUS).encode() + b"\n"
    build_model_inmemory(text, model, order=ORDER, num_shards=3)
    arpa = tmp / "corpus.arpa"
    write_arpa(arpa, REF, ORDER)
    with Cluster(model, tmp / "cluster", replicas=1, layout=[[0, 1], [2]]) as cluster, \
            Client.open(model) as local, Client.open(cluster.path) as remote:
        facade = kenlm_compat.Model(str(arpa))
        yield {"model": model, "local": local, "remote": remote, "facade": facade, "checked_cli_errors": set()}


def run_cli(model: Path, queries: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "ngram.cli", "count", str(model), "--", *queries],
                          capture_output=True, env=env, timeout=120)


def client_answer(client: Client, query: str) -> int | str:
    try:
        return client.count(query)
    except InvalidQueryError as e:
        return _kind(str(e))


def _kind(message: str) -> str:
    for kind, marker in (("surrogate", "surrogate"), ("no words", "has no words"), ("too long", "order is")):
        if marker in message:
            return kind
    raise AssertionError(f"unexpected error message: {message}")


def facade_answer(facade, known: set[str], query: str) -> tuple[int, bool]:
    """(words the facade scored, whether it holds the whole n-gram) through kenlm's API: with
    bos/eos off, the last word's n-gram length is the n-gram's iff it is stored."""
    scores = list(facade.full_scores(query, bos=False, eos=False))
    words = query.encode("utf-8").split()
    stored = bool(scores) and scores[-1][1] == len(scores) and all(
        w.decode("utf-8", "surrogateescape") in known for w in words)
    return len(scores), stored


@st.composite
def queries(draw) -> str:
    """A window of a corpus line (0..order+2 words, so empty and over-long ones too), some
    words swapped for noise, joined by ASCII or Unicode whitespace or control characters."""
    line = draw(st.sampled_from(CORPUS))
    n = draw(st.integers(0, ORDER + 2))
    start = draw(st.integers(0, max(0, len(line) - n)))
    words = [draw(st.sampled_from(NOISE)) if draw(st.integers(0, 7)) == 0 else w for w in line[start:start + n]]
    seps = [draw(st.sampled_from(ASCII_SPACES if draw(st.integers(0, 3)) else UNICODE_SPACES))
            for _ in range(len(words) + 1)]
    return seps[0] + "".join(w + s for w, s in zip(words, seps[1:]))


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(queries(), min_size=1, max_size=60))
def test_count_cli_remote_and_facade_agree(setup, batch):
    local, remote, facade = setup["local"], setup["remote"], setup["facade"]
    known = set(facade.words())
    want = [truth(q) for q in batch]
    assert [client_answer(local, q) for q in batch] == want
    assert [client_answer(remote, q) for q in batch] == want
    # the facade scores sentences: the words it scores decide empty/over-long, and for a
    # 1..order-word query it holds the n-gram exactly when the count is positive
    for q, w in zip(batch, want):
        if w == "surrogate":
            continue  # see test_facade_refuses_a_lone_surrogate_like_the_cli
        n, stored = facade_answer(facade, known, q)
        assert n == len(q.encode("utf-8").split()), q
        if isinstance(w, int):
            assert stored == (w > 0), q
    # the real command: every valid query in one call; each error kind once per module
    valid = [(q, w) for q, w in zip(batch, want) if isinstance(w, int) and "\x00" not in q]  # argv holds no NUL
    if valid:
        r = run_cli(setup["model"], [q for q, _ in valid])
        assert r.returncode == 0, r.stderr
        got = [int(line.rsplit(b"\t", 1)[1]) for line in r.stdout.split(b"\n") if line]
        assert got == [w for _, w in valid]
    for q, w in zip(batch, want):
        if isinstance(w, str) and w not in setup["checked_cli_errors"] and "\x00" not in q:
            setup["checked_cli_errors"].add(w)
            r = run_cli(setup["model"], [q])
            assert r.returncode == 1 and r.stdout == b"" and len(r.stderr.splitlines()) == 1, r.stderr
            assert r.stderr.startswith(b"ngram: error: ")
            if w != "surrogate":  # the CLI refuses a surrogate before the tokenizer sees it
                with pytest.raises(InvalidQueryError) as e:
                    local.count(q)
                assert r.stderr.decode() == f"ngram: error: {e.value}\n"


def test_client_count_splits_on_ascii_whitespace_only(setup):
    """Client.count split on str.split() (Unicode whitespace): "a\\u00a0b" was two words."""
    local, remote = setup["local"], setup["remote"]
    for client in (local, remote):
        assert client.count("a\u00a0b") == REF[("a\u00a0b".encode(),)] > 0
        assert client.count("x\x1cy c\u2003d") == REF[("x\x1cy".encode(), "c\u2003d".encode())]
        assert client.count("a b") == REF[(b"a", b"b")] != client.count("a\u00a0b")
        assert client.count("n\x85l") == REF[("n\x85l".encode(),)] > 0
    nbsp = "a\u00a0b"
    r = run_cli(setup["model"], [nbsp, "a b"])
    assert r.stdout.decode().split("\n") == [f"{nbsp}\t{REF[(nbsp.encode(),)]}", f"a b\t{REF[(b'a', b'b')]}", ""]


def test_literal_unk_rule_is_the_same_everywhere(setup):
    """Client.count answered 0 for any n-gram holding <unk>; ngram count looked a literal
    <unk> up. The rule now: a literal <unk> is the model's <unk> entry (what the builder
    stores for it), a word outside the vocabulary makes the count 0."""
    pairs = [g for g in REF if len(g) == 2 and b"<unk>" in g]
    assert pairs, "the corpus must hold a literal <unk>"
    grams = [b" ".join(g).decode() for g in pairs] + ["<unk>", "zzqx of", "<unk> zzqx"]
    want = [REF[g] for g in pairs] + [REF[(b"<unk>",)], 0, 0]
    assert all(w > 0 for w in want[:-2])
    assert setup["local"].count(grams).tolist() == want
    assert setup["remote"].count(grams).tolist() == want
    r = run_cli(setup["model"], grams)
    assert [int(x.rsplit(b"\t", 1)[1]) for x in r.stdout.split(b"\n") if x] == want
    # the facade scores a literal <unk> as the model's <unk> (an OOV, as kenlm does)
    scores = list(setup["facade"].full_scores(grams[0], bos=False, eos=False))
    assert scores[-1][1] == 2 and [s[2] for s in scores] == [w == b"<unk>" for w in pairs[0]]


def test_facade_refuses_a_lone_surrogate_like_the_cli(setup):
    with pytest.raises(InvalidQueryError):
        list(setup["facade"].full_scores("of \udcff", bos=False, eos=False))
