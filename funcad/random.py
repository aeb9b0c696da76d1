"""Counter-based random numbers as ``jax.random``, bit for bit (Threefry-2x32).

A key is a ``uint32[2]`` array, JAX's raw key layout for its default threefry implementation
(``jax.random.PRNGKey``). Keys are split, never mutated: the same key gives the same numbers,
eagerly, under ``jit`` (a compiled loop) and per example under ``vmap``. The bits follow JAX's
default ``jax_threefry_partitionable=True`` layout (JAX >= 0.5): element ``i`` of a draw is
``threefry2x32(key, (hi(i), lo(i)))`` for the 64-bit flat index ``i``.

    >>> from funcad import random
    >>> key = random.key(0)
    >>> k1, k2 = random.split(key)
    >>> random.normal(k1, (2,)).shape
    (2,)
"""

from __future__ import annotations

import math

import numpy as np

from . import numpy as fnp
from .core import bind, get_aval
from .errors import ArgumentError, DTypeError
from .lax import elementwise as ew
from .lax import special as sp
from .lax.random import combine_bits_p, threefry2x32_p, unit_float_p

__all__ = ["key", "PRNGKey", "split", "fold_in", "bits", "random_bits", "uniform", "normal",
           "exponential", "laplace", "logistic", "gumbel", "bernoulli", "threefry2x32_p",
           "threefry_2x32"]

# --------------------------------------------------------------------------------------
# Keys

def threefry_2x32(k0, k1, x0, x1):
    """The Threefry-2x32 hash of counters ``(x0, x1)`` under key ``(k0, k1)`` (broadcast)."""
    args = [fnp.asarray(v, dtype=np.uint32) for v in (k0, k1, x0, x1)]
    shape = np.broadcast_shapes(*(get_aval(a).shape for a in args))
    return bind(threefry2x32_p, *(fnp.broadcast_to(a, shape) for a in args))



def _check_key(k, fn):
    aval = get_aval(k)
    if aval.dtype != np.uint32 or aval.shape[-1:] != (2,):
        raise ArgumentError(
            f"funcad.random.{fn}: key must be a uint32 array of shape (..., 2) as made by "
            f"funcad.random.key(seed) (JAX's raw threefry key), got {aval.dtype}{list(aval.shape)}.")
    return k


def key(seed):
    """A key from an integer seed, as ``jax.random.PRNGKey`` with 64-bit seeds: ``[seed >> 32,
    seed & 0xFFFFFFFF]`` (uint32[2]).

    >>> key(0)
    array([0, 0], dtype=uint32)
    """
    if isinstance(seed, (bool, float)) or not np.issubdtype(np.asarray(seed).dtype, np.integer) \
            or np.ndim(seed):
        raise ArgumentError(f"funcad.random.key: seed must be an integer scalar, got {seed!r}.")
    if isinstance(seed, (int, np.integer)):
        s = int(seed) & 0xFFFFFFFFFFFFFFFF
        return np.array([s >> 32, s & 0xFFFFFFFF], np.uint32)
    raise ArgumentError(f"funcad.random.key: seed must be a concrete integer, got {seed!r}.")


PRNGKey = key


def split(key, num=2):
    """``num`` new keys from ``key`` (shape ``(num, 2)``, or ``(*num, 2)`` for a tuple).

    >>> split(key(0)).shape
    (2, 2)
    """
    _check_key(key, "split")
    shape = (num,) if isinstance(num, (int, np.integer)) else tuple(num)
    hi, lo = _iota_2x32(shape)
    b0, b1 = threefry_2x32(key[..., 0], key[..., 1], hi, lo)
    return fnp.stack([b0, b1], axis=-1)


def fold_in(key, data):
    """A new key from ``key`` and an integer ``data`` (as ``jax.random.fold_in``)."""
    _check_key(key, "fold_in")
    if isinstance(data, (int, np.integer)):
        data = np.uint32(int(data) & 0xFFFFFFFF)  # JAX converts data to uint32 first
    data = fnp.asarray(data)
    if get_aval(data).dtype.kind not in "iu" or get_aval(data).shape != ():
        raise ArgumentError(f"funcad.random.fold_in: data must be an integer scalar, got "
                            f"{get_aval(data).dtype}{list(get_aval(data).shape)}.")
    lo = fnp.asarray(data, dtype=np.uint32)  # JAX's threefry_seed of a uint32: [0, data]
    b0, b1 = threefry_2x32(key[..., 0], key[..., 1], np.zeros((), np.uint32), lo)
    return fnp.stack([b0, b1], axis=-1)


def _iota_2x32(shape):
    size = math.prod(shape)
    i = np.arange(size, dtype=np.uint64).reshape(shape)
    return (i >> np.uint64(32)).astype(np.uint32), i.astype(np.uint32)


def _raw_bits(key, shape, fn):
    """The two 32-bit words of each element of a draw of ``shape`` (JAX's partitionable
    ``_threefry_random_bits``)."""
    _check_key(key, fn)
    if get_aval(key).shape != (2,):
        raise ArgumentError(
            f"funcad.random.{fn}: key must be a single key of shape (2,), got shape "
            f"{get_aval(key).shape}; for many keys use vmap(lambda k: random.{fn}(k, ...))(keys).")
    shape = _shape(shape, fn)
    hi, lo = _iota_2x32(shape)
    return threefry_2x32(key[0], key[1], hi, lo)


def _shape(shape, fn):
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    try:
        return tuple(int(d) for d in shape)
    except TypeError:
        raise ArgumentError(f"funcad.random.{fn}: shape must be a tuple of ints, got {shape!r}.") from None


def bits(key, shape=(), dtype=None):
    """Uniform random bits (uint64 by default, as JAX with x64; or uint8/16/32)."""
    dtype = np.dtype(np.uint64 if dtype is None else dtype)
    if dtype.kind != "u":
        raise DTypeError(f"funcad.random.bits: dtype must be an unsigned integer type, got {dtype}.")
    b0, b1 = _raw_bits(key, shape, "bits")
    return bind(combine_bits_p, b0, b1, bit_width=dtype.itemsize * 8)


def random_bits(key, bit_width, shape):
    return bits(key, shape, np.dtype(f"uint{bit_width}"))


def _float_dtype(dtype, fn):
    dtype = np.dtype(np.float64 if dtype is None else dtype)
    if dtype not in (np.float32, np.float64):
        raise DTypeError(f"funcad.random.{fn}: dtype must be float32 or float64, got {dtype}.")
    return dtype


def _uniform01(key, shape, dtype, fn):
    b0, b1 = _raw_bits(key, shape, fn)
    return bind(unit_float_p, b0, b1, dtype=dtype.str)


def uniform(key, shape=(), dtype=None, minval=0.0, maxval=1.0):
    """Uniform floats in ``[minval, maxval)`` (float64 by default), as ``jax.random.uniform``.

    >>> float(uniform(key(0))) < 1.0
    True
    """
    dtype = _float_dtype(dtype, "uniform")
    shape = _shape(shape, "uniform")
    minval, maxval = fnp.asarray(minval, dtype=dtype), fnp.asarray(maxval, dtype=dtype)
    u = _uniform01(key, shape, dtype, "uniform")
    return fnp.maximum(minval, u * (maxval - minval) + minval)


def normal(key, shape=(), dtype=None):
    """Standard normal floats, ``sqrt(2) * erfinv(u)`` for ``u`` uniform on ``(-1, 1)`` as
    ``jax.random.normal`` (JAX's erfinv is XLA's polynomial, funcad's SciPy's: equal to
    within an ulp or two, not bit for bit)."""
    dtype = _float_dtype(dtype, "normal")
    lo = np.nextafter(np.array(-1.0, dtype), np.array(0.0, dtype))
    u = uniform(key, shape, dtype, lo, 1.0)
    return ew.mul(np.array(np.sqrt(2), dtype), sp.erfinv(u))


def exponential(key, shape=(), dtype=None):
    """Exponential(1) floats: ``-log1p(-u)`` as ``jax.random.exponential``."""
    u = uniform(key, shape, _float_dtype(dtype, "exponential"))
    return -fnp.log1p(-u)


def laplace(key, shape=(), dtype=None):
    """Laplace(0, 1) floats: ``sign(u) log1p(-|u|)`` for ``u`` on ``(-1, 1)``, as JAX."""
    dtype = _float_dtype(dtype, "laplace")
    u = uniform(key, shape, dtype, -1.0 + np.finfo(dtype).epsneg, 1.0)
    return fnp.sign(u) * fnp.log1p(-fnp.abs(u))


def logistic(key, shape=(), dtype=None):
    """Standard logistic floats: ``log(u) - log1p(-u)``, as JAX."""
    dtype = _float_dtype(dtype, "logistic")
    x = uniform(key, shape, dtype, np.finfo(dtype).tiny, 1.0)
    return fnp.log(x) - fnp.log1p(-x)


def gumbel(key, shape=(), dtype=None):
    """Standard Gumbel floats: ``-log(-log(u))`` for ``u`` on ``[tiny, 1)``, as JAX's
    default ``mode='low'``."""
    dtype = _float_dtype(dtype, "gumbel")
    u = uniform(key, shape, dtype, np.finfo(dtype).tiny, 1.0)
    return -fnp.log(-fnp.log(u))


def bernoulli(key, p=0.5, shape=None):
    """Booleans, True with probability ``p``: ``uniform(key, shape) < p`` as JAX."""
    p = fnp.asarray(p)
    if shape is None:
        shape = get_aval(p).shape
    dtype = get_aval(p).dtype if get_aval(p).dtype.kind == "f" else np.dtype(np.float64)
    return uniform(key, shape, dtype) < p
