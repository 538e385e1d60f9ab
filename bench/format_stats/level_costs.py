import sys, time, statistics, numpy as np
sys.path.insert(0, '.')
from bench.bench_query import five_gram_batch
from ngram.model import Model
m = Model.open(sys.argv[1])  # a model directory, e.g. /tmp/ngram-bench/en-train-5g-8s-v2
b = five_gram_batch(m.vocab)[:100000]
m.lookup(b[:10], np.full(10,5,np.int32))
for k in range(1,6):
    # keep the last k words
    bb = np.zeros_like(b); bb[:, :k] = b[:, 5-k:]
    L = np.full(len(b), k, np.int32)
    cpu=[]
    for r in range(7):
        c=time.thread_time(); m.lookup(bb, L); cpu.append(time.thread_time()-c)
    print(k, "ns/query %.0f" % (statistics.median(cpu)/len(b)*1e9))
