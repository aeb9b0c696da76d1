"""funcad.numpy.fft: NumPy's discrete Fourier transforms, differentiable, batchable, jittable.

Every transform is the primitive ``funcad.lax.fft`` (which carries the derivative, batching
and jit rules) composed with axis moves, zero padding or truncation to ``n`` and the ``norm``
scaling, so arguments, dtypes (float32 -> complex64) and edge cases are NumPy's:

>>> import numpy as np, funcad as fa, funcad.numpy as fnp
>>> fnp.fft.rfft(np.array([1.0, 2.0, 3.0, 4.0]))
array([10.+0.j, -2.+2.j, -2.+0.j])
>>> energy = lambda x: fnp.sum(fnp.fft.irfft(fnp.fft.rfft(x) * np.array([1.0, 0.5, 0.0])) ** 2)
>>> fa.grad(energy)(np.array([1.0, 2.0, 3.0, 4.0]))
array([4.5, 4.5, 5.5, 5.5])
"""

from __future__ import annotations

import operator

import numpy as _np

from .. import lax as _lax
from ..core import get_aval
from ..errors import DTypeError, FFTArgumentError
from ..lax.elementwise import conj as _conj
from ..lax.fft import FftType, _complex_dtype, _real_dtype
from ..lax.shapes import concatenate as _concatenate
from ..lax.shapes import full as _full
from ..lax.shapes import index as _index
from . import _arr, _as_nd, roll

__all__ = ["fft", "ifft", "rfft", "irfft", "fft2", "ifft2", "rfft2", "irfft2", "fftn", "ifftn",
           "rfftn", "irfftn", "hfft", "ihfft", "fftfreq", "rfftfreq", "fftshift", "ifftshift"]

_NORMS = ("backward", "ortho", "forward")


def _norm_factor(norm, lengths, forward, name, half=False):
    """The factor applied to the primitive's result (FFT/RFFT unnormalised, IFFT/IRFFT 1/N).

    ``half``: a float16 input, whose factors NumPy rounds to float16 (``1/n`` per axis); the
    transform itself runs in float32, as NumPy's."""
    if half and norm in (None, *_NORMS):
        # NumPy's factor per axis, rounded to float16; funcad's IFFT/IRFFT already divide by N.
        if norm == "ortho" or (norm in (None, "backward")) != forward:
            fcts = [_np.reciprocal(_np.sqrt(_np.float16(n)) if norm == "ortho" else _np.float16(n))
                    for n in lengths]
        else:
            fcts = [1.0]
        return float(_np.prod([float(f) for f in fcts])) * (1 if forward else int(_np.prod(lengths)))
    size = int(_np.prod(lengths))
    if norm is None:
        norm = "backward"
    if norm not in _NORMS:
        raise FFTArgumentError(f"numpy.fft.{name}: norm={norm!r} is not a normalisation; use "
                               "\"backward\" (the default: 1/n on the inverse), \"ortho\" (1/sqrt(n) "
                               "both ways) or \"forward\" (1/n on the forward transform).")
    if norm == "ortho":
        return 1 / _np.sqrt(size) if forward else _np.sqrt(size)
    if norm == "forward":
        return 1 / size if forward else size
    return 1


def _scale(x, factor):
    if factor == 1:
        return x
    real = _real_dtype(get_aval(x).dtype)
    return _lax.mul(x, _np.asarray(factor, real).astype(get_aval(x).dtype))


def _as_input(a, kind, name):
    """``a`` as the transform's operand dtype: complex (``kind`` "c") or real ("f")."""
    a = _as_nd(_arr(a))
    dt = get_aval(a).dtype
    if dt.kind not in "biufc":
        raise DTypeError(f"numpy.fft.{name}: the input has dtype {dt}; pass numbers.")
    if dt.kind in "fc" and dt.itemsize > (8 if dt.kind == "f" else 16):
        raise DTypeError(f"numpy.fft.{name}: the input has dtype {dt}; funcad's transforms compute in "
                         "float32/float64 (complex64/complex128). Convert with x.astype(np.float64).")
    if kind == "f" and dt.kind == "c":
        raise DTypeError(f"numpy.fft.{name}: the input has complex dtype {dt}; {name} transforms "
                         "real arrays. Use numpy.fft.fft for complex input, or pass the real part.")
    want = _complex_dtype(dt) if kind == "c" else _real_dtype(dt)
    return _lax.convert_element_type(a, want) if dt != want else a


def _length(n, name, what="n"):
    if n is None:
        return None
    n = operator.index(n)
    if n < 1:
        raise FFTArgumentError(f"numpy.fft.{name}: {what}={n} is not a number of points; "
                               "a transform needs at least 1.")
    return n


def _axes(axes, ndim, name):
    out = []
    for ax in axes:
        ax = operator.index(ax)
        if not -ndim <= ax < ndim:
            raise _np.exceptions.AxisError(f"numpy.fft.{name}: axis {ax} is out of bounds for an "
                                           f"array of dimension {ndim}")
        out.append(ax % ndim)
    return out


def _resize(x, axis, n):
    """``x`` cut or zero-padded to ``n`` points along ``axis``."""
    shape = get_aval(x).shape
    if shape[axis] > n:
        return _index(x, (slice(None),) * axis + (slice(0, n),))
    if shape[axis] < n:
        zeros = _full(shape[:axis] + (n - shape[axis],) + shape[axis + 1:], 0, get_aval(x).dtype)
        return _concatenate([x, zeros], axis)
    return x


def _transform(x, fft_type, axes, lengths, norm, name, half=False):
    """The primitive over ``axes`` (distinct), each cut or padded to its length, then scaled.
    (IRFFT's last axis is resized to ``lengths[-1] // 2 + 1`` frequencies.)"""
    nd, k = get_aval(x).ndim, len(axes)
    order = [i for i in range(nd) if i not in axes] + list(axes)
    if order != list(range(nd)):
        x = _lax.transpose(x, order)
    for i, n in enumerate(lengths):
        last = fft_type == FftType.IRFFT and i == k - 1
        x = _resize(x, nd - k + i, n // 2 + 1 if last else n)
    y = _lax.fft(x, fft_type, lengths)
    forward = fft_type in (FftType.FFT, FftType.RFFT)
    y = _scale(y, _norm_factor(norm, lengths, forward, name, half))
    inverse = [order.index(i) for i in range(nd)]
    return _lax.transpose(y, inverse) if inverse != list(range(nd)) else y


def _one_axis(a, n, axis, norm, fft_type, name):
    kind = "f" if fft_type == FftType.RFFT else "c"
    half = _is_half(a)
    a = _as_input(a, kind, name)
    nd = get_aval(a).ndim
    (axis,) = _axes([axis], nd, name)
    m = get_aval(a).shape[axis]
    if n is None:
        n = 2 * (m - 1) if fft_type == FftType.IRFFT else m
    n = _length(n, name)
    return _transform(a, fft_type, [axis], [n], norm, name, half)


def fft(a, n=None, axis=-1, norm=None):
    """``numpy.fft.fft``: the 1-D discrete Fourier transform along ``axis``.

    >>> import numpy as np, funcad.numpy as fnp
    >>> fnp.fft.fft(np.array([1.0, 0.0, 0.0, 0.0]), n=2)
    array([1.+0.j, 1.+0.j])
    """
    return _one_axis(a, n, axis, norm, FftType.FFT, "fft")


def ifft(a, n=None, axis=-1, norm=None):
    """``numpy.fft.ifft``: the inverse of :func:`fft` (``1/n`` by default)."""
    return _one_axis(a, n, axis, norm, FftType.IFFT, "ifft")


def rfft(a, n=None, axis=-1, norm=None):
    """``numpy.fft.rfft``: the FFT of a real array, ``n // 2 + 1`` frequencies.

    >>> import numpy as np, funcad.numpy as fnp
    >>> fnp.fft.rfft(np.array([0.0, 1.0, 0.0, -1.0]))
    array([0.+0.j, 0.-2.j, 0.+0.j])
    """
    return _one_axis(a, n, axis, norm, FftType.RFFT, "rfft")


def _is_half(a):
    return get_aval(_as_nd(_arr(a))).dtype == _np.float16


def _half_precision(a, y):
    """NumPy keeps float16 through its complex-to-real transforms (irfft, hfft, irfftn)."""
    if _is_half(a):
        return _lax.convert_element_type(y, _np.float16)
    return y


def irfft(a, n=None, axis=-1, norm=None):
    """``numpy.fft.irfft``: the real array of ``n`` points (default ``2 (m - 1)``) whose
    :func:`rfft` is ``a``; give ``n`` for an odd length.

    >>> import numpy as np, funcad.numpy as fnp
    >>> fnp.fft.irfft(np.fft.rfft([0.0, 1.0, 2.0]), n=3).round(12)
    array([0., 1., 2.])
    """
    return _half_precision(a, _one_axis(a, n, axis, norm, FftType.IRFFT, "irfft"))


def hfft(a, n=None, axis=-1, norm=None):
    """``numpy.fft.hfft``: the FFT of a signal with Hermitian symmetry (given by its first
    half ``a``), a real spectrum of ``n`` points (default ``2 (m - 1)``): ``irfft(conj(a))``
    with the ``norm`` direction swapped, as NumPy computes it."""
    half = _is_half(a)
    a = _as_input(a, "c", "hfft")
    nd = get_aval(a).ndim
    (axis,) = _axes([axis], nd, "hfft")
    if n is None:
        n = 2 * (get_aval(a).shape[axis] - 1)
    n = _length(n, "hfft")
    y = _transform(_conj(a), FftType.IRFFT, [axis], [n], _swap(norm, "hfft"), "hfft", half)
    return _lax.convert_element_type(y, _np.float16) if half else y


def ihfft(a, n=None, axis=-1, norm=None):
    """``numpy.fft.ihfft``: the inverse of :func:`hfft`, ``conj(rfft(a)) / n`` by default."""
    half = _is_half(a)
    a = _as_input(a, "f", "ihfft")
    nd = get_aval(a).ndim
    (axis,) = _axes([axis], nd, "ihfft")
    n = _length(get_aval(a).shape[axis] if n is None else n, "ihfft")
    return _conj(_transform(a, FftType.RFFT, [axis], [n], _swap(norm, "ihfft"), "ihfft", half))


def _swap(norm, name):
    _norm_factor(norm, [1], True, name)  # the error names the user's function
    return {None: "forward", "backward": "forward", "ortho": "ortho", "forward": "backward"}[norm]


def _cook(a, s, axes, name, inverse_real=False):
    """NumPy's ``s``/``axes`` defaults: every axis (``axes``), or the last ``len(s)``."""
    nd = get_aval(a).ndim
    if axes is None:
        axes = list(range(nd)) if s is None else list(range(nd - len(s), nd))
    axes = _axes(axes, nd, name)
    if s is None:
        s = [get_aval(a).shape[ax] for ax in axes]
        if inverse_real and axes:
            s[-1] = 2 * (s[-1] - 1)
    elif len(s) != len(axes):
        raise FFTArgumentError(f"numpy.fft.{name}: s={tuple(s)} and axes={tuple(axes)} have different "
                               "lengths; give one size per transformed axis.")
    s = [get_aval(a).shape[ax] if n in (-1, None) else n for n, ax in zip(s, axes)]
    return [_length(n, name, "s") for n in s], axes


def _n_axes(a, s, axes, norm, fft_type, name):
    half = _is_half(a)
    a = _as_input(a, "f" if fft_type == FftType.RFFT else "c", name)
    s, axes = _cook(a, s, axes, name, inverse_real=fft_type == FftType.IRFFT)
    if not axes:
        _norm_factor(norm, [1], True, name)
        return a
    if len(set(axes)) == len(axes):
        return _transform(a, fft_type, axes, s, norm, name, half)
    # A repeated axis is transformed once per mention, as NumPy does (last axis first).
    one = {FftType.FFT: fft, FftType.IFFT: ifft, FftType.RFFT: fft, FftType.IRFFT: ifft}[fft_type]
    last = {FftType.RFFT: rfft, FftType.IRFFT: irfft}.get(fft_type, one)
    if fft_type == FftType.IRFFT:
        for n, ax in list(zip(s, axes))[:-1]:
            a = one(a, n, ax, norm)
        return last(a, s[-1], axes[-1], norm)
    a = last(a, s[-1], axes[-1], norm)
    for n, ax in reversed(list(zip(s, axes))[:-1]):
        a = one(a, n, ax, norm)
    return a


def fftn(a, s=None, axes=None, norm=None):
    """``numpy.fft.fftn``: the N-D FFT over ``axes`` (default all), each cut/padded to ``s``."""
    return _n_axes(a, s, axes, norm, FftType.FFT, "fftn")


def ifftn(a, s=None, axes=None, norm=None):
    """``numpy.fft.ifftn``: the inverse of :func:`fftn`."""
    return _n_axes(a, s, axes, norm, FftType.IFFT, "ifftn")


def rfftn(a, s=None, axes=None, norm=None):
    """``numpy.fft.rfftn``: the N-D FFT of a real array (the last axis halved)."""
    return _n_axes(a, s, axes, norm, FftType.RFFT, "rfftn")


def irfftn(a, s=None, axes=None, norm=None):
    """``numpy.fft.irfftn``: the inverse of :func:`rfftn` (last length ``2 (m - 1)`` unless ``s``)."""
    return _half_precision(a, _n_axes(a, s, axes, norm, FftType.IRFFT, "irfftn"))


def fft2(a, s=None, axes=(-2, -1), norm=None):
    """``numpy.fft.fft2``: :func:`fftn` over the last two axes."""
    return _n_axes(a, s, axes, norm, FftType.FFT, "fft2")


def ifft2(a, s=None, axes=(-2, -1), norm=None):
    """``numpy.fft.ifft2``: :func:`ifftn` over the last two axes."""
    return _n_axes(a, s, axes, norm, FftType.IFFT, "ifft2")


def rfft2(a, s=None, axes=(-2, -1), norm=None):
    """``numpy.fft.rfft2``: :func:`rfftn` over the last two axes."""
    return _n_axes(a, s, axes, norm, FftType.RFFT, "rfft2")


def irfft2(a, s=None, axes=(-2, -1), norm=None):
    """``numpy.fft.irfft2``: :func:`irfftn` over the last two axes."""
    return _half_precision(a, _n_axes(a, s, axes, norm, FftType.IRFFT, "irfft2"))


def fftfreq(n, d=1.0, device=None):
    """``numpy.fft.fftfreq``: the sample frequencies ``[0, 1, ..., -1] / (n d)``.

    >>> import funcad.numpy as fnp
    >>> fnp.fft.fftfreq(4, d=0.5)
    array([ 0. ,  0.5, -1. , -0.5])
    """
    n = _length(n, "fftfreq")
    k = _np.concatenate([_np.arange((n - 1) // 2 + 1), _np.arange(-(n // 2), 0)])
    return _freq(k, n, d)


def rfftfreq(n, d=1.0, device=None):
    """``numpy.fft.rfftfreq``: the :func:`rfft` frequencies ``[0, 1, ..., n // 2] / (n d)``."""
    n = _length(n, "rfftfreq")
    return _freq(_np.arange(n // 2 + 1), n, d)


def _freq(k, n, d):
    if isinstance(d, int | float | _np.generic | _np.ndarray):
        return k * (1.0 / (n * d))  # NumPy's expression, to the last bit
    from . import multiply

    return multiply(k, 1.0 / (n * d))  # a traced spacing


def _shift_axes(axes, ndim):
    if axes is None:
        return list(range(ndim))
    return [axes] if isinstance(axes, int | _np.integer) else list(axes)


def fftshift(x, axes=None):
    """``numpy.fft.fftshift``: the zero frequency to the centre (``roll`` by ``n // 2``)."""
    x = _as_nd(_arr(x))
    shape = get_aval(x).shape
    axes = _shift_axes(axes, len(shape))
    return roll(x, [shape[ax] // 2 for ax in axes], axes)


def ifftshift(x, axes=None):
    """``numpy.fft.ifftshift``: the inverse of :func:`fftshift`."""
    x = _as_nd(_arr(x))
    shape = get_aval(x).shape
    axes = _shift_axes(axes, len(shape))
    return roll(x, [-(shape[ax] // 2) for ax in axes], axes)
