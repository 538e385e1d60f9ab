"""Column indices of a shard's layout table (int64[order + 1, FIELDS]).

Row 0 holds globals, row 1 the unigram values (V entries), row k >= 2 level k: its child
pointers (EF, indexed by the parent's index at level k-1), keys (nibble codec over
gap-coded leftmost word ids) and value columns. A value column maps each node to a
symbol (an index into the column's table of distinct raw values, most frequent first),
stored directly or, where smaller, as a rank within the symbols that occur under the
parent's symbol: a node's value is strongly predicted by its suffix's (the parent), e.g.
8-bit log-probabilities of 5-grams need ~2 bits instead of 8. Word offsets index the
shard's data array. Shared by the writer (Python) and the lookup kernel (numba constants).
"""
# row 0
G_ORDER, G_VOCAB, G_NCOLS, G_ABSENT, G_WORDS = 0, 1, 2, 3, 4
# level rows
L_N = 0
EF_L, EF_LO, EF_HI, EF_HI_WORDS, EF_DIR = 1, 2, 3, 4, 5
K_NIB, K_MANT, K_DIR, K_W = 6, 7, 8, 9
K_SIDE, K_SIDE_W = 10, 11
EF_RANK = 12
COL_BASE, COL_FIELDS = 13, 12
C_CODEC, C_UNITS, C_MANT, C_DIR, C_UNITS_WORDS, C_WIDTH, C_TABLE, C_TKIND = range(8)
# context-coded columns (C_CTX_OFF != 0): the stored code is a rank among the symbols
# seen under the parent node's symbol of the same column; symbol = CTX_SYM[CTX_OFF[ps] + code]
C_CTX_OFF, C_CTX_OFF_W, C_CTX_SYM, C_CTX_SYM_W = 8, 9, 10, 11
MAX_COLS = 2
FIELDS = COL_BASE + COL_FIELDS * MAX_COLS

# value codecs and table kinds
CODEC_FIXED, CODEC_GAMMA = 1, 2
TABLE_U64, TABLE_F32, TABLE_IDENTITY = 0, 1, 2

# keys: the key of every RESTART-th node of a level is also kept in a fixed-width side
# array, so long sibling ranges (thousands of keys at levels 2-3) are binary-searched
# there and then scanned for at most RESTART - 1 gap-coded keys
RESTART = 16

# raw value of a blank (inserted, value-less) node in float columns: a quiet NaN
NAN_BITS = 0x7FC00000
