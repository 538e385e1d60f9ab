import numpy as np, sys
from ngram.shard import ShardTable
t = ShardTable.open(sys.argv[1]); lv=list(t.decode_levels())
for k,(keys,parent,raw) in enumerate(lv, start=1):
    if k==1: continue
    cnt = np.bincount(parent)
    for T in (128,256,512):
        big = cnt[cnt>=T]
        w = np.ceil(np.log2(big/16+2))
        dirbits = (big/32*w).sum() + 128*len(big)
        print(k, T, "big ranges", len(big), "keys in them %.2f" % (big.sum()/len(keys)), "dir bits/key(level) %.3f" % (dirbits/len(keys)))
