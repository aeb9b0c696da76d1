"""The discrete Fourier transform: one primitive, ``fft``, as JAX's ``lax.fft``.

``fft(x, fft_type, fft_lengths)`` transforms the trailing ``len(fft_lengths)`` axes of ``x``:

* ``FFT``: complex -> complex, ``y_k = sum_j x_j exp(-2 pi i j.k / n)`` (unnormalised);
* ``IFFT``: complex -> complex, its inverse (``1/N`` times the conjugate kernel);
* ``RFFT``: real -> complex, the FFT of a real array, last axis cut to ``n // 2 + 1``;
* ``IRFFT``: complex (a Hermitian half-spectrum) -> real of the given lengths, RFFT's inverse.

The transforms are linear, so the JVP applies the transform to the tangent. Transposes use
JAX's pairing of a cotangent with a value, ``Re sum(ct * y)`` (no conjugation; the transpose
of a real-to-complex inclusion is ``Re``):

* The DFT matrix is symmetric, so FFT and IFFT are their own transposes.
* RFFT, as a real-linear map ``R^n -> C^m`` (``m = n//2 + 1``), pairs with ``ct`` as
  ``Re sum_k ct_k sum_j exp(-2 pi i jk/n) x_j``, so ``RFFT^T(ct)_j = Re sum_{k<m} ct_k
  exp(-2 pi i jk/n)``. IRFFT computes ``(1/n) Re sum_{k<m} v_k c_k exp(+2 pi i jk/n)``
  with Hermitian weights ``v_k`` (1 at ``k = 0`` and, for even ``n``, at ``k = n/2``; 2
  between), and ``Re(a exp(-it)) = Re(conj(a) exp(+it))``. Hence
  ``RFFT^T(ct) = N * IRFFT(conj(ct) / v)``.
* IRFFT: ``sum_j ct_j y_j = Re sum_k c_k (v_k/N) sum_j ct_j exp(+2 pi i jk/n)``, so
  ``IRFFT^T(ct) = (v/N) * conj(RFFT(ct))``. Its value at ``k = 0`` (and the Nyquist
  frequency) is real, matching IRFFT ignoring the imaginary parts there.

Over several axes the same holds with ``N`` the product of the lengths and the weights along
the last axis only (the leading axes are full complex transforms). The conjugations are
elementwise, so under jit they fuse into the multiplications by the weights: each transpose
is one real transform and one loop. tests/test_fft.py checks each transpose against the
explicit real-linear map, and the derivatives against finite differences.
"""

from __future__ import annotations

import enum

import numpy as np

from .. import ad, batching
from ..core import Primitive, ShapedArray, bind, get_aval
from ..errors import DTypeError, FFTArgumentError, ShapeError
from .elementwise import conj, mul


class FftType(enum.IntEnum):
    """The kind of transform (JAX's ``jax.lax.FftType``)."""

    FFT = 0
    IFFT = 1
    RFFT = 2
    IRFFT = 3


fft_p = Primitive("fft")


def _complex_dtype(dtype) -> np.dtype:
    """The complex dtype of a transform of ``dtype`` values (NumPy's: float32 -> complex64)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "c":
        return dtype
    return np.dtype(np.complex64) if dtype.kind == "f" and dtype.itemsize <= 4 else np.dtype(np.complex128)


def _real_dtype(dtype) -> np.dtype:
    return np.dtype(np.float32) if _complex_dtype(dtype) == np.complex64 else np.dtype(np.float64)


def _fft_impl(x, *, fft_type, fft_lengths):
    _fft_abstract_eval(ShapedArray(x.shape, x.dtype), fft_type=fft_type, fft_lengths=fft_lengths)
    axes = tuple(range(x.ndim - len(fft_lengths), x.ndim))
    if fft_type == FftType.FFT:
        out = np.fft.fftn(x, fft_lengths, axes)
    elif fft_type == FftType.IFFT:
        out = np.fft.ifftn(x, fft_lengths, axes)
    elif fft_type == FftType.RFFT:
        out = np.fft.rfftn(x, fft_lengths, axes)
    else:
        out = np.fft.irfftn(x, fft_lengths, axes)
    return np.asarray(out, _fft_out_dtype(x.dtype, fft_type))


def _fft_out_dtype(dtype, fft_type):
    return _real_dtype(dtype) if fft_type == FftType.IRFFT else _complex_dtype(dtype)


def _fft_abstract_eval(x, *, fft_type, fft_lengths):
    k, name = len(fft_lengths), FftType(fft_type).name
    if not 1 <= k <= x.ndim:
        raise ShapeError(f"lax.fft ({name}): fft_lengths {fft_lengths} has {k} entries, which "
                         f"must be between 1 and the operand's rank ({x.ndim}, shape {x.shape}).")
    real_in = fft_type == FftType.RFFT
    if (x.dtype.kind == "c") == real_in or x.dtype.kind not in "fc":
        want = "a float32 or float64" if real_in else "a complex64 or complex128"
        raise DTypeError(f"lax.fft ({name}): the operand has dtype {x.dtype}; {name} takes {want} "
                         "operand (funcad.numpy.fft converts for you).")
    want = tuple(fft_lengths)
    if fft_type == FftType.IRFFT:
        want = want[:-1] + (want[-1] // 2 + 1,)
    if x.shape[x.ndim - k:] != want:
        raise ShapeError(f"lax.fft ({name}): the operand's trailing axes {x.shape[x.ndim - k:]} "
                         f"(shape {x.shape}) must be {want} for fft_lengths {tuple(fft_lengths)}.")
    shape = x.shape[:x.ndim - k] + tuple(fft_lengths)
    if fft_type == FftType.RFFT:
        shape = shape[:-1] + (shape[-1] // 2 + 1,)
    return ShapedArray(shape, _fft_out_dtype(x.dtype, fft_type))


fft_p.def_impl(_fft_impl)
fft_p.def_abstract_eval(_fft_abstract_eval)


def fft(x, fft_type, fft_lengths):
    """The FFT of ``x``'s trailing ``len(fft_lengths)`` axes (JAX's ``lax.fft``).

    ``fft_type`` is a :class:`FftType` or its name ("fft", "ifft", "rfft", "irfft").

    >>> import numpy as np, funcad.lax as lax
    >>> lax.fft(np.array([1.0, 2.0, 3.0, 4.0]), "rfft", (4,))
    array([10.+0.j, -2.+2.j, -2.+0.j])
    """
    if isinstance(fft_type, str):
        try:
            fft_type = FftType[fft_type.upper()]
        except KeyError:
            raise FFTArgumentError(f"lax.fft: unknown fft_type {fft_type!r}; use one of "
                                   "'fft', 'ifft', 'rfft', 'irfft' (or a lax.FftType).") from None
    return bind(fft_p, x, fft_type=FftType(fft_type), fft_lengths=tuple(int(n) for n in fft_lengths))


def _hermitian_weights(n, dtype):
    """``v_k`` (see the module docstring) along an axis of ``n // 2 + 1`` frequencies."""
    v = np.full(n // 2 + 1, 2.0)
    v[0] = 1.0
    if n % 2 == 0:
        v[-1] = 1.0
    return v.astype(dtype)


def _fft_transpose(ct, x, *, fft_type, fft_lengths):
    n, size = fft_lengths[-1], int(np.prod(fft_lengths))
    if fft_type in (FftType.FFT, FftType.IFFT):
        return [fft(ct, fft_type, fft_lengths)]
    real = _real_dtype(x.aval.dtype)
    if fft_type == FftType.RFFT:
        scaled = mul(conj(ct), (size / _hermitian_weights(n, real)).astype(real))
        return [fft(scaled, FftType.IRFFT, fft_lengths)]
    spectrum = fft(ct, FftType.RFFT, fft_lengths)
    return [mul(conj(spectrum), (_hermitian_weights(n, real) / size).astype(real))]


ad.deflinear(fft_p, _fft_transpose)


def _fft_batch(axis_size, vals, dims, *, fft_type, fft_lengths):
    (x,), (d,) = vals, dims
    if d >= get_aval(x).ndim - len(fft_lengths):  # the batch axis among the transformed ones
        x, d = batching.moveaxis(x, d, 0), 0
    return fft(x, fft_type, fft_lengths), d


batching.primitive_batchers[fft_p] = _fft_batch
