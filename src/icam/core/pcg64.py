"""numpy's PCG64 bit generator compiled, for loops that draw millions of numbers: a Generator's state read
into a uint64 array (:func:`state_of`), drawn from inside numba functions (:func:`next_uint32`,
:func:`bounded_uint32`) and written back (:func:`restore`), so that the Generator goes on as if numpy had
drawn them.

numpy calls the bit generator through a function pointer for every draw; inlined into one compiled loop
the same numbers cost a fraction of it. The numbers are numpy's, to the bit: its PCG64 (``pcg64.h``: a
128-bit LCG of multiplier 0x2360ED051FC65DA44385DF649FCCF645, the XSL-RR output, each 64-bit output split
into two 32-bit draws, low half first) and its bounded integers (``distributions.c``:
``buffered_bounded_lemire_uint32``, Lemire 2019, arXiv:1805.10941).
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

_MULTIPLIER_HIGH = np.uint64(2549297995355413924)  # PCG_DEFAULT_MULTIPLIER_128
_MULTIPLIER_LOW = np.uint64(4865540595714422341)
_LOW_32 = np.uint64(0xFFFFFFFF)
_ZERO, _ONE = np.uint64(0), np.uint64(1)
_MASK_64 = (1 << 64) - 1


@intrinsic
def _mul_high(typingctx, a, b):
    """The high 64 bits of the 128-bit product of two uint64 (one instruction; numba has no 128-bit integer)."""
    def codegen(context, builder, signature, args):
        wide = ir.IntType(128)
        product = builder.mul(builder.zext(args[0], wide), builder.zext(args[1], wide))
        return builder.trunc(builder.lshr(product, ir.Constant(wide, 64)), ir.IntType(64))
    return types.uint64(types.uint64, types.uint64), codegen


@numba.njit(inline="always")
def next_uint32(state):
    """numpy's ``pcg64_next32``: ``state`` (:func:`state_of`) updated in place."""
    if state[4]:
        state[4] = _ZERO
        return state[5]
    high, low = state[0], state[1]
    product_low = low * _MULTIPLIER_LOW
    high = _mul_high(low, _MULTIPLIER_LOW) + low * _MULTIPLIER_HIGH + high * _MULTIPLIER_LOW
    low = product_low + state[3]
    high = high + state[2] + (_ONE if low < product_low else _ZERO)
    state[0], state[1] = high, low
    xored, rotation = high ^ low, high >> np.uint64(58)
    output = (xored >> rotation) | (xored << ((np.uint64(64) - rotation) & np.uint64(63)))
    state[4], state[5] = _ONE, output >> np.uint64(32)
    return output & _LOW_32


@numba.njit(inline="always")
def bounded_uint32(state, highest):
    """An integer uniform on 0 … ``highest`` (uint64, below 2³² − 1), as numpy's ``random_bounded_uint64``
    draws it without a mask: Lemire's multiply-and-reject on 32-bit draws."""
    if highest == 0:
        return _ZERO
    span = highest + _ONE
    product = next_uint32(state) * span
    leftover = product & _LOW_32
    if leftover < span:
        threshold = (_LOW_32 - highest) % span
        while leftover < threshold:
            product = next_uint32(state) * span
            leftover = product & _LOW_32
    return product >> np.uint64(32)


def state_of(rng: np.random.Generator) -> np.ndarray:
    """The state of ``rng``'s PCG64 as the compiled draws read it: [state high, state low, increment high,
    increment low, has a buffered half, the buffered half] (uint64)."""
    bits = rng.bit_generator.state
    if bits["bit_generator"] != "PCG64":
        raise ValueError(f"compiled draws need a PCG64 generator, not {bits['bit_generator']}")
    lcg, increment = bits["state"]["state"], bits["state"]["inc"]
    return np.array([lcg >> 64, lcg & _MASK_64, increment >> 64, increment & _MASK_64, bits["has_uint32"],
                     bits["uinteger"]], np.uint64)


def restore(rng: np.random.Generator, state: np.ndarray) -> None:
    """Put ``state`` (:func:`state_of`, drawn from since) back into ``rng``."""
    bits = rng.bit_generator.state
    bits["state"]["state"] = int(state[0]) << 64 | int(state[1])
    bits["has_uint32"], bits["uinteger"] = int(state[4]), int(state[5])
    rng.bit_generator.state = bits


# numpy's choice without replacement shuffles the tail of the population where the sample is more than this
# share of it (and the population more than TAIL_SHUFFLE_MIN): Floyd's algorithm below
TAIL_SHUFFLE_DIVISOR, TAIL_SHUFFLE_MIN = 50, 10_000


def chosen_mask(rng: np.random.Generator, population: int, size: int) -> np.ndarray:
    """Which of 0 … ``population`` − 1 ``rng.choice(population, size, replace=False)`` draws (bool), ``rng``
    left where that call leaves it. A large sample is numpy's tail shuffle compiled (its Fisher–Yates steps
    from the last position down, each with :func:`bounded_uint32`), on int32 positions where they fit and each
    value marked as its position is settled, instead of an int64 array of the population copied and indexed;
    a small one is numpy's own draw (Floyd's algorithm, already fast)."""
    if not 0 <= size <= population:
        raise ValueError(f"cannot draw {size} of {population} without replacement")
    chosen = np.zeros(population, bool)
    if population <= TAIL_SHUFFLE_MIN or size <= population // TAIL_SHUFFLE_DIVISOR or population >= 2 ** 32 - 1:
        chosen[rng.choice(population, size=size, replace=False)] = True
        return chosen
    state = state_of(rng)
    positions = np.arange(population, dtype=np.int32 if population < 2 ** 31 else np.int64)
    _tail_shuffle_marks(state, positions, max(population - size, 1), chosen)
    restore(rng, state)
    if size == population:  # the shuffle stops at position 1: position 0 is drawn too
        chosen[positions[0]] = True
    return chosen


@numba.njit(cache=True, nogil=True)
def _tail_shuffle_marks(state, positions, first, chosen):
    for i in range(positions.size - 1, first - 1, -1):
        j = bounded_uint32(state, np.uint64(i))
        value = positions[j]
        positions[j] = positions[i]
        positions[i] = value
        chosen[value] = True
