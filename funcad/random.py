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
from .lax import random as rl
from .lax.random import random_draw_p, threefry2x32_p

__all__ = ["key", "PRNGKey", "key_data", "wrap_key_data", "split", "fold_in", "bits", "random_bits",
           "uniform", "normal", "exponential", "laplace", "logistic", "gumbel", "bernoulli", "randint",
           "categorical", "permutation", "choice", "truncated_normal", "multivariate_normal", "orthogonal",
           "gamma", "loggamma", "beta", "dirichlet", "poisson", "t",
           "threefry2x32_p", "threefry_2x32"]

# --------------------------------------------------------------------------------------
# Keys

def threefry_2x32(k0, k1, x0, x1):
    """The Threefry-2x32 hash of counters ``(x0, x1)`` under key ``(k0, k1)`` (broadcast)."""
    args = [fnp.asarray(v, dtype=np.uint32) for v in (k0, k1, x0, x1)]
    shape = np.broadcast_shapes(*(get_aval(a).shape for a in args))
    return bind(threefry2x32_p, *(a if get_aval(a).shape == shape or get_aval(a).size == 1
                                  else fnp.broadcast_to(a, shape) for a in args))



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


def key_data(keys):
    """The uint32 data of ``keys`` (``jax.random.key_data``): funcad's keys are JAX's raw
    threefry keys, so this is the array itself.

    >>> key_data(key(1))
    array([0, 1], dtype=uint32)
    """
    return _check_key(keys, "key_data")


def wrap_key_data(key_bits_array, *, impl=None):
    """Keys from their uint32 data (``jax.random.wrap_key_data``; only threefry2x32 keys).

    >>> wrap_key_data(key_data(key(1)))
    array([0, 1], dtype=uint32)
    """
    if impl not in (None, "threefry2x32"):
        raise ArgumentError(f"funcad.random.wrap_key_data: impl {impl!r} is not available; funcad's keys "
                            "are threefry2x32 (as JAX's default).")
    return _check_key(key_bits_array, "wrap_key_data")


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


def _draw(key, shape, kind, dtype, fn):
    """A draw of ``shape`` under one key (JAX's partitionable ``_threefry_random_bits``, and
    its floats, in one loop)."""
    _check_key(key, fn)
    if get_aval(key).shape != (2,):
        raise ArgumentError(
            f"funcad.random.{fn}: key must be a single key of shape (2,), got shape "
            f"{get_aval(key).shape}; for many keys use vmap(lambda k: random.{fn}(k, ...))(keys).")
    return bind(random_draw_p, key[0], key[1], shape=_shape(shape, fn), kind=kind, dtype=np.dtype(dtype).str)


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
    return _draw(key, shape, "bits", dtype, "bits")


def random_bits(key, bit_width, shape):
    return bits(key, shape, np.dtype(f"uint{bit_width}"))


def _float_dtype(dtype, fn):
    dtype = np.dtype(np.float64 if dtype is None else dtype)
    if dtype not in (np.float32, np.float64):
        raise DTypeError(f"funcad.random.{fn}: dtype must be float32 or float64, got {dtype}.")
    return dtype


def _uniform01(key, shape, dtype, fn):
    return _draw(key, shape, "uniform", dtype, fn)


def uniform(key, shape=(), dtype=None, minval=0.0, maxval=1.0):
    """Uniform floats in ``[minval, maxval)`` (float64 by default), as ``jax.random.uniform``.

    >>> float(uniform(key(0))) < 1.0
    True
    """
    dtype = _float_dtype(dtype, "uniform")
    shape = _shape(shape, "uniform")
    minval, maxval = fnp.asarray(minval, dtype=dtype), fnp.asarray(maxval, dtype=dtype)
    u = _uniform01(key, shape, dtype, "uniform")
    if all(isinstance(v, np.ndarray) and v.shape == () for v in (minval, maxval)) \
            and minval == 0 and maxval == 1:
        return u  # max(0, u * 1 + 0) is u
    return fnp.maximum(minval, bind(rl.fma_p, u, maxval - minval, minval))  # XLA contracts it


def normal(key, shape=(), dtype=None):
    """Standard normal floats as ``jax.random.normal``, bit for bit: ``sqrt(2) * erf_inv(u)``
    for ``u`` uniform on ``(-1, 1)``, with XLA's ``erf_inv`` (Giles' polynomials), drawn in
    one compiled loop.

    >>> normal(key(0), (2, 3)).shape
    (2, 3)
    """
    return _draw(key, shape, "normal", _float_dtype(dtype, "normal"), "normal")


def exponential(key, shape=(), dtype=None):
    """Exponential(1) floats: ``-log1p(-u)`` as ``jax.random.exponential``, with XLA's CPU
    ``log1p`` (float64 bit for bit), drawn in one compiled loop.

    >>> bool(exponential(key(0)) >= 0)
    True
    """
    return _draw(key, shape, "exponential", _float_dtype(dtype, "exponential"), "exponential")


def laplace(key, shape=(), dtype=None):
    """Laplace(0, 1) floats: ``sign(u) log1p(-|u|)`` for ``u`` uniform on ``(-1, 1)``, as
    ``jax.random.laplace`` (bit for bit: XLA's log1p), drawn in one compiled loop."""
    return _draw(key, shape, "laplace", _float_dtype(dtype, "laplace"), "laplace")


def logistic(key, shape=(), dtype=None):
    """Standard logistic floats: ``log(u) - log1p(-u)`` for ``u`` uniform on ``[tiny, 1)``, as
    ``jax.random.logistic`` (bit for bit: XLA's log and log1p), drawn in one compiled loop."""
    return _draw(key, shape, "logistic", _float_dtype(dtype, "logistic"), "logistic")


def gumbel(key, shape=(), dtype=None):
    """Standard Gumbel floats: ``-log(-log(u))`` for ``u`` uniform on ``[tiny, 1)``, as
    ``jax.random.gumbel``'s default ``mode='low'`` (bit for bit: XLA's log), drawn in one
    compiled loop."""
    return _draw(key, shape, "gumbel", _float_dtype(dtype, "gumbel"), "gumbel")


def bernoulli(key, p=0.5, shape=None):
    """Booleans, True with probability ``p``: ``uniform(key, shape) < p`` as JAX."""
    p = fnp.asarray(p)
    if shape is None:
        shape = get_aval(p).shape
    dtype = get_aval(p).dtype if get_aval(p).dtype.kind == "f" else np.dtype(np.float64)
    return uniform(key, shape, dtype) < p


def _int_dtype(dtype, fn):
    dtype = np.dtype(np.int64 if dtype is None else dtype)
    if dtype.kind not in "iu" or dtype.itemsize not in (4, 8):
        raise DTypeError(f"funcad.random.{fn}: dtype must be a 32- or 64-bit integer type, got {dtype}.")
    return dtype


def randint(key, shape, minval, maxval, dtype=None):
    """Integers in ``[minval, maxval)`` as ``jax.random.randint``: two draws of the dtype's
    width combined modulo the span (bias ~ span**2 / 2**(2 nbits), as JAX).

    >>> int(randint(key(0), (), 0, 10)) in range(10)
    True
    """
    dtype = _int_dtype(dtype, "randint")
    shape = _shape(shape, "randint")
    nbits = dtype.itemsize * 8
    udt = np.dtype(f"uint{nbits}")
    info = np.iinfo(dtype)
    for name, v in (("minval", minval), ("maxval", maxval)):
        if (vdt := get_aval(fnp.asarray(v)).dtype).kind not in "iub":
            raise DTypeError(f"funcad.random.randint: {name} must be an integer, got {vdt}.")
    wide_max = fnp.asarray(maxval, dtype=np.int64)
    out_of_range = wide_max > info.max
    lo_v = fnp.asarray(fnp.clip(fnp.asarray(minval, dtype=np.int64), info.min, info.max), dtype=dtype)
    hi_v = fnp.asarray(fnp.clip(wide_max, info.min, info.max), dtype=dtype)
    k1, k2 = split(key)
    higher, lower = bits(k1, shape, udt), bits(k2, shape, udt)
    span = fnp.asarray(hi_v, dtype=udt) - fnp.asarray(lo_v, dtype=udt)  # wraps as JAX's convert
    one = np.ones((), udt)
    span = fnp.where(hi_v <= lo_v, one, span)
    span = fnp.where(fnp.logical_and(out_of_range, hi_v > lo_v), span + one, span)
    with np.errstate(over="ignore"):  # unsigned products wrap, as JAX's (no warning there)
        mult = fnp.remainder(np.array(2 ** (nbits // 2), udt), span)
        mult = fnp.remainder(mult * mult, span)
        offset = fnp.remainder(fnp.remainder(higher, span) * mult + fnp.remainder(lower, span), span)
    return lo_v + fnp.asarray(offset, dtype=dtype)


def categorical(key, logits, axis=-1, shape=None):
    """Category indices with probabilities ``softmax(logits)`` by the Gumbel-max trick, as
    ``jax.random.categorical``."""
    logits = fnp.asarray(logits)
    lshape = get_aval(logits).shape
    axis = axis % len(lshape)
    batch_shape = lshape[:axis] + lshape[axis + 1:]
    shape = batch_shape if shape is None else _shape(shape, "categorical")
    if shape[len(shape) - len(batch_shape):] != batch_shape:
        raise ArgumentError(f"funcad.random.categorical: shape {shape} must end with the logits' "
                            f"batch shape {batch_shape} (logits shape {lshape}, axis {axis}).")
    prefix = shape[:len(shape) - len(batch_shape)]
    dtype = get_aval(logits).dtype if get_aval(logits).dtype.kind == "f" else np.dtype(np.float64)
    ax = axis - len(lshape)
    g = gumbel(key, prefix + lshape, dtype)
    return fnp.argmax(g + fnp.reshape(logits, (1,) * len(prefix) + lshape), axis=ax)


def _shuffle(key, x, axis):
    """JAX's sort-based shuffle: ``ceil(3 log(n) / log(2**32 - 1))`` rounds of sorting by fresh
    32-bit keys (a stable sort here; JAX's sort_key_val may order equal keys otherwise, which
    for 32-bit keys happens with probability ~ n**2 / 2**33)."""
    n = get_aval(x).size
    rounds = int(np.ceil(3 * np.log(max(1, n)) / np.log(np.iinfo(np.uint32).max)))
    for _ in range(rounds):
        key, sub = split(key)
        order = fnp.argsort(bits(sub, get_aval(x).shape, np.uint32), axis=axis, stable=True)
        x = fnp.take_along_axis(x, order, axis=axis)
    return x


def permutation(key, x, axis=0, independent=False):
    """A random permutation of ``arange(x)`` (an int) or of ``x`` along ``axis``, as
    ``jax.random.permutation``."""
    if isinstance(x, (int, np.integer)):
        return _shuffle(key, fnp.arange(int(x)), 0)
    x = fnp.asarray(x)
    ndim = get_aval(x).ndim
    if ndim == 0:
        raise ArgumentError("funcad.random.permutation: x must be an int or an array of rank >= 1.")
    axis = axis % ndim
    if independent or ndim == 1:
        return _shuffle(key, x, axis)
    ind = _shuffle(key, fnp.arange(get_aval(x).shape[axis]), 0)
    return fnp.take(x, ind, axis=axis)


def choice(key, a, shape=(), replace=True, p=None, axis=0):
    """Samples from ``a`` (an int n: ``arange(n)``) as ``jax.random.choice``."""
    shape = _shape(shape, "choice")
    if isinstance(a, (int, np.integer)):
        arr, n = None, int(a)
    else:
        arr = fnp.asarray(a)
        axis = axis % max(1, get_aval(arr).ndim)
        n = get_aval(arr).shape[axis]
    draws = math.prod(shape)
    if n <= 0 and draws:
        raise ArgumentError("funcad.random.choice: a must be greater than 0 unless no samples are taken.")
    if not replace and draws > n:
        raise ArgumentError(f"funcad.random.choice: cannot take a larger sample (size {draws}) than "
                            f"the population (size {n}) when replace=False.")
    if p is None:
        if replace:
            ind = randint(key, shape, 0, n)
        else:
            ind = permutation(key, n)[:draws]
    else:
        p = fnp.asarray(p)
        if get_aval(p).shape != (n,):
            raise ArgumentError(f"funcad.random.choice: p must be a vector of length {n} "
                                f"(a.shape[axis]), got shape {get_aval(p).shape}.")
        if replace:
            cum = fnp.cumsum(p)
            u = cum[-1] * (1 - uniform(key, shape, get_aval(cum).dtype))
            ind = fnp.asarray(fnp.searchsorted(cum, u), dtype=np.int64)
        else:
            g = gumbel(key, (n,), get_aval(p).dtype) + fnp.log(p)
            ind = fnp.argsort(-g, stable=True)[:draws]
    ind = fnp.reshape(ind, shape)
    if arr is None:
        return ind
    return fnp.take(arr, ind, axis=axis)


def truncated_normal(key, lower, upper, shape=None, dtype=None):
    """Standard normal floats conditioned on ``lower < x < upper``, by inverting the CDF as
    ``jax.random.truncated_normal``, bit for bit (XLA's CPU ``erf`` and ``erf_inv``).

    >>> from funcad import random
    >>> x = random.truncated_normal(random.key(0), -1.0, 2.0, (3,))
    >>> bool(((x > -1) & (x < 2)).all())
    True
    """
    dtype = _float_dtype(dtype, "truncated_normal")
    lower, upper = fnp.asarray(lower, dtype=dtype), fnp.asarray(upper, dtype=dtype)
    if shape is None:
        shape = np.broadcast_shapes(get_aval(lower).shape, get_aval(upper).shape)
    sqrt2 = np.array(np.sqrt(2), dtype)
    inv_sqrt2 = dtype.type(1) / sqrt2  # XLA rewrites x / sqrt2 as x * (1 / sqrt2)
    a, b = bind(rl.xla_erf_p, lower * inv_sqrt2), bind(rl.xla_erf_p, upper * inv_sqrt2)
    u = uniform(key, shape, dtype, a, b)
    out = sqrt2 * bind(rl.xla_erf_inv_p, u)
    lo, hi = ew.stop_gradient(lower), ew.stop_gradient(upper)
    # Into the open interval (rounding could land on a bound), as JAX.
    return fnp.clip(out, bind(rl.nextafter_p, lo, dtype.type(np.inf)),
                    bind(rl.nextafter_p, hi, dtype.type(-np.inf)))


def multivariate_normal(key, mean, cov, shape=None, dtype=None, method="cholesky"):
    """Normal vectors with ``mean`` (..., n) and covariance ``cov`` (..., n, n): ``mean +
    factor @ normal`` with ``factor`` from ``method`` ('cholesky', 'eigh' or 'svd'), as JAX."""
    dtype = _float_dtype(dtype, "multivariate_normal")
    mean, cov = fnp.asarray(mean, dtype=dtype), fnp.asarray(cov, dtype=dtype)
    ms, cs = get_aval(mean).shape, get_aval(cov).shape
    if len(ms) < 1 or len(cs) < 2 or cs[-2:] != (ms[-1], ms[-1]):
        raise ArgumentError(f"funcad.random.multivariate_normal: needs mean (..., n) and cov "
                            f"(..., n, n), got mean {ms} and cov {cs}.")
    if shape is None:
        shape = np.broadcast_shapes(ms[:-1], cs[:-2])
    shape = _shape(shape, "multivariate_normal")
    if method == "svd":
        u, s, _ = fnp.linalg.svd(cov)
        factor = u * fnp.sqrt(s[..., None, :])
    elif method == "eigh":
        w, v = fnp.linalg.eigh(cov)
        factor = v * fnp.sqrt(w[..., None, :])
    elif method == "cholesky":
        factor = fnp.linalg.cholesky(cov)
    else:
        raise ArgumentError(f"funcad.random.multivariate_normal: method must be 'cholesky', "
                            f"'eigh' or 'svd', got {method!r}.")
    z = normal(key, shape + ms[-1:], dtype)
    if len(cs) == 2:  # one factor: a matrix product, summed in the order XLA's dot sums (float64)
        return mean + fnp.matmul(z, fnp.swapaxes(factor, -1, -2))
    return mean + fnp.einsum("...ij,...j->...i", factor, z)


def orthogonal(key, n, shape=(), dtype=None, m=None):
    """Haar-random orthogonal matrices (..., n, m): QR of a normal matrix with the signs of
    R's diagonal moved into Q, as ``jax.random.orthogonal``."""
    dtype = _float_dtype(dtype, "orthogonal")
    m = n if m is None else m
    shape = _shape(shape, "orthogonal")
    z = normal(key, shape + (max(n, m), min(n, m)), dtype)
    q, r_ = fnp.linalg.qr(z)
    d = fnp.diagonal(r_, axis1=-2, axis2=-1)
    x = q * fnp.expand_dims(fnp.sign(d), -2)
    return fnp.swapaxes(x, -1, -2) if n < m else x


def gamma(key, a, shape=None, dtype=None):
    """Gamma(a, 1) floats as ``jax.random.gamma``: JAX's Marsaglia-Tsang rejection sampler
    with its key splitting, one compiled loop per element; bit for bit for float64 (float32
    is drawn in float64 and rounded, not JAX's float32 numbers). Differentiable in ``a`` by
    implicit reparameterisation (``dx/da = -(dF/da) / pdf`` at the sample, JAX's
    ``random_gamma_grad``), hence so are ``beta``, ``dirichlet`` and ``t``.

    >>> from funcad import grad
    >>> g = grad(lambda a: gamma(key(0), a))(2.0)
    """
    return _gamma(key, a, shape, dtype, "gamma", log_space=False)


def loggamma(key, a, shape=None, dtype=None):
    """The logarithm of Gamma(a, 1) floats, drawn in log space as ``jax.random.loggamma``
    (accurate for small ``a``, where the sample itself underflows); float64 bit for bit.

    >>> bool(loggamma(key(0), 0.01) < 0)
    True
    """
    return _gamma(key, a, shape, dtype, "loggamma", log_space=True)


def _gamma(key, a, shape, dtype, fn, log_space):
    dtype = _float_dtype(dtype, fn)
    a = fnp.asarray(a, dtype=dtype)
    shape = get_aval(a).shape if shape is None else _shape(shape, fn)
    _check_key(key, fn)
    if get_aval(key).shape != (2,):
        raise ArgumentError(f"funcad.random.{fn}: key must be a single key of shape (2,), got shape "
                            f"{get_aval(key).shape}; for many keys use vmap.")
    if get_aval(a).shape != shape:
        a = fnp.broadcast_to(a, shape)
    return bind(rl.random_gamma_p, key[0], key[1], a, log_space=log_space)


def beta(key, a, b, shape=None, dtype=None):
    """Beta(a, b) floats as ``jax.random.beta``: ``Ga / (Ga + Gb)`` from log-space gamma
    draws, scaled by their maximum, with XLA's exp (float64 bit for bit).

    >>> 0 < float(beta(key(0), 2.0, 3.0)) < 1
    True
    """
    dtype = _float_dtype(dtype, "beta")
    a, b = fnp.asarray(a, dtype=dtype), fnp.asarray(b, dtype=dtype)
    if shape is None:
        shape = np.broadcast_shapes(get_aval(a).shape, get_aval(b).shape)
    ka, kb = split(key)
    la, lb = loggamma(ka, a, shape, dtype), loggamma(kb, b, shape, dtype)
    top = fnp.maximum(la, lb)
    ea, eb = bind(rl.xla_exp_p, la - top), bind(rl.xla_exp_p, lb - top)
    return ea / (ea + eb)


def dirichlet(key, alpha, shape=None, dtype=None):
    """Dirichlet(alpha) vectors (..., k) as ``jax.random.dirichlet``: the softmax of log-space
    gamma draws, with XLA's exp (float64 bit for bit).

    >>> float(dirichlet(key(0), np.ones(3)).sum())
    1.0
    """
    dtype = _float_dtype(dtype, "dirichlet")
    alpha = fnp.asarray(alpha, dtype=dtype)
    ash = get_aval(alpha).shape
    if len(ash) < 1:
        raise ArgumentError(f"funcad.random.dirichlet: alpha must have rank >= 1, got shape {ash}.")
    shape = ash[:-1] if shape is None else _shape(shape, "dirichlet")
    lg = loggamma(key, alpha, shape + ash[-1:], dtype)
    e = bind(rl.xla_exp_p, lg - ew.stop_gradient(fnp.max(lg, axis=-1, keepdims=True)))
    return e * (1.0 / fnp.sum(e, axis=-1, keepdims=True))  # XLA's rewrite of the division


def _poisson_int_dtype(dtype):
    dtype = np.dtype(np.int64 if dtype is None else dtype)
    if dtype.kind not in "iu":
        raise DTypeError(f"funcad.random.poisson: dtype must be an integer type, got {dtype}.")
    return dtype


def poisson(key, lam, shape=None, dtype=None):
    """Poisson(lam) integers (int64 by default) as ``jax.random.poisson``, bit for bit: lam is
    rounded to float32 (as JAX does), then Knuth's method below 10 and Hörmann's transformed
    rejection from 10 on, each JAX's loop with its key splitting, compiled (no Python per
    number). ``shape`` defaults to lam's, and lam broadcasts to it. lam == 0 gives 0; nan and
    negative lam give -1 (wrapped for unsigned dtypes), inf gives 0, as JAX.

    >>> poisson(key(0), np.array([0.5, 3.0, 20.0])).shape
    (3,)
    """
    dtype = _poisson_int_dtype(dtype)
    _check_key(key, "poisson")
    if get_aval(key).shape != (2,):
        raise ArgumentError(f"funcad.random.poisson: key must be a single key of shape (2,), got shape "
                            f"{get_aval(key).shape}; for many keys use vmap.")
    lam = fnp.asarray(lam)
    lshape = get_aval(lam).shape
    shape = lshape if shape is None else _shape(shape, "poisson")
    try:
        ok = len(lshape) <= len(shape) and np.broadcast_shapes(lshape, shape) == shape
    except ValueError:
        ok = False
    if not ok:
        raise ArgumentError(f"funcad.random.poisson: lam of shape {lshape} does not broadcast to "
                            f"shape {shape}; give a shape that lam's broadcasts to, or shape=None "
                            "for lam's own.")
    lam = fnp.asarray(lam, dtype=np.float32)  # JAX draws from lam rounded to float32
    if lshape != shape:
        lam = fnp.broadcast_to(lam, shape)
    return bind(rl.random_poisson_p, key[0], key[1], ew.stop_gradient(lam), dtype=dtype.str)


def t(key, df, shape=(), dtype=None):
    """Student's t floats with ``df`` degrees of freedom: ``n * sqrt(df / 2 / g)`` for ``n``
    normal and ``g`` Gamma(df / 2), JAX's construction and numbers (float64, bit for bit);
    ``shape`` broadcast with ``df``'s, as JAX's.

    >>> t(key(0), np.array([1.0, 5.0])).shape
    (2,)
    """
    dtype = _float_dtype(dtype, "t")
    df = fnp.asarray(df, dtype=dtype)
    shape = _shape(shape, "t")
    try:
        shape = np.broadcast_shapes(shape, get_aval(df).shape)
    except ValueError:
        raise ArgumentError(f"funcad.random.t: shape {shape} and df's shape {get_aval(df).shape} "
                            "do not broadcast together.") from None
    key_n, key_g = split(key)
    n = normal(key_n, shape, dtype)
    half_df = df / 2.0
    g = gamma(key_g, half_df, shape, dtype)
    return n * fnp.sqrt(half_df / g)
