"""Gradient-descent optimizers with autograd's signatures: ``sgd``, ``rmsprop``, ``adam``.

``opt(grad, x0, callback=None, num_iters=..., step_size=..., ...)`` where ``grad(x, i)`` is
the gradient at iteration ``i`` and ``callback(x, i, g)`` is called before each step. ``x0``
may be any pytree (nested tuples, lists, dicts of arrays): the optimizers work on its
flattened vector and hand ``grad`` and ``callback`` the structured values.

>>> import funcad.autograd.numpy as np
>>> from funcad.autograd import grad
>>> from funcad.autograd.misc.optimizers import adam
>>> loss = lambda p, i: np.sum((p["w"] - 3.0) ** 2)
>>> p = adam(grad(loss), {"w": np.zeros(2)}, num_iters=500, step_size=0.1)
>>> np.round(p["w"], 3)
array([3., 3.])
"""

from __future__ import annotations

import functools

import numpy as onp

from .flatten import flatten

__all__ = ["sgd", "rmsprop", "adam", "unflatten_optimizer"]


def unflatten_optimizer(optimize):
    """An optimizer of flat vectors as one of pytrees."""

    @functools.wraps(optimize)
    def _optimize(grad, x0, callback=None, *args, **kwargs):
        _x0, unflatten = flatten(x0)
        _grad = lambda x, i: flatten(grad(unflatten(x), i))[0]  # noqa: E731
        _callback = None if callback is None else (
            lambda x, i, g: callback(unflatten(x), i, unflatten(g)))
        return unflatten(optimize(_grad, _x0, _callback, *args, **kwargs))

    return _optimize


@unflatten_optimizer
def sgd(grad, x, callback=None, num_iters=200, step_size=0.1, mass=0.9):
    """Stochastic gradient descent with momentum ``mass``."""
    velocity = onp.zeros(len(x))
    for i in range(num_iters):
        g = grad(x, i)
        if callback:
            callback(x, i, g)
        velocity = mass * velocity - (1.0 - mass) * g
        x = x + step_size * velocity
    return x


@unflatten_optimizer
def rmsprop(grad, x, callback=None, num_iters=100, step_size=0.1, gamma=0.9, eps=10**-8):
    """RMSprop: steps scaled by a running root-mean-square of the gradients."""
    avg_sq_grad = onp.ones(len(x))
    for i in range(num_iters):
        g = grad(x, i)
        if callback:
            callback(x, i, g)
        avg_sq_grad = avg_sq_grad * gamma + g ** 2 * (1 - gamma)
        x = x - step_size * g / (onp.sqrt(avg_sq_grad) + eps)
    return x


@unflatten_optimizer
def adam(grad, x, callback=None, num_iters=100, step_size=0.001, b1=0.9, b2=0.999, eps=10**-8):
    """Adam (Kingma and Ba, 2014): RMSprop with momentum and bias correction."""
    m = onp.zeros(len(x))
    v = onp.zeros(len(x))
    for i in range(num_iters):
        g = grad(x, i)
        if callback:
            callback(x, i, g)
        m = (1 - b1) * g + b1 * m
        v = (1 - b2) * (g ** 2) + b2 * v
        mhat = m / (1 - b1 ** (i + 1))
        vhat = v / (1 - b2 ** (i + 1))
        x = x - step_size * mhat / (onp.sqrt(vhat) + eps)
    return x
