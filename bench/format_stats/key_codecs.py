import numpy as np, sys
from ngram.shard import ShardTable
t = ShardTable.open(sys.argv[1])
lv = list(t.decode_levels())
for k,(keys,parent,raw) in enumerate(lv, start=1):
    if k==1: continue
    n=len(keys)
    first = np.ones(n,bool); first[1:] = parent[1:]!=parent[:-1]
    v = np.where(first, keys, keys - np.r_[0,keys[:-1]] - 1)
    b = np.floor(np.log2(v+1)).astype(int)
    H = np.bincount(b)/n; H=H[H>0]; Hb = -(H*np.log2(H)).sum()
    nib = 4 + b.mean()
    m = n//16*16
    bb = (np.floor(np.log2(v[:m]+1))+ (v[:m]>0)).reshape(-1,16)  # bits needed
    fixed = (5 + 16*bb.max(1)).sum()/m
    # fixed per block of 16, with first-in-range keys excluded (separately nibble coded)
    print(f"k={k} n={n} frac_first={first.mean():.2f} mean_b={b.mean():.2f} H(b)={Hb:.2f} nibble={nib:.2f} huff~={Hb+b.mean():.2f} blockfixed16={fixed:.2f}")
    # remap estimate skipped
