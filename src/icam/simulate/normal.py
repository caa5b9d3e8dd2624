"""numpy's float32 standard normal draws from a PCG64 generator, compiled: the values
``Generator.standard_normal(dtype=np.float32)`` gives, to the bit, and the generator left in the state it would
leave.

The same seed must give the same landscape whatever draws it, so this is numpy's algorithm, not another one:
its PCG64 (:mod:`icam.core.pcg64`) and its float32 ziggurat (``random_standard_normal_f`` of
``numpy/random/src/distributions/distributions.c``: 256 strips, the tail beyond r = 3.654 by Marsaglia's
exponential method, the wedges' test against exp(−x²/2) in double precision). numpy calls the bit generator
and the ziggurat through function pointers for every draw; here both are inlined into one loop: a
jurisdiction's yearly 61 Mpx of draws in 0.20 s instead of numpy's 0.78 (2026-12-08, docs/benchmarks.md).
"""

from __future__ import annotations

import numba
import numpy as np
from numba.np.random._constants import fi_float, ki_float, wi_float, ziggurat_nor_inv_r_f, ziggurat_nor_r_f

from icam.core.pcg64 import next_uint32, restore, state_of

_ONE = np.uint64(1)
_SIGN = np.array([1.0, -1.0], np.float32)


@numba.njit(inline="always")
def _next_float(state):
    return np.float32(np.float32(next_uint32(state) >> np.uint64(8)) * np.float32(1.0) / np.float32(16777216.0))


@numba.njit(inline="always")
def _standard_normal(state):
    """numpy's ``random_standard_normal_f``, the same operations in the same precision."""
    while True:
        r = next_uint32(state)
        idx = r & np.uint64(0xFF)
        rabs = (r >> np.uint64(9)) & np.uint64(0x7FFFFF)
        # the sign as a product by ±1 (exact), not a branch: taken at random, half of them were mispredicted
        x = np.float32(np.float32(rabs) * wi_float[idx]) * _SIGN[(r >> np.uint64(8)) & _ONE]
        if rabs < ki_float[idx]:
            return x
        if idx == 0:  # the tail beyond r
            while True:
                xx = np.float32(-ziggurat_nor_inv_r_f * np.log1p(np.float32(-_next_float(state))))
                yy = np.float32(-np.log1p(np.float32(-_next_float(state))))
                if np.float32(yy + yy) > np.float32(xx * xx):
                    if (rabs >> np.uint64(8)) & _ONE:
                        return -np.float32(ziggurat_nor_r_f + xx)
                    return np.float32(ziggurat_nor_r_f + xx)
        elif (fi_float[idx - 1] - fi_float[idx]) * _next_float(state) + fi_float[idx] < np.exp(
                -0.5 * np.float64(x) * np.float64(x)):
            return x


@numba.njit(cache=True, nogil=True)
def _fill(state, out):
    for k in range(out.size):
        out[k] = _standard_normal(state)


@numba.njit(cache=True, nogil=True)
def _scale_and_add(state, out, out_scale, draws_scale):
    for k in range(out.size):
        out[k] = out[k] * out_scale + _standard_normal(state) * draws_scale


def standard_normal_into(rng: np.random.Generator, out: np.ndarray) -> np.ndarray:
    """Fill the contiguous float32 array ``out`` as ``rng.standard_normal(dtype=np.float32, out=out)`` does,
    with the same values, and leave ``rng`` where that call leaves it."""
    state = _checked_state(rng, out)
    _fill(state, out.reshape(-1))
    restore(rng, state)
    return out


def scale_and_add_normal(rng: np.random.Generator, out: np.ndarray, out_scale: float,
                         draws_scale: float) -> np.ndarray:
    """``out *= out_scale; out += draws_scale * Z`` in float32, Z the draws ``rng.standard_normal(out.shape,
    dtype=np.float32)`` gives, in one pass and without Z's array: the same values as those three numpy
    operations (each product and the sum rounded to float32), ``rng`` left where the draws leave it."""
    state = _checked_state(rng, out)
    _scale_and_add(state, out.reshape(-1), np.float32(out_scale), np.float32(draws_scale))
    restore(rng, state)
    return out


def _checked_state(rng: np.random.Generator, out: np.ndarray) -> np.ndarray:
    if out.dtype != np.float32 or not out.flags.c_contiguous:
        raise ValueError("compiled normal draws fill a C-contiguous float32 array")
    return state_of(rng)
