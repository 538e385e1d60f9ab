import numpy as np, glob, sys
from ngram.shard import ShardTable
files = sorted(glob.glob(sys.argv[1] + '/shard-*.bin'))
big=[]
for f in files:
    t = ShardTable.open(f); it = t.decode_levels(); next(it)
    keys,parent,_ = next(it); big.append(np.stack([keys,parent],1))  # (w1, w2)
bg = np.concatenate(big); bg = bg[np.lexsort((bg[:,0], bg[:,1]))]
V = t.vocab_size
start = np.searchsorted(bg[:,1], np.arange(V+1))
print("global bigrams", len(bg))
t = ShardTable.open(files[0]); lv = list(t.decode_levels())
prev = None
grams_prev = np.arange(V)[:,None]
for k,(keys,parent,raw) in enumerate(lv, start=1):
    if k==1: continue
    grams = np.concatenate([keys[:,None], grams_prev[parent]],1)
    grams_prev = grams
    if k==2: continue
    w1, w2 = grams[:,0], grams[:,1]
    # rank of w1 among pred(w2)
    r = np.empty(len(w1), np.int64)
    for i in range(0, len(w1), 200000):
        a, b = w1[i:i+200000], w2[i:i+200000]
        # search within each pred list: global pairs sorted by (w2,w1): searchsorted on combined key
        comb = bg[:,1].astype(np.int64)*V + bg[:,0]
        pos = np.searchsorted(comb, b*V + a)
        r[i:i+200000] = pos - start[b]
    n=len(keys); first = np.ones(n,bool); first[1:] = parent[1:]!=parent[:-1]
    for name, kk in (("id", keys), ("remap", r)):
        v = np.where(first, kk, kk - np.r_[0,kk[:-1]] - 1)
        b = np.floor(np.log2(v+1))
        print(k, name, "nibble bits/key", round(4+b.mean(),2))
