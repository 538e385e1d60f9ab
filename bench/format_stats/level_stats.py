import numpy as np, sys, json
from ngram.shard import ShardTable
from ngram.kernels import layout as LY
from ngram.value_columns import ranks_by_frequency
t = ShardTable.open(sys.argv[1])
print("bytes", t.nbytes, "ngrams", t.ngrams, "B/ngram", t.nbytes/sum(t.ngrams))
lv = list(t.decode_levels())
n_prev = t.vocab_size
for k,(keys,parent,raw) in enumerate(lv, start=1):
    n=len(keys)
    if k==1:
        print(k, n); n_prev=n; continue
    cnt = np.bincount(parent, minlength=n_prev)
    nz = cnt[cnt>0]
    # keys gaps within range
    first = np.ones(n,bool); first[1:] = parent[1:]!=parent[:-1]
    gaps = np.where(first, keys, keys - np.r_[0,keys[:-1]] - 1)
    gb = np.log2(gaps[~first]+1).mean() if (~first).any() else 0
    print(f"k={k} n={n} parents={n_prev} nonempty={len(nz)} frac_nonempty={len(nz)/n_prev:.3f} "
          f"cnt: p50={np.median(nz):.0f} mean={nz.mean():.1f} max={nz.max()} nweighted_mean={(nz*nz).sum()/nz.sum():.0f} "
          f"frac0={np.mean(cnt==0):.3f} frac1={np.mean(cnt==1):.3f} "
          f"log2(gap+1) mean={gb:.2f} firstkey log2 mean={np.log2(keys[first]+1).mean():.2f} maxkey={keys.max()}")
    # count distribution of hist of child counts
    for c in range(raw.shape[1]):
        tab, ranks = ranks_by_frequency(raw[:,c])
        H = np.bincount(ranks.astype(np.int64)); p=H[H>0]/n
        print(f"   col{c} distinct={len(tab)} H={-(p*np.log2(p)).sum():.2f} bits")
    n_prev=n
