"""Counts from the map/reduce stages equal a naive Python counter, cutoffs included,
whatever the chunking, block size and spill threshold (hypothesis)."""
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builder import keys as K
from builder.inputs import TextOptions, iter_chunks
from builder.map_stage import MapPlan, map_task
from builder.reduce_stage import ReducePlan, shard_levels
from builder.vocab_pass import VocabMerger, vocab_task
from builder.workdir import WorkDir
from ngram.writer import ShardSpec
from reference import apply_cutoffs, count_ngrams

WORDS = ["a", "b", "c", "d", "e", "f", "the", "of", "x\u00e9"]


def naive_counts(lines, vocab, order, cutoffs):
    """{gram tuple (ids w1..wk): count}, with cutoffs and the suffix rule, by brute force."""
    sentences = [[int(vocab.ids([w.encode()])[0]) for w in line.split()] for line in lines]
    counts = count_ngrams(sentences, order, bos=1, eos=2, orders=range(2, order + 1))
    return {g: c for g, c in apply_cutoffs(counts, cutoffs).items() if len(g) > 1}


def run_stages(tmp_path, text: bytes, order, shards, cutoffs, chunk_bytes, block_tokens, spill_bytes,
               min_word_count=1):
    work = WorkDir(tmp_path / "work").make()
    src = tmp_path / "corpus.txt"
    src.write_bytes(text)
    merger = VocabMerger()
    chunks = 0
    for chunk in iter_chunks([str(src)], chunk_bytes, 1 << 20):
        merger.add(vocab_task(chunk, TextOptions(), str(work.root)))
        chunks += 1
    vocab = merger.vocabulary(min_word_count, None)
    vocab.save(work.vocab_bin)
    layout = K.KeyLayout.for_vocab(len(vocab))
    plan = MapPlan(str(work.root), order, shards, 0, layout, block_tokens, spill_bytes, 7)
    markers = [map_task(i, plan) for i in range(chunks)]
    runs = [r for m in markers for r in m["runs"]]
    rplan = ReducePlan(str(work.root), ShardSpec(order=order, num_shards=shards), layout, tuple(cutoffs))
    got = {}
    for s in range(shards):
        for k, (keys, counts) in enumerate(shard_levels(s, rplan, runs), start=2):
            for g, c in zip(K.unpack(keys, k, layout).tolist(), counts.tolist()):
                assert tuple(g) not in got
                got[tuple(g)] = c
    return vocab, got, len(runs)


sentences = st.lists(st.lists(st.sampled_from(WORDS), min_size=0, max_size=12).map(" ".join),
                     min_size=1, max_size=60)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=sentences, order=st.integers(2, 6), shards=st.integers(1, 4),
       cutoffs=st.lists(st.integers(1, 3), min_size=6, max_size=6),
       chunk_bytes=st.integers(1, 200), block_tokens=st.integers(1, 50), spill_bytes=st.integers(0, 3000),
       min_word_count=st.integers(1, 3))
def test_counts_equal_naive_counter(tmp_path_factory, lines, order, shards, cutoffs, chunk_bytes, block_tokens,
                                    spill_bytes, min_word_count):
    tmp = tmp_path_factory.mktemp("counts")
    cutoffs = [1] + cutoffs[:order - 1]
    text = ("\n".join(lines) + "\n").encode()
    if not any(line.split() for line in lines):
        return
    vocab, got, _ = run_stages(tmp, text, order, shards, cutoffs, chunk_bytes, block_tokens, spill_bytes,
                               min_word_count)
    assert got == naive_counts(lines, vocab, order, cutoffs)


def test_small_budget_spills_many_runs(tmp_path):
    rng = np.random.default_rng(0)
    lines = [" ".join(rng.choice(WORDS, size=rng.integers(1, 15))) for _ in range(400)]
    vocab, got, runs = run_stages(tmp_path, ("\n".join(lines) + "\n").encode(), 5, 3, [1, 1, 2, 2, 2],
                                  chunk_bytes=2000, block_tokens=64, spill_bytes=1)
    assert runs > 20
    assert got == naive_counts(lines, vocab, 5, [1, 1, 2, 2, 2])
