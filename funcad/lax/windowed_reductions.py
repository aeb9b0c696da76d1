"""jax.lax's windowed reduction ``reduce_window`` (pooling), with JAX's signature and meaning
(XLA's ReduceWindow: ``init_value`` combined once with each window's elements; padding and
base-dilation holes take no part).

Written as the convolutions are, with existing primitives: one ``pad`` (the padding and the
base dilation together), one strided ``slice`` per window position (the window dilation is
the offset between them), folded with ``computation``. For lax.add/mul/max/min the pad holds
their identity; for any other elementwise ``computation`` a static mask keeps the fold from
taking in padding. Derivatives, vmap and jit come from their rules.
At ties a max/min fold shares the gradient between the tied inputs (lax.max's rule), where
JAX's ``reduce_window_max`` gives it to one of them.

>>> import numpy as np, funcad.lax as lax
>>> lax.reduce_window(np.arange(6.0), -np.inf, lax.max, (2,), (2,), "VALID")
array([1., 3., 5.])
"""

from __future__ import annotations

import operator
from itertools import product

import numpy as np

from ..core import Tracer, get_aval
from ..errors import ArgumentError, DTypeError, ShapeError, TreeStructureError
from ..tree_util import tree_flatten, tree_map, tree_unflatten
from . import jax_api
from .convolution import pad_pairs, padtype_to_pads
from .elementwise import convert_element_type, select
from .shapes import broadcast_to

__all__ = ["reduce_window", "reduce_window_shape_tuple"]


def _ints(values, n, name):
    values = (1,) * n if values is None else tuple(operator.index(v) for v in values)
    if len(values) != n or any(v < 1 for v in values):
        raise ArgumentError(f"reduce_window: {name} must be {n} positive integers (one per operand "
                            f"axis), got {values!r}.")
    return values


def _identity(computation, dtype):
    """The identity of the monoid ``computation`` (lax.add, mul, max, min) in ``dtype``, or None."""
    from . import elementwise as ew

    if dtype.kind not in "fiub" or (dtype.kind == "b" and computation in (ew.add, ew.mul)):
        return None
    low, high = ((-np.inf, np.inf) if dtype.kind == "f" else (False, True) if dtype.kind == "b"
                 else (np.iinfo(dtype).min, np.iinfo(dtype).max))
    value = {ew.add: 0, ew.mul: 1, ew.max: low, ew.min: high}.get(computation)
    return None if value is None else np.asarray(value, dtype)


def _valid(shape, padding, base):
    """Booleans over the padded, dilated operand: True where an operand element lies."""
    grown, place, crop = [], [], []
    for n, (lo, hi), b in zip(shape, padding, base):
        core, pl = (n - 1) * b + 1 if n else 0, max(lo, 0)
        grown.append(pl + core + max(hi, 0))
        place.append(slice(pl, pl + core, b))
        crop.append(slice(max(-lo, 0), grown[-1] + min(hi, 0)))
    valid = np.zeros(grown, bool)
    valid[tuple(place)] = True
    return valid[tuple(crop)]


def reduce_window_shape_tuple(operand_shape, window_dimensions, window_strides, padding,
                              base_dilation=None, window_dilation=None):
    """The output shape of :func:`reduce_window` with (low, high) ``padding`` pairs."""
    n = len(operand_shape)
    base, wdil = _ints(base_dilation, n, "base_dilation"), _ints(window_dilation, n, "window_dilation")
    window = [(k - 1) * d + 1 for k, d in zip(window_dimensions, wdil)]
    padded = [(s - 1) * b + 1 + lo + hi if s else lo + hi
              for s, b, (lo, hi) in zip(operand_shape, base, padding)]
    return tuple(max((p - k) // s + 1, 0) for p, k, s in zip(padded, window, window_strides))


def reduce_window(operand, init_value, computation, window_dimensions, window_strides=None,
                  padding="VALID", base_dilation=None, window_dilation=None):
    """Reduce each (strided, padded, dilated) window of ``operand`` with ``computation``
    starting from ``init_value`` (``jax.lax.reduce_window``): ``lax.max`` with ``-inf`` is
    max pooling, ``lax.add`` with ``0`` sum pooling. ``padding`` is ``'SAME'``,
    ``'SAME_LOWER'``, ``'VALID'`` or one (low, high) pair per axis; ``operand`` and
    ``init_value`` may be matching pytrees, ``computation`` then maps two such trees to one.

    >>> import numpy as np, funcad.lax as lax
    >>> x = np.arange(16.0).reshape(4, 4)
    >>> lax.reduce_window(x, 0.0, lax.add, (2, 2), (2, 2), "VALID")
    array([[10., 18.],
           [42., 50.]])
    """
    ops, tree = tree_flatten(operand)
    inits, init_tree = tree_flatten(init_value)
    if tree != init_tree or not ops:
        raise TreeStructureError(f"reduce_window: operand and init_value must be pytrees of the same "
                                 f"structure with at least one array, got {tree} and {init_tree}.")
    ops = [x if isinstance(x, Tracer) else np.asarray(x) for x in ops]
    shape = get_aval(ops[0]).shape
    if any(get_aval(x).shape != shape for x in ops):
        raise ShapeError(f"reduce_window: the operands must have one shape, got "
                         f"{[get_aval(x).shape for x in ops]}.")
    n = len(shape)
    dims = _ints(window_dimensions, n, "window_dimensions")
    strides = _ints(window_strides, n, "window_strides")
    base, wdil = _ints(base_dilation, n, "base_dilation"), _ints(window_dilation, n, "window_dilation")
    window = [(k - 1) * d + 1 for k, d in zip(dims, wdil)]
    if isinstance(padding, str):
        dilated = [(s - 1) * b + 1 if s else 0 for s, b in zip(shape, base)]
        padding = padtype_to_pads(dilated, window, strides, padding)
    padding = pad_pairs(padding, n, "reduce_window", f"axis of the operand of shape {shape}")
    out = reduce_window_shape_tuple(shape, dims, strides, padding, base, wdil)
    if any(k < 1 for k in out):
        raise ShapeError(f"reduce_window: the window {tuple(window)} (dilated) is larger than the padded "
                         f"operand of shape {shape} (padding {padding}, base_dilation {base}).")
    ident = _identity(computation, get_aval(ops[0]).dtype) if len(ops) == 1 else None
    padded, fills = [], []
    for x, init in zip(ops, inits):
        dtype = get_aval(x).dtype
        if not isinstance(init, Tracer):
            init = np.asarray(init)
            if dtype.kind in "iub" and init.dtype.kind in "fc" and not np.all(np.isfinite(init)):
                raise DTypeError(f"reduce_window: init_value {init} cannot be held by the {dtype} "
                                 "operand; use its iinfo min/max for integer max/min pooling.")
        init = convert_element_type(init, dtype) if get_aval(init).dtype != dtype else init
        if get_aval(init).shape != ():
            raise ShapeError(f"reduce_window: init_value must be a scalar, got shape {get_aval(init).shape}.")
        fills.append(broadcast_to(init, out))
        config = [(lo, hi, b - 1) for (lo, hi), b in zip(padding, base)]
        padded.append(jax_api.pad(x, init if ident is None else ident, config))
    valid = _valid(shape, padding, base)
    acc = None if ident is not None else tree_unflatten(tree, fills)
    for pos in product(*(range(k) for k in dims)):  # one strided slice per window position
        start = [p * d for p, d in zip(pos, wdil)]
        cut = tuple(slice(s0, s0 + (m - 1) * s + 1, s) for s0, m, s in zip(start, out, strides))
        taps = tree_unflatten(tree, [x[cut] for x in padded])
        if acc is None:
            acc = taps
            continue
        new, mask = computation(acc, taps), valid[cut]
        if not mask.all():  # the window position is in the padding somewhere: keep acc there
            new = tree_map(lambda a, b: select(mask, a, b), new, acc)
        acc = new
    init = inits[0]
    if ident is not None and (isinstance(init, Tracer) or np.asarray(init) != ident):
        acc = computation(fills[0], acc)
    return acc
