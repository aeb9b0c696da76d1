"""funcad.scipy.signal: N-dimensional convolution and correlation, differentiable in both
operands (a gather of windows and a tensor contraction: no FFT, so best for small kernels).

>>> import funcad.numpy as fnp
>>> convolve(fnp.array([1.0, 2.0, 3.0]), fnp.array([0.0, 1.0, 0.5]))
array([0. , 1. , 2.5, 4. , 1.5])
"""

from __future__ import annotations

import numpy as _np

from .. import numpy as _fnp
from ..core import get_aval
from ..numpy import _as_nd, _promote

__all__ = ["convolve", "correlate", "convolve2d", "correlate2d", "fftconvolve", "oaconvolve"]

_MODES = ("full", "same", "valid")
_BOUNDARY = {"fill": "constant", "wrap": "wrap", "symm": "symmetric", "circular": "wrap",
             "symmetric": "symmetric"}


def _operands(in1, in2, name):
    (a, k), _ = _promote(in1, in2)
    a, k = _as_nd(a), _as_nd(k)
    sa, sk = get_aval(a).shape, get_aval(k).shape
    if len(sa) != len(sk):
        raise ValueError(f"{name}: in1 and in2 should have the same dimensionality, got shapes "
                         f"{sa} and {sk}")
    if 0 in sa or 0 in sk:
        raise ValueError(f"{name}: inputs cannot be empty (shapes {sa} and {sk})")
    return a, k


def _conv_valid(x, k):
    """The valid part of the convolution of x with a kernel k no larger in any axis."""
    sx, sk = get_aval(x).shape, get_aval(k).shape
    nd = len(sx)
    out = [n - m + 1 for n, m in zip(sx, sk)]
    idx = []
    for d in range(nd):
        o = _np.arange(out[d]).reshape((1,) * d + (out[d],) + (1,) * (2 * nd - d - 1))
        w = _np.arange(sk[d]).reshape((1,) * (nd + d) + (sk[d],) + (1,) * (nd - d - 1))
        idx.append(o + w)
    windows = x[tuple(idx)]  # (out..., k...)
    return _fnp.tensordot(windows, _fnp.flip(k), axes=nd)


def _convolve(a, k, mode, name, boundary="fill", fillvalue=0, late_centre=False):
    if mode not in _MODES:
        raise ValueError(f"{name}: acceptable mode flags are 'valid', 'same', or 'full', got {mode!r}")
    sa, sk = get_aval(a).shape, get_aval(k).shape
    if mode == "valid":
        if all(n >= m for n, m in zip(sa, sk)):
            return _conv_valid(a, k)
        if all(m >= n for n, m in zip(sa, sk)):
            return _conv_valid(k, a)
        raise ValueError(f"{name}: for 'valid' mode, one must be at least as large as the other in "
                         f"every dimension (shapes {sa} and {sk})")
    if mode == "full":
        widths = [(m - 1, m - 1) for m in sk]
    else:
        # 'same' keeps in1's shape, centred; correlate2d centres even kernels one later
        widths = [(m - 1 - (m - 1) // 2, (m - 1) // 2) for m in sk]
        if late_centre:
            widths = [(hi, lo) for lo, hi in widths]
    pad_mode = _BOUNDARY.get(boundary)
    if pad_mode is None:
        raise ValueError(f"{name}: boundary must be 'fill', 'wrap' or 'symm', got {boundary!r}")
    kw = {"constant_values": fillvalue} if pad_mode == "constant" else {}
    padded = _fnp.pad(a, widths, mode=pad_mode, **kw)
    return _conv_valid(padded, k)


def convolve(in1, in2, mode="full", method="auto"):
    """``scipy.signal.convolve``: N-D convolution, modes 'full', 'same' (centred, in1's
    shape) and 'valid'. ``method`` is accepted and ignored (always direct)."""
    a, k = _operands(in1, in2, "convolve")
    return _convolve(a, k, mode, "convolve")


def correlate(in1, in2, mode="full", method="auto"):
    """``scipy.signal.correlate`` of real arrays: convolve(in1, flip(in2)), modes as convolve."""
    a, k = _operands(in1, in2, "correlate")
    sa, sk = get_aval(a).shape, get_aval(k).shape
    if mode == "valid" and not all(n >= m for n, m in zip(sa, sk)) and all(m >= n for n, m in zip(sa, sk)):
        return _fnp.flip(_convolve(k, _fnp.flip(a), mode, "correlate"))
    return _convolve(a, _fnp.flip(k), mode, "correlate")


def fftconvolve(in1, in2, mode="full", axes=None):
    """``scipy.signal.fftconvolve``: the same values as convolve (computed directly)."""
    if axes is not None:
        raise ValueError("fftconvolve: axes= is not supported by funcad; convolve all axes")
    return convolve(in1, in2, mode)


oaconvolve = fftconvolve


def _check_2d(a, k, name):
    if get_aval(a).ndim != 2 or get_aval(k).ndim != 2:
        raise ValueError(f"{name}: inputs must both be 2-D arrays, got shapes {get_aval(a).shape} "
                         f"and {get_aval(k).shape}")


def convolve2d(in1, in2, mode="full", boundary="fill", fillvalue=0):
    """``scipy.signal.convolve2d``: 2-D convolution with boundary 'fill' (``fillvalue``),
    'wrap' or 'symm'; differentiable in both inputs."""
    a, k = _operands(in1, in2, "convolve2d")
    _check_2d(a, k, "convolve2d")
    if mode == "valid":
        return _convolve(a, k, mode, "convolve2d")
    return _convolve(a, k, mode, "convolve2d", boundary, fillvalue)


def correlate2d(in1, in2, mode="full", boundary="fill", fillvalue=0):
    """``scipy.signal.correlate2d``: convolve2d with in2 flipped (real arrays)."""
    a, k = _operands(in1, in2, "correlate2d")
    _check_2d(a, k, "correlate2d")
    sa, sk = get_aval(a).shape, get_aval(k).shape
    if mode == "valid" and not all(n >= m for n, m in zip(sa, sk)) and all(m >= n for n, m in zip(sa, sk)):
        return _fnp.flip(_convolve(k, _fnp.flip(a), mode, "correlate2d"))
    return _convolve(a, _fnp.flip(k), mode, "correlate2d", boundary, fillvalue, late_centre=True)
