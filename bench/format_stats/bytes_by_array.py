import numpy as np, sys
from ngram.shard import ShardTable
from ngram.kernels import layout as LY
t = ShardTable.open(sys.argv[1])
lay = t.layout; W = len(t.data)
offs = []
names = [f.name for f in LY.LEVEL_FIELDS] ; cn=[f.name for f in LY.COLUMN_FIELDS]
for k in range(1, t.order+1):
    for f in LY.LEVEL_FIELDS:
        if f.kind == LY.OFFSET and lay[k, LY.LEVEL[f.name]]: offs.append((lay[k, LY.LEVEL[f.name]], k, f.name))
    for c in range(2):
        for f in LY.COLUMN_FIELDS:
            if f.kind == LY.OFFSET and lay[k, LY.column_index(c,f.name)]: offs.append((lay[k, LY.column_index(c,f.name)], k, f"c{c}.{f.name}"))
offs.sort()
from collections import defaultdict
tot = defaultdict(int)
for i,(o,k,n) in enumerate(offs):
    end = offs[i+1][0] if i+1 < len(offs) else W
    tot[(k,n)] += (end-o)*8
for k in range(1,t.order+1):
    s = {n:b for (kk,n),b in tot.items() if kk==k}
    print(k, t.ngrams[k-1], {n: round(b*8/max(t.ngrams[k-1],1),2) for n,b in s.items()}, "bits/node total", round(sum(s.values())*8/max(t.ngrams[k-1],1),2))
print("total bytes", t.nbytes, "unigram bytes", sum(b for (k,n),b in tot.items() if k==1))
