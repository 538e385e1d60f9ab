"""The successor index's succinct parts against plain Python: Elias-Fano sequences, the
minimal perfect hash, gamma codes, fixed-width packing (ngram/kernels/succinct.py)."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit

from ngram.kernels.bits import read_bits
from ngram.kernels.succinct import (ef_build, ef_get, gamma_bits, gamma_read, gamma_write, mphf_build, mphf_get,
                                    pack_fixed)

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True)


@njit
def _ef_all(hi, samples, lo, low, n, out):
    for i in range(n):
        out[i] = ef_get(hi, samples, lo, low, i)


@njit
def _mphf_all(bits, ranks, rounds, hashes, out):
    for i in range(hashes.shape[0]):
        out[i] = mphf_get(bits, ranks, rounds, hashes[i])


@njit
def _gamma_roundtrip(values, out_values, out_lengths):
    words = np.zeros(values.shape[0] * 2 + 2, np.uint64)
    pos = 0
    for i in range(values.shape[0]):
        pos += gamma_write(words, pos, values[i])
    pos = 0
    for i in range(values.shape[0]):
        v, n = gamma_read(words, pos)
        out_values[i] = v
        out_lengths[i] = n
        pos += n


@njit
def _read_fixed(words, width, n, out):
    for i in range(n):
        out[i] = read_bits(words, i * width, width)


@SETTINGS
@given(st.lists(st.integers(0, 2 ** 40), min_size=1, max_size=400))
def test_elias_fano_gives_back_every_element(values):
    v = np.sort(np.array(values, np.int64))
    hi, samples, lo, low = ef_build(v)
    out = np.empty(len(v), np.int64)
    _ef_all(hi, samples, lo, low, len(v), out)
    assert out.tolist() == v.tolist()


@SETTINGS
@given(st.sets(st.integers(0, 2 ** 64 - 1), min_size=0, max_size=3000))
def test_perfect_hash_is_a_bijection_onto_its_slots(keys):
    hashes = np.array(sorted(keys), np.uint64)
    bits, ranks, rounds, slot = mphf_build(hashes)
    assert sorted(slot.tolist()) == list(range(len(hashes)))
    got = np.empty(len(hashes), np.int64)
    _mphf_all(bits, ranks, rounds, hashes, got)
    assert got.tolist() == slot.tolist()


@SETTINGS
@given(st.lists(st.integers(1, 2 ** 40), min_size=1, max_size=300))
def test_gamma_codes_round_trip_with_their_lengths(values):
    v = np.array(values, np.int64)
    got, lengths = np.empty(len(v), np.int64), np.empty(len(v), np.int64)
    _gamma_roundtrip(v, got, lengths)
    assert got.tolist() == values
    assert lengths.tolist() == gamma_bits(v).tolist() == [2 * (x.bit_length() - 1) + 1 for x in values]


@SETTINGS
@given(st.integers(0, 62).flatmap(lambda w: st.tuples(st.just(w), st.lists(st.integers(0, 2 ** w - 1), max_size=300))))
def test_fixed_width_packing_round_trips(case):
    width, values = case
    words = pack_fixed(np.array(values, np.int64), width)
    out = np.empty(len(values), np.uint64)
    _read_fixed(words, width, len(values), out)
    assert out.tolist() == values
