"""``flatten(value) -> (flat_vector, unflatten)`` for nested tuples, lists and dicts of
arrays, as autograd's (dict keys in sorted order). Differentiable: ``unflatten`` and the
flattening may sit inside a function being differentiated.

>>> from funcad.autograd.misc import flatten
>>> flat, unflatten = flatten({"b": [1.0, 2.0], "a": 3.0})
>>> flat, unflatten(flat * 2)["b"]
(array([3., 1., 2.]), [array(2.), array(4.)])
"""

from __future__ import annotations

import numpy as onp

from ...second_order import ravel_pytree


def flatten(value):
    """``(1-D array of every leaf, unflatten)``; leaves become float arrays."""
    flat, unravel = ravel_pytree(value)
    if not hasattr(flat, "aval") and flat.dtype.kind != "f":
        flat = flat.astype(onp.float64)
    return flat, unravel


def flatten_func(func, example):
    """``(flat_func, unflatten, flat_example)``: ``func`` of a flat vector."""
    ex, unflatten = flatten(example)
    return (lambda x, *args: flatten(func(unflatten(x), *args))[0]), unflatten, ex
