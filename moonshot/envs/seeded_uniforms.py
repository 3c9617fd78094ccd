"""numpy's ``default_rng([id, salt]).random(count)`` for a whole batch of ids, in one compiled call.

A scenario is a pure function of its id: its numbers are the first draws of a generator seeded
with ``[id, salt]``. Building that generator in Python (SeedSequence, PCG64, Generator) costs
~15 µs per id, a third of a 256-launch batched step; :func:`seeded_uniforms` redoes numpy's
arithmetic in a numba loop over the ids, bit for bit (``tests/test_moon_env.py`` compares it
with numpy on 100,000 ids):

* ``SeedSequence([id, salt])`` (numpy/random/bit_generator.pyx): the entropy is the uint32 words
  of the id (lowest first; one word below 2**32, two above) followed by the salt's word, hashed
  into a pool of 4 words (``hashmix``, ``mix``); ``generate_state(4, uint64)`` hashes 8 words
  out of the pool and pairs them little-endian into 4 uint64.
* ``PCG64`` (numpy/random/src/pcg64/pcg64.h): ``pcg_setseq_128_srandom_r`` with state
  ``words[0] << 64 | words[1]`` and sequence ``words[2] << 64 | words[3]``; each output is a
  128-bit LCG step followed by XSL-RR. 128-bit values are held as (high, low) uint64 pairs.
* ``Generator.random``: ``(next_uint64 >> 11) * 2**-53``.

``Generator.uniform(lo, hi)`` is then ``lo + (hi - lo) * u`` (numpy's ``random_uniform``).
All integer arithmetic is on ``np.uint64`` (numba would turn mixed signed/unsigned arithmetic
into floats); uint32 arithmetic is uint64 masked to 32 bits.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import ArrayLike

_U32 = np.uint64(0xFFFF_FFFF)
_S1, _S11, _S16, _S32, _S58, _S63 = (np.uint64(k) for k in (1, 11, 16, 32, 58, 63))
_ZERO, _ONE = np.uint64(0), np.uint64(1)

# SeedSequence constants (bit_generator.pyx), pool size 4.
_POOL = 4
_INIT_A = np.uint64(0x43B0_D7E5)
_MULT_A = np.uint64(0x931E_8875)
_INIT_B = np.uint64(0x8B51_F9DD)
_MULT_B = np.uint64(0x58F3_8DED)
_MIX_MULT_L = np.uint64(0xCA01_F9DD)
_MIX_MULT_R = np.uint64(0x4973_F715)

# PCG64's 128-bit LCG multiplier (PCG_DEFAULT_MULTIPLIER_HIGH / _LOW).
_PCG_MULT_HIGH = np.uint64(2549297995355413924)
_PCG_MULT_LOW = np.uint64(4865540595714422341)

_DOUBLE_UNIT = 1.0 / 9007199254740992.0  # 2**-53


@njit(cache=True)
def _hashmix(value, hash_const):
    """SeedSequence's ``hashmix``; returns ``(hashed value, next hash_const)``."""
    value = value ^ hash_const
    hash_const = (hash_const * _MULT_A) & _U32
    value = (value * hash_const) & _U32
    return value ^ (value >> _S16), hash_const


@njit(cache=True)
def _mix(x, y):
    result = (_MIX_MULT_L * x - _MIX_MULT_R * y) & _U32
    return result ^ (result >> _S16)


@njit(cache=True)
def _mul_high(a, b):
    """High 64 bits of the 128-bit product of two uint64."""
    a0, a1 = a & _U32, a >> _S32
    b0, b1 = b & _U32, b >> _S32
    p00, p01, p10, p11 = a0 * b0, a0 * b1, a1 * b0, a1 * b1
    mid = (p00 >> _S32) + (p01 & _U32) + (p10 & _U32)
    return p11 + (p01 >> _S32) + (p10 >> _S32) + (mid >> _S32)


@njit(cache=True)
def _pcg_step(high, low, inc_high, inc_low):
    """One LCG step ``state * MULT + inc (mod 2**128)``; returns the new ``(high, low)``."""
    prod_low = low * _PCG_MULT_LOW
    prod_high = _mul_high(low, _PCG_MULT_LOW) + low * _PCG_MULT_HIGH + high * _PCG_MULT_LOW
    new_low = prod_low + inc_low
    carry = _ONE if new_low < prod_low else _ZERO
    return prod_high + inc_high + carry, new_low


@njit(cache=True)
def _xsl_rr(high, low):
    """PCG64's output: rotate ``high ^ low`` right by the top 6 bits of the state."""
    value = high ^ low
    rot = high >> _S58
    return (value >> rot) | (value << ((np.uint64(64) - rot) & _S63))


@njit(cache=True)
def _seeded_uniforms(ids, salt, out):
    pool = np.empty(_POOL, np.uint64)
    entropy = np.empty(_POOL, np.uint64)
    state = np.empty(2 * _POOL, np.uint64)
    for j in range(ids.shape[0]):
        # Entropy words: the id's uint32 words (lowest first), then the salt.
        sid = ids[j]
        n_words = 0
        entropy[n_words] = sid & _U32
        n_words += 1
        if sid >> _S32 != _ZERO:
            entropy[n_words] = sid >> _S32
            n_words += 1
        entropy[n_words] = salt
        n_words += 1
        # SeedSequence.mix_entropy
        hash_const = _INIT_A
        for i in range(_POOL):
            pool[i], hash_const = _hashmix(entropy[i] if i < n_words else _ZERO, hash_const)
        for i_src in range(_POOL):
            for i_dst in range(_POOL):
                if i_src != i_dst:
                    hashed, hash_const = _hashmix(pool[i_src], hash_const)
                    pool[i_dst] = _mix(pool[i_dst], hashed)
        # SeedSequence.generate_state(4, np.uint64): 8 uint32 words cycling over the pool.
        hash_const = _INIT_B
        for i in range(2 * _POOL):
            value = pool[i % _POOL] ^ hash_const
            hash_const = (hash_const * _MULT_B) & _U32
            value = (value * hash_const) & _U32
            state[i] = value ^ (value >> _S16)
        seed_high = state[0] | (state[1] << _S32)
        seed_low = state[2] | (state[3] << _S32)
        seq_high = state[4] | (state[5] << _S32)
        seq_low = state[6] | (state[7] << _S32)
        # pcg_setseq_128_srandom_r
        inc_high = (seq_high << _S1) | (seq_low >> _S63)
        inc_low = (seq_low << _S1) | _ONE
        high, low = _pcg_step(_ZERO, _ZERO, inc_high, inc_low)
        low_sum = low + seed_low
        high = high + seed_high + (_ONE if low_sum < low else _ZERO)
        high, low = _pcg_step(high, low_sum, inc_high, inc_low)
        # Generator.random: step, XSL-RR, top 53 bits.
        for d in range(out.shape[1]):
            high, low = _pcg_step(high, low, inc_high, inc_low)
            out[j, d] = np.float64(_xsl_rr(high, low) >> _S11) * _DOUBLE_UNIT


def seeded_uniforms(ids: ArrayLike, salt: int, count: int) -> np.ndarray:
    """Row ``j`` is ``np.random.default_rng([ids[j], salt]).random(count)``, bit for bit.

    :param ids: non-negative integers below 2**63
    :param salt: an integer in [0, 2**32) (one entropy word)
    :param count: uniforms per id
    :return: float64 array of shape ``(len(ids), count)``, values in [0, 1)
    """
    ids = np.atleast_1d(np.asarray(ids, dtype=np.int64))
    if ids.ndim != 1:
        raise ValueError(f"ids must be one-dimensional, got shape {ids.shape}")
    if ids.size and ids.min() < 0:
        raise ValueError(f"ids must be non-negative, got {int(ids.min())}")
    if not 0 <= salt < 2**32:
        raise ValueError(f"salt must be in [0, 2**32), got {salt}")
    out = np.empty((len(ids), int(count)))
    _seeded_uniforms(ids.astype(np.uint64), np.uint64(salt), out)
    return out
