"""The line search of funcad.optimize (shared by funcad.dask) near a minimum, where the
objective's value is a long sum whose rounding is larger than the step's decrease: Newton's
iterations must not depend on that rounding (issue 22: a chunked sum over 4e6 rows took 14
iterations where the in-memory one took 5, and a 2e5 x 100 in-memory fit took 70).

The rounding is modelled exactly: a deterministic jitter of relative size 1e-12 (about 4500
ulps; a jitted sum over 2e5 rows measured 1e-14 to 1e-12) added to the value and carrying no
derivative (``stop_gradient``), as rounding does not change the computed gradient."""

import numpy as np
import pytest

import funcad.numpy as fnp
from funcad import lax
from funcad.optimize import newton, newton_cg

N, D = 600, 4


def nll(w, X, y):
    z = X @ w
    return fnp.sum(fnp.logaddexp(0.0, z) - y * z)


def jittered(loss, phase=0.0, rel=1e-12):
    def f(w, *data):
        v = loss(w, *data)
        u = 1e12 * fnp.sum(w * fnp.arange(1.0, D + 1)) + phase
        return v + lax.stop_gradient(rel * v * fnp.sin(u))
    return f


def data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N, D))
    y = (rng.random(N) < 1 / (1 + np.exp(-X @ np.array([1.0, -2.0, 0.5, 0.0])))).astype(float)
    return X, y


@pytest.mark.parametrize("method", [newton, newton_cg])
def test_rounding_in_the_value_does_not_change_the_iterations(method):
    X, y = data()
    plain = method(nll, np.zeros(D), (X, y), gtol=1e-10)
    # each phase is a different draw of the rounding: the old line search (a slack of 16 ulps)
    # rejected the last steps for about half of them, and then crawled
    for phase in np.linspace(0.0, 2 * np.pi, 8, endpoint=False):
        noisy = method(jittered(nll, phase), np.zeros(D), (X, y), gtol=1e-10)
        assert noisy.success and noisy.nit == plain.nit, (phase, noisy.message, [
            h["alpha"] for h in noisy.history])
        np.testing.assert_allclose(noisy.x, plain.x, rtol=1e-9, atol=1e-12)


def test_a_real_increase_is_still_rejected():
    """A step to where f is unchanged (within rounding) but the slope there is not smaller than
    at the start is not taken: f(x) = x^4 from x = 1 along p = -2 reaches the mirror point
    x = -1 (f equal, slope reversed); the line search must halve to x = 0."""
    from funcad.optimize import _armijo

    class P:
        def f(self, x):
            return float(np.sum(x ** 4))

        def value_and_grad(self, x):
            return self.f(x), 4 * x ** 3

    x = np.array([1.0])
    alpha, x_new, f_new, _, _ = _armijo(P(), x, 1.0, 4 * x ** 3, np.array([-2.0]))
    assert alpha == 0.5 and f_new == 0.0
