"""funcad.scipy beyond the core (issue 17): special functions, the stats distributions as
modules, signal.convolve/correlate (N-D, 2-D with boundaries), linalg (expm, lu, lu_factor/
lu_solve, solve, eigh generalised, block_diag...). Values against SciPy, derivatives by
check_grads (and expm's against scipy.linalg.expm_frechet), jit against eager, vmap against a
loop; ports of autograd's Gaussian-process and mixture-model examples."""

import importlib

import numpy as np
import pytest
import scipy.linalg as sl
import scipy.signal as ss
import scipy.special as sc
import scipy.stats as st

import funcad as fa
import funcad.numpy as fnp
import funcad.scipy.linalg as fl
import funcad.scipy.signal as fsig
import funcad.scipy.special as fsp
from funcad.errors import UnsupportedFunctionError
from funcad.scipy import stats as fst
from funcad.test_util import check_grads, check_vmap

rng = np.random.default_rng(7)


def close(a, b, rtol=1e-12, atol=1e-14):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


# --------------------------------------------------------------------------------------
# special

X_POS = np.array([0.3, 1.0, 2.5, 7.0])
X_ALL = np.array([-3.5, -0.7, 0.0, 0.4, 2.0, 9.0])
P = np.array([0.01, 0.3, 0.5, 0.9, 0.999])
UNARY = [
    ("gamma", np.array([-2.5, -0.5, 0.3, 1.0, 4.5]), 1e-13),
    ("ndtri", P, 1e-13),
    ("erfinv", 2 * P - 1, 1e-13),
    ("erfcinv", P, 1e-13),
    ("i0", X_ALL, 1e-13),
    ("i0e", X_ALL, 1e-13),
    ("i1", X_ALL, 1e-13),
    ("i1e", X_ALL, 1e-13),
    ("log_expit", np.array([-800.0, -3.0, 0.0, 3.0, 800.0]), 1e-13),
    ("logit", P, 1e-13),
    ("expit", X_ALL, 1e-13),
    ("ndtr", X_ALL, 1e-13),
    ("log_ndtr", X_ALL, 1e-13),
    ("gammasgn", np.array([-2.5, -1.5, -0.5, 0.5]), 0),
    ("factorial", np.array([0.0, 3.0, 4.5]), 1e-13),
]


@pytest.mark.parametrize("name,x,rtol", UNARY, ids=[u[0] for u in UNARY])
def test_unary_special_functions_match_scipy(name, x, rtol):
    f = getattr(fsp, name)
    close(f(x), getattr(sc, name)(x), rtol=rtol)
    if name not in ("gammasgn", "log_expit"):
        interior = x[1:-1] if name in ("logit", "ndtri", "erfcinv", "erfinv", "factorial") else x
        interior = interior[interior != 0] if name in ("i0e", "i1e") else interior  # |x| kink
        check_grads(f, (interior,), order=2, rtol=1e-4)
    check_vmap(f, (np.stack([x, x[::-1]]),))


def test_special_functions_under_jit_in_one_program():
    out = fa.jit(lambda: [getattr(fsp, name)(x) for name, x, _ in UNARY])()
    for got, (name, x, rtol) in zip(out, UNARY):
        close(got, getattr(sc, name)(x), rtol=rtol)


def test_binary_and_ternary_special_functions():
    a, x = np.array([0.5, 1.0, 3.0, 7.5]), np.array([0.2, 1.5, 2.0, 9.0])
    close(fsp.gammainc(a, x), sc.gammainc(a, x))
    close(fsp.gammaincc(a, x), sc.gammaincc(a, x))
    close(fsp.betainc(a, a[::-1], x / 10), sc.betainc(a, a[::-1], x / 10))
    close(fsp.zeta(a + 1.5, x), sc.zeta(a + 1.5, x))
    close(fsp.beta(a, x), sc.beta(a, x))
    close(fsp.beta(-0.5, 2.0), sc.beta(-0.5, 2.0))
    close(fsp.betaln(a, x), sc.betaln(a, x))
    close(fsp.multigammaln(np.array([2.0, 3.5]), 3), sc.multigammaln(np.array([2.0, 3.5]), 3))
    close(fsp.poch(a, x), sc.poch(a, x), rtol=1e-12)
    close(
        fsp.rel_entr(np.array([0.0, 0.5, 1.0, -1.0]), np.array([1.0, 0.2, 0.0, 1.0])),
        sc.rel_entr(np.array([0.0, 0.5, 1.0, -1.0]), np.array([1.0, 0.2, 0.0, 1.0])),
    )
    close(fsp.kl_div(a, x), sc.kl_div(a, x))
    check_grads(lambda x: fsp.gammainc(a, x) + fsp.gammaincc(a, x) ** 2, (x,), order=2, rtol=1e-4)
    check_grads(lambda x: fsp.betainc(a, a[::-1], x), (x / 10,), order=2, rtol=1e-4)
    check_grads(lambda q: fsp.zeta(3.0, q), (x,), order=2, rtol=1e-4)
    check_grads(lambda a, b: fsp.beta(a, b) + fsp.multigammaln(a + 2, 2), (a, x), order=2, rtol=1e-4)
    check_vmap(lambda a, x: fsp.gammainc(a, x), (np.stack([a, a]), np.stack([x, 2 * x])))
    close(fa.jit(fsp.betainc)(a, a, x / 10), sc.betainc(a, a, x / 10))


def test_no_derivative_in_shape_parameters_is_an_error_not_a_zero():
    with pytest.raises(UnsupportedFunctionError, match="with respect to a"):
        fa.grad(lambda a: fsp.gammainc(a, 2.0))(1.5)
    with pytest.raises(UnsupportedFunctionError, match="with respect to b"):
        fa.grad(lambda b: fsp.betainc(2.0, b, 0.5))(1.5)
    with pytest.raises(UnsupportedFunctionError, match="with respect to x"):
        fa.grad(lambda s: fsp.zeta(s, 1.0))(3.0)


# --------------------------------------------------------------------------------------
# stats

CONT = [  # module, funcs, args for funcad and scipy (positional), x points
    (
        "norm",
        ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"],
        (0.5, 2.0),
        np.array([-40.0, -1.0, 0.3, 4.0]),
    ),
    ("t", ["logpdf", "pdf", "cdf", "sf"], (3.5, 0.5, 2.0), np.array([-4.0, -1.0, 0.3, 4.0])),
    (
        "gamma",
        ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"],
        (2.5, 0.1, 1.5),
        np.array([-1.0, 0.3, 2.0, 9.0]),
    ),
    (
        "beta",
        ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"],
        (2.5, 1.5),
        np.array([-0.5, 0.1, 0.6, 0.95, 1.5]),
    ),
    (
        "logistic",
        ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"],
        (0.5, 2.0),
        np.array([-800.0, -1.0, 0.3, 4.0, 800.0]),
    ),
    ("expon", ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"], (0.5, 2.0), np.array([-1.0, 0.6, 4.0])),
    ("uniform", ["logpdf", "pdf", "cdf"], (0.5, 2.0), np.array([0.0, 0.6, 2.4, 3.0])),
    ("laplace", ["logpdf", "pdf", "cdf"], (0.5, 2.0), np.array([-3.0, 0.6, 4.0])),
    ("cauchy", ["logpdf", "pdf", "cdf", "sf"], (0.5, 2.0), np.array([-3.0, 0.6, 4.0])),
    ("chi2", ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"], (3.0,), np.array([-1.0, 0.6, 4.0])),
    ("pareto", ["logpdf", "pdf"], (2.5, 0.0, 1.5), np.array([1.0, 1.7, 4.0])),
]
DISC = [
    ("poisson", ["logpmf", "pmf", "cdf", "sf"], (3.5,), np.array([-1.0, 0.0, 2.0, 2.5, 7.0])),
    ("bernoulli", ["logpmf", "pmf", "cdf"], (0.3,), np.array([-1.0, 0.0, 1.0, 2.0])),
    ("binom", ["logpmf", "pmf"], (7, 0.3), np.array([-1.0, 0.0, 3.0, 7.0, 8.0])),
    ("geom", ["logpmf", "pmf", "cdf"], (0.3,), np.array([0.0, 1.0, 4.0])),
    ("nbinom", ["logpmf", "pmf"], (3.0, 0.4), np.array([0.0, 2.0, 5.0])),
]


@pytest.mark.parametrize("name,funcs,args,x", CONT + DISC, ids=[c[0] for c in CONT + DISC])
def test_distributions_match_scipy(name, funcs, args, x):
    mod = getattr(fst, name)
    assert importlib.import_module(f"funcad.scipy.stats.{name}") is mod
    for fn in funcs:
        with np.errstate(divide="ignore"):
            want = getattr(getattr(st, name), fn)(x, *args)
        close(getattr(mod, fn)(x, *args), want, rtol=1e-11, atol=1e-300)


def test_distributions_under_jit_in_one_program():
    cases = CONT + DISC
    out = fa.jit(
        lambda: [getattr(getattr(fst, name), funcs[0])(x, *args) for name, funcs, args, x in cases]
    )()
    for got, (name, funcs, args, x) in zip(out, cases):
        with np.errstate(divide="ignore"):
            close(got, getattr(getattr(st, name), funcs[0])(x, *args), rtol=1e-11, atol=1e-300)


def test_distribution_derivatives_in_data_and_parameters():
    x = np.array([0.3, 1.2, 2.5])
    check_grads(lambda x, m, s: fst.norm.logpdf(x, m, s) + fst.norm.logcdf(x, m, s), (x, 0.5, 1.3), order=2)
    check_grads(lambda x, df, s: fst.t.logpdf(x, df, 0.2, s), (x, 3.5, 1.3), order=2)
    check_grads(
        lambda x, a, s: fst.gamma.logpdf(x, a, 0.0, s) + fst.gamma.cdf(x, 2.0, 0.0, s), (x, 2.5, 1.3), order=2
    )
    check_grads(
        lambda x, a, b: fst.beta.logpdf(x, a, b) + fst.beta.cdf(x, 2.0, 3.0), (x / 3, 2.5, 1.3), order=2
    )
    check_grads(
        lambda mu: fst.poisson.logpmf(np.array([0.0, 2.0, 5.0]), mu) + fst.poisson.cdf(3.0, mu),
        (3.5,),
        order=2,
    )
    check_grads(lambda p: fst.bernoulli.logpmf(np.array([0.0, 1.0]), p), (0.3,), order=2)
    check_grads(
        lambda x, m, s: fst.logistic.logpdf(x, m, s) + fst.logistic.logcdf(x, m, s), (x, 0.5, 1.3), order=2
    )
    check_grads(lambda p: fst.binom.logpmf(np.array([0.0, 3.0]), 7, p), (0.3,), order=2)
    check_vmap(lambda m: fst.t.logpdf(x, 3.0, m), (np.array([0.0, 0.5, 1.0]),))


def test_quantile_functions():
    q = np.array([0.01, 0.3, 0.5, 0.99])
    for name in ("norm", "logistic", "cauchy", "expon", "uniform"):
        close(getattr(fst, name).ppf(q, 0.5, 2.0), getattr(st, name).ppf(q, 0.5, 2.0), rtol=1e-12)
    close(fst.norm.isf(q), st.norm.isf(q))
    close(fst.bernoulli.ppf(q, 0.4), st.bernoulli.ppf(q, 0.4))
    check_grads(lambda q: fst.norm.ppf(q, 1.0, 2.0), (q[1:3],), order=2)


def test_dirichlet_and_multinomial():
    alpha = np.array([1.5, 2.0, 0.7])
    x = np.array([0.2, 0.5, 0.3])
    close(fst.dirichlet.logpdf(x, alpha), st.dirichlet.logpdf(x, alpha))
    xs = np.array([[0.2, 0.1], [0.5, 0.3], [0.3, 0.6]])
    close(fst.dirichlet.pdf(xs, alpha), st.dirichlet.pdf(xs, alpha))
    assert fst.dirichlet.logpdf(np.array([0.2, 0.2, 0.2]), alpha) == -np.inf
    # x moves on the simplex (off it the density is 0): x = softmax(z)
    check_grads(lambda z, a: fst.dirichlet.logpdf(fa.nn.softmax(z), a), (np.log(x), alpha), order=2)
    counts, p = np.array([2.0, 0.0, 3.0]), np.array([0.2, 0.3, 0.5])
    close(fst.multinomial.logpmf(counts, 5, p), st.multinomial.logpmf(counts, 5, p))
    check_grads(lambda p: fst.multinomial.logpmf(counts, 5, p), (p,), order=2)


def test_poisson_entropy_and_multivariate_normal_module():
    close(fst.poisson.entropy(3.5), st.poisson.entropy(3.5), rtol=1e-10)
    import funcad.scipy.stats.multivariate_normal as mvn

    cov = np.array([[2.0, 0.3], [0.3, 1.0]])
    xs = rng.standard_normal((4, 2))
    close(mvn.logpdf(xs, np.ones(2), cov), st.multivariate_normal.logpdf(xs, np.ones(2), cov))


def test_port_of_autograd_gaussian_process_example():
    """autograd's examples/gaussian_process.py: the log marginal likelihood of a GP with a
    squared-exponential kernel, through multivariate_normal.logpdf, optimised by its gradient."""
    import funcad.scipy.stats.multivariate_normal as mvn

    x = np.linspace(-3, 3, 12).reshape(-1, 1)
    y = np.sin(x[:, 0]) + 0.1 * rng.standard_normal(12)

    def unpack(params):
        return params[0], fnp.exp(params[1]), fnp.exp(params[2]) + 1e-4, params[3:]

    def cov_fn(inputs, log_output_scale, log_lengthscale):
        diffs = fnp.expand_dims(inputs / fnp.exp(log_lengthscale), 1) - fnp.expand_dims(
            inputs / fnp.exp(log_lengthscale), 0
        )
        return fnp.exp(log_output_scale) * fnp.exp(-0.5 * fnp.sum(diffs**2, axis=2))

    def log_marginal_likelihood(params):
        mean, _, noise, kernel = unpack(params)
        cov = cov_fn(x, kernel[0], kernel[1]) + noise * fnp.eye(12)
        return mvn.logpdf(y, mean * fnp.ones(12), cov)

    params = np.array([0.0, 0.0, -2.0, 0.0, 0.0])
    check_grads(log_marginal_likelihood, (params,), order=1)
    close(
        log_marginal_likelihood(params),
        st.multivariate_normal.logpdf(
            y, np.zeros(12), np.exp(-0.5 * (x - x.T) ** 2) + (np.exp(-2.0) + 1e-4) * np.eye(12)
        ),
        rtol=1e-10,
    )
    step = lambda p: p + 0.01 * fa.grad(log_marginal_likelihood)(p)  # noqa: E731
    start = log_marginal_likelihood(params)
    for _ in range(10):
        params = step(params)
    assert log_marginal_likelihood(params) > start


def test_port_of_autograd_mixture_model_example():
    """autograd's examples/gmm.py: the log-likelihood of a Gaussian mixture,
    logsumexp over components of log weight + mvn.logpdf, differentiated in every parameter."""
    from funcad.scipy.special import logsumexp
    from funcad.scipy.stats import multivariate_normal as mvn

    data = np.concatenate([rng.standard_normal((10, 2)) - 2, rng.standard_normal((10, 2)) + 2])

    def log_likelihood(params):
        log_w = params["log_proportions"] - logsumexp(params["log_proportions"])
        cluster_lls = []
        for lw, mean, chol in zip(log_w, params["means"], params["lower_tris"]):
            cov = chol @ chol.T + 1e-3 * fnp.eye(2)
            cluster_lls.append(lw + mvn.logpdf(data, mean, cov))
        return fnp.sum(logsumexp(fnp.stack(cluster_lls), axis=0))

    params = {
        "log_proportions": np.array([0.1, -0.2]),
        "means": np.array([[-1.0, -1.0], [1.0, 1.5]]),
        "lower_tris": np.stack([np.tril(np.eye(2) + 0.1), np.tril(np.eye(2) * 0.7)]),
    }
    ref = 0.0
    w = np.exp(params["log_proportions"]) / np.exp(params["log_proportions"]).sum()
    dens = sum(
        w[k]
        * st.multivariate_normal.pdf(
            data, params["means"][k], params["lower_tris"][k] @ params["lower_tris"][k].T + 1e-3 * np.eye(2)
        )
        for k in range(2)
    )
    ref = np.sum(np.log(dens))
    close(log_likelihood(params), ref, rtol=1e-10)
    check_grads(log_likelihood, (params,), order=1)


# --------------------------------------------------------------------------------------
# signal


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize(
    "shapes", [((7,), (3,)), ((3,), (7,)), ((5, 6), (2, 3)), ((2, 3), (5, 6)), ((4, 3, 5), (2, 2, 3))]
)
def test_convolve_correlate_nd_match_scipy(mode, shapes):
    a, k = rng.standard_normal(shapes[0]), rng.standard_normal(shapes[1])
    close(fsig.convolve(a, k, mode), ss.convolve(a, k, mode), rtol=1e-11, atol=1e-12)
    close(fsig.correlate(a, k, mode), ss.correlate(a, k, mode), rtol=1e-11, atol=1e-12)
    if mode == "same" and len(shapes[0]) == 2:
        close(
            fa.jit(lambda a, k: fsig.convolve(a, k, mode))(a, k),
            ss.convolve(a, k, mode),
            rtol=1e-11,
            atol=1e-12,
        )
    close(fsig.fftconvolve(a, k, mode), ss.fftconvolve(a, k, mode), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("boundary", ["fill", "wrap", "symm"])
@pytest.mark.parametrize("kshape", [(2, 3), (3, 3), (1, 4)])
def test_convolve2d_correlate2d_match_scipy(boundary, kshape):
    a, k = rng.standard_normal((5, 6)), rng.standard_normal(kshape)
    for mode in ("full", "same", "valid"):
        close(
            fsig.convolve2d(a, k, mode, boundary), ss.convolve2d(a, k, mode, boundary), rtol=1e-11, atol=1e-12
        )
        close(
            fsig.correlate2d(a, k, mode, boundary),
            ss.correlate2d(a, k, mode, boundary),
            rtol=1e-11,
            atol=1e-12,
        )
    close(
        fsig.convolve2d(a, k, "same", fillvalue=1.5),
        ss.convolve2d(a, k, "same", fillvalue=1.5),
        rtol=1e-11,
        atol=1e-12,
    )


def test_signal_derivatives_and_vmap():
    a, k = rng.standard_normal((5, 6)), rng.standard_normal((2, 3))
    check_grads(lambda a, k: fsig.convolve2d(a, k, "same", "symm"), (a, k), order=2)
    check_grads(lambda a, k: fsig.correlate(a, k, "valid"), (a, k), order=1)
    check_vmap(lambda a: fsig.convolve(a, k[0], "same"), (rng.standard_normal((3, 7)),))
    with pytest.raises(ValueError, match="mode"):
        fsig.convolve(a, k, "middle")


# --------------------------------------------------------------------------------------
# linalg

A = rng.standard_normal((4, 4))
SPD = A @ A.T + 4 * np.eye(4)


@pytest.mark.parametrize("scale", [0.01, 1.0, 30.0])
def test_expm_matches_scipy_and_its_derivative_matches_expm_frechet(scale):
    a = scale * A
    close(fl.expm(a), sl.expm(a), rtol=1e-11, atol=1e-12 * np.abs(sl.expm(a)).max())
    if scale == 1.0:
        jitted = fa.jit(lambda a: fl.expm(a, max_squarings=4))  # a smaller program to compile
        close(jitted(a), sl.expm(a), rtol=1e-11, atol=1e-12 * np.abs(sl.expm(a)).max())
    e = rng.standard_normal((4, 4))
    _, tangent = fa.jvp(fl.expm, (a,), (e,))
    close(tangent, sl.expm_frechet(a, e, compute_expm=False), rtol=1e-8, atol=1e-9 * np.abs(tangent).max())


def test_expm_grads_vmap_and_too_many_squarings():
    check_grads(fl.expm, (0.5 * A,), order=2, rtol=1e-4)
    stack = np.stack([0.1 * A, 3.0 * A, A])
    check_vmap(fl.expm, (stack,), atol=1e-10, rtol=1e-10)
    assert np.isnan(fa.vmap(lambda a: fl.expm(a, max_squarings=2))(30.0 * A[None])).all()
    close(fl.expm(np.zeros((3, 3))), np.eye(3))


def test_lu_family_matches_scipy_and_differentiates():
    p, l, u = fl.lu(A)
    P, L, U = sl.lu(A)
    close(p, P)
    close(l, L)
    close(u, U)
    close(fl.lu(A, p_indices=True)[0], sl.lu(A, p_indices=True)[0])
    close(fl.lu(A, permute_l=True)[0], sl.lu(A, permute_l=True)[0])
    lu, piv = fl.lu_factor(A)
    LU, PIV = sl.lu_factor(A)
    close(lu, LU)
    np.testing.assert_array_equal(piv, PIV)
    b = rng.standard_normal((4, 2))
    for trans in (0, 1):
        close(fl.lu_solve((lu, piv), b, trans=trans), sl.lu_solve((LU, PIV), b, trans=trans), rtol=1e-10)
    close(
        fa.jit(lambda lu, piv, b: fl.lu_solve((lu, piv), b))(lu, piv, b),
        sl.lu_solve((LU, PIV), b),
        rtol=1e-10,
    )
    check_grads(lambda a: fl.lu(a)[1] + fl.lu(a)[2], (A,), order=2)
    check_grads(lambda a, b: fl.lu_solve(fl.lu_factor(a), b, trans=1), (A, b), order=1)
    check_vmap(lambda a: fl.lu(a)[2], (np.stack([A, A.T, SPD]),))


def test_solve_inv_det_eigh_block_diag():
    b = rng.standard_normal(4)
    close(fl.solve(A, b), sl.solve(A, b), rtol=1e-11)
    close(fl.solve(SPD, b, assume_a="pos"), sl.solve(SPD, b, assume_a="pos"), rtol=1e-11)
    close(
        fl.solve(np.triu(SPD), b, assume_a="pos", lower=False), sl.solve(SPD, b, assume_a="pos"), rtol=1e-11
    )
    close(fl.solve(A, b, transposed=True), sl.solve(A, b, transposed=True), rtol=1e-11)
    close(fl.inv(A), sl.inv(A), rtol=1e-11)
    close(fl.det(A), sl.det(A), rtol=1e-12)
    w, v = fl.eigh(SPD)
    close(w, sl.eigh(SPD)[0], rtol=1e-12)
    B = np.eye(4) + 0.1 * np.ones((4, 4))
    w, v = fl.eigh(SPD, B)
    close(w, sl.eigh(SPD, B, eigvals_only=True), rtol=1e-11)
    close(SPD @ v, B @ v * w, rtol=1e-9, atol=1e-10)
    close(fl.eigvalsh(SPD, B), sl.eigvalsh(SPD, B), rtol=1e-11)
    check_grads(lambda a: fl.eigh(a + a.T, B, eigvals_only=True), (SPD,), order=2)
    blocks = (A[:2, :3], np.array(2.0), np.array([1.0, 2.0]))
    close(fl.block_diag(*blocks), sl.block_diag(*blocks))
    check_grads(lambda x, y: fl.block_diag(x, y), (A[:2, :3], b), order=1)
    close(fnp.linalg.cond(A), np.linalg.cond(A), rtol=1e-12)
    close(fnp.linalg.cond(A, 1), np.linalg.cond(A, 1), rtol=1e-12)
    check_grads(lambda a: fnp.linalg.cond(a), (A,), order=1)
    close(fnp.linalg.eig(A)[0], np.linalg.eig(A)[0])
    with pytest.raises(UnsupportedFunctionError, match="eig"):
        fa.grad(lambda a: fnp.sum(fnp.linalg.eig(a)[0]))(A)


def test_sqrtm_matches_scipy_and_its_derivative_solves_the_sylvester_equation():
    n = np.eye(4) * 3 + 0.5 * A
    for m in (SPD, n):
        close(fl.sqrtm(m), sl.sqrtm(m), rtol=1e-12, atol=1e-13)
    close(fa.jit(fl.sqrtm)(n), sl.sqrtm(n), rtol=1e-12, atol=1e-13)
    e = rng.standard_normal((4, 4))
    x, t = fa.jvp(fl.sqrtm, (n,), (e,))
    close(x @ t + t @ x, e, rtol=1e-10, atol=1e-12)  # d(X X) = dX X + X dX = dA
    check_grads(fl.sqrtm, (n,), order=1)
    with pytest.raises(np.linalg.LinAlgError, match="negative real axis"):
        fl.sqrtm(-np.eye(2))
