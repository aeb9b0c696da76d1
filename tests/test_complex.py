"""Complex numbers: values against NumPy, derivatives against finite differences
(check_grads, forward and reverse, second order), JAX's conventions against values computed
with JAX 0.10.2 (stored here: funcad never imports JAX), vmap against a loop, jit against
eager. Linear algebra is in test_complex_linalg.py."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import funcad as fa
import funcad.numpy as fnp
from funcad import errors
from funcad.lax import elementwise as ew
from funcad.test_util import check_grads, check_vmap

rng = np.random.default_rng(0)


def crandn(*shape, dtype=np.complex128):
    return (rng.normal(size=shape) + 1j * rng.normal(size=shape)).astype(dtype)


Z = crandn(3) * 0.5 + 0.2  # away from branch cuts and zeros
A, B, V = crandn(3, 4), crandn(4, 2), crandn(4)

UNARY = ["negative", "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt", "sin",
         "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "arcsinh", "arccosh",
         "arctanh", "absolute", "sign", "conj", "real", "imag", "angle", "square", "reciprocal"]
BINARY = ["add", "subtract", "multiply", "divide", "power"]


@pytest.mark.parametrize("name", UNARY)
def test_unary_values_and_derivatives(name):
    f = getattr(fnp, name)
    out = f(Z)
    expected = getattr(np, name)(Z)
    assert out.dtype == expected.dtype
    np.testing.assert_allclose(out, expected, rtol=1e-13)
    check_grads(f, (Z,), order=2)


@pytest.mark.parametrize("name", BINARY)
def test_binary_values_and_derivatives(name):
    f = getattr(fnp, name)
    w = Z[::-1]
    np.testing.assert_allclose(f(Z, w), getattr(np, name)(Z, w), rtol=1e-13)
    check_grads(f, (Z, w), order=2)
    check_grads(f, (Z, np.abs(Z)), order=2)  # complex with real: promoted, as NumPy
    check_grads(f, (np.abs(Z), w), order=2)


# Array operations on complex values, written once for NumPy and funcad.numpy (m).
CASES = {
    "sum": (lambda m, a: m.sum(a, axis=0), (A,)),
    "mean": (lambda m, a: m.mean(a), (A,)),
    "prod": (lambda m, a: m.prod(a, axis=1), (A,)),
    "cumsum": (lambda m, a: m.cumsum(a, axis=1), (A,)),
    "cumprod": (lambda m, a: m.cumprod(a, axis=1), (A,)),
    "matmul": (lambda m, a, b: a @ b, (A, B)),
    "matmul_real_complex": (lambda m, a, b: a @ b, (A.real, B)),
    "dot": (lambda m, a, b: m.dot(a, b), (A, V)),
    "vdot": (lambda m, a, b: m.vdot(a, b), (V, V[::-1])),
    "inner": (lambda m, a, b: m.inner(a, b), (V, V[::-1])),
    "outer": (lambda m, a, b: m.outer(a, b), (V, V[::-1])),
    "einsum": (lambda m, a, b: m.einsum("ij,jk->ik", a, b), (A, B)),
    "tensordot": (lambda m, a, b: m.tensordot(a, b, 1), (A, B)),
    "vecdot": (lambda m, a, b: m.vecdot(a, b), (A, A[::-1])),
    "trace": (lambda m, a: m.trace(a), (A,)),
    "transpose_reshape": (lambda m, a: a.T.reshape(2, 6), (A,)),
    "concatenate_stack": (lambda m, a: m.stack([m.concatenate([a, a * 2]), a.conj().repeat(2, 0)]), (A,)),
    "index_take": (lambda m, a: a[1:, ::2] + m.take(a, np.array([0, 2]), axis=0)[:, 1:3], (A,)),
    "where": (lambda m, a: m.where(a.real > 0, a, 2 * a), (A,)),
    "flip_roll_pad": (lambda m, a: m.pad(m.roll(m.flip(a, 1), 1), 1), (A,)),
    "var": (lambda m, a: m.var(a), (A,)),
    "std": (lambda m, a: m.std(a, axis=0), (A,)),
    "broadcast_mixed": (lambda m, a, b, c: a + b * c, (A, V, A.real)),
    "abs2_sum": (lambda m, a: m.sum(m.abs(a) ** 2), (A,)),
    "python_complex": (lambda m, a: a * 2.5 + 1j, (A,)),
    "diag_tril": (lambda m, a: m.tril(a) + m.diag(m.diag(a)[:3])[:, :1], (A,)),
    "kron": (lambda m, a, b: m.kron(a, b), (V, V)),
    "convolve": (lambda m, a, b: m.convolve(a, b), (V, V[:3])),
    "correlate": (lambda m, a, b: m.correlate(a, b, "full"), (V, V[:3])),
    "cross": (lambda m, a, b: m.cross(a, b), (V[:3], V[1:])),
    "cov": (lambda m, a: m.cov(a), (A,)),
    "corrcoef": (lambda m, a: m.corrcoef(a), (A,)),
    "average": (lambda m, a: m.average(a, axis=0, weights=np.array([1.0, 2.0, 3.0])), (A,)),
    "polyval": (lambda m, a: m.polyval(a, a[::-1]), (V,)),
    "diff": (lambda m, a: m.diff(a), (V,)),
    "sort": (lambda m, a: m.sort(a), (V,)),
    "methods": (lambda m, a: a.real * a.imag + (a.conj() * a).real, (A,)),
    "maximum_of_parts": (lambda m, a: m.maximum(a.real, a.imag), (A,)),
    "linspace": (lambda m, a: m.linspace(a[0], a[1], 5), (V,)),
    "norms": (lambda m, a: m.stack([m.linalg.norm(a), m.linalg.norm(a, 1), m.linalg.norm(a[0], 3),
                                    m.linalg.norm(a, np.inf)]), (A,)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_array_operations_match_numpy_and_finite_differences(name):
    f, args = CASES[name]
    out, expected = f(fnp, *args), f(np, *args)
    assert np.asarray(out).dtype == np.asarray(expected).dtype
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    check_grads(lambda *a: f(fnp, *a), args, order=2)


@pytest.mark.parametrize("name", ["sum", "prod", "cumprod", "matmul", "vdot", "einsum", "var",
                                  "where", "broadcast_mixed", "correlate", "norms", "methods"])
def test_vmap_of_complex_operations_equals_a_loop(name):
    f, args = CASES[name]
    check_vmap(lambda *a: f(fnp, *a), tuple(np.stack([a, 1.5 * a, a.conj()]) for a in args))


@pytest.mark.parametrize("dtype, names", [(np.complex128, UNARY + BINARY), (np.complex64, UNARY + BINARY)])
def test_jit_of_every_elementwise_function_equals_eager(dtype, names):
    def program(z):  # one program: every function fused into loops on complex scalars
        return [getattr(fnp, n)(z, z[::-1]) if n in BINARY else getattr(fnp, n)(z) for n in names]

    z = Z.astype(dtype)
    for name, e, c in zip(names, program(z), fa.jit(program)(z)):
        assert c.dtype == e.dtype, name
        np.testing.assert_allclose(c, e, rtol=1e-12 if dtype == np.complex128 else 2e-6, err_msg=name)


def test_jit_of_array_operations_and_their_gradients_equals_eager():
    def loss(a, b, v):
        outs = [fnp.prod(a, axis=1), fnp.cumprod(a, axis=1), fnp.var(a), a @ b, fnp.vdot(v, v[::-1]),
                fnp.einsum("ij,jk->ik", a, b), fnp.sort(v)]
        return sum(fnp.sum(fnp.abs(o) ** 2) for o in outs)

    args = (A, B, V)
    vg = fa.value_and_grad(loss, argnums=(0, 1, 2))
    (v, g), (v_jit, g_jit) = vg(*args), fa.jit(vg)(*args)
    np.testing.assert_allclose(v_jit, v, rtol=1e-12)
    for x, y in zip(g_jit, g):
        np.testing.assert_allclose(x, y, rtol=1e-11)


def test_jit_complex_scalars_inside_float_loops_exactly():
    # a float-in, float-out loop with complex intermediates; special values (inf, nan, -0.0)
    # as NumPy
    x = np.array([0.5, -1.5, 0.0, -0.0, np.inf, -np.inf, np.nan, 1e300])

    def f(x):
        z = fnp.exp(1j * x) * (x + 2j)
        return fnp.abs(z) + fnp.angle(z) + fnp.real(fnp.sqrt(z)) + fnp.sign(z).imag

    with np.errstate(all="ignore"):
        np.testing.assert_allclose(fa.jit(f)(x), f(x), rtol=1e-15, atol=0)
        np.testing.assert_allclose(fa.jit(fa.vmap(f))(x[None]), f(x)[None], rtol=1e-15, atol=0)


# --------------------------------------------------------------------------------------
# Dtypes: NumPy's promotion, complex64 kept


PAIRS = [
    (np.ones(2, np.float32), 1j), (np.ones(2, np.complex64), 2.0), (np.ones(2, np.complex64), np.ones(2)),
    (np.ones(2, np.int64), np.ones(2, np.complex64)), (np.ones(2, np.complex64), 3),
    (np.ones(2, np.float32), np.ones(2, np.complex64)), (np.ones(2, np.int8), 1j)]


def test_promotion_matches_numpy():
    expected = [(a * b).dtype for a, b in PAIRS]
    assert [fnp.multiply(a, b).dtype for a, b in PAIRS] == expected
    assert [o.dtype for o in fa.jit(lambda ps: [fnp.multiply(a, b) for a, b in ps])(PAIRS)] == expected
    assert [fa.vmap(fnp.multiply, (0, None))(a[None], b).dtype for a, b in PAIRS] == expected
    assert [fa.jvp(lambda x: fnp.multiply(x, b), (a,), (a,))[1].dtype for a, b in PAIRS] == expected


def test_complex64_gradients_stay_complex64():
    z = Z.astype(np.complex64)
    g = fa.grad(lambda z: fnp.sum(fnp.abs(fnp.exp(z)) ** 2))(z)
    assert g.dtype == np.complex64
    assert fa.grad(lambda z: fnp.sum(fnp.sin(z)).real)(z).dtype == np.complex64
    assert fa.jit(fa.grad(lambda z: fnp.sum(z * z.conj()).real))(z).dtype == np.complex64
    check_grads(lambda z: fnp.exp(z) * fnp.conj(z), (z,), order=2)


def test_real_imag_conj_angle_and_predicates_of_concrete_and_traced_values():
    z = np.array([1 + 2j, -3.0, 0.5j])
    pairs = ((fnp.real, np.real), (fnp.imag, np.imag), (fnp.conj, np.conj),
             (fnp.conjugate, np.conjugate), (fnp.angle, np.angle), (fnp.iscomplex, np.iscomplex),
             (fnp.isreal, np.isreal), (lambda a: fnp.angle(a, deg=True), lambda a: np.angle(a, deg=True)))
    jitted = fa.jit(lambda a: [f(a) for f, _ in pairs])(z)
    for (f, ref), j in zip(pairs, jitted):
        np.testing.assert_array_equal(f(z), ref(z))
        np.testing.assert_array_equal(j, ref(z))
    assert fnp.iscomplexobj(z) and not fnp.isrealobj(z) and fnp.isrealobj(z.real)
    seen = []
    fa.vmap(lambda a: seen.append((fnp.iscomplexobj(a), fnp.iscomplexobj(a.real))) or a)(z)
    assert seen == [(True, False)]
    x = np.array([1.0, -2.0])  # real inputs: NumPy's answers
    for f in (fnp.real, fnp.imag, fnp.conj, fnp.angle):
        np.testing.assert_array_equal(f(x), getattr(np, f.__name__)(x))


def test_array_methods_real_imag_conj_under_transformations():
    def f(z):
        return z.real ** 2 - z.imag + (z.conj() * z).real + z.conjugate().imag

    np.testing.assert_allclose(f(Z), Z.real ** 2 - Z.imag + np.abs(Z) ** 2 - Z.imag)
    g = fa.grad(lambda z: fnp.sum(f(z)))(Z)
    # d/dx = 2x + 2x, d/dy = -1 + 2y - 1: JAX's convention is df/dx - i df/dy
    np.testing.assert_allclose(g, 4 * Z.real - 1j * (2 * Z.imag - 2), rtol=1e-13)
    check_grads(f, (Z,), order=2)


def test_complex_conversion_follows_the_concretization_rules():
    assert fa.grad(lambda x: x * complex(2.0, 1.0).real)(1.0) == 2.0  # a constant: fine
    with pytest.raises(errors.ConcretizationError, match="complex"):
        fa.jit(lambda z: complex(z) * z)(1j)
    with pytest.raises(errors.ConcretizationError, match="would drop its derivative"):
        fa.grad(lambda z: (complex(z) * z).real)(1j)
    y, t = fa.jvp(lambda z: complex(fa.lax.stop_gradient(z)) * z, (1 + 1j,), (1.0 + 0j,))
    assert y == 2j and t == 1 + 1j


# --------------------------------------------------------------------------------------
# JAX's conventions, with values computed by JAX 0.10.2 (x64)


def test_grad_of_a_real_function_of_complex_input_is_jaxs():
    # jax.grad(lambda z: jnp.abs(z) ** 2)(3 + 4j) == 6 - 8j: df/dx - i df/dy
    assert fa.grad(lambda z: fnp.abs(z) ** 2)(3 + 4j) == pytest.approx(6 - 8j)
    assert fa.grad(lambda z: fnp.abs(z))(3 + 4j) == pytest.approx(0.6 - 0.8j)
    assert fa.grad(fnp.angle)(3 + 4j) == pytest.approx(-0.16 - 0.12j)
    assert fa.grad(lambda z: fnp.real(z * z))(3 + 4j) == pytest.approx(6 + 8j)
    assert fa.grad(lambda z: fnp.imag(z * z))(3 + 4j) == pytest.approx(8 - 6j)
    zz = np.array([1 + 2j, -0.5 + 0.3j])
    np.testing.assert_allclose(
        fa.grad(lambda z: fnp.sum(fnp.abs(fnp.exp(z)) ** 2 + fnp.real(z) * fnp.imag(z)))(zz),
        [16.7781122 - 1j, 1.03575888 + 0.5j], rtol=1e-8)
    np.testing.assert_allclose(fa.jacrev(lambda z: fnp.abs(z) ** 2)(zz), [[2 - 4j, 0], [0, -1 - 0.6j]])


def test_autodiff_cookbook_examples():
    # JAX's "Complex numbers and differentiation": f(z) = x**2 + y**2 has grad 2x - 2iy,
    # and grad(f, holomorphic=True) of a holomorphic f is f'(z)
    def f(z):
        x, y = fnp.real(z), fnp.imag(z)
        return x ** 2 + y ** 2

    assert fa.grad(f)(3.0 + 4j) == pytest.approx(6 - 8j)
    z = 3.0 + 4j
    assert fa.grad(fnp.sin, holomorphic=True)(z) == pytest.approx(np.cos(z))
    assert fa.grad(fnp.sin, holomorphic=True)(z) == pytest.approx(-27.034945603074224 - 3.851153334811777j)
    v, g = fa.value_and_grad(fnp.exp, holomorphic=True)(1j)
    assert v == g == pytest.approx(0.5403023058681398 + 0.8414709848078965j)
    # autograd's convention is the same (its tutorial: grad(f)(z) = du/dx - i du/dy)
    import funcad.autograd as ag
    import funcad.autograd.numpy as anp

    assert ag.grad(lambda z: anp.abs(z) ** 2)(3 + 4j) == pytest.approx(6 - 8j)


def test_vjp_is_linear_not_conjugate_linear_as_jax():
    z = 3 + 4j
    assert fa.vjp(fnp.real, z)[1](1.0)[0] == 1 + 0j
    assert fa.vjp(fnp.imag, z)[1](1.0)[0] == -1j
    assert fa.vjp(fnp.conj, z)[1](1 + 2j)[0] == 1 - 2j
    assert fa.vjp(lambda z: z * (2 + 1j), z)[1](1 - 1j)[0] == pytest.approx(3 - 1j)
    assert fa.vjp(fnp.exp, z)[1](1 - 1j)[0] == pytest.approx(-28.32956754 - 2.07200138j)
    (ct,) = fa.vjp(lambda x: x * (1 + 2j), 1.5)[1](1 + 1j)  # real input: the real part
    assert ct == -1.0 and np.asarray(ct).dtype == np.float64


def test_jvp_of_non_holomorphic_functions_as_jax():
    assert fa.jvp(fnp.abs, (3 + 4j,), (1 + 2j,)) == (5.0, pytest.approx(2.2))
    y, t = fa.jvp(fnp.conj, (3 + 4j,), (1 + 2j,))
    assert y == 3 - 4j and t == 1 - 2j
    # sign(z) = z / |z| moves along the unit circle: funcad's derivative is the true one,
    # d sign = (dz - sign Re(conj(sign) dz)) / |z| (JAX 0.10.2 returns 0 here)
    y, t = fa.jvp(fnp.sign, (3 + 4j,), (1 + 2j,))
    assert t == pytest.approx(-0.064 + 0.048j)
    check_grads(fnp.sign, (Z,), order=2)
    np.testing.assert_allclose(fa.jacfwd(lambda x: fnp.exp(1j * x))(np.array([0.3, -1.2])),
                               np.diag(1j * np.exp(1j * np.array([0.3, -1.2]))), rtol=1e-13)


def test_holomorphic_jacobians_and_hessian():
    zz = np.array([1 + 2j, -0.5 + 0.3j])
    expected = np.diag(2 * zz)
    np.testing.assert_allclose(fa.jacfwd(lambda z: z ** 2, holomorphic=True)(zz), expected)
    np.testing.assert_allclose(fa.jacrev(lambda z: z ** 2, holomorphic=True)(zz), expected)
    assert fa.hessian(lambda z: z ** 3, holomorphic=True)(zz[0]) == pytest.approx(6 + 12j)
    np.testing.assert_allclose(fa.jit(fa.jacrev(lambda z: fnp.sin(z) * z, holomorphic=True))(zz),
                               np.diag(np.cos(zz) * zz + np.sin(zz)), rtol=1e-13)
    # second order without holomorphic=True: the gradient of a real function of the gradient
    h = fa.grad(lambda z: fnp.real(fa.grad(lambda w: fnp.abs(w) ** 4)(z) * (1 - 2j)))(1 + 1j)
    # |w|^4 = (x^2 + y^2)^2; g = 4|w|^2 (x - iy); Re(g (1 - 2i)) = 4 r2 (x - 2y)
    x, y = 1.0, 1.0
    r2 = x * x + y * y
    assert h == pytest.approx((8 * x * (x - 2 * y) + 4 * r2) - 1j * (8 * y * (x - 2 * y) - 8 * r2))


@pytest.mark.parametrize("call, match", [
    (lambda: fa.grad(lambda z: z * z)(1j), "requires real-valued outputs"),
    (lambda: fa.jacrev(lambda z: z * z)(np.array([1j])), "requires real-valued outputs"),
    (lambda: fa.grad(lambda x: x * 1j)(1.0), "requires real-valued outputs"),
    (lambda: fa.jacfwd(fnp.abs)(np.array([1j])), "jacfwd requires real-valued inputs"),
    (lambda: fa.hessian(lambda z: fnp.abs(z) ** 2)(1j), "jacfwd requires real-valued inputs"),
    (lambda: fa.grad(lambda z: z * z, holomorphic=True)(2.0), "holomorphic=True requires complex inputs"),
    (lambda: fa.jacfwd(lambda z: z, holomorphic=True)(np.ones(2)), "holomorphic=True requires complex in"),
    (lambda: fa.grad(fnp.abs, holomorphic=True)(1j), "holomorphic=True requires complex outputs"),
    (lambda: fa.jacfwd(fnp.abs, holomorphic=True)(np.array([1j])), "holomorphic=True requires complex out"),
    (lambda: fa.jacrev(fnp.abs, holomorphic=True)(np.array([1j])), "holomorphic=True requires complex out"),
])
def test_holomorphic_mismatches_raise_as_jax(call, match):
    with pytest.raises(errors.HolomorphicError, match=match) as info:
        call()
    assert isinstance(info.value, TypeError)  # as JAX's TypeError


# --------------------------------------------------------------------------------------
# check_grads on complex functions


def test_check_grads_perturbs_real_and_imaginary_parts_and_catches_wrong_rules(monkeypatch):
    check_grads(lambda z, x: fnp.exp(z) * x + fnp.abs(z) * 1j, (Z, np.abs(Z)), order=2)
    check_grads(lambda z: {"re": z.real, "c": z * z.conj()}, ({"a": Z}["a"],), order=2)
    # a conjugate-linear transpose of conj (the other convention) is caught in reverse mode
    monkeypatch.setitem(ew.transpose_rules, ew.conj_p, lambda ct, x: [ct])
    with pytest.raises(AssertionError, match="vjp"):
        check_grads(fnp.conj, (Z,), order=1, modes=["rev"])
    monkeypatch.undo()
    # a JVP that ignores the imaginary direction is caught in forward mode
    monkeypatch.setitem(fa.ad.jvp_rules, ew.imag_p,
                        lambda p, t: (ew.imag(p[0]), ew.real(t[0])))
    with pytest.raises(AssertionError, match="jvp"):
        check_grads(fnp.imag, (Z,), order=1, modes=["fwd"])


def test_eager_under_vmap_and_jit_of_complex_gradients():
    def loss(z, w):
        return fnp.sum(fnp.abs(fnp.tanh(z * w) - 1j) ** 2)

    zs = crandn(4, 3) * 0.3
    g = fa.vmap(fa.grad(loss), (0, None))(zs, Z)
    np.testing.assert_allclose(g, np.stack([fa.grad(loss)(z, Z) for z in zs]), rtol=1e-12)
    np.testing.assert_allclose(fa.jit(fa.vmap(fa.grad(loss), (0, None)))(zs, Z), g, rtol=1e-12)


def test_no_complex_warning_from_casts():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fnp.astype(Z, np.float64)
        fa.grad(lambda x: fnp.sum(fnp.asarray(x * (1 + 1j)).astype(float)))(np.ones(2))
        fa.jit(lambda z: z.astype(np.float32))(Z)


def test_lax_complex_parts_and_autograd_holomorphic_grad():
    assert fa.lax.complex(1.0, 2.0) == 1 + 2j
    x, y = np.array([1.0, -2.0], np.float32), np.array([0.5, 3.0], np.float32)
    z = fa.lax.complex(x, y)
    assert z.dtype == np.complex64
    np.testing.assert_array_equal(z, x + 1j * y)
    assert fa.lax.conj(x).dtype == np.complex64  # complex for a real input, as jax.lax.conj
    np.testing.assert_array_equal(fa.lax.real(z), x)
    np.testing.assert_array_equal(fa.lax.imag(z), y)
    check_grads(lambda x, y: fa.lax.complex(x, y) ** 2, (x.astype(float), y.astype(float)), order=2)
    import funcad.autograd as ag
    import funcad.autograd.numpy as anp

    assert ag.holomorphic_grad(lambda z: z ** 3)(1 + 1j) == pytest.approx(3 * (1 + 1j) ** 2)
    assert ag.holomorphic_grad(anp.sin)(0.5j) == pytest.approx(np.cos(0.5j))


def test_autograd_grad_of_a_complex_output_is_that_of_its_real_part_as_autograd():
    import funcad.autograd as ag

    assert ag.grad(lambda z: z * z)(1 + 2j) == pytest.approx(2 + 4j)  # Re(z^2): 2x - i(-2y)
    assert ag.grad(lambda z: fnp.real(z * z))(1 + 2j) == pytest.approx(2 + 4j)


def test_ordering_of_complex_values_is_numpys_lexicographic_one_under_jit():
    z = np.round(crandn(40, 30), 1)  # ties in the real parts
    z[3, 4], z[7, 8] = 9.0 + 1j, 9.0 + 1.5j
    big = crandn(100_000)  # a reduction split into parallel chunks

    def f(z):
        return (fnp.max(z), fnp.min(z, axis=0), fnp.max(2 * z, axis=1, keepdims=True), z < z[::-1],
                z >= z[::-1], fnp.maximum(z, z[::-1]), fnp.sort(z, axis=0), fnp.argmax(z, axis=1))

    expected = (np.max(z), np.min(z, 0), np.max(2 * z, 1, keepdims=True), z < z[::-1], z >= z[::-1],
                np.maximum(z, z[::-1]), np.sort(z, 0), np.argmax(z, 1))
    for ours, jitted, ref in zip(f(z), fa.jit(f)(z), expected):
        np.testing.assert_array_equal(ours, ref)
        np.testing.assert_array_equal(jitted, ref)
    assert fa.jit(fnp.max)(big) == np.max(big) and fa.jit(fnp.min)(big) == np.min(big)


@pytest.mark.parametrize("dtype", [np.complex128, np.complex64])
def test_jit_complex_matmul_through_blas_equals_numpy(dtype):
    a = crandn(7, 5, dtype=dtype)
    b = np.ascontiguousarray(a.T[:, :6])
    tol = 1e-12 if dtype == np.complex128 else 1e-5

    def f(x, y):  # contiguous, strided, transposed, batched and broadcast operands
        return (x @ y, x[::2] @ y[:, ::2], y.T @ x.T, fnp.matmul(fnp.stack([x, 2 * x]), y),
                fnp.broadcast_to(x[:1], (4, 5)) @ y)

    for ours, ref in zip(fa.jit(f)(a, b), f(a, b)):
        assert ours.dtype == ref.dtype == dtype
        np.testing.assert_allclose(ours, ref, rtol=tol, atol=tol)
    source = fa.jit(lambda x, y: x @ y).lower(a, b).source  # NumPy's matmul, not loops
    assert "host[matmul]" in source


def test_float_power_and_sort_complex_keep_the_imaginary_part():
    z = np.array([0.3 + 0.2j, -0.4 + 0.5j, 1.1 - 0.3j, -0.4 - 0.5j])
    for ours, ref in ((fnp.float_power(z, 2.5), np.float_power(z, 2.5)),
                      (fnp.float_power(np.abs(z), z), np.float_power(np.abs(z), z)),
                      (fnp.sort_complex(z), np.sort_complex(z)),
                      (fnp.sort_complex(np.array([3, 1, 2])), np.sort_complex(np.array([3, 1, 2]))),
                      (fa.jit(fnp.sort_complex)(z), np.sort_complex(z))):
        assert ours.dtype == ref.dtype
        np.testing.assert_allclose(ours, ref, rtol=1e-14)
    check_grads(lambda z: fnp.float_power(z, 2.5), (z,), order=2)


def test_jit_grad_of_a_python_float_meeting_a_complex_constant_is_real():
    # A traced Python float is weakly typed: in x * 1j, x + 2j, (x - 1j) / (2j + x) it meets
    # the complex value without a convert_element_type, and the transposes of mul/add/sub/div
    # handed it a complex cotangent: jit(grad(f))(0.3) returned a complex number whose real
    # part was the gradient (eager grad, and an array argument, gave the real one).
    cases = [(lambda x: fnp.real(fnp.exp(1j * x)), lambda x: -np.sin(x)),
             (lambda x: fnp.abs(x + 2j) ** 2, lambda x: 2 * x),
             (lambda x: fnp.abs(2j - x) ** 2, lambda x: 2 * x),
             (lambda x: fnp.real((x - 1j) / (2j + x)), lambda x: 12 * x / (x * x + 4) ** 2)]
    for f, df in cases:
        for g in (fa.grad(f), fa.jit(fa.grad(f)), fa.jit(fa.value_and_grad(f))):
            out = g(0.3)
            out = out[1] if isinstance(out, tuple) else out
            assert np.asarray(out).dtype == np.float64, f
            np.testing.assert_allclose(out, df(0.3), rtol=1e-12)
        xs = np.array([0.3, 0.7])
        np.testing.assert_allclose(fa.vmap(fa.jit(fa.grad(f)))(xs), df(xs), rtol=1e-12)
