"""``funcad.flatten_util.ravel_pytree``, as ``jax.flatten_util``: a pytree of arrays as one
1-D vector and the function that rebuilds it.

>>> import numpy as np
>>> from funcad.flatten_util import ravel_pytree
>>> flat, unravel = ravel_pytree({"b": np.zeros(1), "w": np.ones(2)})
>>> flat, unravel(flat)["w"]
(array([0., 1., 1.]), array([1., 1.]))
"""

from __future__ import annotations

from .second_order import ravel_pytree

__all__ = ["ravel_pytree"]
