"""Where the batched lookup kernel's time goes: the kernel of ngram/kernels/lookup.py with
its stages cut (1: child ranges only, the key search replaced by the first child; 2: +
key searches; 3: + values), over the 8 shards' sorted parts of 100,000 held-out 5-grams,
CPU time per query, for the bench model in formats 1 and 2 (bench/bench_query.py writes
them). Run: PYTHONPATH=. python bench/format_stats/kernel_stages.py"""
import importlib.util
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def staged_kernel():
    src = (ROOT / "ngram/kernels/lookup.py").read_text()
    k = src[src.index("@njit(**JIT)\ndef lookup_kernel("):]
    k = k.replace("def lookup_kernel(buf, lay, ids, lengths, out_match, out_raw):",
                  "def lookup_exp(buf, lay, ids, lengths, out_match, out_raw, stage):")
    k = k.replace("            if lo == pl and t == pt:\n                j = pj",
                  "            if stage == 1:\n                j = lo\n            elif lo == pl and t == pt:\n                j = pj")
    k = k.replace("        # pass 3: their values", "        if stage < 3:\n            continue\n        # pass 3: their values")
    head = ("import numpy as np\nfrom numba import njit\nfrom ngram.kernels.lookup import *\n"
            "from ngram.kernels.lookup import column_value, last_word, write_match_lengths, find_key, ef_pair, "
            "EF_SAMPLE\nfrom ngram.kernels.layout import *\nJIT = dict(nogil=True, cache=False)\n")
    path = Path(tempfile.mkdtemp()) / "staged_lookup.py"
    path.write_text(head + k)
    spec = importlib.util.spec_from_file_location("staged_lookup", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.lookup_exp


def main():
    from bench.bench_query import five_gram_batch
    from bench.common import EN_TRAIN_MODEL
    from ngram.kernels.batch_ops import gather_rows, radix_argsort
    from ngram.kernels.route import route_batch
    from ngram.model import Model
    from ngram.shard import new_outputs

    kernel = staged_kernel()
    for v in (1, 2):
        m = Model.open(EN_TRAIN_MODEL.with_name(f"{EN_TRAIN_MODEL.name}-v{v}"))
        b = five_gram_batch(m.vocab)[:100000]
        L = np.full(len(b), 5, np.int32)
        shards, keys = route_batch(b, L, m.num_shards, m.manifest["sharding"]["seed"])
        order = radix_argsort(keys)
        ids, lens = gather_rows(b, L, order)
        sh = shards[order]
        parts = [(m.shards[s], np.ascontiguousarray(ids[sh == s]), np.ascontiguousarray(lens[sh == s]))
                 for s in range(m.num_shards)]
        for stage in (1, 2, 3):
            ts = []
            for _ in range(7):
                t = time.thread_time()
                for tb, i, n in parts:
                    mt, raw = new_outputs(len(n), m.order, m.value_kind)
                    kernel(tb.data, tb.layout, i, n, mt, raw, stage)
                ts.append(time.thread_time() - t)
            print(f"format {v} stage {stage}: {statistics.median(ts) / len(b) * 1e9:.0f} ns per query")


if __name__ == "__main__":
    main()
