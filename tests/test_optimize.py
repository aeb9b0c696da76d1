"""funcad.optimize: newton, newton_cg and minimize against IRLS, closed forms and SciPy."""

import numpy as np
import pytest

import funcad as fa
import funcad.numpy as fnp
from funcad.datasets import load_breast_cancer
from funcad.errors import (
    IntegerParameterError,
    NonFiniteError,
    NonScalarObjectiveError,
    NonScalarOutputError,
)
from funcad.optimize import OptimizeResult, minimize, newton, newton_cg


def rosenbrock(x):
    return fnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def logistic_loss(params, X, y, lam):
    z = X @ params["w"] + params["b"]
    return fnp.mean(fa.nn.softplus(z) - y * z) + 0.5 * lam * fnp.sum(params["w"] ** 2)


def irls_reference(X, y, lam):
    """Plain NumPy IRLS for the same penalized objective (intercept unpenalized)."""
    n, d = X.shape
    A = np.hstack([np.ones((n, 1)), X])
    P = lam * np.eye(d + 1)
    P[0, 0] = 0.0
    beta = np.zeros(d + 1)
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-(A @ beta)))
        s = p * (1.0 - p)
        new = np.linalg.solve(A.T @ (s[:, None] * A) / n + P, A.T @ (s * (A @ beta + (y - p) / s)) / n)
        done = np.max(np.abs(new - beta)) < 1e-15
        beta = new
        if done:
            break
    return beta[0], beta[1:]


@pytest.fixture(scope="module")
def breast_cancer():
    X, y = load_breast_cancer()
    return (X - X.mean(0)) / X.std(0), y.astype(float), 1e-3


@pytest.fixture(scope="module")
def irls(breast_cancer):
    return irls_reference(*breast_cancer)


# --------------------------------------------------------------------------------------
# Convergence


@pytest.mark.parametrize("method", [newton, newton_cg])
def test_rosenbrock_100_converges_to_1e_10(method):
    res = method(rosenbrock, np.full(100, -1.2), maxiter=500)
    assert res.success, res.message
    g = fa.grad(rosenbrock)(res.x)  # recomputed independently of the optimizer's bookkeeping
    assert np.linalg.norm(g) <= 1e-10
    np.testing.assert_allclose(res.x, np.ones(100), atol=1e-9)
    assert res.nit == len(res.history) - 1
    assert [h["nit"] for h in res.history] == list(range(res.nit + 1))


def test_logistic_newton_matches_irls(breast_cancer, irls):
    X, y, lam = breast_cancer
    res = newton(logistic_loss, {"w": np.zeros(X.shape[1]), "b": 0.0}, (X, y, lam))
    assert res.success, res.message
    b_ref, w_ref = irls
    np.testing.assert_allclose(res.x["w"], w_ref, rtol=0, atol=1e-8)
    assert abs(float(res.x["b"]) - b_ref) <= 1e-8
    assert res.nit < 20  # quadratic convergence, not a crawl
    fs = [h["fun"] for h in res.history]
    assert all(b <= a + 1e-15 for a, b in zip(fs, fs[1:], strict=False))


def test_logistic_newton_cg_agrees(breast_cancer, irls):
    X, y, lam = breast_cancer
    res = newton_cg(logistic_loss, {"w": np.zeros(X.shape[1]), "b": 0.0}, (X, y, lam))
    assert res.success, res.message
    b_ref, w_ref = irls
    np.testing.assert_allclose(res.x["w"], w_ref, rtol=0, atol=1e-8)
    assert abs(float(res.x["b"]) - b_ref) <= 1e-8
    assert all(h["cg_iters"] >= 1 for h in res.history[:-1])


def test_indefinite_hessian_fallback_keeps_descent():
    # A double well: the Hessian 3x^2 - 1 is negative near 0; minima at x = +-1, f = -1/4 each.
    def f(x):
        return fnp.sum(0.25 * x ** 4 - 0.5 * x ** 2)

    res = newton(f, np.array([0.1, -0.2, 0.3]))
    assert res.success, res.message
    np.testing.assert_allclose(np.abs(res.x), 1.0, atol=1e-12)
    np.testing.assert_allclose(np.sign(res.x), [1.0, -1.0, 1.0])
    assert res.history[0]["shift"] > 0  # the Hessian was shifted at the indefinite start
    fs = [h["fun"] for h in res.history]
    assert all(b < a for a, b in zip(fs, fs[1:-1], strict=False))  # every step descends


def test_verbose_prints_each_iteration(capsys):
    res = newton(lambda x: fnp.sum(fnp.cosh(x - 1.0)), np.zeros(2), verbose=True)
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("newton:") and "|grad|" in out[0]
    assert len(out) == 1 + res.nit + 1
    assert isinstance(res, OptimizeResult) and res.fun == res["fun"]


# --------------------------------------------------------------------------------------
# The scipy adapter


def normal_nll(params, data):
    r = (data - params["loc"]) / fnp.exp(params["log_scale"])
    return fnp.sum(params["log_scale"] + 0.5 * r * r)


@pytest.mark.parametrize("method", ["trust-exact", "Newton-CG", "trust-ncg", "BFGS", "L-BFGS-B",
                                    "Nelder-Mead"])
def test_minimize_pytree_normal_mle_closed_form(method, rng):
    data = 1.5 + 0.7 * rng.normal(size=500)
    options = {"BFGS": {"gtol": 1e-10}, "L-BFGS-B": {"gtol": 1e-10},
               "Nelder-Mead": {"xatol": 1e-9, "fatol": 1e-12}}.get(method)
    res = minimize(normal_nll, {"loc": 0.0, "log_scale": 0.0}, (data,), method=method, options=options)
    assert res.success, res.message
    assert set(res.x) == {"loc", "log_scale"} and set(res.grad) == {"loc", "log_scale"}
    tol = 1e-8 if method not in ("BFGS", "L-BFGS-B", "Nelder-Mead") else 1e-5
    assert abs(float(res.x["loc"]) - data.mean()) < tol
    assert abs(float(np.exp(res.x["log_scale"])) - data.std()) < tol
    assert res.history and res.history[-1]["grad_norm"] == pytest.approx(res.grad_norm, rel=1e-6, abs=1e-12)


def test_minimize_student_t_matches_scipy_stats(rng):
    import scipy.stats

    df = 4.0
    data = 3.0 + 2.0 * rng.standard_t(df, size=400)

    def nll(p):
        r = (data - p["loc"]) / fnp.exp(p["log_scale"])
        return fnp.sum(p["log_scale"] + 0.5 * (df + 1.0) * fnp.log1p(r * r / df))

    res = minimize(nll, {"loc": float(np.median(data)), "log_scale": 0.0}, method="trust-exact")
    assert res.success and res.grad_norm < 1e-8
    # scipy.stats fits the same likelihood derivative-free: agreement to its tolerance.
    _, loc, scale = scipy.stats.t.fit(data, fdf=df)
    assert abs(float(res.x["loc"]) - loc) < 1e-3
    assert abs(float(np.exp(res.x["log_scale"])) - scale) < 1e-3
    # and scipy's own log-likelihood is no better at scipy's optimum than at ours
    ours = scipy.stats.t.logpdf(data, df, float(res.x["loc"]), float(np.exp(res.x["log_scale"]))).sum()
    assert ours >= scipy.stats.t.logpdf(data, df, loc, scale).sum() - 1e-9


def test_minimize_bounds_as_pytrees():
    def f(p):
        return fnp.sum((p["a"] - 3.0) ** 2) + (p["b"] + 1.0) ** 2

    res = minimize(f, {"a": np.zeros(2), "b": 0.5}, method="L-BFGS-B",
                   bounds=({"a": np.full(2, -1.0), "b": 0.0}, {"a": np.full(2, 2.0), "b": 1.0}))
    assert res.success
    np.testing.assert_allclose(res.x["a"], [2.0, 2.0])
    assert float(res.x["b"]) == 0.0


# --------------------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize("opt", [newton, newton_cg, minimize])
def test_non_scalar_objective(opt):
    with pytest.raises(NonScalarObjectiveError, match=r"must return a scalar.*shape \(3,\)"):
        opt(lambda x: x ** 2, np.ones(3))
    assert issubclass(NonScalarObjectiveError, NonScalarOutputError)


@pytest.mark.parametrize("opt", [newton, newton_cg, minimize])
def test_integer_parameters(opt):
    with pytest.raises(IntegerParameterError, match=r"x0\['w'\] has dtype int64"):
        opt(lambda p: fnp.sum(p["w"] ** 2), {"w": np.arange(3), "b": 0.0})
    with pytest.raises(IntegerParameterError):
        opt(lambda x: x ** 2, 1)


@pytest.mark.parametrize("opt", [newton, newton_cg, minimize])
def test_nan_objective_at_start(opt):
    with pytest.raises(NonFiniteError, match="objective became NaN at iteration 0") as info:
        with np.errstate(invalid="ignore"):
            opt(lambda x: fnp.sum(x ** 2) + fnp.log(x[0]), np.array([-1.0, 2.0]))
    assert info.value.iteration == 0


def _nan_gradient_at_1(x):
    # Finite everywhere, but the gradient of 0 * sqrt(|x0 - 1|) at x0 = 1 is 0 * inf = NaN.
    # From (-1, 0) the first Newton step (H = I) lands exactly on (1, 1).
    return 0.5 * fnp.sum((x - 1.0) ** 2) + 0.0 * fnp.sqrt(fnp.abs(x[0] - 1.0))


@pytest.mark.parametrize("opt", [newton, newton_cg])
def test_nan_gradient_later_says_which_iteration(opt):
    with np.errstate(invalid="ignore", divide="ignore"):
        with pytest.raises(NonFiniteError, match="gradient became NaN at iteration 1") as info:
            opt(_nan_gradient_at_1, np.array([-1.0, 0.0]))
        assert info.value.iteration == 1
        partial = info.value.result
        assert not partial.success and partial.nit == 1 and len(partial.history) == 1
        np.testing.assert_array_equal(partial.x, [1.0, 1.0])
        res = opt(_nan_gradient_at_1, np.array([-1.0, 0.0]), on_nonfinite="return")
    assert not res.success and "iteration 1" in res.message and res.status == 3


def test_minimize_nan_says_which_iteration():
    with np.errstate(invalid="ignore", divide="ignore"):
        with pytest.raises(NonFiniteError, match="at iteration 1") as info:
            minimize(_nan_gradient_at_1, np.array([-1.0, 0.0]), method="trust-exact")
    assert info.value.iteration == 1


# --------------------------------------------------------------------------------------
# jit, when it exists


def test_newton_and_newton_cg_jitted_match_eager(breast_cancer, irls):
    if not hasattr(fa, "jit"):
        pytest.skip("funcad.jit is not available yet")
    X, y, lam = breast_cancer
    A = np.hstack([np.ones((X.shape[0], 1)), X])

    penalty = np.r_[0.0, np.full(X.shape[1], lam)]

    def loss(beta, A, y, penalty):  # the same objective, intercept first in one flat vector
        z = A @ beta
        return fnp.mean(fa.nn.softplus(z) - y * z) + 0.5 * fnp.sum(penalty * beta ** 2)

    ref = np.concatenate([[irls[0]], irls[1]])
    for opt in (newton, newton_cg):
        res = opt(loss, np.zeros(A.shape[1]), (A, y, penalty), jit=True)
        assert res.success, res.message
        np.testing.assert_allclose(res.x, ref, atol=1e-8)
    # parameters as a dict: the compiled program slices the flat vector into leaves
    res = newton(logistic_loss, {"w": np.zeros(X.shape[1]), "b": 0.0}, (X, y, lam), jit=True)
    assert res.success, res.message
    np.testing.assert_allclose(res.x["w"], irls[1], atol=1e-8)


def test_minimize_jitted_derivatives(rng):
    if not hasattr(fa, "jit"):
        pytest.skip("funcad.jit is not available yet")
    data = 1.5 + 0.7 * rng.normal(size=300)
    res = minimize(normal_nll, {"loc": 0.0, "log_scale": 0.0}, (data,), method="trust-exact", jit=True)
    assert res.success, res.message
    assert abs(float(res.x["loc"]) - data.mean()) < 1e-8
    assert abs(float(np.exp(res.x["log_scale"])) - data.std()) < 1e-8


# --------------------------------------------------------------------------------------
# The tour's sections


def test_tour_sections_run_and_report(capsys, tmp_path, monkeypatch):
    import re
    import sys

    from funcad_tour import optimize as optimize_tour

    monkeypatch.chdir(tmp_path)
    optimize_tour.logistic_regression()
    out = capsys.readouterr().out
    diff = float(re.search(r"NumPy IRLS in the coefficients: ([0-9.e+-]+)\.", out).group(1))
    assert diff < 1e-8 and out.count("converged") == 1
    optimize_tour.maximum_likelihood()
    assert "Optimization terminated successfully" in capsys.readouterr().out
    optimize_tour.tanh_picture()
    out = capsys.readouterr().out
    png = tmp_path / "funcad-tour" / "tanh_derivatives.png"
    if "matplotlib is not installed" not in out:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # without matplotlib: says how, goes on
    optimize_tour.tanh_picture()
    assert 'pip install "funcad[plot]"' in capsys.readouterr().out
