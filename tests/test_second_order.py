"""hvp, value_grad_hessian, linearize_grad and ravel_pytree against closed forms and finite differences."""

import numpy as np
import pytest

import funcad as fa
import funcad.numpy as fnp
from funcad.errors import DTypeError, NonScalarOutputError, TreeStructureError
from funcad.second_order import HVP_MODES, linearize_grad, ravel_pytree
from funcad.test_util import check_grads


def _logistic_problem(rng, n=40, d=5, lam=0.1):
    X = rng.normal(size=(n, d))
    y = (rng.random(n) < 0.5).astype(float)

    def loss(w):
        z = X @ w
        return fnp.mean(fa.nn.softplus(z) - y * z) + 0.5 * lam * fnp.sum(w * w)

    def closed_form(w):  # value, gradient and Hessian written out in NumPy
        z = X @ w
        p = 1.0 / (1.0 + np.exp(-z))
        value = np.mean(np.logaddexp(0.0, z) - y * z) + 0.5 * lam * w @ w
        g = X.T @ (p - y) / n + lam * w
        H = X.T @ ((p * (1 - p))[:, None] * X) / n + lam * np.eye(d)
        return value, g, H

    return loss, closed_form, rng.normal(size=d)


def _rosenbrock(x):
    return fnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def _rosenbrock_hessian(x):  # closed form (tridiagonal)
    d = x.size
    H = np.zeros((d, d))
    for i in range(d - 1):
        H[i, i] += 1200 * x[i] ** 2 - 400 * x[i + 1] + 2
        H[i + 1, i + 1] += 200
        H[i, i + 1] += -400 * x[i]
        H[i + 1, i] += -400 * x[i]
    return H


@pytest.mark.parametrize("mode", HVP_MODES)
def test_hvp_equals_closed_form_hessian_times_v(rng, mode):
    loss, closed_form, w = _logistic_problem(rng)
    v = rng.normal(size=w.size)
    _, _, H = closed_form(w)
    np.testing.assert_allclose(fa.hvp(loss, mode)(w, v), H @ v, rtol=1e-12, atol=1e-14)


def test_hvp_rosenbrock_and_extra_args(rng):
    x, v = rng.normal(size=7), rng.normal(size=7)
    np.testing.assert_allclose(fa.hvp(_rosenbrock)(x, v), _rosenbrock_hessian(x) @ v, rtol=1e-12)
    scaled = fa.hvp(lambda x, c: c * _rosenbrock(x))(x, v, 3.0)
    np.testing.assert_allclose(scaled, 3.0 * _rosenbrock_hessian(x) @ v, rtol=1e-12)


def test_hvp_pytree_against_finite_differences_of_the_gradient(rng):
    def f(p):
        return fnp.sum(fnp.sin(p["a"]) * p["b"][0]) + fnp.sum(p["b"] ** 3) * p["a"][1]

    x = {"a": rng.normal(size=3), "b": rng.normal(size=2)}
    v = {"a": rng.normal(size=3), "b": rng.normal(size=2)}
    hv = fa.hvp(f)(x, v)
    assert set(hv) == {"a", "b"}
    eps = 1e-6
    plus = fa.grad(f)({k: x[k] + eps * v[k] for k in x})
    minus = fa.grad(f)({k: x[k] - eps * v[k] for k in x})
    for k in x:
        np.testing.assert_allclose(hv[k], (plus[k] - minus[k]) / (2 * eps), rtol=1e-7, atol=1e-8)
    with pytest.raises(TreeStructureError):
        fa.hvp(f)(x, (v["a"], v["b"]))


def test_value_grad_hessian_matches_closed_form_and_separate_calls(rng):
    loss, closed_form, w = _logistic_problem(rng)
    value, g, H = fa.value_grad_hessian(loss)(w)
    v_ref, g_ref, H_ref = closed_form(w)
    np.testing.assert_allclose(value, v_ref, rtol=1e-13)
    np.testing.assert_allclose(g, g_ref, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(H, H_ref, rtol=1e-12, atol=1e-15)
    v_sep, g_sep = fa.value_and_grad(loss)(w)
    np.testing.assert_allclose(value, v_sep, rtol=1e-14)
    np.testing.assert_allclose(g, g_sep, rtol=1e-14, atol=1e-16)
    np.testing.assert_allclose(H, fa.hessian(loss)(w), rtol=1e-12, atol=1e-15)
    assert type(H) is np.ndarray and H.shape == (w.size, w.size)


def test_value_grad_hessian_is_exactly_symmetric(rng):
    # A dense, non-separable function whose Hessian would come out asymmetric in rounding.
    A = rng.normal(size=(30, 12))

    def f(x):
        z = A @ x
        return fnp.sum(fnp.tanh(z) * fnp.exp(0.1 * z)) + fnp.sum(x[:-1] * x[1:] ** 3)

    x = rng.normal(size=12)
    _, _, H = fa.value_grad_hessian(f)(x)
    assert np.array_equal(H, H.T)
    np.testing.assert_allclose(H, fa.hessian(f)(x), rtol=1e-12, atol=1e-13)
    _, _, H_ros = fa.value_grad_hessian(_rosenbrock)(x)  # no matmul: the unfolded path
    assert np.array_equal(H_ros, H_ros.T)
    np.testing.assert_allclose(H_ros, _rosenbrock_hessian(x), rtol=1e-13, atol=1e-12)


def test_value_grad_hessian_pytree_structure_matches_hessian(rng):
    def f(p, scale):
        return scale * (fnp.sum(p["a"] ** 2 * p["b"][0]) + fnp.sum(p["b"] ** 3) + p["c"] * p["a"][0])

    x = {"a": rng.normal(size=2), "b": rng.normal(size=(3,)), "c": 1.5}
    value, g, H = fa.value_grad_hessian(f)(x, 2.0)
    H_ref = fa.hessian(f)(x, 2.0)
    for i in x:
        np.testing.assert_allclose(g[i], fa.grad(f)(x, 2.0)[i], rtol=1e-14)
        for j in x:
            assert np.shape(H[i][j]) == np.shape(H_ref[i][j])
            np.testing.assert_allclose(H[i][j], H_ref[i][j], rtol=1e-13, atol=1e-14)
            ni, nj = np.ndim(x[i]), np.ndim(x[j])  # H[j][i] has x[j]'s axes first
            mirrored = np.transpose(H[j][i], list(range(nj, nj + ni)) + list(range(nj)))
            np.testing.assert_array_equal(H[i][j], mirrored)


def test_value_grad_hessian_keeps_float32():
    x = np.array([0.5, -1.0], dtype=np.float32)
    value, g, H = fa.value_grad_hessian(lambda x: fnp.sum(fnp.exp(x) * x[0]))(x)
    assert g.dtype == np.float32 and H.dtype == np.float32
    np.testing.assert_allclose(H, fa.hessian(lambda x: fnp.sum(fnp.exp(x) * x[0]))(x), rtol=1e-6)


def test_value_grad_hessian_errors():
    with pytest.raises(NonScalarOutputError):
        fa.value_grad_hessian(lambda x: x ** 2)(np.ones(3))
    with pytest.raises(DTypeError):
        fa.value_grad_hessian(lambda x: fnp.sum(x ** 2))(np.arange(3))


def test_linearize_grad_gives_value_grad_and_hvps(rng):
    loss, closed_form, w = _logistic_problem(rng)
    value, g, hvp_fn = linearize_grad(loss)(w)
    v_ref, g_ref, H_ref = closed_form(w)
    np.testing.assert_allclose(value, v_ref, rtol=1e-13)
    np.testing.assert_allclose(g, g_ref, rtol=1e-12, atol=1e-15)
    for _ in range(3):
        v = rng.normal(size=w.size)
        np.testing.assert_allclose(hvp_fn(v), H_ref @ v, rtol=1e-12, atol=1e-15)


def test_ravel_pytree_round_trip():
    tree = {"w": np.arange(6.0).reshape(2, 3), "b": (np.float32(2.0), [np.ones(2)])}
    flat, unravel = ravel_pytree(tree)
    assert flat.shape == (9,) and flat.dtype == np.float64
    back = unravel(flat * 2)
    np.testing.assert_array_equal(back["w"], tree["w"] * 2)
    assert back["b"][0].dtype == np.float32 and float(back["b"][0]) == 4.0
    np.testing.assert_array_equal(back["b"][1][0], [2.0, 2.0])


def test_value_grad_hessian_under_jit_matches_eager(rng):
    if not hasattr(fa, "jit"):
        pytest.skip("funcad.jit is not available yet")
    loss, closed_form, w = _logistic_problem(rng)
    value, g, H = fa.jit(fa.value_grad_hessian(loss))(w)
    _, _, H_ref = closed_form(w)
    np.testing.assert_allclose(H, H_ref, rtol=1e-12, atol=1e-15)
    assert np.array_equal(H, H.T)
    np.testing.assert_allclose(fa.jit(fa.hvp(loss))(w, w), H_ref @ w, rtol=1e-12)


@pytest.mark.parametrize("name", ["funcad.second_order", "funcad.optimize"])
def test_docstring_examples(name):
    import doctest
    import importlib

    module = importlib.import_module(name)
    flags = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS
    failures, tried = doctest.testmod(module, optionflags=flags, verbose=False)
    assert tried >= 4 and failures == 0, f"{failures} of {tried} docstring examples failed in {name}"


# --------------------------------------------------------------------------------------
# fa.hessian eagerly: one linearization of the Jacobian, its linear map batched over the basis


def _dense_hessian(f, argnums=0, has_aux=False):  # the composition, as hessian was defined
    return fa.jacfwd(fa.jacrev(f, argnums, has_aux), argnums, has_aux)


def _fd_hessian(f, x, eps=1e-5):  # central differences of the gradient, column by column
    g = fa.grad(f)
    cols = []
    for k in range(x.size):
        e = np.zeros_like(x)
        e[k] = eps
        cols.append((g(x + e) - g(x - e)) / (2 * eps))
    return np.stack(cols, axis=-1)


def _rel(a, b):
    return np.max(np.abs(np.asarray(a) - np.asarray(b))) / max(np.max(np.abs(np.asarray(b))), 1e-300)


@pytest.mark.parametrize("case", ["logistic", "minus_regulariser", "tanh_matmul", "rosenbrock",
                                  "only_regulariser", "einsum_index"])
def test_eager_hessian_matches_the_dense_composition_and_finite_differences(rng, case):
    A = rng.normal(size=(15, 6))
    lam = 0.3
    fs = {
        "logistic": _logistic_problem(rng, d=6)[0],
        "minus_regulariser": lambda w: fnp.sum(fnp.exp(A @ w * 0.1)) - lam * (w @ w),
        "tanh_matmul": lambda w: fnp.sum(fnp.tanh(A @ w) * (A @ w)) + fnp.sum(w[:-1] * w[1:]),
        "rosenbrock": _rosenbrock,
        "only_regulariser": lambda w: 0.5 * lam * (w @ w),
        "einsum_index": lambda w: fnp.einsum("ij,j,j->", A[:6], w, w ** 2) + w[2] * fnp.sum(w[::2] ** 3),
    }
    f = fs[case]
    x = rng.normal(size=6)
    x_before = x.copy()
    H = fa.hessian(f)(x)
    assert type(H) is np.ndarray and H.shape == (6, 6)
    Hd = _dense_hessian(f)(x)
    assert _rel(H, Hd) < 1e-14
    np.testing.assert_allclose(H, _fd_hessian(f, x), rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(x, x_before)


def test_eager_hessian_keeps_argnums_has_aux_pytrees_and_non_scalar_outputs(rng):
    A = rng.normal(size=(4, 3))

    def f(a, b, scale):
        return scale * fnp.sum(fnp.sin(A @ a) * b[0]) + fnp.sum(b ** 3) * a[1]

    a, b = rng.normal(size=3), rng.normal(size=2)
    for argnums in (0, 1, (0, 1), (1, 0), (0, 0)):
        H, Hd = fa.hessian(f, argnums)(a, b, 2.0), _dense_hessian(f, argnums)(a, b, 2.0)
        for h, hd in zip(fa.tree_util.tree_leaves(H), fa.tree_util.tree_leaves(Hd), strict=True):
            assert np.shape(h) == np.shape(hd)
            np.testing.assert_allclose(h, hd, rtol=1e-14, atol=1e-15)
        assert fa.tree_util.tree_structure(H) == fa.tree_util.tree_structure(Hd)

    def g(p):  # has_aux, a pytree argument, a non-scalar (2-vector) output
        out = fnp.stack([fnp.sum(p["u"] ** 2 * p["v"]), fnp.prod(fnp.cos(p["u"]))])
        return out, {"norm": fnp.sum(p["u"] ** 2)}

    p = {"u": rng.normal(size=3), "v": rng.normal(size=(3,))}
    (H, aux), (Hd, auxd) = fa.hessian(g, has_aux=True)(p), _dense_hessian(g, has_aux=True)(p)
    np.testing.assert_allclose(aux["norm"], auxd["norm"], rtol=0)
    for i in p:
        for j in p:
            assert H[i][j].shape == (2,) + p[i].shape + p[j].shape
            np.testing.assert_allclose(H[i][j], Hd[i][j], rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(H["u"]["u"][1], _fd_hessian(lambda u: fnp.prod(fnp.cos(u)), p["u"]),
                               rtol=1e-6, atol=1e-7)


def test_eager_hessian_under_grad_and_vmap_matches_the_composition(rng):
    A = rng.normal(size=(5, 4))

    def f(x, c):
        return fnp.sum(fnp.exp(A @ x * c)) + c * (x @ x)

    x = rng.normal(size=4)
    # closed over an outer tracer (c), with concrete x: the eager path with traced constants
    out = fa.grad(lambda c: fnp.sum(fa.hessian(lambda x: f(x, c))(x)))(0.7)
    ref = fa.grad(lambda c: fnp.sum(_dense_hessian(lambda x: f(x, c))(x)))(0.7)
    np.testing.assert_allclose(out, ref, rtol=1e-13)
    xs = rng.normal(size=(3, 4))
    np.testing.assert_allclose(fa.vmap(lambda x: fa.hessian(f)(x, 0.7))(xs),
                               np.stack([fa.hessian(f)(x, 0.7) for x in xs]), rtol=1e-14)


def test_eager_hessian_keeps_float32_and_its_errors():
    x = np.array([0.5, -1.0, 2.0], dtype=np.float32)
    H = fa.hessian(lambda x: fnp.sum(fnp.exp(x) * x[0]) + 0.5 * (x @ x))(x)
    assert H.dtype == np.float32
    np.testing.assert_allclose(H, _dense_hessian(lambda x: fnp.sum(fnp.exp(x) * x[0]) + 0.5 * (x @ x))(x),
                               rtol=1e-6)
    with pytest.raises(DTypeError, match="jacfwd"):
        fa.hessian(lambda x: fnp.sum(x ** 2))(np.arange(3))


def test_symmetrize_primitive_derivatives_and_batching():
    from funcad.lax.linalg import symmetrize

    rng = np.random.default_rng(3)
    m, c = rng.normal(size=(4, 4)), rng.normal(size=(4, 4))
    np.testing.assert_array_equal(symmetrize(m), (m + m.T) * 0.5)
    # linear and self-adjoint: d/dm sum(S(m) * c) = S(c)
    np.testing.assert_allclose(fa.grad(lambda m: fnp.sum(symmetrize(m) * c))(m), (c + c.T) / 2,
                               rtol=1e-15)
    check_grads(lambda m: fnp.sum(fnp.sin(symmetrize(m)) * c), (m,), order=2)
    stack = rng.normal(size=(3, 4, 4))
    got = fa.vmap(symmetrize, in_axes=1)(np.moveaxis(stack, 0, 1))
    np.testing.assert_array_equal(got, np.stack([(s + s.T) * 0.5 for s in stack]))
    with pytest.raises(fa.errors.ShapeError, match="square"):
        symmetrize(np.ones((2, 3)))
    with pytest.raises(fa.errors.DTypeError, match="float or complex"):
        symmetrize(np.ones((2, 2), dtype=int))
    # value_grad_hessian under vmap takes the primitive: the same Hessians as one by one
    f = lambda x: fnp.sum(x ** 3) + x[0] * x[1] * x[2]  # noqa: E731
    xs = rng.normal(size=(5, 3))
    H = fa.vmap(lambda x: fa.value_grad_hessian(f)(x)[2])(xs)
    for x, h in zip(xs, H):
        np.testing.assert_array_equal(h, fa.value_grad_hessian(f)(x)[2])
