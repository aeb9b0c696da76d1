"""The symbolic identity basis (batching.OneHot) of jacfwd, jacrev, hessian, value_grad_hessian
and vmap over eye: the same Jacobians as the dense basis, bit for bit, and as finite
differences; no identity-sized product in the programs; the right derivative where the data
hold infs (the dense basis gives inf * 0 = NaN)."""

import numpy as np
import pytest

import funcad as fa
import funcad.api as api
import funcad.numpy as fnp
from funcad import lax
from funcad.backend.simplify import simplify
from funcad.batching import OneHot

RNG = np.random.default_rng(18)
A = RNG.normal(size=(5, 5))
B = RNG.normal(size=(3, 5))
X0 = RNG.normal(size=5)


@pytest.fixture
def dense_basis(monkeypatch):
    """Run ``f`` with the dense identity basis (today's path before the symbolic one)."""

    def run(f, *args):
        monkeypatch.setattr(api, "_DENSE_BASIS", True)
        try:
            return f(*args)
        finally:
            monkeypatch.setattr(api, "_DENSE_BASIS", False)

    return run


def numerical_jacobian(f, x, eps=1e-6):
    x = np.asarray(x, float)
    cols = []
    for k in range(x.size):
        e = np.zeros(x.size)
        e[k] = eps
        e = e.reshape(x.shape)
        cols.append((np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2 * eps))
    return np.stack(cols, -1).reshape(np.shape(f(x)) + x.shape)


@fa.custom_jvp
def softplus_cj(x):
    return fnp.log1p(fnp.exp(x))


@softplus_cj.defjvp
def _softplus_cj_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return softplus_cj(x), t * fa.nn.sigmoid(x)


@fa.custom_vjp
def sin_times_a(x):
    return fnp.sin(A @ x)


sin_times_a.defvjp(lambda x: (sin_times_a(x), fnp.cos(A @ x)), lambda c, g: (A.T @ (c * g),))


def _scan_prog(x):
    def body(carry, a_row):
        carry = fnp.tanh(carry * 0.5 + a_row @ x)
        return carry, carry * x[0]

    carry, ys = lax.scan(body, 0.1, A)
    return ys * carry


PROGRAMS = {
    "tanh(Ax)*x": lambda x: fnp.tanh(A @ x) * x,
    "x@A and B@x": lambda x: fnp.concatenate([x @ A, B @ fnp.sin(x)]),
    "scaled matmul": lambda x: (0.5 * x) @ A @ x * x,
    "einsum": lambda x: fnp.einsum("ij,j->i", A, x) * fnp.einsum("i,i->", x, x),
    "broadcasting": lambda x: fnp.sum(x[:, None] * B.T + fnp.sin(x)[:, None] / (2.0 + B.T), 1),
    "reductions": lambda x: fnp.stack([fnp.sum(x ** 3), fnp.mean(fnp.exp(x)), fnp.max(x * x)]),
    "indexing": lambda x: fnp.concatenate([x[1:4] * x[0], x[::2] ** 2, x[-1:] * x[2]]),
    "cond": lambda x: lax.cond(x[0] > 0, lambda v: fnp.sin(A @ v), lambda v: v ** 2, x),
    "scan": _scan_prog,
    "while": lambda x: lax.fori_loop(0, 3, lambda i, v: fnp.tanh(A @ v) + x, x),
    "custom_jvp": lambda x: softplus_cj(A @ x) * x,
    "custom_vjp": lambda x: sin_times_a(x) * x[1],
}


@pytest.mark.parametrize("name", list(PROGRAMS))
@pytest.mark.parametrize("jac", [fa.jacfwd, fa.jacrev], ids=["jacfwd", "jacrev"])
def test_jacobians_match_dense_basis_and_finite_differences(name, jac, dense_basis):
    f = PROGRAMS[name]
    J = jac(f)(X0)
    np.testing.assert_array_equal(J, dense_basis(jac(f), X0))
    np.testing.assert_allclose(J, numerical_jacobian(f, X0), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", ["tanh(Ax)*x", "scaled matmul", "einsum", "broadcasting",
                                  "indexing", "cond", "custom_jvp", "custom_vjp"])
def test_hessians_match_dense_basis_and_finite_differences(name, dense_basis):
    f = lambda x: fnp.sum(PROGRAMS[name](x) ** 2)  # noqa: E731
    H = fa.hessian(f)(X0)
    np.testing.assert_array_equal(H, dense_basis(fa.hessian(f), X0))
    np.testing.assert_allclose(H, numerical_jacobian(fa.grad(f), X0), rtol=1e-5, atol=1e-6)


def _logistic(n=40, d=6, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) / np.sqrt(d)
    y = np.where(rng.uniform(size=n) < 0.5, -1.0, 1.0)

    def loss(w):
        return fnp.mean(fa.nn.softplus(-y * (X @ w))) + 0.5e-2 * (w @ w)

    return loss, X, y, rng.normal(0, 0.1, d)


def test_pytree_hessian_and_jit_match_dense_basis(dense_basis):
    def f(p):
        return 0.5 * p["x"] @ A @ p["x"] + p["x"][:3] @ p["y"] * 2.0 + fnp.sum(p["y"] ** 3) * p["x"][1]

    p = {"x": X0, "y": RNG.normal(size=3)}
    for transform in (lambda g: g, fa.jit):
        H, Hd = transform(fa.hessian(f))(p), dense_basis(transform(fa.hessian(f)), p)
        for a in "xy":
            for b in "xy":
                np.testing.assert_array_equal(H[a][b], Hd[a][b])
    loss, *_, w = _logistic()
    _, _, Hv = fa.value_grad_hessian(loss)(w)
    np.testing.assert_allclose(Hv, dense_basis(fa.hessian(loss), w), rtol=1e-13, atol=1e-15)


def test_vmap_over_eye_is_structured_and_equal():
    f = lambda e: fnp.tanh(A @ X0) * (A @ e) + e * X0  # noqa: E731
    out = fa.vmap(f)(np.eye(5))
    expect = np.stack([np.asarray(f(e)) for e in np.eye(5)])
    np.testing.assert_array_equal(out, expect)
    jaxpr = fa.make_jaxpr(lambda x: fa.vmap(lambda e: fnp.tanh(A @ x) * (A @ e))(np.eye(5)))(X0).jaxpr
    assert all(b[-1] == 1 for _, b in _matmuls(jaxpr)), _matmuls(jaxpr)


def _matmuls(jaxpr):
    return [tuple(a.aval.shape for a in e.inputs) for e in jaxpr.eqns if e.prim.name == "matmul"]


def test_no_identity_sized_product_in_the_newton_step():
    n, d = 60, 8
    loss, X, y, w = _logistic(n, d)

    def newton_step(w):
        return w - fnp.linalg.solve(fa.hessian(loss)(w), fa.grad(loss)(w))

    jaxpr = simplify(fa.make_jaxpr(newton_step)(w).jaxpr)
    products = _matmuls(jaxpr)
    # X @ w, X.T @ r (the gradient), and the Hessian's one GEMM X.T @ (X * s): nothing of the
    # form (n, d) @ (d, d), the identity basis's product.
    assert (n, d) not in [s[0] for s in products if s[1] == (d, d)]
    assert sum(1 for a, b in products if a[-1] > 1 and b[-1] > 1) == 1
    vgh = simplify(fa.make_jaxpr(lambda w: fa.value_grad_hessian(loss)(w))(w).jaxpr)
    assert sum(1 for a, b in _matmuls(vgh) if a[-1] > 1 and b[-1] > 1) == 1
    np.testing.assert_allclose(fa.jit(newton_step)(w), newton_step(w), rtol=1e-12)


def test_no_identity_sized_product_in_the_jacobian_of_tanh_ax_times_x():
    n = 7
    a, x = RNG.normal(size=(n, n)), RNG.normal(size=n)
    for jac in (fa.jacrev, fa.jacfwd):
        jaxpr = simplify(fa.make_jaxpr(jac(lambda x: fnp.tanh(a @ x) * x))(x).jaxpr)
        # only a @ x: every product is a matrix-vector product
        assert all(b[-1] == 1 for _, b in _matmuls(jaxpr)), _matmuls(jaxpr)
        jaxpr = simplify(fa.make_jaxpr(jac(PROGRAMS["einsum"]))(X0).jaxpr)
        products = [e for e in jaxpr.eqns if e.prim.name in ("einsum", "matmul")]
        assert all(sum(a.aval.ndim >= 2 for a in e.inputs) <= 1 for e in products), products


def test_infs_in_the_data_give_the_right_derivative(dense_basis):
    X = RNG.normal(size=(4, 3))
    X[1, 2] = np.inf
    w = RNG.normal(size=3)
    for jac in (fa.jacfwd, fa.jacrev):
        np.testing.assert_array_equal(jac(lambda w: X @ w)(w), X)
        np.testing.assert_array_equal(fa.jit(jac(lambda w: X @ w))(w), X)
    # the dense basis computes X @ I, where inf * 0 = NaN
    assert np.isnan(dense_basis(fa.jacfwd(lambda w: X @ w), w)).any()
    # least squares: the Hessian is X^T X, with infs where column 2 enters and finite elsewhere
    X[1, 2] = 1.0
    X[:, 1] = [np.inf, 0.0, 1.0, 2.0]
    with np.errstate(invalid="ignore"):
        expect = X.T @ X
        H = fa.hessian(lambda w: 0.5 * fnp.sum((X @ w) ** 2))(w)
        Hd = dense_basis(fa.hessian(lambda w: 0.5 * fnp.sum((X @ w) ** 2)), w)
    assert np.isnan(Hd).any() and not np.isnan(expect).any()
    np.testing.assert_allclose(H, expect, rtol=1e-14)


def test_onehot_materialises_as_the_dense_basis():
    oh = OneHot(5, (2,), np.float64, start=3, coef=np.array([2.0, np.inf]))
    from funcad.batching import materialize

    expect = np.zeros((5, 2))
    expect[3, 0], expect[4, 1] = 2.0, np.inf
    np.testing.assert_array_equal(materialize(oh), expect)
    np.testing.assert_array_equal(materialize(OneHot(3, (3,), np.float32)), np.eye(3, dtype=np.float32))


def test_hessian_memory_is_the_result_plus_order_n_d():
    import tracemalloc

    n, d = 300, 600
    loss, X, y, w = _logistic(n, d)
    fa.hessian(loss)(w)
    tracemalloc.start()
    try:
        fa.hessian(loss)(w)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # the result and one copy of it (the diagonal added), the (n, d) batched tangents; the dense
    # basis needs 5.5 d x d (the basis, its products and scalings)
    assert peak < 8 * (2.2 * d * d + 3 * n * d), peak / (8 * d * d)


def test_value_grad_hessian_memory_is_one_d_by_d_plus_order_n_d():
    # The regulariser's diagonal goes into the batched product in place, and the symmetrization
    # is done in place: one d x d array at the peak (fa.hessian above: two).
    import tracemalloc

    n, d = 100, 800  # two d x d arrays (the copy this avoids) would exceed the bound
    loss, X, y, w = _logistic(n, d)
    vgh = fa.value_grad_hessian(loss)
    vgh(w)
    tracemalloc.start()
    try:
        _, g, H = vgh(w)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * (1.2 * d * d + 3 * n * d), peak / (8 * d * d)
    np.testing.assert_array_equal(H, H.T)
    Hd = fa.hessian(loss)(w)
    np.testing.assert_allclose(H, (Hd + Hd.T) * 0.5, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_value_grad_hessian_diagonal_term_in_place_leaves_user_arrays_alone(sign):
    from funcad.second_order import _own

    rng = np.random.default_rng(7)
    A = rng.normal(size=(30, 30))
    A_before = A.copy()
    lam = rng.uniform(1, 2, 30)

    def f(x):  # the Hessian's linear map is A-ish products plus (or minus) a diagonal lam * t
        return 0.5 * x @ (A @ x) + sign * 0.5 * fnp.sum(lam * x * x)

    _, _, H = fa.value_grad_hessian(f)(rng.normal(size=30))
    np.testing.assert_allclose(H, 0.5 * (A + A.T) + sign * np.diag(lam), rtol=1e-14)
    np.testing.assert_array_equal(A, A_before)
    # t -> c * t alone, and t -> t: nothing to add to, the basis itself
    np.testing.assert_array_equal(fa.value_grad_hessian(lambda x: fnp.sum(lam * x * x))(A[0])[2],
                                  np.diag(2 * lam))
    np.testing.assert_array_equal(fa.value_grad_hessian(lambda x: 0.5 * x @ x)(A[0])[2], np.eye(30))
    assert not _own(A.T, [A]) and not _own(np.broadcast_to(A[0], (30, 30)), []) and _own(A.copy(), [A])
