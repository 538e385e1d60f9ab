"""Spell suite: our corrector against symspellpy, pyspellchecker and JamSpell on the same
noisy held-out sentences, and the service's latency through a 4-shard local cluster.

Test set: sentences of 5..40 tokens from en-heldout (disjoint from en-train), each
corrupted by our noise process (client.spelling.noise, seed TEST_SEED, not the error
model's training seed); the mix of error kinds is written to the result. Every
corrector learns from en-train only: ours the en-train 5-gram counts model (8 shards,
bench.common), the peers dictionaries / JamSpell's 3-gram model (bench/spell_peers.py).

Scoring, per corrector, on whitespace tokens: the output is aligned to the clean
sentence (difflib, longest matching blocks); an error is fixed when every clean token of
its span is matched (a split or merge must be undone exactly); a correct word is
wrongly changed when it is not matched; a sentence is right when the output equals the
clean sentence. Per error kind: errors fixed; over the sentences holding that kind:
wrongly changed words and exact sentences; plus the sentences without errors.
Speed: sentences/s of one pass over the whole set in this one process (after a warm-up
on the first sentences), each corrector called as its users call it: ours through
`Speller(model)` with its defaults in batches of the CLI's default size.

Latency: one 20-word text per request, one client: the in-process Speller on the local
model; on a cluster of 4 shard servers (the en-train model built in 4 shards) the
in-process Speller, then `ngram spell serve --cluster` over gRPC and over HTTP.

Run: .venv/bin/python bench/bench_spell.py [--sentences 1000] [--peers a,b] [--no-service]
Peers: `make spell-peers`.
"""
from __future__ import annotations

import argparse
import difflib
import json
import os
import random
import signal
import subprocess
import sys
import time
import urllib.request
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import HELDOUT, RESULTS_DIR, TRAIN, WORK, ensure_en_train_model, write_result  # noqa: E402
from bench.spell_peers import PEERS, jamspell_usable  # noqa: E402

TEST_SEED = 14_000_014       # the test set's noise (the error model trains with seed 20261203, on en-train)
REAL_WORD_MIN_COUNT = 20     # a real-word error makes a word seen this often in en-train
MIN_TOKENS, MAX_TOKENS = 5, 40
WARMUP_SENTENCES = 20
FALSE_CHANGE_EXAMPLES = 25
LATENCY_WORDS = 20
CLUSTER_MODEL = WORK / "en-train-5g-4s"
REPO = Path(__file__).resolve().parent.parent
OURS = "ngram-speller"


# -- the test set ------------------------------------------------------------------------
def test_set(n: int, seed: int = TEST_SEED) -> list[dict]:
    """n held-out sentences of MIN_TOKENS..MAX_TOKENS tokens (picked with `seed`), each
    through the noise process (client.spelling.noise, default rates and mix, real-word
    errors into en-train words seen REAL_WORD_MIN_COUNT+ times):
    {"clean": [tokens], "noisy": [tokens], "errors": [{"kind", "span": (a, b) of clean, ...}]}."""
    from client.spelling.noise import corrupt_lines
    from bench.spell_peers import read_counts, word_counts_file
    lines = [ln for ln in HELDOUT.read_text(encoding="utf-8").splitlines()
             if MIN_TOKENS <= len(ln.split()) <= MAX_TOKENS]
    picked = random.Random(seed).sample(lines, min(n, len(lines)))
    vocabulary = {w for w, _ in read_counts(word_counts_file(), REAL_WORD_MIN_COUNT)}
    items = []
    for clean, noisy, edits in corrupt_lines(picked, seed, vocabulary=vocabulary):
        items.append({"clean": clean, "noisy": noisy, "errors": [
            {"kind": e.kind, "span": (e.index, e.index + (2 if e.kind == "merge" else 1)),
             "original": e.original, "typo": e.typo} for e in edits]})
    return items


# -- scoring -----------------------------------------------------------------------------
def matched_clean(clean: list[str], output: list[str]) -> np.ndarray:
    """bool[len(clean)]: clean token i is matched by the output (difflib alignment)."""
    ok = np.zeros(len(clean), bool)
    sm = difflib.SequenceMatcher(None, clean, output, autojunk=False)
    for block in sm.get_matching_blocks():
        ok[block.a:block.a + block.size] = True
    return ok


def score(items: list[dict], outputs: list[list[str]]) -> dict:
    """Per error kind: errors fixed; per group of sentences holding a kind (and the
    error-free ones, "none"): correct words wrongly changed and sentences exactly right."""
    fixed, errors = defaultdict(int), defaultdict(int)
    false_changes = []  # "clean words -> output words" where no error was, for the reader
    group = defaultdict(lambda: {"sentences": 0, "exact": 0, "words": 0, "changed": 0})
    total = {"sentences": 0, "exact": 0, "words": 0, "changed": 0}
    for item, out in zip(items, outputs):
        clean = item["clean"]
        ok = matched_clean(clean, out)
        in_error = np.zeros(len(clean), bool)
        for e in item["errors"]:
            a, b = e["span"]
            in_error[a:b] = True
            errors[e["kind"]] += 1
            fixed[e["kind"]] += bool(ok[a:b].all())
        if len(false_changes) < FALSE_CHANGE_EXAMPLES and not (in_error | ok).all():
            for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, clean, out, autojunk=False).get_opcodes():
                if tag != "equal" and i2 > i1 and not in_error[i1:i2].any():
                    false_changes.append(f"{' '.join(clean[i1:i2])} -> {' '.join(out[j1:j2])}")
        words, changed, exact = int((~in_error).sum()), int((~in_error & ~ok).sum()), out == clean
        kinds = {e["kind"] for e in item["errors"]} or {"none"}
        for g in [group[k] for k in kinds] + [total]:
            g["sentences"] += 1
            g["exact"] += exact
            g["words"] += words
            g["changed"] += changed
    per_kind = {}
    for kind in sorted(set(errors) | set(group)):
        g = group[kind]
        per_kind[kind] = {
            "errors": errors.get(kind, 0),
            "fixed_pct": round(100 * fixed[kind] / errors[kind], 2) if errors.get(kind) else None,
            "sentences": g["sentences"],
            "correct_words_changed_pct": round(100 * g["changed"] / max(g["words"], 1), 3),
            "sentences_exact_pct": round(100 * g["exact"] / max(g["sentences"], 1), 2)}
    n_err = sum(errors.values())
    return {"per_kind": per_kind, "all": {
        "errors": n_err, "fixed_pct": round(100 * sum(fixed.values()) / max(n_err, 1), 2),
        "sentences": total["sentences"],
        "correct_words": total["words"], "correct_words_changed": total["changed"],
        "correct_words_changed_pct": round(100 * total["changed"] / max(total["words"], 1), 3),
        "sentences_exact_pct": round(100 * total["exact"] / max(total["sentences"], 1), 2)},
        "false_change_examples": false_changes[:FALSE_CHANGE_EXAMPLES]}


# -- the correctors --------------------------------------------------------------------
class Ours:
    """Our corrector as a user calls it: Speller(model) with its defaults, lines corrected
    in batches of the CLI's default size."""
    name = OURS

    def __init__(self, model_dir: Path):
        from client.spelling.cli import LINES_PER_BATCH
        from client.spelling.speller import Speller
        self.speller = Speller(str(model_dir))
        self.batch = LINES_PER_BATCH

    def correct(self, sentences: list[list[str]]) -> list[list[str]]:
        out = []
        for i in range(0, len(sentences), self.batch):
            texts = [" ".join(s) for s in sentences[i:i + self.batch]]
            out += [c.corrected.split() for c in self.speller.correct(texts)]
        return out


def run_corrector(make, items: list[dict]) -> dict:
    t0 = time.perf_counter()
    corrector = make()
    setup_s = time.perf_counter() - t0
    noisy = [it["noisy"] for it in items]
    corrector.correct(noisy[:WARMUP_SENTENCES])  # compile / fill caches, untimed
    t0, c0 = time.perf_counter(), time.process_time()
    outputs = corrector.correct(noisy)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    result = score(items, outputs)
    result.update(setup_s=round(setup_s, 1), correct_s=round(wall, 2), cpu_s=round(cpu, 2),
                  sentences_per_s=round(len(items) / wall, 1))
    print(f"{corrector.name}: {json.dumps(result['all'])}, {result['sentences_per_s']} sentences/s", flush=True)
    result["examples"] = [{"noisy": " ".join(it["noisy"]), "output": " ".join(o), "clean": " ".join(it["clean"])}
                          for it, o in list(zip(items, outputs))[:5]]
    return result


# -- the service through a 4-shard cluster ----------------------------------------------
def ensure_cluster_model() -> Path:
    """The en-train 5-gram model in 4 shards, built by `ngram build` (cached)."""
    from ngram.model import Model
    try:
        Model.open(CLUSTER_MODEL, shards=[]).close()
        return CLUSTER_MODEL
    except Exception:  # noqa: BLE001 - missing or stale: rebuild
        pass
    print(f"building {CLUSTER_MODEL} (4 shards) ...", flush=True)
    subprocess.run([sys.executable, "-m", "ngram.cli", "build", str(TRAIN), "--out", str(CLUSTER_MODEL),
                    "--order", "5", "--shards", "4"], check=True, cwd=REPO)
    return CLUSTER_MODEL


def latency_texts(exclude: list[dict], n: int, seed: int = TEST_SEED + 1) -> list[str]:
    """n distinct noisy texts of LATENCY_WORDS tokens: held-out sentences of at least that
    many tokens that are not in the accuracy test set, through the noise process, cut.
    Distinct, so no request is answered from the speller's cache of an earlier one."""
    from client.spelling.noise import corrupt_lines
    used = {" ".join(it["clean"]) for it in exclude}
    lines = [ln for ln in HELDOUT.read_text(encoding="utf-8").splitlines()
             if len(ln.split()) >= LATENCY_WORDS + 2 and ln not in used]
    lines = random.Random(seed).sample(lines, min(len(lines), 2 * n))
    texts = list(dict.fromkeys(" ".join(noisy[:LATENCY_WORDS]) for _, noisy, _ in corrupt_lines(lines, seed)))
    if len(texts) < n:
        raise RuntimeError(f"only {len(texts)} held-out texts of {LATENCY_WORDS}+ words for {n} requests")
    return texts[:n]


def percentiles(times: list[float]) -> dict:
    ms = np.array(times) * 1000
    return {"requests": len(ms), "p50_ms": round(float(np.percentile(ms, 50)), 2),
            "p95_ms": round(float(np.percentile(ms, 95)), 2), "p99_ms": round(float(np.percentile(ms, 99)), 2),
            "max_ms": round(float(ms.max()), 2)}


def local_latency(model_dir: Path, texts: list[str], warmup: int) -> dict:
    """One 20-word text per `Speller.correct` call, in this process, over the local model."""
    from client.spelling.speller import Speller
    times = []
    with Speller(str(model_dir)) as sp:
        for i, text in enumerate(texts):
            t0 = time.perf_counter()
            sp.correct([text])
            if i >= warmup:
                times.append(time.perf_counter() - t0)
    out = percentiles(times)
    print(f"in-process speller, local model: {out}", flush=True)
    return out


def service_latency(per_transport: dict[str, list[str]], warmup: int) -> dict:
    import grpc
    from ngram.wire import pb, pb_grpc
    from shard_server.cluster import start_cluster, stop_cluster

    model = ensure_cluster_model()
    work = WORK / "spell-service"
    work.mkdir(parents=True, exist_ok=True)
    cluster_path, ready = work / "cluster.json", work / "ready.json"
    ready.unlink(missing_ok=True)
    spec = start_cluster(model, cluster_path, replicas=1)
    try:  # the speller alone over the same cluster: what the service adds is the difference
        from client.spelling.speller import Speller
        times = []
        with Speller(str(cluster_path)) as sp:
            for i, text in enumerate(per_transport["in_process"]):
                t0 = time.perf_counter()
                sp.correct([text])
                if i >= warmup:
                    times.append(time.perf_counter() - t0)
    except BaseException:
        stop_cluster(cluster_path, grace=10)
        raise
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    proc = None
    try:
        with open(work / "serve.log", "w") as log:
            proc = subprocess.Popen([sys.executable, "-m", "client.spelling.cli", "spell", "serve", "--cluster",
                                     str(cluster_path), "--port", "0", "--http-port", "0", "--ready-file",
                                     str(ready)], env=env, stderr=log)
        deadline = time.monotonic() + 600
        while not ready.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the spelling service did not start: {(work / 'serve.log').read_text()}")
            time.sleep(0.2)
        info = json.loads(ready.read_text())
        out = {"servers": len(spec.servers), "model": str(model), "words_per_request": LATENCY_WORDS,
               "in_process_speller": percentiles(times)}
        with grpc.insecure_channel(info["address"]) as ch:
            stub = pb_grpc.SpellerStub(ch)
            times = []
            for i, text in enumerate(per_transport["grpc"]):
                t0 = time.perf_counter()
                stub.Correct(pb.SpellRequest(texts=[text]), timeout=30)
                if i >= warmup:
                    times.append(time.perf_counter() - t0)
        out["grpc"] = percentiles(times)
        url = f"http://127.0.0.1:{info['http_port']}/correct"
        times = []
        for i, text in enumerate(per_transport["http"]):
            body = json.dumps({"texts": [text]}).encode()
            t0 = time.perf_counter()
            with urllib.request.urlopen(urllib.request.Request(url, data=body, method="POST"), timeout=30) as r:
                r.read()
            if i >= warmup:
                times.append(time.perf_counter() - t0)
        out["http"] = percentiles(times)
        print(f"service via {out['servers']} shard servers: grpc {out['grpc']}, http {out['http']}", flush=True)
        return out
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
        stop_cluster(cluster_path, grace=10)


def issue_targets(results: dict, latency: dict) -> dict:
    """The issue's targets against what was measured (peers that did not run are left out)."""
    ours = results[OURS]["all"]
    peers = {k: v for k, v in results.items() if k != OURS}
    out = {}
    if peers:
        best = max(peers, key=lambda k: peers[k]["all"]["fixed_pct"])
        margin = ours["fixed_pct"] - peers[best]["all"]["fixed_pct"]
        out["errors_fixed_over_best_peer_pts"] = {"best_peer": best, "margin": round(margin, 2), "met": margin >= 5}
        worst = {k: v["all"]["correct_words_changed_pct"] for k, v in peers.items()}
        out["fewer_correct_words_changed_than_every_peer"] = {
            "ours_pct": ours["correct_words_changed_pct"], "peers_pct": worst,
            "met": all(ours["correct_words_changed_pct"] < v for v in worst.values())}
    if "jamspell" in results:
        ratio = results[OURS]["sentences_per_s"] / results["jamspell"]["sentences_per_s"]
        # on a loaded machine wall time depends on what else runs; CPU time less so
        cpu_ratio = results["jamspell"]["cpu_s"] / results[OURS]["cpu_s"]
        out["sentences_per_s_over_jamspell"] = {"ratio": round(ratio, 2), "cpu_time_ratio": round(cpu_ratio, 2),
                                                "met": ratio >= 2}
    service = latency.get("service_4_shards")
    if service:
        out["p99_ms_20_words_4_shards"] = {"grpc": service["grpc"]["p99_ms"], "http": service["http"]["p99_ms"],
                                           "met": service["grpc"]["p99_ms"] <= 50}
    return out


def plot(results: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    names = list(results)
    kinds = [k for k in results[names[0]]["per_kind"] if results[names[0]]["per_kind"][k]["errors"]] + ["all"]
    fig, ax = plt.subplots(figsize=(max(8, 1.2 * len(kinds) + 3), 4.5))
    width = 0.8 / len(names)
    for j, name in enumerate(names):
        vals = [(results[name]["all"] if k == "all" else results[name]["per_kind"][k])["fixed_pct"] or 0
                for k in kinds]
        ax.bar(np.arange(len(kinds)) + j * width, vals, width, label=name)
    ax.set_xticks(np.arange(len(kinds)) + width * (len(names) - 1) / 2, kinds, rotation=20)
    ax.set_ylabel("errors fixed (%)")
    ax.set_title("Spelling correction of noisy en-heldout sentences (models from en-train)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def report(path: Path) -> str:
    """Markdown tables of a result file (docs/SPELLING.md, "Benchmark", quotes them)."""
    d = json.loads(path.read_text())
    res, names = d["correctors"], list(d["correctors"])
    lines = ["| corrector | errors fixed | correct words changed | sentences exact | sentences/s | "
             "sentences per CPU s |", "|---|---:|---:|---:|---:|---:|"]
    for n in names:
        a = res[n]["all"]
        lines.append(f"| {n} | {a['fixed_pct']:.1f}% | {a['correct_words_changed_pct']:.2f}% "
                     f"({a['correct_words_changed']}/{a['correct_words']}) | {a['sentences_exact_pct']:.1f}% "
                     f"| {res[n]['sentences_per_s']:g} | {a['sentences'] / max(res[n]['cpu_s'], 1e-9):.0f} |")
    kinds = [k for k in res[names[0]]["per_kind"] if k != "none"] + ["none"]
    lines += ["", "Errors fixed per kind (errors of the kind); in brackets, over the sentences holding "
              "the kind: correct words changed / sentences exact:", "",
              "| kind | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for k in kinds:
        first = res[names[0]]["per_kind"][k]
        cells = []
        for n in names:
            pk = res[n]["per_kind"][k]
            fixed = f"{pk['fixed_pct']:.1f}% " if pk["fixed_pct"] is not None else ""
            cells.append(f"{fixed}({pk['correct_words_changed_pct']:.2f}% / {pk['sentences_exact_pct']:.0f}%)")
        label = f"{k} ({first['errors']})" if k != "none" else f"no error ({first['sentences']} sentences)"
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lat = d.get("latency") or {}
    lines += ["", "| latency, one 20-word text per request | p50 ms | p95 ms | p99 ms | max ms |",
              "|---|---:|---:|---:|---:|"]
    rows = [("Speller in-process, local 8-shard model", lat.get("local_in_process"))]
    if lat.get("service_4_shards"):
        rows += [("Speller in-process, 4 shard servers", lat["service_4_shards"].get("in_process_speller")),
                 ("service over gRPC, 4 shard servers", lat["service_4_shards"]["grpc"]),
                 ("service over HTTP, 4 shard servers", lat["service_4_shards"]["http"])]
    for label, p in rows:
        if p:
            lines.append(f"| {label} | {p['p50_ms']} | {p['p95_ms']} | {p['p99_ms']} | {p['max_ms']} |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sentences", type=int, default=1000)
    ap.add_argument("--peers", default=",".join(PEERS), help=f"comma-separated, of {', '.join(PEERS)}")
    ap.add_argument("--no-service", action="store_true", help="skip the cluster latency run")
    ap.add_argument("--requests", type=int, default=300, help="timed requests of the latency run")
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--report", action="store_true", help="print Markdown tables of the last result and exit")
    args = ap.parse_args()
    if args.report:
        print(report(RESULTS_DIR / "spell.json"))
        return 0

    load0 = round(os.getloadavg()[0], 2)  # other work on the machine skews the speeds
    model = ensure_en_train_model()
    items = test_set(args.sentences)
    mix = defaultdict(int)
    for it in items:
        for e in it["errors"]:
            mix[e["kind"]] += 1
    print(f"test set: {len(items)} sentences, {sum(mix.values())} errors: {dict(mix)}", flush=True)
    results, skipped = {}, {}
    results[OURS] = run_corrector(lambda: Ours(model), items)
    for name in [p for p in args.peers.split(",") if p]:
        why = jamspell_usable() if name == "jamspell" else None
        if why:
            skipped[name] = why
            print(f"{name}: skipped: {why}", flush=True)
            continue
        results[name] = run_corrector(PEERS[name], items)
    n = args.warmup + args.requests
    texts = latency_texts(items, 4 * n)
    latency = {"words_per_request": LATENCY_WORDS, "local_in_process": local_latency(model, texts[:n], args.warmup)}
    if not args.no_service:
        latency["service_4_shards"] = service_latency(
            {"grpc": texts[n:2 * n], "http": texts[2 * n:3 * n], "in_process": texts[3 * n:]}, args.warmup)
    plot(results, RESULTS_DIR / "spell.png")
    targets = issue_targets(results, latency)
    print(f"targets: {json.dumps(targets)}", flush=True)
    write_result("spell", {
        "test_set": {"source": str(HELDOUT.name), "sentences": len(items), "tokens": f"{MIN_TOKENS}..{MAX_TOKENS}",
                     "noise_seed": TEST_SEED, "errors": sum(mix.values()), "mix": dict(mix)},
        "load_average_1m": {"start": load0, "end": round(os.getloadavg()[0], 2)},
        "targets": targets, "correctors": results, "skipped": skipped, "latency": latency})
    return 0


if __name__ == "__main__":
    sys.exit(main())
