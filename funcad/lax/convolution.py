"""jax.lax's convolutions: ``conv_general_dilated`` and its wrappers ``conv``,
``conv_with_general_padding`` and ``conv_transpose``, with JAX's signatures and meaning
(XLA's Conv: a cross-correlation, the kernel not flipped).

Written with existing primitives: one ``pad`` (the padding and the input dilation together),
one strided ``slice`` per kernel position (the kernel dilation is the offset between them),
and one ``einsum`` that contracts the input features and the kernel positions, per feature
group. Derivatives, vmap and jit come from their rules.

>>> import numpy as np, funcad.lax as lax
>>> x = np.arange(5.0).reshape(1, 1, 5)                  # N, C, W
>>> lax.conv(x, np.ones((1, 1, 2)), (1,), "VALID")       # sums of neighbours
array([[[1., 3., 5., 7.]]])
"""

from __future__ import annotations

import builtins
import math
import operator
from itertools import product
from typing import NamedTuple

import numpy as np

from ..core import Tracer, get_aval
from ..errors import ArgumentError, ShapeError
from . import jax_api
from .elementwise import convert_element_type
from .linalg import einsum
from .shapes import concatenate, reshape, transpose

__all__ = ["ConvDimensionNumbers", "conv_dimension_numbers", "conv_general_permutations",
           "padtype_to_pads", "conv_general_dilated", "conv", "conv_with_general_padding",
           "conv_transpose"]


class ConvDimensionNumbers(NamedTuple):
    """Where the batch, feature and spatial axes are: each spec lists the axes of one operand
    in the order (batch or out-feature, feature or in-feature, spatial...)."""

    lhs_spec: tuple
    rhs_spec: tuple
    out_spec: tuple


def conv_general_permutations(dimension_numbers):
    """The axis permutations of string dimension numbers such as ``("NHWC", "HWIO", "NHWC")``:
    spatial axes ordered as they appear in the kernel's spec (as JAX)."""
    lhs_spec, rhs_spec, out_spec = dimension_numbers
    pairs = (("N", "C"), ("O", "I"), ("N", "C"))
    for spec, (a, b) in zip(dimension_numbers, pairs):
        if spec.count(a) != 1 or spec.count(b) != 1 or len(set(spec)) != len(spec):
            raise ArgumentError(f"conv: dimension_numbers {dimension_numbers!r}: {spec!r} must contain "
                                f"{a!r} and {b!r} once each and no letter twice.")
    if not set(lhs_spec) - {"N", "C"} == set(rhs_spec) - {"O", "I"} == set(out_spec) - {"N", "C"}:
        raise ArgumentError(f"conv: dimension_numbers {dimension_numbers!r} must name the same spatial "
                            "letters in each of the three specs.")

    def perm(spec, pair):
        spatial = sorted((i for i, c in enumerate(spec) if c not in pair),
                         key=lambda i: rhs_spec.index(spec[i]))
        return (spec.index(pair[0]), spec.index(pair[1]), *spatial)

    return tuple(perm(s, p) for s, p in zip(dimension_numbers, pairs))


def conv_dimension_numbers(lhs_shape, rhs_shape, dimension_numbers) -> ConvDimensionNumbers:
    """``dimension_numbers`` (None: NCHW/OIHW/NCHW, three strings, or ConvDimensionNumbers) as
    ConvDimensionNumbers."""
    if isinstance(dimension_numbers, ConvDimensionNumbers):
        return dimension_numbers
    if len(lhs_shape) != len(rhs_shape) or len(lhs_shape) < 2:
        raise ShapeError(f"conv: lhs and rhs must have the same number of dimensions (at least 2), "
                         f"got shapes {tuple(lhs_shape)} and {tuple(rhs_shape)}.")
    if dimension_numbers is None:
        iota = tuple(range(len(lhs_shape)))
        return ConvDimensionNumbers(iota, iota, iota)
    if (not isinstance(dimension_numbers, (tuple, list)) or len(dimension_numbers) != 3
            or not all(isinstance(s, str) and len(s) == len(lhs_shape) for s in dimension_numbers)):
        raise ArgumentError(f"conv: dimension_numbers must be None, ConvDimensionNumbers or three "
                            f"strings of {len(lhs_shape)} letters (such as ('NHWC', 'HWIO', 'NHWC') "
                            f"for 2-d), got {dimension_numbers!r}.")
    return ConvDimensionNumbers(*conv_general_permutations(tuple(dimension_numbers)))


def pad_pairs(padding, n: int, name: str, per: str) -> list:
    """``padding`` checked as ``n`` (low, high) integer pairs, one per ``per`` of ``name``."""
    try:
        pairs = [(operator.index(lo), operator.index(hi)) for lo, hi in padding]
    except (TypeError, ValueError):
        raise ArgumentError(f"{name}: padding must be a string or (low, high) pairs, "
                            f"got {padding!r}.") from None
    if len(pairs) != n:
        raise ArgumentError(f"{name}: padding needs one (low, high) pair per {per} ({n}), "
                            f"got {padding!r}.")
    return pairs


def padtype_to_pads(in_shape, window_shape, window_strides, padding):
    """``'SAME'``, ``'SAME_LOWER'`` or ``'VALID'`` as (low, high) pairs per spatial axis: SAME
    gives ``ceil(in / stride)`` outputs, an odd padding's extra element at the end (SAME_LOWER:
    at the start)."""
    kind = padding.upper()
    if kind == "VALID":
        return [(0, 0)] * len(in_shape)
    if kind not in ("SAME", "SAME_LOWER"):
        raise ArgumentError(f"conv: padding must be 'SAME', 'SAME_LOWER', 'VALID' or (low, high) pairs, "
                            f"got {padding!r}.")
    pads = []
    for n, k, s in zip(in_shape, window_shape, window_strides):
        total = builtins.max((-(-n // s) - 1) * s + k - n, 0)
        small, large = total // 2, total - total // 2
        pads.append((small, large) if kind == "SAME" else (large, small))
    return pads


def _ints(values, n, name, default=1):
    values = (default,) * n if values is None else tuple(operator.index(v) for v in values)
    if len(values) != n or any(v < 1 for v in values):
        raise ArgumentError(f"conv: {name} must be {n} positive integers (one per spatial axis), "
                            f"got {values!r}.")
    return values


def _operands(lhs, rhs):
    """Both operands as arrays (or tracers) of their common dtype, as funcad.numpy promotes."""
    lhs, rhs = (x if isinstance(x, Tracer) else np.asarray(x) for x in (lhs, rhs))
    dtype = np.result_type(get_aval(lhs).dtype, get_aval(rhs).dtype)
    return tuple(x if get_aval(x).dtype == dtype else convert_element_type(x, dtype) for x in (lhs, rhs))


def conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation=None, rhs_dilation=None,
                         dimension_numbers=None, feature_group_count: int = 1,
                         batch_group_count: int = 1, precision=None, preferred_element_type=None):
    """N-d convolution (cross-correlation) with strides, padding, input and kernel dilation and
    feature/batch groups (``jax.lax.conv_general_dilated``).

    ``padding`` is ``'SAME'``, ``'SAME_LOWER'``, ``'VALID'`` or one (low, high) pair per
    spatial axis (negative crops); ``lhs_dilation`` inserts ``d - 1`` zeros between input
    elements (a transposed convolution), ``rhs_dilation`` between kernel taps (atrous).

    >>> import numpy as np, funcad.lax as lax
    >>> x, k = np.ones((1, 4, 4, 1)), np.ones((3, 3, 1, 2))      # NHWC, HWIO
    >>> y = lax.conv_general_dilated(x, k, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
    >>> y.shape, y[0, :, :, 0]
    ((1, 4, 4, 2), array([[4., 6., 6., 4.],
           [6., 9., 9., 6.],
           [6., 9., 9., 6.],
           [4., 6., 6., 4.]]))
    """
    del precision
    lhs, rhs = _operands(lhs, rhs)
    lhs_shape, rhs_shape = get_aval(lhs).shape, get_aval(rhs).shape
    dn = conv_dimension_numbers(lhs_shape, rhs_shape, dimension_numbers)
    x, w = transpose(lhs, dn.lhs_spec), transpose(rhs, dn.rhs_spec)  # N C S..., O I S...
    xs, ws = get_aval(x).shape, get_aval(w).shape
    nsp = len(xs) - 2
    strides = _ints(window_strides, nsp, "window_strides")
    lhs_dil = _ints(lhs_dilation, nsp, "lhs_dilation")
    rhs_dil = _ints(rhs_dilation, nsp, "rhs_dilation")
    G, B = operator.index(feature_group_count), operator.index(batch_group_count)
    N, C, O, I = xs[0], xs[1], ws[0], ws[1]
    if G < 1 or B < 1 or (G > 1 and B > 1):
        raise ArgumentError(f"conv: feature_group_count ({G}) and batch_group_count ({B}) must be "
                            "positive, and one of them 1.")
    if C % G or C // G != I or O % G or N % B or O % B or (B > 1 and C != I):
        raise ShapeError(
            f"conv: lhs of shape {lhs_shape} has {C} features and batch {N}; rhs of shape {rhs_shape} "
            f"has {I} input and {O} output features. With feature_group_count={G} and "
            f"batch_group_count={B}, the input features must be {G} x the rhs's input features, "
            "and the groups must divide the output features (and the batch).")
    window = [(k - 1) * d + 1 for k, d in zip(ws[2:], rhs_dil)]
    if isinstance(padding, str):
        if any(d != 1 for d in lhs_dil):
            raise ArgumentError("conv: string padding with lhs_dilation (a transposed convolution): "
                                "give explicit (low, high) pairs, or use lax.conv_transpose.")
        padding = padtype_to_pads(xs[2:], window, strides, padding)
    padding = pad_pairs(padding, nsp, "conv", "spatial axis")
    if B > 1:  # batch groups (used by the kernel gradient of grouped convolutions) become feature groups
        x = reshape(x, (B, N // B, *xs[1:]))
        x = reshape(transpose(x, (1, 0, *range(2, nsp + 3))), (N // B, B * C, *xs[2:]))
        G, N, C = B, N // B, B * C
    config = [(0, 0, 0), (0, 0, 0)] + [(lo, hi, d - 1) for (lo, hi), d in zip(padding, lhs_dil)]
    x = jax_api.pad(x, np.zeros((), get_aval(x).dtype), config)
    padded = get_aval(x).shape[2:]
    out = [(n - k) // s + 1 for n, k, s in zip(padded, window, strides)]
    if any(n < 1 for n in out):
        raise ShapeError(f"conv: the window {tuple(window)} (kernel dilated) is larger than the padded "
                         f"input {tuple(padded)} (lhs of shape {lhs_shape}).")
    K = math.prod(ws[2:])
    taps = []  # one strided slice of the input per kernel position, with a trailing axis of 1
    for pos in product(*(range(k) for k in ws[2:])):
        start = [p * d for p, d in zip(pos, rhs_dil)]
        limit = [s0 + (n - 1) * s + 1 for s0, n, s in zip(start, out, strides)]
        tap = jax_api.slice(x, (0, 0, *start), (N, C, *limit), (1, 1, *strides))
        taps.append(reshape(tap, (N, G, C // G, *out, 1)))
    patches = taps[0] if K == 1 else concatenate(taps, len(out) + 3)
    sp = "".join(chr(ord("p") + i) for i in range(nsp))
    y = einsum(f"ngc{sp}k,gock->ngo{sp}", patches, reshape(w, (G, O // G, I, K)))
    y = reshape(y, (N, O, *out))
    if preferred_element_type is not None:
        y = convert_element_type(y, np.dtype(preferred_element_type))
    return transpose(y, tuple(np.argsort(dn.out_spec)))


def conv(lhs, rhs, window_strides, padding, precision=None, preferred_element_type=None):
    """``conv_general_dilated`` with NCHW/OIHW layout and no dilation (``jax.lax.conv``)."""
    return conv_general_dilated(lhs, rhs, window_strides, padding, precision=precision,
                                preferred_element_type=preferred_element_type)


def conv_with_general_padding(lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation,
                              precision=None, preferred_element_type=None):
    """``conv_general_dilated`` with NCHW/OIHW layout (``jax.lax.conv_with_general_padding``)."""
    return conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation,
                                precision=precision, preferred_element_type=preferred_element_type)


def _transpose_pads(k, s, padding):
    """(before, after) padding of the dilated input of a transposed convolution, from the
    forward convolution's padding (as JAX's conv_transpose)."""
    if padding == "SAME":
        total = k + s - 2
        before = k - 1 if s > k - 1 else -(-total // 2)
    elif padding == "VALID":
        total = k + s - 2 + builtins.max(k - s, 0)
        before = k - 1
    else:
        before, total = k - padding[0] - 1, 2 * k - padding[0] - padding[1] - 2
    return before, total - before


def conv_transpose(lhs, rhs, strides, padding, rhs_dilation=None, dimension_numbers=None,
                   transpose_kernel: bool = False, precision=None, preferred_element_type=None,
                   use_consistent_padding: bool = False):
    """The transposed ("fractionally strided") convolution of ``jax.lax.conv_transpose``:
    the input dilated by ``strides``; layout NHWC/HWIO by default (NC/IO, NHC/HIO,
    NHWDC/HWDIO by rank). ``padding`` as for the forward convolution ('SAME', 'VALID'; pairs
    are the transposed convolution's own unless ``use_consistent_padding``);
    ``transpose_kernel`` flips the kernel and swaps its feature axes (Keras' Conv2DTranspose)."""
    lhs, rhs = _operands(lhs, rhs)
    ndim = len(get_aval(lhs).shape)
    if dimension_numbers is None:
        defaults = {2: ("NC", "IO", "NC"), 3: ("NHC", "HIO", "NHC"), 4: ("NHWC", "HWIO", "NHWC"),
                    5: ("NHWDC", "HWDIO", "NHWDC")}
        if ndim not in defaults:
            raise ArgumentError(f"conv_transpose: no default dimension_numbers for rank {ndim}; "
                                "give them.")
        dimension_numbers = defaults[ndim]
    rhs_shape = get_aval(rhs).shape
    dn = conv_dimension_numbers(get_aval(lhs).shape, rhs_shape, dimension_numbers)
    nsp = ndim - 2
    rhs_dil = _ints(rhs_dilation, nsp, "rhs_dilation")
    if use_consistent_padding or (isinstance(padding, str) and padding in ("SAME", "VALID")):
        ks = [(rhs_shape[a] - 1) * d + 1 for a, d in zip(dn.rhs_spec[2:], rhs_dil)]
        per_axis = [padding] * nsp if isinstance(padding, str) else list(padding)
        padding = [_transpose_pads(k, s, p) for k, s, p in zip(ks, strides, per_axis)]
    if transpose_kernel:
        rhs = jax_api.rev(rhs, tuple(dn.rhs_spec[2:]))
        perm = list(range(ndim))
        perm[dn.rhs_spec[0]], perm[dn.rhs_spec[1]] = dn.rhs_spec[1], dn.rhs_spec[0]
        rhs = transpose(rhs, tuple(perm))
    return conv_general_dilated(lhs, rhs, (1,) * nsp, padding, strides, rhs_dil, dn,
                                precision=precision, preferred_element_type=preferred_element_type)
