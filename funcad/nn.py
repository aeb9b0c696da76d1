"""funcad.nn: the activation and normalisation functions of the course, numerically stable.

Each is defined so that neither it nor its derivatives overflow or produce NaN at large
|x| (tested at x = +-1000).
"""

from __future__ import annotations

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


def logsumexp(x, axis=None, keepdims=False):
    """log(sum(exp(x))) along ``axis``, shifted by the max so it never overflows.

    Its gradient is softmax(x); its Hessian diag(s) - s s^T.
    """
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


def one_hot(labels, num_classes: int, dtype=fnp.float64):
    """Rows of the identity: ``one_hot([2, 0], 3) == [[0, 0, 1], [1, 0, 0]]``."""
    labels = fnp._arr(labels)
    return fnp.astype(fnp.equal(fnp.expand_dims(labels, -1), fnp.arange(num_classes)), dtype)


__all__ = ["sigmoid", "softplus", "relu", "logsumexp", "log_softmax", "softmax", "one_hot"]
