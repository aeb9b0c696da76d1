"""funcad.nn: activation and normalisation functions, as ``jax.nn``, numerically stable.

Each is defined so that neither it nor its derivatives overflow or produce NaN at large
|x| (tested at x = +-1000). At kinks (relu at 0, relu6 at 0 and 6, hard_tanh at +-1...) the
derivative is that of the flat side, 0, as in JAX.
"""

from __future__ import annotations

import math

from . import numpy as fnp
from .core import get_aval
from .lax import elementwise as _ew
from .lax.elementwise import stop_gradient


def sigmoid(x):
    """The logistic function 1 / (1 + exp(-x)), stable for large |x|; sigmoid' = s (1 - s).

    >>> import funcad as fa
    >>> float(fa.nn.sigmoid(0.0))
    0.5
    """
    (x,), _ = fnp._promote_float(x)
    return _ew.logistic(fnp._as_nd(x))


def softplus(x):
    """log(1 + exp(x)) computed as logaddexp(0, x): no overflow; softplus' = sigmoid."""
    return fnp.logaddexp(0.0, x)


def relu(x):
    """max(x, 0); its derivative at 0 is taken as 0 (the subgradient JAX and PyTorch use)."""
    x = fnp._arr(x)
    zero = fnp.zeros((), get_aval(x).dtype)  # 0-d: where broadcasts it (no array of zeros)
    return fnp.where(fnp.greater(x, 0), x, zero)


def _max_shift(x, axis):
    """The max along ``axis`` (kept), held constant; zeros for an empty array, where NumPy's
    max has no identity (softmax of an empty axis is empty, logsumexp of one is -inf)."""
    if x.size == 0:
        return fnp.zeros(fnp.sum(x, axis=axis, keepdims=True).shape, x.dtype)
    # stop_gradient before the max, not after: no derivative of the max is ever computed.
    return fnp.max(stop_gradient(x), axis=axis, keepdims=True)


def logsumexp(x, axis=None, b=None, keepdims=False, return_sign=False):
    """log(sum(exp(x))) along ``axis``, shifted by the max so it never overflows.

    Its gradient is softmax(x); its Hessian diag(s) - s s^T. With weights ``b`` or
    ``return_sign`` it is :func:`funcad.scipy.special.logsumexp` (as ``jax.nn.logsumexp`` is
    ``jax.scipy.special.logsumexp``).

    >>> import funcad.numpy as fnp
    >>> round(float(logsumexp(fnp.zeros(3), b=fnp.array([1.0, 2.0, 1.0]))), 6)  # log 4
    1.386294
    """
    if b is not None or return_sign:
        from .scipy.special import logsumexp as weighted
        return weighted(x, axis=axis, b=b, keepdims=keepdims, return_sign=return_sign)
    x = fnp._arr(x)
    m = _max_shift(x, axis)
    m = fnp.where(fnp.isfinite(m), m, fnp.zeros_like(m))
    out = fnp.log(fnp.sum(fnp.exp(fnp.subtract(x, m)), axis=axis, keepdims=True)) + m
    if not keepdims:
        out = fnp.squeeze(out, axis=axis) if axis is not None else fnp.reshape(out, ())
    return out


def log_softmax(x, axis=-1):
    """x - logsumexp(x): log-probabilities, stable."""
    return fnp.subtract(x, logsumexp(x, axis=axis, keepdims=True))


def softmax(x, axis=-1):
    """exp(x - max) / sum(exp(x - max)) along ``axis``."""
    x = fnp._arr(x)
    unnormalized = fnp.exp(fnp.subtract(x, _max_shift(x, axis)))
    return fnp.divide(unnormalized, fnp.sum(unnormalized, axis=axis, keepdims=True))


def one_hot(labels, num_classes: int, dtype=fnp.float64, axis=-1):
    """Rows of the identity: ``one_hot([2, 0], 3) == [[0, 0, 1], [1, 0, 0]]``; the class axis
    goes at ``axis``. Labels outside ``[0, num_classes)`` give a row of zeros, as in JAX."""
    labels = fnp._arr(labels)
    out = fnp.astype(fnp.equal(fnp.expand_dims(labels, -1), fnp.arange(num_classes)), dtype)
    return out if axis in (-1, fnp.ndim(out) - 1) else fnp.moveaxis(out, -1, axis)


def _float(x):
    (x,), _ = fnp._promote_float(x)
    return fnp._as_nd(x)


def _zero(x):
    return fnp.zeros((), get_aval(x).dtype)


def identity(x):
    """The identity, ``x``."""
    return x


tanh = fnp.tanh


def relu6(x):
    """min(max(x, 0), 6); derivative 0 at 0 and at 6 (JAX's convention)."""
    x = _float(x)
    inside = fnp.logical_and(fnp.greater(x, 0), fnp.less(x, 6))
    return fnp.where(inside, x, fnp.where(fnp.greater_equal(x, 6), fnp.full((), 6.0, x.dtype), _zero(x)))


def leaky_relu(x, negative_slope=0.01):
    """x for x >= 0, ``negative_slope * x`` below."""
    x = _float(x)
    return fnp.where(fnp.greater_equal(x, 0), x, fnp.multiply(negative_slope, x))


def elu(x, alpha=1.0):
    """x for x > 0, ``alpha (exp(x) - 1)`` below (expm1 of the clamped x: no overflow in
    the unused branch or its derivative)."""
    x = _float(x)
    safe = fnp.where(fnp.greater(x, 0), _zero(x), x)
    return fnp.where(fnp.greater(x, 0), x, fnp.multiply(alpha, fnp.expm1(safe)))


def celu(x, alpha=1.0):
    """Continuously differentiable ELU: x for x > 0, ``alpha (exp(x / alpha) - 1)`` below."""
    x = _float(x)
    safe = fnp.where(fnp.greater(x, 0), _zero(x), x)
    return fnp.where(fnp.greater(x, 0), x, fnp.multiply(alpha, fnp.expm1(fnp.divide(safe, alpha))))


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(x):
    """Scaled ELU, ``scale * elu(x, alpha)`` with the self-normalising constants."""
    return fnp.multiply(_SELU_SCALE, elu(x, _SELU_ALPHA))


def silu(x):
    """x * sigmoid(x) (also called swish)."""
    x = _float(x)
    return fnp.multiply(x, sigmoid(x))


swish = silu


def log_sigmoid(x):
    """log(sigmoid(x)) = -softplus(-x): finite for every x."""
    return fnp.negative(softplus(fnp.negative(_float(x))))


def soft_sign(x):
    """x / (|x| + 1)."""
    x = _float(x)
    return fnp.divide(x, fnp.add(fnp.abs(x), 1.0))


softsign = soft_sign


def hard_tanh(x):
    """x clipped to [-1, 1] (derivative 0 at +-1)."""
    x = _float(x)
    inside = fnp.less(fnp.abs(x), 1.0)
    return fnp.where(inside, x, fnp.sign(x))


def hard_sigmoid(x):
    """relu6(x + 3) / 6, a piecewise-linear sigmoid."""
    return fnp.divide(relu6(fnp.add(_float(x), 3.0)), 6.0)


def hard_silu(x):
    """x * hard_sigmoid(x) (also hard_swish)."""
    x = _float(x)
    return fnp.multiply(x, hard_sigmoid(x))


hard_swish = hard_silu


def gelu(x, approximate: bool = True):
    """The Gaussian error linear unit ``x * Phi(x)``; with ``approximate=True`` (JAX's default)
    its tanh form ``x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``.

    >>> round(float(gelu(1.0, approximate=False)), 6)
    0.841345
    """
    x = _float(x)
    if approximate:
        inner = fnp.multiply(math.sqrt(2.0 / math.pi), fnp.add(x, fnp.multiply(0.044715, x ** 3)))
        return fnp.multiply(fnp.multiply(0.5, x), fnp.add(1.0, fnp.tanh(inner)))
    from .lax import special as _sp

    return fnp.multiply(fnp.multiply(0.5, x), _sp.erfc(fnp.multiply(x, -1.0 / math.sqrt(2.0))))


def glu(x, axis=-1):
    """Gated linear unit: split ``x`` in two halves along ``axis``, ``a * sigmoid(b)``."""
    x = _float(x)
    n = x.shape[axis]
    if n % 2:
        raise ValueError(f"glu: the size of axis {axis} must be even, got shape {x.shape}")
    a, b = fnp.split(x, 2, axis=axis)
    return fnp.multiply(a, sigmoid(b))


def squareplus(x, b=4.0):
    """(x + sqrt(x^2 + b)) / 2, a smooth relu (hypot: no overflow of x^2)."""
    x = _float(x)
    return fnp.multiply(0.5, fnp.add(x, fnp.hypot(x, math.sqrt(b))))


def mish(x):
    """x * tanh(softplus(x))."""
    x = _float(x)
    return fnp.multiply(x, fnp.tanh(softplus(x)))


def sparse_plus(x):
    """0 for x <= -1, (x + 1)^2 / 4 on (-1, 1), x for x >= 1: a smooth, sparse softplus."""
    x = _float(x)
    mid = fnp.multiply(0.25, fnp.square(fnp.add(x, 1.0)))
    return fnp.where(fnp.less_equal(x, -1.0), _zero(x), fnp.where(fnp.greater_equal(x, 1.0), x, mid))


def sparse_sigmoid(x):
    """The derivative of sparse_plus: 0, (x + 1) / 2, 1."""
    x = _float(x)
    mid = fnp.multiply(0.5, fnp.add(x, 1.0))
    one = fnp.ones((), x.dtype)
    return fnp.where(fnp.less_equal(x, -1.0), _zero(x), fnp.where(fnp.greater_equal(x, 1.0), one, mid))


def standardize(x, axis=-1, mean=None, variance=None, epsilon=1e-5, where=None):
    """``(x - mean) / sqrt(variance + epsilon)`` along ``axis``, the statistics computed from
    ``x`` (over the ``where`` entries) unless given.

    >>> import funcad.numpy as fnp
    >>> fnp.round(standardize(fnp.array([1.0, 2.0, 3.0]), epsilon=0.0), 6)
    array([-1.224745,  0.      ,  1.224745])
    """
    x = _float(x)
    if mean is None:
        mean = fnp.mean(x, axis=axis, keepdims=True, where=where)
    if variance is None:
        variance = fnp.mean(fnp.square(fnp.subtract(x, mean)), axis=axis, keepdims=True, where=where)
    return fnp.divide(fnp.subtract(x, mean), fnp.sqrt(fnp.add(variance, epsilon)))


normalize = standardize


__all__ = ["sigmoid", "softplus", "relu", "logsumexp", "log_softmax", "softmax", "one_hot",
           "identity", "tanh", "relu6", "leaky_relu", "elu", "celu", "selu", "silu", "swish",
           "log_sigmoid", "soft_sign", "softsign", "hard_tanh", "hard_sigmoid", "hard_silu",
           "hard_swish", "gelu", "glu", "squareplus", "mish", "sparse_plus", "sparse_sigmoid",
           "standardize", "normalize"]
