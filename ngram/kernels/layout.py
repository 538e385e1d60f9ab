"""The shard layout: one field table describes every column of a shard's layout table
(int64[order + 1, FIELDS]); the writer fills rows from it by field name, the reader
checks every field by its kind at open, and the kernels read the column constants
derived from it below (numba freezes module-level ints as compile-time constants).

Row 0 holds globals, row 1 the unigram values (V entries), row k >= 2 level k: its child
pointers (EF, indexed by the parent's index at level k-1), keys (nibble codec over
gap-coded leftmost word ids) and value columns. A value column maps each node to a
symbol (an index into the column's table of distinct raw values, most frequent first),
stored directly or, where smaller, as a rank within the symbols that occur under the
parent's symbol: a node's value is strongly predicted by its suffix's (the parent), e.g.
8-bit log-probabilities of 5-grams need ~2 bits instead of 8. Word offsets index the
shard's data array (offset 0 means "none": word 0 is never used).

Adding a field: append it to its table (the column numbers of existing fields, and so
the file format, must not change), give the writer its value, use its constant.
"""
from __future__ import annotations

from typing import NamedTuple


class Field(NamedTuple):
    name: str
    kind: str  # how the reader checks it: see KINDS
    doc: str


# kinds: OFFSET a word offset into the data array (0 <= v < words); WORDS a length in
# words (0 <= v <= words); WIDTH a bit width (0 <= v <= 63; fixed-width reads take at
# most 63 bits); COUNT a number of elements (checked against the header's n-gram
# counts); CODE one of a small set of codes (checked by the reader); ANY not an index.
OFFSET, WORDS, WIDTH, COUNT, CODE, ANY = "offset", "words", "width", "count", "code", "any"
KINDS = (OFFSET, WORDS, WIDTH, COUNT, CODE, ANY)
MAX_WIDTH = 63

GLOBAL_FIELDS = (
    Field("order", COUNT, "the model order N"),
    Field("vocab", COUNT, "vocabulary size V"),
    Field("ncols", CODE, "value columns: 1 (counts) or 2 (prob, backoff)"),
    Field("absent", CODE, "raw value of a missing n-gram: 0, or NAN_BITS for float columns"),
    Field("words", WORDS, "length of the data array in words"),
    Field("version", CODE, "shard format version: 2 (0 in a v1 table: its layout has no such column)"),
)
LEVEL_FIELDS = (
    Field("n", COUNT, "nodes at this level"),
    Field("ef_l", WIDTH, "Elias-Fano low-part width of the child pointers"),
    Field("ef_lo", OFFSET, "EF low parts"),
    Field("ef_hi", OFFSET, "EF high parts (unary bitvector)"),
    Field("ef_hi_words", WORDS, "length of the high parts in words"),
    Field("ef_dir", OFFSET, "EF select samples, every EF_SAMPLE-th one"),
    Field("k_nib", OFFSET, "keys: nibble buckets"),
    Field("k_mant", OFFSET, "keys: mantissas"),
    Field("k_dir", OFFSET, "keys: mantissa offset directory"),
    Field("k_w", WIDTH, "keys: raw width of bucket 15"),
    Field("k_side", OFFSET, "keys: every RESTART-th key, fixed width"),
    Field("k_side_w", WIDTH, "keys: width of the side array"),
    Field("ef_rank", OFFSET, "EF rank directory (ones before every 512-bit block)"),
)
# one value column (MAX_COLS of them follow the level fields)
COLUMN_FIELDS = (
    Field("codec", CODE, "CODEC_FIXED or CODEC_GAMMA: how the codes are stored"),
    Field("units", OFFSET, "codes (fixed) or unary parts (gamma)"),
    Field("mant", OFFSET, "gamma mantissas"),
    Field("dir", OFFSET, "gamma directory"),
    Field("units_words", WORDS, "gamma: length of the unary parts in words"),
    Field("width", WIDTH, "fixed: bits per code"),
    Field("table", OFFSET, "table of distinct raw values"),
    Field("tkind", CODE, "TABLE_U64, TABLE_F32 or TABLE_IDENTITY"),
    # context-coded columns (ctx_off != 0): the stored code is a rank among the symbols
    # seen under the parent node's symbol of the same column; symbol = CTX_SYM[CTX_OFF[ps] + code]
    Field("ctx_off", OFFSET, "context table: offsets per parent symbol"),
    Field("ctx_off_w", WIDTH, "width of the context offsets"),
    Field("ctx_sym", OFFSET, "context table: symbols"),
    Field("ctx_sym_w", WIDTH, "width of the context symbols"),
)
MAX_COLS = 2
# level fields added by format v2, after the value columns (the columns of v1's fields
# do not move, so a v1 table widened with zero columns reads the same; docs/FORMAT_V2.md)
V2_LEVEL_FIELDS = (
    Field("k_big", OFFSET, "keys: the ranges of >= BIG_RANGE keys, BIG_ENTRY words each, by first node"),
    Field("k_big_n", ANY, "keys: number of those ranges (checked at open against the data array)"),
    Field("k_bdir", OFFSET, "keys: their bucket directories, fixed width"),
    Field("k_bdir_w", WIDTH, "keys: width of a directory entry"),
)


def _columns(fields: tuple[Field, ...], base: int = 0) -> dict[str, int]:
    return {f.name: base + i for i, f in enumerate(fields)}


GLOBAL = _columns(GLOBAL_FIELDS)
LEVEL = _columns(LEVEL_FIELDS)
COLUMN = _columns(COLUMN_FIELDS)
COL_BASE, COL_FIELDS = len(LEVEL_FIELDS), len(COLUMN_FIELDS)
FIELDS_V1 = COL_BASE + COL_FIELDS * MAX_COLS  # a v1 table's width
V2_LEVEL = _columns(V2_LEVEL_FIELDS, FIELDS_V1)
FIELDS = FIELDS_V1 + len(V2_LEVEL_FIELDS)

# the kernels' constants
G_ORDER, G_VOCAB, G_NCOLS, G_ABSENT, G_WORDS, G_VERSION = (GLOBAL[n] for n in ("order", "vocab", "ncols", "absent",
                                                                                "words", "version"))
K_BIG, K_BIG_N, K_BDIR, K_BDIR_W = (V2_LEVEL[n] for n in ("k_big", "k_big_n", "k_bdir", "k_bdir_w"))
L_N = LEVEL["n"]
EF_L, EF_LO, EF_HI, EF_HI_WORDS, EF_DIR, EF_RANK = (LEVEL[n] for n in ("ef_l", "ef_lo", "ef_hi", "ef_hi_words",
                                                                      "ef_dir", "ef_rank"))
K_NIB, K_MANT, K_DIR, K_W, K_SIDE, K_SIDE_W = (LEVEL[n] for n in ("k_nib", "k_mant", "k_dir", "k_w", "k_side",
                                                                 "k_side_w"))
C_CODEC, C_UNITS, C_MANT, C_DIR, C_UNITS_WORDS, C_WIDTH, C_TABLE, C_TKIND = (
    COLUMN[n] for n in ("codec", "units", "mant", "dir", "units_words", "width", "table", "tkind"))
C_CTX_OFF, C_CTX_OFF_W, C_CTX_SYM, C_CTX_SYM_W = (COLUMN[n] for n in ("ctx_off", "ctx_off_w", "ctx_sym",
                                                                     "ctx_sym_w"))

# value codecs (the code stored in a column's `codec` field picks the decoder; see
# ngram.value_codecs) and table kinds
CODEC_FIXED, CODEC_GAMMA = 1, 2
CODECS = (CODEC_FIXED, CODEC_GAMMA)
TABLE_U64, TABLE_F32, TABLE_IDENTITY = 0, 1, 2
TABLE_KINDS = (TABLE_U64, TABLE_F32, TABLE_IDENTITY)

# keys: the key of every RESTART-th node of a level is also kept in a fixed-width side
# array, so long sibling ranges (thousands of keys at levels 2-3) are binary-searched
# there and then scanned for at most RESTART - 1 gap-coded keys
RESTART = 16
# v2: a sibling range of at least BIG_RANGE keys also gets a bucket directory over its
# key values (~BUCKET_KEYS keys per bucket), listed in the level's k_big table as
# BIG_ENTRY words: (first node, first directory entry, buckets << 6 | bucket shift)
BIG_RANGE = 128
BUCKET_KEYS = 32
BIG_ENTRY = 3

# raw value of a blank (inserted, value-less) node in float columns: a quiet NaN
NAN_BITS = 0x7FC00000


def column_index(c: int, name: str) -> int:
    """Layout column of field `name` of value column c."""
    return COL_BASE + c * COL_FIELDS + COLUMN[name]


def level_columns(kind: str) -> list[int]:
    """Layout columns (of a level row) of every field of `kind`, value columns included."""
    cols = [LEVEL[f.name] for f in LEVEL_FIELDS if f.kind == kind]
    cols += [V2_LEVEL[f.name] for f in V2_LEVEL_FIELDS if f.kind == kind]
    return cols + [column_index(c, f.name) for c in range(MAX_COLS) for f in COLUMN_FIELDS if f.kind == kind]


def layout_row(row, level: dict | None = None, columns: list[dict] = ()) -> None:
    """Fills one layout row (a numpy int64 view) from field values by name: `level` the
    level fields, `columns[c]` value column c's fields. A field left out stays 0."""
    for name, value in (level or {}).items():
        row[LEVEL[name] if name in LEVEL else V2_LEVEL[name]] = value
    for c, col in enumerate(columns):
        for name, value in col.items():
            row[column_index(c, name)] = value
