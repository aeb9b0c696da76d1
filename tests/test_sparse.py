"""Sparsity detection, coloring, sparse Jacobians/Hessians and sparse Newton (issue 19).

Patterns are checked against the nonzeros of dense derivatives (funcad's jacobian/hessian,
themselves checked against finite differences elsewhere): conservative on random programs
(a property test), exact on known structures; colour counts against the known optima;
sparse results against dense ones.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import funcad as fa
import funcad.numpy as fnp
from funcad import lax
from funcad.coloring import (
    color_columns,
    color_rows,
    color_star,
    decompress_columns,
    decompress_rows,
    decompress_symmetric,
    seed_matrix,
)
from funcad.errors import ArgumentError, NonScalarObjectiveError
from funcad.optimize import newton, newton_cg


def rosen(x):
    return fnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def nz(M, tol=0.0):
    return np.abs(np.asarray(M)) > tol


def covers(pattern, dense):
    """The pattern has a True wherever the dense derivative is nonzero."""
    return not np.any(nz(dense) & ~pattern.toarray())


# --------------------------------------------------------------------------------------
# Random programs from a small grammar: vectors of length n, slices, elementwise, sums


N = 6
UNARY = {"sin": fnp.sin, "exp": lambda a: fnp.exp(0.1 * a), "sq": lambda a: a * a,
         "tanh": fnp.tanh, "abs": fnp.abs, "neg": lambda a: -a, "scale": lambda a: 3.0 * a,
         "rev": lambda a: a[::-1], "roll": lambda a: fnp.concatenate([a[1:], a[:1]]),
         "shift": lambda a: fnp.concatenate([a[:1] * 0.0, a[:-1]]),
         "sum": lambda a: fnp.sum(a) * fnp.ones(N), "cumsum": fnp.cumsum,
         "cube_first": lambda a: a.at[0].set(a[0] ** 3), "gather": lambda a: a[np.array([2, 0, 0, 5, 1, 3])],
         "sort": fnp.sort, "max_all": lambda a: fnp.max(a) + 0.0 * a,
         "even_sq": lambda a: fnp.concatenate([a[::2] ** 2, a[1::2]]),
         "matvec": lambda a: np.triu(np.ones((N, N))) @ a,
         "stopgrad": lambda a: fa.lax.stop_gradient(a) + a[0]}
BINARY = {"add": lambda a, b: a + b, "mul": lambda a, b: a * b, "sub": lambda a, b: a - b,
          "div": lambda a, b: a / (1.0 + b * b), "where": lambda a, b: fnp.where(a > b, a, b * b),
          "maximum": fnp.maximum, "outer_sum": lambda a, b: fnp.sum(fnp.outer(a, b), axis=1)}

programs = st.lists(
    st.one_of(st.tuples(st.just("u"), st.sampled_from(sorted(UNARY)), st.integers(0, 9)),
              st.tuples(st.just("b"), st.sampled_from(sorted(BINARY)), st.integers(0, 9), st.integers(0, 9))),
    min_size=1, max_size=7)


def build(program):
    def f(x):
        vals = [x, x[::-1] * 0.5]
        for op in program:
            if op[0] == "u":
                vals.append(UNARY[op[1]](vals[op[2] % len(vals)]))
            else:
                vals.append(BINARY[op[1]](vals[op[2] % len(vals)], vals[op[3] % len(vals)]))
        return vals[-1]

    return f


@settings(max_examples=30, deadline=None)
@given(programs, st.integers(0, 2**31 - 1))
def test_patterns_never_miss_a_nonzero(program, seed):
    f = build(program)
    x = np.random.default_rng(seed).normal(size=N)
    J = fa.jacobian(f)(x)
    w = np.random.default_rng(seed + 1).normal(size=N)
    H = fa.hessian(lambda v: fnp.sum(f(v) * w))(x)
    for mode in ("global", "local"):
        assert covers(fa.jacobian_sparsity(f, mode=mode)(x), J), (program, mode)
        assert covers(fa.hessian_sparsity(lambda v: fnp.sum(f(v) * w), mode=mode)(x), H), (program, mode)


@settings(max_examples=6, deadline=None)
@given(programs, st.integers(0, 2**31 - 1))
def test_sparse_derivatives_equal_dense_on_random_programs(program, seed):
    f = build(program)
    x = np.random.default_rng(seed).normal(size=N)
    np.testing.assert_allclose(fa.sparse_jacobian(f)(x).toarray(), fa.jacobian(f)(x), atol=1e-12)
    g = lambda v: fnp.sum(f(v) ** 2)  # noqa: E731
    np.testing.assert_allclose(fa.sparse_hessian(g)(x).toarray(), fa.hessian(g)(x), atol=1e-9, rtol=1e-9)


# --------------------------------------------------------------------------------------
# Exact patterns of known structures


def test_rosenbrock_patterns_are_exact():
    x = np.random.default_rng(0).normal(size=7)
    assert (fa.hessian_sparsity(rosen)(x).toarray() == nz(fa.hessian(rosen)(x))).all()
    grad_j = fa.jacobian_sparsity(fa.grad(rosen))(x).toarray()
    assert (grad_j == fa.hessian_sparsity(rosen)(x).toarray()).all()


def test_elementwise_and_linear_patterns():
    x = np.arange(1.0, 6.0)
    assert (fa.jacobian_sparsity(fnp.sin)(x).toarray() == np.eye(5, dtype=bool)).all()
    assert fa.hessian_sparsity(lambda v: fnp.sum(3.0 * v + 1.0))(x).nnz == 0  # linear
    assert fa.hessian_sparsity(lambda v: fnp.sum(v / 2.0))(x).nnz == 0  # x / const is linear
    assert (fa.hessian_sparsity(lambda v: fnp.sum(1.0 / v))(x).toarray() == np.eye(5)).all()
    # The result depends on sin(v)[0] only: the other diagonal entries are not reported.
    first = np.zeros((5, 5), bool)
    first[0, 0] = True
    assert (fa.hessian_sparsity(lambda v: fnp.sin(v)[0])(x).toarray() == first).all()
    # A product pairs its operands' dependencies, not each with itself.
    assert (fa.hessian_sparsity(lambda v: v[0] * v[1])(x).toarray()
            == nz(fa.hessian(lambda v: v[0] * v[1])(x))).all()
    # Matmul with a constant matrix: the matrix's pattern.
    A = np.diag(np.ones(5)) + np.diag(np.ones(4), 1)
    assert (fa.jacobian_sparsity(lambda v: A @ v)(x).toarray() == (A != 0)).all()
    assert (fa.jacobian_sparsity(lambda M: fnp.sum(M, axis=0))(np.ones((2, 3))).toarray()
            == np.tile(np.eye(3), 2).astype(bool)).all()


def test_global_and_local_modes():
    f = lambda v: fnp.where(v > 0, v ** 2, v[::-1])  # noqa: E731
    x = np.array([1.0, -2.0, 3.0])
    glob = fa.jacobian_sparsity(f)(x).toarray()
    loc = fa.jacobian_sparsity(f, mode="local")(x).toarray()
    assert (glob == np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]], bool)).all()
    assert (loc == np.eye(3, dtype=bool)).all()  # x[1] < 0 takes v[::-1][1] = v[1]
    assert (loc == nz(fa.jacobian(f)(x))).all()
    g = lambda v: fnp.maximum(v, v[::-1] * 2.0)  # noqa: E731
    assert (fa.jacobian_sparsity(g, mode="local")(x).toarray() == nz(fa.jacobian(g)(x))).all()
    # A constant mask is known even in global mode.
    mask = np.array([True, False, True])
    assert (fa.jacobian_sparsity(lambda v: fnp.where(mask, v, 0.0))(x).toarray() == np.diag(mask)).all()
    with pytest.raises(ArgumentError, match="mode must be"):
        fa.jacobian_sparsity(f, mode="sometimes")


def test_integer_arguments_are_known_float_ones_are_not():
    idx = np.array([2, 0])
    J = fa.jacobian_sparsity(lambda v, i: v[i], argnums=0)(np.ones(3), idx).toarray()
    assert (J == np.array([[0, 0, 1], [1, 0, 0]], bool)).all()
    J = fa.jacobian_sparsity(lambda v, A: A @ v)(np.ones(3), np.eye(3)).toarray()
    assert J.all()  # the matrix could be anything
    J = fa.jacobian_sparsity(lambda v, w: v * w, argnums=(0, 1))(np.ones(2), np.ones(2)).toarray()
    assert (J == np.array([[1, 0, 1, 0], [0, 1, 0, 1]], bool)).all()


def test_control_flow():
    x = np.arange(1.0, 5.0)
    # cond with an unknown index: the union of the branches; with a known one, that branch.
    f = lambda v: lax.cond(v[0] > 0, lambda u: u * 2.0, lambda u: u[::-1], v)  # noqa: E731
    assert (fa.jacobian_sparsity(f)(x).toarray() == (np.eye(4) + np.eye(4)[::-1]).astype(bool)).all()
    assert (fa.jacobian_sparsity(f, mode="local")(x).toarray() == np.eye(4, dtype=bool)).all()
    # fori_loop with a known trip count: exact (two shifts), not a fixed point.
    g = lambda v: lax.fori_loop(0, 2, lambda i, u: fnp.concatenate([u[:1], u[:-1]]) + u, v)  # noqa: E731
    assert (fa.jacobian_sparsity(g)(x).toarray() == nz(fa.jacobian(g)(x))).all()
    # A while loop whose trip count depends on the input: a fixed point (conservative).
    def h(v):
        return lax.while_loop(lambda u: u[0] < 100.0,
                              lambda u: fnp.concatenate([u[:1] * 2.0, u[:-1] + u[1:]]), v)

    P = fa.jacobian_sparsity(h)(x).toarray()
    assert covers(sp.csr_matrix(P), fa.jacobian(h)(x)) and P[-1].all()
    # scan: one step at a time.
    s = lambda v: lax.scan(lambda c, xi: (c * xi, c + xi), 1.0, v)[1]  # noqa: E731
    assert (fa.jacobian_sparsity(s)(x).toarray() == np.tril(np.ones((4, 4)), 0).astype(bool)).all()
    assert covers(fa.jacobian_sparsity(s)(x), fa.jacobian(s)(x))
    # jit and custom_jvp are analysed through the function they wrap.
    assert (fa.jacobian_sparsity(fa.jit(lambda v: v[1:] * v[:-1]))(x).toarray()
            == nz(fa.jacobian(lambda v: v[1:] * v[:-1])(x))).all()

    @fa.custom_jvp
    def softplus(v):
        return fnp.log1p(fnp.exp(v))

    softplus.defjvp(lambda p, t: (softplus(p[0]), t[0] * fa.nn.sigmoid(p[0])))
    assert (fa.hessian_sparsity(lambda v: fnp.sum(softplus(v)))(x).toarray() == np.eye(4)).all()


# --------------------------------------------------------------------------------------
# Coloring


def tridiagonal(n):
    return sp.diags([1, 1, 1], [-1, 0, 1], shape=(n, n), format="csr", dtype=bool)


def arrow(n):
    A = np.eye(n, dtype=bool)
    A[0] = A[:, 0] = True
    return sp.csr_matrix(A)


@pytest.mark.parametrize("order", ["natural", "largest_first", "smallest_last"])
def test_color_counts_match_the_known_optima(order):
    for n in (4, 10, 101):  # (a path on 3 vertices is a star: 2 colours)
        assert color_star(tridiagonal(n), order).max() + 1 == 3  # star chromatic number of a path
        assert color_columns(tridiagonal(n), order).max() + 1 == 3
    # Arrow: a star coloring needs 2 colours (the hub, then all leaves); the columns all share
    # the dense row, so a column coloring needs n.
    assert color_star(arrow(12), order).max() + 1 == 2
    assert color_columns(arrow(12), order).max() + 1 == 12
    # Banded with half-bandwidth k: column coloring needs 2k + 1 (a row has 2k + 1 nonzeros).
    band = sp.diags([1] * 5, [-2, -1, 0, 1, 2], shape=(30, 30), format="csr", dtype=bool)
    assert color_columns(band, order).max() + 1 == 5
    diag_j = sp.csr_matrix(np.vstack([np.eye(6), np.ones((1, 6))]).astype(bool))
    assert color_rows(diag_j, order).max() + 1 == 2


def test_colorings_are_valid_and_decompress_random_matrices():
    rng = np.random.default_rng(0)
    for trial in range(20):
        M = sp.random(25, 25, density=0.12, random_state=trial)
        M = (M + M.T + sp.eye(25)).toarray()
        for order in ("natural", "largest_first", "smallest_last"):
            c = color_star(M != 0, order)
            H = decompress_symmetric(sp.csr_matrix(M != 0), c, M @ seed_matrix(c))
            np.testing.assert_allclose(H.toarray(), M)
        J = rng.normal(size=(15, 25)) * (rng.random((15, 25)) < 0.1)
        cc, cr = color_columns(J != 0), color_rows(J != 0)
        P = sp.csr_matrix(J != 0)
        # no two columns (rows) of one colour share a row (column)
        assert ((P.astype(int) @ sp.csr_matrix(seed_matrix(cc))).toarray() <= 1).all()
        np.testing.assert_allclose(decompress_columns(P, cc, J @ seed_matrix(cc)).toarray(), J)
        np.testing.assert_allclose(decompress_rows(P, cr, seed_matrix(cr).T @ J).toarray(), J)
    with pytest.raises(ArgumentError, match="order must be"):
        color_star(tridiagonal(4), "random")


# --------------------------------------------------------------------------------------
# Sparse Jacobians and Hessians


def test_sparse_hessian_equals_dense_and_caches_its_plan():
    sh = fa.sparse_hessian(rosen)
    for d in (2, 5, 200):
        x = np.random.default_rng(d).normal(size=d)
        H = sh(x)
        assert isinstance(H, sp.csr_matrix)
        np.testing.assert_allclose(H.toarray(), fa.hessian(rosen)(x), rtol=1e-12, atol=1e-9)
    plans = [p for k, p in sh.cache.items()]
    assert len(plans) == 3 and plans[-1].num_colors == 3
    plan = sh.cache[next(iter(sh.cache))]
    sh(np.zeros(2))  # same signature: the plan is reused
    assert sh.cache[next(iter(sh.cache))] is plan


def test_sparse_hessian_jit_and_pytrees():
    x = np.random.default_rng(1).normal(size=9)
    np.testing.assert_allclose(fa.sparse_hessian(rosen, jit=True)(x).toarray(), fa.hessian(rosen)(x),
                               rtol=1e-12, atol=1e-9)

    def f(p, scale):
        return scale * fnp.sum(p["a"] ** 2 * p["b"][0]) + fnp.sum(fnp.sin(p["b"]))

    p = {"a": np.array([1.0, 2.0]), "b": np.array([0.5, -1.0])}
    H = fa.sparse_hessian(f)(p, 3.0).toarray()
    dense = fa.hessian(lambda v: f({"a": v[:2], "b": v[2:]}, 3.0))(np.concatenate([p["a"], p["b"]]))
    np.testing.assert_allclose(H, dense, atol=1e-12)
    with pytest.raises(NonScalarObjectiveError, match="must return a scalar"):
        fa.sparse_hessian(fnp.sin)(np.ones(3))


def test_sparse_jacobian_forward_and_reverse():
    x = np.random.default_rng(2).normal(size=8)
    f = lambda v: fnp.sin(v[1:]) * v[:-1] ** 2  # noqa: E731  banded: 2 column colours
    sj = fa.sparse_jacobian(f)
    np.testing.assert_allclose(sj(x).toarray(), fa.jacobian(f)(x), atol=1e-14)
    assert not next(iter(sj.cache.values())).reverse
    g = lambda v: fnp.concatenate([v ** 2, fnp.sum(v)[None]])  # noqa: E731  a dense row: reverse
    sg = fa.sparse_jacobian(g)
    np.testing.assert_allclose(sg(x).toarray(), fa.jacobian(g)(x), atol=1e-14)
    plan = next(iter(sg.cache.values()))
    assert plan.reverse and plan.num_colors == 2
    two = fa.sparse_jacobian(lambda a, b: a * b[::-1], argnums=(0, 1))(x[:4], x[4:]).toarray()
    dense = fa.jacobian(lambda a, b: a * b[::-1], argnums=(0, 1))(x[:4], x[4:])
    np.testing.assert_allclose(two, np.hstack(dense))


def test_sparse_results_equal_dense_at_300():  # (benchmarks/sparse_newton.py checks d = 2000)
    x = np.random.default_rng(3).uniform(-1, 1, 300)
    np.testing.assert_allclose(fa.sparse_hessian(rosen)(x).toarray(), fa.hessian(rosen)(x),
                               rtol=1e-12, atol=1e-8)


# --------------------------------------------------------------------------------------
# Sparse Newton


def test_sparse_newton_matches_dense_newton():
    x0 = np.full(40, 0.5)
    dense = newton(rosen, x0, gtol=1e-9)
    sparse = newton(rosen, x0, gtol=1e-9, hessian="sparse")
    assert sparse.success and sparse.nit == dense.nit
    np.testing.assert_allclose(sparse.x, np.ones(40), atol=1e-8)
    assert [h["shift"] for h in sparse.history] == pytest.approx([h["shift"] for h in dense.history])
    with pytest.raises(ArgumentError, match="hessian must be"):
        newton(rosen, x0, hessian="diagonal")


def test_sparse_factorizations_shift_and_solve():
    from funcad.optimize import _banded_cholesky, _sparse_modified_cholesky, _superlu_ldl

    rng = np.random.default_rng(4)
    H = sp.diags([np.full(29, -1.0), rng.uniform(-1, 3, 30), np.full(29, -1.0)], [-1, 0, 1], format="csr")
    solve, tau = _sparse_modified_cholesky(H)
    assert tau > 0 and np.all(np.linalg.eigvalsh(H.toarray() + tau * np.eye(30)) > 0)
    b = rng.normal(size=30)
    np.testing.assert_allclose((H + tau * sp.identity(30)) @ solve(b), b, atol=1e-9)
    spd = (H + 10 * sp.identity(30)).tocsr()
    indefinite = (H - 10 * sp.identity(30)).tocsr()
    for factor in (_superlu_ldl, lambda A: _banded_cholesky(A, None, 1),
                   lambda A: _banded_cholesky(A, np.arange(30)[::-1], 1)):
        np.testing.assert_allclose(spd @ factor(spd)(b), b, atol=1e-9)
        assert factor(indefinite) is None


def test_cholmod_factorization_where_installed():
    pytest.importorskip("sksparse.cholmod", reason="scikit-sparse (the sparse extra) not installed")
    from funcad.optimize import _sparse_modified_cholesky, _sparse_spd_factor

    rng = np.random.default_rng(6)
    H = sp.diags([np.full(39, -1.0), rng.uniform(-1, 3, 40), np.full(39, -1.0)], [-1, 0, 1], format="csr")
    H = (H + sp.csr_matrix((np.full(2, 0.5), ([0, 39], [39, 0])), shape=(40, 40))).tocsr()  # not banded
    factor = _sparse_spd_factor(H)
    assert factor.__name__ == "cholmod"
    b = rng.normal(size=40)
    spd = (H + 10 * sp.identity(40)).tocsr()
    np.testing.assert_allclose(spd @ factor(spd)(b), b, atol=1e-10)
    assert factor((H - 10 * sp.identity(40)).tocsr()) is None
    solve, tau = _sparse_modified_cholesky(H)
    assert tau > 0 and np.all(np.linalg.eigvalsh(H.toarray() + tau * np.eye(40)) > 0)
    np.testing.assert_allclose((H + tau * sp.identity(40)) @ solve(b), b, atol=1e-9)
    sparse = newton(rosen, np.full(40, 0.5), gtol=1e-9, hessian="sparse")
    assert sparse.success and sparse.nit == newton(rosen, np.full(40, 0.5), gtol=1e-9).nit


@pytest.mark.parametrize("kw", [dict(hessian="sparse"), dict(preconditioner="jacobi"),
                                dict(preconditioner="ilu"), dict(preconditioner="amg")])
def test_newton_cg_with_the_sparse_hessian(kw):
    res = newton_cg(rosen, np.full(30, 0.5), gtol=1e-9, **kw)
    assert res.success
    np.testing.assert_allclose(res.x, np.ones(30), atol=1e-8)
    with pytest.raises(ArgumentError, match="preconditioner must be"):
        newton_cg(rosen, np.full(3, 0.5), preconditioner="multigrid")


def test_amg_preconditioner_is_symmetric_and_beats_diagonal_scaling():
    from scipy.sparse.linalg import spsolve

    from funcad.optimize import _preconditioner, _SmoothedAggregation, _truncated_cg

    m = 60  # a 2-D diffusion operator with jumping coefficients, 3600 unknowns
    rng = np.random.default_rng(5)
    D1 = sp.diags([np.ones(m), -np.ones(m)], [0, -1], shape=(m + 1, m))  # differences, u = 0 outside
    A = sp.identity(m * m) * 1e-3
    for D in (sp.kron(sp.identity(m), D1), sp.kron(D1, sp.identity(m))):
        A = A + D.T @ sp.diags(rng.uniform(0.1, 10.0, D.shape[0])) @ D  # div(c grad u)
    A = A.tocsr()
    M = _SmoothedAggregation(A, max_coarse=100)
    assert len(M.levels) >= 2  # a real hierarchy, not one direct solve
    u, v = rng.normal(size=(2, m * m))
    assert u @ M(v) == pytest.approx(v @ M(u), rel=1e-10) and u @ M(u) > 0
    b = rng.normal(size=m * m)
    exact = spsolve(A.tocsc(), -b)
    x_amg, it_amg, neg = _truncated_cg(A.__matmul__, b, 1e-10 * np.linalg.norm(b), 10**4, M)
    x_jac, it_jac, _ = _truncated_cg(A.__matmul__, b, 1e-10 * np.linalg.norm(b), 10**4,
                                     _preconditioner(A, "jacobi"))
    assert not neg and it_amg <= 30 and 3 * it_amg < it_jac
    np.testing.assert_allclose(x_amg, exact, rtol=1e-7, atol=1e-9 * np.abs(exact).max())
    np.testing.assert_allclose(x_jac, exact, rtol=1e-7, atol=1e-9 * np.abs(exact).max())


def test_plans_hold_for_any_value_of_float_arguments_and_follow_argnums_order():
    f = lambda x, w: fnp.sum(w * x ** 2) + x[0] * x[-1]  # noqa: E731
    sh = fa.sparse_hessian(f)
    x = np.arange(1.0, 5.0)
    np.testing.assert_allclose(sh(x, np.zeros(4)).toarray(), fa.hessian(f)(x, np.zeros(4)))
    np.testing.assert_allclose(sh(x, np.ones(4)).toarray(), fa.hessian(f)(x, np.ones(4)))  # same plan
    assert len(sh.cache) == 1  # one plan, found with w unknown
    g = lambda a, b: a * b[:2] ** 2  # noqa: E731
    a, b = np.array([1.0, 2.0]), np.array([3.0, 4.0, 5.0])
    J = fa.sparse_jacobian(g, argnums=(1, 0))(a, b).toarray()
    dense = fa.jacobian(g, argnums=(1, 0))(a, b)
    np.testing.assert_allclose(J, np.hstack(dense))
    P = fa.jacobian_sparsity(g, argnums=(1, 0))(a, b).toarray()
    assert (P == nz(np.hstack(dense))).all()


def test_examples_run_at_small_sizes(capsys):
    import importlib.util
    import pathlib

    root = pathlib.Path(__file__).resolve().parent.parent / "examples"

    def load(name):
        spec = importlib.util.spec_from_file_location(name, root / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    out = load("sparse_newton_rosenbrock").main(200, plot=False)
    assert out["grad_norm"] <= 1e-8 and out["nit"] == 15
    plap = load("sparse_newton_plaplacian")
    out = plap.main(24, plot=False, gtol=1e-8)
    direct = plap.main(24, plot=False, gtol=1e-8, solver="direct")
    assert out["grad_norm"] <= 1e-8 and direct["grad_norm"] <= 1e-8 and out["cg_iters"] > 0
    assert "3 colours" in capsys.readouterr().out


def test_custom_vjp_and_callbacks():
    @fa.custom_vjp
    def cube(v):
        return v ** 3

    cube.defvjp(lambda v: (v ** 3, v), lambda v, ct: (3.0 * v ** 2 * ct,))
    x = np.arange(1.0, 4.0)
    f = lambda v: fnp.sum(cube(v[1:]) * v[:-1])  # noqa: E731
    assert (fa.hessian_sparsity(f)(x).toarray() == nz(fa.hessian(f)(x))).all()
    # A Python callback cannot be looked into: every output element depends on every input.
    g = lambda v: fa.pure_callback(np.sin, v, v)  # noqa: E731
    assert fa.jacobian_sparsity(g)(x).toarray().all()
    assert fa.hessian_sparsity(lambda v: fnp.sum(g(v)))(x).toarray().all()


def test_linear_algebra_couples_densely():
    x = np.arange(1.0, 5.0)
    f = lambda v: fnp.linalg.eigh(fnp.reshape(v, (2, 2)) + fnp.reshape(v, (2, 2)).T)[0]  # noqa: E731
    assert covers(fa.jacobian_sparsity(f)(x), fa.jacobian(f)(x))
    g = lambda v: fnp.linalg.solve(np.eye(2) * 3.0, v[:2]) * v[2]  # noqa: E731
    assert covers(fa.hessian_sparsity(lambda v: fnp.sum(g(v)))(x), fa.hessian(lambda v: fnp.sum(g(v)))(x))
    assert not fa.hessian_sparsity(lambda v: fnp.sum(g(v)))(x).toarray()[3].any()


def test_custom_jvp_rules_count_where_they_differ_from_the_function():
    @fa.custom_jvp
    def straight_through(v):
        return fnp.round(v)  # a zero derivative, but the rule says the identity

    straight_through.defjvp(lambda p, t: (straight_through(p[0]), t[0]))
    x = np.array([0.3, 1.7, 2.2])
    f = lambda v: straight_through(v) * v[::-1]  # noqa: E731
    assert covers(fa.jacobian_sparsity(f)(x), fa.jacobian(f)(x))
    assert fa.jacobian_sparsity(straight_through)(x).toarray().diagonal().all()
    g = lambda v: fnp.sum(straight_through(v) ** 2)  # noqa: E731
    assert covers(fa.hessian_sparsity(g)(x), fa.hessian(g)(x))


def test_long_scans_take_a_fixed_point(monkeypatch):
    from funcad import sparsity

    s = lambda v: lax.scan(lambda c, xi: (c * xi + c, c + xi), 1.0, v)  # noqa: E731
    x = np.arange(1.0, 6.0)
    exact = fa.jacobian_sparsity(lambda v: s(v)[1])(x).toarray()
    monkeypatch.setattr(sparsity, "_SCAN_STEPS", 2)
    for out in (lambda v: s(v)[1], lambda v: s(v)[0]):
        P = fa.jacobian_sparsity(out)(x)
        assert covers(P, fa.jacobian(out)(x))
    assert fa.jacobian_sparsity(lambda v: s(v)[1])(x).toarray().sum() >= exact.sum()
    g = lambda v: fnp.sum(s(v)[1] ** 2)  # noqa: E731
    assert covers(fa.hessian_sparsity(g)(x), fa.hessian(g)(x))
