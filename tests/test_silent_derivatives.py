"""No silently wrong derivative: scalar conversions of differentiated values are refused,
and the edge cases ported code meets (0 ** 0.0, linspace in its endpoints, einsum's size-1
broadcasting, eigh/cholesky of a non-symmetric input, assignment into arrays) differentiate
as finite differences say."""

import math
import operator

import numpy as np
import pytest

import funcad as fa
import funcad.numpy as fnp
from funcad.errors import ConcretizationError, TracerArrayConversionError
from funcad.test_util import check_grads

# --------------------------------------------------------------------------------------
# Conversions to Python numbers


CONVERSIONS = {
    "math.sin": lambda w: math.sin(w) * w,
    "float": lambda w: float(w) * w,
    "int": lambda w: int(w) * w,
    "complex": lambda w: complex(w).real * w,
    "item": lambda w: w.item() * w,
    "np.float64": lambda w: np.float64(w) * w,
    "operator.index": lambda w: operator.index(w) * w,
}


@pytest.mark.parametrize("name", sorted(CONVERSIONS))
@pytest.mark.parametrize("transform", ["grad", "jacfwd", "jacrev", "hessian", "jvp"])
def test_a_scalar_conversion_of_a_differentiated_value_is_refused(name, transform):
    f = CONVERSIONS[name]
    run = {"grad": lambda: fa.grad(f)(3.0), "jacfwd": lambda: fa.jacfwd(f)(3.0),
           "jacrev": lambda: fa.jacrev(f)(3.0), "hessian": lambda: fa.hessian(f)(3.0),
           "jvp": lambda: fa.jvp(f, (3.0,), (1.0,))}[transform]
    with pytest.raises((ConcretizationError, TracerArrayConversionError, TypeError)) as info:
        run()
    if name == "np.float64":  # NumPy asks for an array first (the tracer has a length)
        assert isinstance(info.value, TracerArrayConversionError)
    elif name != "operator.index":  # NumPy's own TypeError for a float index is right too
        assert isinstance(info.value, ConcretizationError)
        assert "derivative" in str(info.value) and "respect to w" in str(info.value)


def test_the_message_names_the_argument_the_value_depends_on():
    def f(x, w):
        return x * math.sin(w)

    with pytest.raises(ConcretizationError, match="with respect to w") as info:
        fa.grad(f, argnums=(0, 1))(1.0, 2.0)
    assert "with respect to x" not in str(info.value)


def test_conversions_stay_allowed_where_nothing_is_differentiated():
    # an integer setting, a value behind stop_gradient, an undifferentiated argument, vmap
    assert fa.grad(lambda x, n: x * int(n), argnums=0)(2.0, 3) == 3.0
    assert fa.grad(lambda x: x * float(fa.lax.stop_gradient(x)))(3.0) == 3.0
    assert fa.grad(lambda x, c: x * math.cos(c))(2.0, 0.0) == 1.0
    got = fa.vmap(lambda x, c: x * float(c), in_axes=(0, None))(fnp.ones(2), 2.0)
    np.testing.assert_allclose(got, [2.0, 2.0])


def test_bool_for_control_flow_keeps_working_eagerly():
    # As in JAX's and autograd's eager modes: the branch condition has no derivative.
    def absolute(x):
        return x if x > 0 else -x

    assert fa.grad(absolute)(-2.0) == -1.0
    assert fa.grad(absolute)(2.0) == 1.0
    assert fa.grad(lambda x: x * x if x else x)(3.0) == 6.0  # bool(x) of the float itself
    assert fa.hessian(lambda x: x ** 3 if x > 1 else x)(2.0) == 12.0


def test_bool_is_still_refused_under_jit():
    with pytest.raises(ConcretizationError, match="jit"):
        fa.jit(lambda x: x if x > 0 else -x)(1.0)


def test_assignment_into_a_numpy_array_of_a_differentiated_value_is_refused():
    # autograd's and JAX's users meet this one: it used to give 2.0 instead of 4.0
    def f(x):
        y = fnp.zeros(2)
        y[0] = 2 * x
        return fnp.sum(y * x)

    with pytest.raises((ConcretizationError, ValueError), match=r"\.at\[") as info:
        fa.grad(f)(1.0)
    assert isinstance(info.value, ConcretizationError)


# --------------------------------------------------------------------------------------
# x ** 0.0 at 0 (autograd's issue #116)


@pytest.mark.parametrize("p, expected", [(0.0, [0, 0, 0]), (1.0, [1, 0, 0]), (2.0, [0, 2, 0]),
                                         (3.0, [0, 0, 6])])
def test_power_at_zero_has_the_polynomial_derivatives(p, expected):
    f = lambda x: x ** p  # noqa: E731
    derivs = [fa.grad(f), fa.grad(fa.grad(f)), fa.grad(fa.grad(fa.grad(f)))]
    for d, e in zip(derivs, expected):
        assert d(0.0) == e
        assert fa.jit(d)(0.0) == e
    check_grads(f, (0.7,), order=2)


def test_power_at_zero_batched_exponents():
    got = fa.vmap(fa.grad(lambda x, y: x ** y))(fnp.zeros(3), fnp.array([0.0, 1.0, 2.0]))
    np.testing.assert_array_equal(got, [0.0, 1.0, 0.0])


# --------------------------------------------------------------------------------------
# Ranges with traced endpoints


def test_linspace_jacobian_in_its_start():
    # the example: it used to die with RecursionError
    jac = fa.jacobian(lambda x: fnp.linspace(x, 3.4, 5))(1.2)
    np.testing.assert_allclose(jac, [1.0, 0.75, 0.5, 0.25, 0.0])
    np.testing.assert_allclose(fa.jit(lambda x: fnp.linspace(x, 3.4, 5))(1.2), np.linspace(1.2, 3.4, 5))


@pytest.mark.parametrize("kw", [{}, {"endpoint": False}, {"num": 1}, {"num": 2}])
def test_ranges_match_numpy_and_finite_differences(kw):
    kw = {"num": 6, **kw}
    for fn, npfn, a, b in [(fnp.linspace, np.linspace, 1.0, 2.5), (fnp.geomspace, np.geomspace, 1.5, 8.0),
                           (fnp.logspace, np.logspace, 0.5, 1.5), (fnp.geomspace, np.geomspace, -1.5, -8.0)]:
        f = lambda a, b: fn(a, b, **kw)  # noqa: E731
        np.testing.assert_allclose(fa.jit(f)(a, b), npfn(a, b, **kw), rtol=1e-12)
        check_grads(f, (a, b), order=2)


def test_linspace_with_array_endpoints_and_axis():
    f = lambda a: fnp.linspace(a, fnp.array([3.0, 5.0]), 4, axis=1)  # noqa: E731
    np.testing.assert_allclose(fa.jit(f)(1.0), np.linspace(1.0, np.array([3.0, 5.0]), 4, axis=1))
    check_grads(f, (1.0,), order=1)
    y, step = fnp.linspace(fa.lax.stop_gradient(1.0), 2.0, 5, retstep=True)
    assert step == 0.25


def test_arange_with_traced_endpoints():
    np.testing.assert_allclose(fa.jacfwd(lambda a: fnp.arange(a, 3.0))(0.5), [1.0, 1.0, 1.0])
    g = fa.grad(lambda s: fnp.sum(fnp.arange(1.0, 5.0, s)))(0.5)
    assert g == sum(range(8))
    with pytest.raises(ConcretizationError, match="arange"):
        fa.jit(lambda a: fnp.arange(a, 3.0))(0.5)


def test_ranges_under_vmap_match_a_loop():
    xs = np.array([1.0, 2.0, 3.0])
    got = fa.vmap(lambda x: fnp.linspace(x, 4.0, 3))(xs)
    np.testing.assert_allclose(got, [np.linspace(x, 4.0, 3) for x in xs])


# --------------------------------------------------------------------------------------
# einsum's size-1 broadcasting


def test_einsum_broadcasts_size_one_labels_under_grad():
    r = np.random.default_rng(0)
    a, b = r.normal(size=(1, 4, 1)), r.normal(size=(3, 1, 5))
    f = lambda a, b: fnp.einsum("mnd,mdo->mno", a, b)  # noqa: E731
    np.testing.assert_allclose(f(a, b), np.einsum("mnd,mdo->mno", a, b))
    np.testing.assert_allclose(fa.jit(f)(a, b), np.einsum("mnd,mdo->mno", a, b))
    check_grads(f, (a, b), order=2)
    np.testing.assert_allclose(fa.vmap(f, in_axes=(None, 0))(a, b[None].repeat(2, 0))[1], f(a, b))


# --------------------------------------------------------------------------------------
# eigh and cholesky read one triangle; so do their derivatives (autograd's test_eigvalh_*)


def _rand(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape)


@pytest.mark.parametrize("uplo", ["L", "U"])
def test_eigvalsh_of_a_non_symmetric_input(uplo):
    # autograd's test_eigvalh_lower/upper: check_grads on a random, non-symmetric matrix
    d = 6
    mat = _rand(d, d)
    f = lambda m: fnp.linalg.eigvalsh(m, UPLO=uplo)  # noqa: E731
    np.testing.assert_allclose(fa.jit(f)(mat), np.linalg.eigvalsh(mat, UPLO=uplo))
    check_grads(f, (mat,), order=2)


@pytest.mark.parametrize("uplo", ["L", "U"])
def test_eigh_vectors_of_a_non_symmetric_input(uplo):
    mat = _rand(4, 4, seed=1)

    def f(m):  # eigenvectors up to sign: make the first row positive
        w, v = fnp.linalg.eigh(m, UPLO=uplo)
        return v * fnp.sign(v[0]), w

    check_grads(f, (mat,), order=1)
    check_grads(f, (_rand(3, 4, 4, seed=2),), order=1)  # a stack of matrices


def test_eigh_of_a_symmetric_parametrisation_is_unchanged():
    x = _rand(4, 4, seed=3)
    f = lambda x: fnp.linalg.eigvalsh(x + x.T)  # noqa: E731
    check_grads(f, (x,), order=2)


def test_cholesky_of_a_non_symmetric_input():
    m = _rand(4, 4, seed=4)
    spd_lower = m @ m.T + 4 * np.eye(4) + np.triu(_rand(4, 4, seed=5), 1)  # junk above
    np.testing.assert_allclose(fa.jit(fnp.linalg.cholesky)(spd_lower), np.linalg.cholesky(spd_lower))
    check_grads(fnp.linalg.cholesky, (spd_lower,), order=2)
    check_grads(lambda a: fnp.linalg.cholesky(a, upper=True), (spd_lower,), order=1)


@pytest.mark.parametrize("lower", [False, True])
def test_scipy_cholesky_reads_the_triangle_scipy_reads(lower):
    import scipy.linalg

    import funcad.scipy.linalg as fsl

    m = _rand(4, 4, seed=6)
    a = m @ m.T + 4 * np.eye(4) + (np.triu if lower else np.tril)(_rand(4, 4, seed=7), 1 if lower else -1)
    f = lambda a: fsl.cholesky(a, lower=lower)  # noqa: E731
    np.testing.assert_allclose(f(a), scipy.linalg.cholesky(a, lower=lower))
    np.testing.assert_allclose(fa.jit(f)(a), scipy.linalg.cholesky(a, lower=lower))
    check_grads(f, (a,), order=1)
