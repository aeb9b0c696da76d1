"""funcad.numpy.fft and lax.fft (issue 21): values, dtypes and shapes against NumPy, derivatives
against finite differences (check_grads, second order), transposes against the explicit
real-linear maps, vmap against a Python loop, jit against eager, pocketfft's loops as called
from compiled code against NumPy, and the errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import funcad as fa
import funcad.lax as lax
import funcad.numpy as fnp
from funcad import errors
from funcad.test_util import check_grads

RNG = np.random.default_rng(21)


def _real(*shape, dtype=np.float64):
    return RNG.standard_normal(shape).astype(dtype)


def _cplx(*shape, dtype=np.complex128):
    return (RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape)).astype(dtype)


def _same(got, want, rtol=1e-10, atol=1e-10):
    got = np.asarray(got)
    assert got.shape == want.shape and got.dtype == want.dtype, (got.shape, got.dtype, want.shape, want.dtype)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


# --------------------------------------------------------------------------------------
# Values against NumPy (eager)

ONE_AXIS = ["fft", "ifft", "rfft", "irfft", "hfft", "ihfft"]
N_AXES = ["fftn", "ifftn", "rfftn", "irfftn", "fft2", "ifft2", "rfft2", "irfft2"]


@pytest.mark.parametrize("name", ONE_AXIS)
@pytest.mark.parametrize("norm", [None, "backward", "ortho", "forward"])
def test_one_axis_transforms_equal_numpy(name, norm):
    takes_complex = name in ("fft", "ifft", "irfft", "hfft")
    for shape, axis in (((8,), -1), ((3, 7), -1), ((5, 4), 0), ((2, 3, 6), 1), ((1,), 0)):
        for n in (None, 1, 5, 6, 11):
            if n is None and name in ("irfft", "hfft") and shape[axis] == 1:
                continue  # NumPy's own default (2 (m - 1) = 0 points) is an error: tested below
            for x in ([_real(*shape), _cplx(*shape)] if takes_complex else [_real(*shape)]):
                want = getattr(np.fft, name)(x, n=n, axis=axis, norm=norm)
                _same(getattr(fnp.fft, name)(x, n=n, axis=axis, norm=norm), want)


@pytest.mark.parametrize("name", ONE_AXIS)
def test_dtypes_follow_numpy(name):
    for dt in (np.float32, np.float64, np.int32, np.float16, np.complex64):
        if name in ("rfft", "ihfft") and np.dtype(dt).kind == "c":
            continue
        x = (_cplx(6) if np.dtype(dt).kind == "c" else np.arange(6) + 0.5).astype(dt)
        for norm in ("backward", "ortho", "forward"):
            want = getattr(np.fft, name)(x, norm=norm)
            tol = {np.float16: 2e-3, np.float32: 1e-4, np.complex64: 1e-4}.get(want.dtype.type, 1e-10)
            _same(getattr(fnp.fft, name)(x, norm=norm), want, rtol=tol, atol=tol)
    x16 = np.arange(30.0).reshape(5, 6).astype(np.float16)  # n-D: NumPy's float16 factor per axis
    for norm in ("backward", "ortho", "forward"):
        _same(fnp.fft.irfftn(fnp.fft.rfftn(x16, norm=norm), norm=norm),
              np.fft.irfftn(np.fft.rfftn(x16, norm=norm), norm=norm), rtol=2e-3, atol=2e-2)


@pytest.mark.parametrize("name", N_AXES)
def test_n_axis_transforms_equal_numpy(name):
    x = _cplx(3, 4, 6) if name.startswith(("fft", "ifft", "irfft")) else _real(3, 4, 6)
    two = name.endswith("2")
    cases = [dict(), dict(norm="ortho"), dict(axes=(0, 2)), dict(axes=(-1, 0)), dict(s=(5, 3), axes=(1, 2)),
             dict(s=(2, 7), axes=(0, -1), norm="forward"), dict(s=(-1, 4), axes=(0, 1)),
             dict(axes=(2, 2)) if not two else dict(axes=(1, 1))]
    if not two:
        cases += [dict(axes=(1,)), dict(axes=(0, 1, 2), s=(2, 5, 9))]
    for kw in cases:
        _same(getattr(fnp.fft, name)(x, **kw), getattr(np.fft, name)(x, **kw))


def test_s_without_axes_is_the_last_axes_as_in_numpy():
    x = _real(3, 4, 6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        want = np.fft.rfftn(x, s=(5, 8))
    _same(fnp.fft.rfftn(x, s=(5, 8)), want)


def test_frequencies_and_shifts_equal_numpy():
    for n in (1, 4, 7):
        for d in (1.0, 0.1):
            _same(fnp.fft.fftfreq(n, d), np.fft.fftfreq(n, d), rtol=0, atol=0)
            _same(fnp.fft.rfftfreq(n, d), np.fft.rfftfreq(n, d), rtol=0, atol=0)
    x = np.arange(30.0).reshape(5, 6)
    for axes in (None, 0, (1,), (0, 1), -1):
        _same(fnp.fft.fftshift(x, axes), np.fft.fftshift(x, axes))
        _same(fnp.fft.ifftshift(x, axes), np.fft.ifftshift(x, axes))
    # a traced spacing d: its derivative
    g = fa.grad(lambda d: fnp.sum(fnp.fft.fftfreq(5, d) ** 2))(0.5)
    np.testing.assert_allclose(g, -2 * np.sum(np.fft.fftfreq(5) ** 2) / 0.5 ** 3)


def test_lax_fft_equals_numpy_and_takes_jax_names():
    z, x = _cplx(2, 3, 4), _real(2, 3, 4)
    _same(lax.fft(z, lax.FftType.FFT, (3, 4)), np.fft.fftn(z, axes=(1, 2)))
    _same(lax.fft(z, "ifft", (4,)), np.fft.ifft(z))
    _same(lax.fft(x, "rfft", (3, 4)), np.fft.rfftn(x, axes=(1, 2)))
    _same(lax.fft(np.fft.rfftn(x, axes=(1, 2)), lax.FftType.IRFFT, (3, 4)), x)
    assert lax.fft(x.astype(np.float32), "rfft", (4,)).dtype == np.complex64


# --------------------------------------------------------------------------------------
# Errors


def test_bad_arguments_raise_clear_errors():
    x = np.ones(8)
    for call in (lambda: fnp.fft.fft(x, norm="bad"), lambda: fnp.fft.irfft(x, norm="unitary"),
                 lambda: fnp.fft.hfft(x, norm="bad"), lambda: fnp.fft.fftn(np.ones((2, 2)), norm="x")):
        with pytest.raises(errors.FFTArgumentError, match="norm='.*' is not a normalisation"):
            call()
    with pytest.raises(ValueError, match="at least 1"):  # a NumPy user's except still catches it
        fnp.fft.rfft(x, n=0)
    with pytest.raises(errors.FFTArgumentError, match="at least 1"):
        fnp.fft.irfft(np.ones(1))  # 2 (1 - 1) = 0 points, as NumPy
    with pytest.raises(errors.FFTArgumentError, match="different lengths"):
        fnp.fft.fftn(np.ones((2, 3)), s=(2,), axes=(0, 1))
    with pytest.raises(errors.DTypeError, match="complex dtype"):
        fnp.fft.rfft(np.ones(4) + 1j)
    with pytest.raises(errors.DTypeError, match="float32/float64"):
        fnp.fft.fft(np.ones(4, np.longdouble))
    with pytest.raises(np.exceptions.AxisError):
        fnp.fft.fft(x, axis=1)
    with pytest.raises(errors.FFTArgumentError, match="unknown fft_type"):
        lax.fft(x, "dft", (8,))
    with pytest.raises(errors.ShapeError, match="trailing axes"):
        lax.fft(x, "rfft", (4,))
    with pytest.raises(errors.DTypeError, match="takes a complex64 or complex128"):
        lax.fft(x, "fft", (8,))


# --------------------------------------------------------------------------------------
# Derivatives: check_grads (forward and reverse, second order) on real losses


def _loss_through(fn, w):
    """A real loss of a transform's output: cubes its real part (or the real output)."""
    def loss(x):
        y = fn(x)
        if np.dtype(fnp.result_type(y)).kind == "c":
            y = fnp.real(y) + 0.5 * fnp.imag(y)
        return fnp.sum(w * y ** 3)

    return loss


REAL_IN = {  # function of a real array (3, 6) -> (array of some shape)
    "rfft": lambda x: fnp.fft.rfft(x),
    "rfft n=9 ortho": lambda x: fnp.fft.rfft(x, n=9, norm="ortho"),
    "rfft n=4 axis 0": lambda x: fnp.fft.rfft(x, n=4, axis=0),
    "irfft(rfft)": lambda x: fnp.fft.irfft(fnp.fft.rfft(x) * np.array([1, 2, 0.5 + 1j, 3])),
    "irfft odd": lambda x: fnp.fft.irfft(fnp.fft.rfft(x, n=7), n=7, norm="forward"),
    "ihfft": lambda x: fnp.fft.ihfft(x, n=5),
    "hfft(ihfft)": lambda x: fnp.fft.hfft(fnp.fft.ihfft(x) * np.array([1, 1j, 2, 0.5]), n=5),
    "rfft2": lambda x: fnp.fft.rfft2(x, s=(4, 5)),
    "irfft2(rfft2)": lambda x: fnp.fft.irfft2(fnp.fft.rfft2(x) * (1 + 1j), s=(3, 6)),
    "rfftn axes (1, 0)": lambda x: fnp.fft.rfftn(x, axes=(1, 0)),
    "fft": lambda x: fnp.fft.fft(x),
    "ifft n=4": lambda x: fnp.fft.ifft(x, n=4, norm="ortho"),
    "fft2": lambda x: fnp.fft.fft2(x, s=(2, 7)),
    "ifftn": lambda x: fnp.fft.ifftn(x),
    "fftshift(fft)": lambda x: fnp.fft.fftshift(fnp.fft.fft(x)),
    "irfftn(fftn)": lambda x: fnp.fft.irfftn(fnp.fft.fftn(x)[:, :4], s=(3, 6)),
}


@pytest.mark.parametrize("name", list(REAL_IN))
def test_derivatives_of_real_losses_to_second_order(name):
    x = _real(3, 6)
    fn = REAL_IN[name]
    w = _real(*np.shape(fn(x)))
    check_grads(_loss_through(fn, w), (x,), order=2)


@pytest.mark.parametrize("name", ["fft", "ifft", "irfft", "hfft", "fft2", "irfftn"])
def test_derivatives_of_complex_inputs_to_second_order(name):
    z = _cplx(3, 6)
    fn = getattr(fnp.fft, name)
    w = _real(*np.shape(fn(z)))
    check_grads(_loss_through(fn, w), (z,), order=2)


COMPLEX_MAPS = {  # the transforms themselves (complex outputs): check_grads perturbs re and im parts
    "fft n=5": (lambda z: fnp.fft.fft(z, n=5), True),
    "ifft2 ortho": (lambda z: fnp.fft.ifft2(z, norm="ortho"), True),
    "rfft n=7": (lambda x: fnp.fft.rfft(x, n=7), False), "irfft n=9": (lambda z: fnp.fft.irfft(z, n=9), True),
    "hfft": (fnp.fft.hfft, True), "ihfft": (fnp.fft.ihfft, False),
    "rfftn s": (lambda x: fnp.fft.rfftn(x, s=(4, 5)), False), "irfftn": (fnp.fft.irfftn, True),
    "fftn axes": (lambda z: fnp.fft.fftn(z, axes=(1, 0), norm="forward"), True),
}


@pytest.mark.parametrize("name", list(COMPLEX_MAPS))
def test_derivatives_of_the_transforms_themselves_to_second_order(name):
    fn, cplx = COMPLEX_MAPS[name]
    check_grads(fn, (_cplx(3, 6) if cplx else _real(3, 6),), order=2)


def _real_matrix(f, n_in, complex_in):
    """The real matrix of the real-linear map ``f`` (complex values as (re, im) pairs)."""
    def flat(v):
        v = np.asarray(v).ravel()
        return np.concatenate([v.real, v.imag]) if np.iscomplexobj(v) else v

    cols = []
    for k in range(2 * n_in if complex_in else n_in):
        e = np.zeros(2 * n_in if complex_in else n_in)
        e[k] = 1.0
        cols.append(flat(f(e[:n_in] + 1j * e[n_in:] if complex_in else e)))
    return np.array(cols).T


@pytest.mark.parametrize("fft_type, lengths", [("fft", (6,)), ("ifft", (5,)), ("rfft", (6,)), ("rfft", (7,)),
                                               ("irfft", (6,)), ("irfft", (7,)), ("rfft", (3, 4)),
                                               ("irfft", (3, 5)), ("fft", (2, 3))])
def test_transposes_are_the_real_transposes_of_the_maps(fft_type, lengths):
    """JAX's pairing <ct, y> = Re sum(ct * y): the transpose's matrix in (re, -im) coordinates.
    (fa.linear_transpose of the whole map is checked through check_grads below.)"""
    complex_in = fft_type != "rfft"
    in_shape = lengths[:-1] + ((lengths[-1] // 2 + 1,) if fft_type == "irfft" else (lengths[-1],))
    n_in = int(np.prod(in_shape))

    def apply(v):
        return np.asarray(lax.fft(np.asarray(v).reshape(in_shape), fft_type, lengths))

    m = _real_matrix(apply, n_in, complex_in)
    out_aval = apply(np.zeros(n_in, complex if complex_in else float))
    ct = _cplx(*out_aval.shape) if np.iscomplexobj(out_aval) else _real(*out_aval.shape)
    # The rule itself (eagerly: it is written with bind), at an undefined linear input.
    from funcad.ad import UndefinedPrimal, transpose_rules
    from funcad.core import ShapedArray
    from funcad.lax.fft import FftType, fft_p

    x = UndefinedPrimal(ShapedArray(in_shape, np.complex128 if complex_in else np.float64))
    (got,) = transpose_rules[fft_p](ct, x, fft_type=FftType[fft_type.upper()], fft_lengths=lengths)
    # Re sum(ct * M v): a row vector [re ct, -im ct] times M, read back as (re, -im) of the transpose
    flat_ct = np.concatenate([ct.real.ravel(), -ct.imag.ravel()]) if np.iscomplexobj(ct) else ct.ravel()
    want = flat_ct @ m
    want = want[:n_in] - 1j * want[n_in:] if complex_in else want
    np.testing.assert_allclose(np.asarray(got).ravel(), want, atol=1e-10)


# --------------------------------------------------------------------------------------
# vmap and jit


VMAPPED = {
    "rfft": (lambda x: fnp.fft.rfft(x, n=5), False),
    "irfft": (lambda z: fnp.fft.irfft(z, n=7), True),
    "fft": (lambda z: fnp.fft.fft(z, axis=0), True),
    "rfft2": (lambda x: fnp.fft.rfft2(x), False),
    "irfftn": (lambda z: fnp.fft.irfftn(z, s=(4, 6)), True),
    "hfft": (lambda z: fnp.fft.hfft(z), True),
    "ihfft": (lambda x: fnp.fft.ihfft(x, n=5, axis=0), False),
    "ifft2": (lambda z: fnp.fft.ifft2(z, norm="ortho"), True),
    "fftshift": (lambda z: fnp.fft.fftshift(z, axes=-1), True),
}


@pytest.mark.parametrize("name", list(VMAPPED))
@pytest.mark.parametrize("in_axis", [0, 2])
def test_vmap_equals_a_loop(name, in_axis):
    fn, cplx = VMAPPED[name]
    xs = _cplx(3, 4, 6) if cplx else _real(3, 4, 6)
    got = fa.vmap(fn, in_axes=in_axis)(xs)
    want = np.stack([fn(np.take(xs, i, axis=in_axis)) for i in range(xs.shape[in_axis])])
    _same(got, want)


def test_vmap_of_grad_equals_a_loop():
    h = np.array([1.0, 2.0, 0.5 + 1j, -1.0])

    def loss(x):
        return fnp.sum(fnp.fft.irfft(fnp.fft.rfft(x) * h, n=6) ** 2)

    xs = _real(5, 6)
    _same(fa.vmap(fa.grad(loss))(xs), np.stack([fa.grad(loss)(x) for x in xs]))


JITTED = {  # each entry one compiled program (a few transforms each: compiling is the cost)
    "1-D": lambda x: (fnp.fft.rfft(x), fnp.fft.rfft(x, n=7, axis=0), fnp.fft.fft(x), fnp.fft.ifft(x, n=9),
                      fnp.fft.irfft(fnp.fft.rfft(x) * np.arange(1.0, 5.0), n=6, norm="ortho")),
    "hermitian": lambda x: (fnp.fft.hfft(fnp.fft.ihfft(x)), fnp.fft.fftshift(fnp.fft.fft(x), axes=1)),
    "2-D": lambda x: (fnp.fft.rfft2(x), fnp.fft.irfftn(fnp.fft.rfftn(x)), fnp.fft.rfftn(x, s=(3, 7)),
                      fnp.fft.fft2(x), fnp.fft.ifft2(x, s=(5, 3)), fnp.fft.irfft2(fnp.fft.fft2(x)[:, :4]),
                      fnp.fft.ifftshift(x, axes=0) * fnp.fft.fftfreq(6, 0.5) + fnp.fft.rfftfreq(6)[:, None]),
    "3-D": lambda x: (fnp.fft.fftn(x.reshape(2, 2, 6), s=(3, 2, 5)),
                      fnp.fft.ifftn(x.reshape(2, 2, 6), axes=(0, 2), norm="ortho"),
                      fnp.fft.irfftn(fnp.fft.rfftn(x.reshape(2, 2, 6)), s=(2, 2, 6))),
}


@pytest.mark.parametrize("name", list(JITTED))
def test_jit_equals_eager(name):
    fn = JITTED[name]
    for x in (_real(4, 6), _real(4, 6, dtype=np.float32)) if name == "1-D" else (_real(4, 6),):
        tol = 1e-4 if x.dtype == np.float32 else 1e-12
        for got, want in zip(fa.jit(fn)(x), fn(x)):
            _same(got, np.asarray(want), rtol=tol, atol=tol)


def test_grad_under_jit_equals_eager():
    def loss(x):
        return fnp.sum(fnp.fft.irfft(fnp.fft.rfft(x) * np.array([1.0, 0.5, 2j, 1.0, -1.0]), n=8) ** 3)

    x = _real(3, 8)
    _same(fa.jit(fa.grad(loss))(x), fa.grad(loss)(x), rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------------------
# Every length pocketfft treats apart (1, even, odd, prime), single and double, under jit


@pytest.mark.parametrize("rows", [1, 3, 9])
@pytest.mark.parametrize("dtype", [np.complex128, np.complex64])
def test_jitted_transforms_of_every_length_kind_equal_numpy(rows, dtype):
    real = np.float32 if dtype == np.complex64 else np.float64
    lengths = (1, 2, 7, 12, 97)
    zs = [_cplx(rows, n, dtype=dtype) for n in lengths]
    xs = [_real(rows, n, dtype=real) for n in lengths]

    def f(zs, xs):
        return [(fnp.fft.fft(z), fnp.fft.ifft(z), fnp.fft.rfft(x),
                 fnp.fft.irfft(fnp.fft.rfft(x), n=x.shape[-1])) for z, x in zip(zs, xs)]

    for n, z, x, (fz, iz, rx, back) in zip(lengths, zs, xs, fa.jit(f)(zs, xs), strict=True):
        tol = 1e-4 * np.sqrt(n) if dtype == np.complex64 else 1e-11 * np.sqrt(n)
        assert fz.dtype == iz.dtype == rx.dtype == dtype and back.dtype == real
        np.testing.assert_allclose(fz, np.fft.fft(z.astype(complex)), atol=tol)
        np.testing.assert_allclose(iz, np.fft.ifft(z.astype(complex)), atol=tol)
        np.testing.assert_allclose(rx, np.fft.rfft(x.astype(float)), atol=tol)
        np.testing.assert_allclose(back, x, atol=tol)


def test_ports_of_the_jax_and_autograd_examples():
    # JAX's jnp.fft.fft and jnp.fft.rfft documentation: their printed values (x64).
    x = np.array([1.0, 2.0, 3.0, 4.0])
    np.testing.assert_allclose(fnp.fft.fft(x), [10, -2 + 2j, -2, -2 - 2j], atol=1e-14)
    np.testing.assert_allclose(fnp.fft.rfft(x), [10, -2 + 2j, -2], atol=1e-14)
    np.testing.assert_allclose(fnp.fft.ifft(fnp.fft.fft(x)), x, atol=1e-14)
    # autograd's tests of np.fft run check_grads on the transforms of complex inputs; the
    # autograd namespace is funcad.numpy.fft. Parseval: sum |fft(x)|^2 = n sum x^2, gradient 2 n x.
    import funcad.autograd.numpy as anp
    from funcad.autograd import grad

    g = grad(lambda x: anp.sum(anp.abs(anp.fft.fft(x)) ** 2))(np.arange(3.0))
    np.testing.assert_allclose(g, 6 * np.arange(3.0), atol=1e-12)
    check_grads(lambda z: anp.fft.ifftn(anp.fft.fftshift(z)), (_cplx(2, 3),), order=2)
