"""funcad.scipy.special and funcad.scipy.stats: values equal SciPy's (special values too),
derivatives pass check_grads to second order; conventions at singular points are pinned."""

import numpy as np
import pytest
import scipy.special as ss
import scipy.stats as st

import funcad as fa
import funcad.scipy.special as fsp
from funcad.scipy.stats import multivariate_normal, norm
from funcad.test_util import check_grads, check_vmap

rng = np.random.default_rng(4)
REAL = rng.standard_normal((2, 3)) * 2
POS = rng.uniform(0.2, 4.0, (2, 3))
UNIT = rng.uniform(0.05, 0.95, (3,))


def assert_same(actual, expected, rtol=1e-13):
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=1e-300)


UNARY = {"erf": REAL, "erfc": REAL, "expit": REAL, "log_ndtr": REAL, "ndtr": REAL, "gammaln": POS,
         "digamma": POS, "psi": POS, "logit": UNIT, "entr": POS, "gamma": POS}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary(name):
    x = UNARY[name]
    assert_same(getattr(fsp, name)(x), getattr(ss, name)(x), rtol=1e-12)
    check_grads(getattr(fsp, name), (x,), order=2)


def test_special_values_and_tails():
    with np.errstate(all="ignore"):
        edge = np.array([-40.0, -8.0, 0.0, 8.0, 30.0, np.inf, -np.inf, np.nan])
        for name in ("erf", "erfc", "expit", "log_ndtr", "ndtr"):
            assert_same(getattr(fsp, name)(edge), getattr(ss, name)(edge))
        e = np.array([0.0, -1.0, np.nan, np.inf, 2.0])
        assert_same(fsp.entr(e), ss.entr(e))
        assert_same(fsp.logit(np.array([0.0, 1.0, 0.5])), ss.logit(np.array([0.0, 1.0, 0.5])))
    assert_same(fsp.polygamma(2, POS), ss.polygamma(2, POS))
    check_grads(lambda x: fsp.polygamma(1, x), (POS,), order=2)
    # log_ndtr's derivative stays finite far in the left tail (pdf/cdf ~ -x).
    np.testing.assert_allclose(fa.grad(fsp.log_ndtr)(-40.0), 40.0249688, rtol=1e-7)
    np.testing.assert_allclose(fa.grad(fsp.expit)(800.0), 0.0)


@pytest.mark.parametrize("name", ["xlogy", "xlog1py"])
def test_xlogy_family(name):
    f, nf = getattr(fsp, name), getattr(ss, name)
    assert_same(f(REAL, POS), nf(REAL, POS))
    assert_same(f(REAL[0], 1.5), nf(REAL[0], 1.5))
    x = np.array([0.0, 0.0, 0.0, 0.0, 1.0, 2.0, 0.0])
    y = np.array([0.0, -1.0, np.inf, 2.0, 0.0, np.nan, np.nan])
    with np.errstate(all="ignore"):
        assert_same(f(x, y), nf(x, y))
        assert_same(f(x, y - 1.0), nf(x, y - 1.0))
    check_grads(f, (REAL, POS), order=2)
    # At x == 0 the derivative in x is log(y) (log1p(y)) where finite, and 0 where not.
    log = np.log if name == "xlogy" else np.log1p
    np.testing.assert_allclose(fa.grad(f)(0.0, 2.0), log(2.0))
    assert float(fa.grad(f)(0.0, 0.0 if name == "xlogy" else -1.0)) == 0.0


def test_entr_derivative_at_zero_is_pinned():
    assert float(fa.grad(fsp.entr)(0.0)) == 0.0
    np.testing.assert_allclose(fa.grad(fsp.entr)(0.5), -np.log(0.5) - 1)


@pytest.mark.parametrize("axis", [None, 0, -1, (0, 1)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_logsumexp(axis, keepdims):
    assert_same(fsp.logsumexp(REAL, axis=axis, keepdims=keepdims), ss.logsumexp(REAL, axis=axis, keepdims=keepdims))
    assert_same(fsp.logsumexp(REAL, axis=axis, b=POS, keepdims=keepdims),
                ss.logsumexp(REAL, axis=axis, b=POS, keepdims=keepdims))
    got = fsp.logsumexp(REAL, axis=axis, b=REAL, return_sign=True, keepdims=keepdims)
    want = ss.logsumexp(REAL, axis=axis, b=REAL, return_sign=True, keepdims=keepdims)
    assert_same(got[0], want[0])
    assert_same(got[1], want[1])
    check_grads(lambda a, b: fsp.logsumexp(a, axis=axis, b=b, keepdims=keepdims), (REAL, POS), order=2)


def test_logsumexp_large_and_infinite():
    big = np.array([1000.0, 1000.0, -np.inf])
    assert_same(fsp.logsumexp(big), ss.logsumexp(big))
    np.testing.assert_allclose(fa.grad(fsp.logsumexp)(big), [0.5, 0.5, 0.0])
    assert_same(fsp.logsumexp(np.array([-np.inf, -np.inf])), ss.logsumexp(np.array([-np.inf, -np.inf])))
    assert_same(fsp.softmax(REAL, axis=1), ss.softmax(REAL, axis=1))
    assert_same(fsp.log_softmax(REAL), ss.log_softmax(REAL))


@pytest.mark.parametrize("fn", ["pdf", "logpdf", "cdf", "logcdf", "sf", "logsf"])
def test_norm(fn):
    f, nf = getattr(norm, fn), getattr(st.norm, fn)
    assert_same(f(REAL), nf(REAL), rtol=1e-12)
    assert_same(f(REAL, 0.5, POS), nf(REAL, 0.5, POS), rtol=1e-12)
    tails = np.array([-40.0, -10.0, 0.0, 10.0, 40.0])
    assert_same(f(tails, 0.0, 1.0), nf(tails, 0.0, 1.0), rtol=1e-12)
    check_grads(lambda x, loc, scale: f(x, loc, scale), (REAL, 0.5, POS), order=2)
    check_vmap(lambda x: f(x, 0.5, 2.0), (REAL,))


def test_multivariate_normal_logpdf():
    d = 3
    a = rng.standard_normal((d, d))
    cov = a @ a.T + np.eye(d)
    mean = rng.standard_normal(d)
    x = rng.standard_normal((4, d))
    mvn = st.multivariate_normal
    assert_same(multivariate_normal.logpdf(x, mean, cov), mvn.logpdf(x, mean, cov), rtol=1e-12)
    assert_same(multivariate_normal.logpdf(x[0], mean, cov), mvn.logpdf(x[0], mean, cov), rtol=1e-12)
    assert_same(multivariate_normal.logpdf(x, mean, np.diag(cov)), mvn.logpdf(x, mean, np.diag(cov)), rtol=1e-12)
    assert_same(multivariate_normal.logpdf(x, np.zeros(d), 2.5), mvn.logpdf(x, np.zeros(d), 2.5), rtol=1e-12)
    assert_same(multivariate_normal.logpdf(0.3, None, 2.0), mvn.logpdf(0.3, None, 2.0), rtol=1e-12)
    assert_same(multivariate_normal.pdf(x, mean, cov), mvn.pdf(x, mean, cov), rtol=1e-12)
    check_grads(lambda x, m, a: multivariate_normal.logpdf(x, m, a @ a.T + np.eye(d)), (x, mean, a), order=2)
    # The gradient in the mean is cov^{-1} (x - mean), summed over the rows.
    g = fa.grad(lambda m: fa.numpy.sum(multivariate_normal.logpdf(x, m, cov)))(mean)
    np.testing.assert_allclose(g, np.linalg.solve(cov, (x - mean).sum(0)), rtol=1e-12)
