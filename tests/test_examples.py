"""The course's examples (issue 2, item 8), each against an independent reference; and the
tour sections and example scripts run."""

import contextlib
import io
import runpy
from pathlib import Path

import numpy as np
import pytest
import scipy.special as sc

import funcad as fa
import funcad.numpy as fnp
from funcad_tour import examples as ex

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_tanh_six_derivatives_match_the_closed_form_polynomials():
    x = np.linspace(-3, 3, 41)
    by_ad, closed = ex.tanh_derivatives_demo(x, order=6)
    assert len(by_ad) == 7
    for k, (a, c) in enumerate(zip(by_ad, closed)):
        np.testing.assert_allclose(a, c, rtol=1e-12, atol=1e-12, err_msg=f"order {k}")
    # the polynomials themselves, against known closed forms
    t = np.tanh(x)
    np.testing.assert_allclose(closed[1], 1 - t ** 2)
    np.testing.assert_allclose(closed[2], -2 * t * (1 - t ** 2))
    np.testing.assert_allclose(closed[3], -2 + 8 * t ** 2 - 6 * t ** 4, atol=1e-13)
    # and the sixth against a finite difference of the fifth
    h = 1e-6
    fd = (ex.tanh_derivatives_demo(x + h, 5)[1][5] - ex.tanh_derivatives_demo(x - h, 5)[1][5]) / (2 * h)
    np.testing.assert_allclose(by_ad[6], fd, rtol=1e-5, atol=1e-5)


def test_reverse_accumulation_adjoints():
    d = ex.reverse_accumulation_demo(2.0, 5.0)
    assert d["adjoints"]["v1"] == pytest.approx(5.0 + np.cos(2.0), rel=1e-15)
    assert d["adjoints"]["v2"] == 2.0
    assert d["grad"] == pytest.approx((5.0 + np.cos(2.0), 2.0), rel=1e-15)
    assert d["forward"]["v5"] == pytest.approx(10.0 + np.sin(2.0))


def test_softplus_sigmoid_table():
    x = np.array([-1000.0, -3.0, 0.0, 2.0, 1000.0])
    t = ex.activation_table_demo(x)
    s = sc.expit(x)
    np.testing.assert_allclose(t["softplus"][0], np.logaddexp(0, x), rtol=1e-15)
    np.testing.assert_allclose(t["softplus"][1], s, rtol=1e-14)
    np.testing.assert_allclose(t["softplus"][2], s * (1 - s), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(t["sigmoid"][1], s * (1 - s), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(t["sigmoid"][2], s * (1 - s) * (1 - 2 * s), rtol=1e-10, atol=1e-300)


@pytest.mark.parametrize("z", [np.array([1.0, 2.0, 3.0]), np.array([1000.0, -1000.0, 0.0, 999.0])])
def test_logsumexp_softmax_table(z):
    d = ex.logsumexp_demo(z)
    s = sc.softmax(z)
    assert d["value"] == pytest.approx(sc.logsumexp(z), rel=1e-15)
    np.testing.assert_allclose(d["grad"], s, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(d["hessian"], np.diag(s) - np.outer(s, s), rtol=1e-12, atol=1e-15)


def test_softmax_classifier_gradient(rng):
    z = rng.standard_normal((5, 4)) * 3
    y = rng.integers(0, 4, size=5)
    g, closed = ex.softmax_gradient_demo(z, y)
    np.testing.assert_allclose(g, closed, atol=1e-15)
    # and summed (not mean) loss: exactly softmax - onehot
    gs = fa.grad(lambda z: -fnp.sum(fa.nn.log_softmax(z) * fa.nn.one_hot(y, 4)))(z)
    np.testing.assert_allclose(gs, sc.softmax(z, axis=-1) - np.eye(4)[y], atol=1e-15)


def test_numerical_vs_automatic():
    steps, fwd, central, ad_err = ex.numerical_vs_automatic_demo(1.0)
    assert ad_err < 1e-15
    assert fwd.min() > 1e-9 and central.min() > 1e-13  # finite differences cannot reach rounding
    assert steps[np.argmin(central)] > steps[np.argmin(fwd)]  # central's best step is larger


def test_sgd_lowers_the_logistic_loss_and_classifies():
    d = ex.sgd_logistic_demo(epochs=5)
    assert d["losses"][0] == pytest.approx(np.log(2))
    assert all(b < a for a, b in zip(d["losses"], d["losses"][1:]))
    assert d["losses"][-1] < 0.15 and d["test_accuracy"] > 0.93


def test_logistic_gradient_against_closed_form(rng):
    X, y = rng.standard_normal((20, 3)), rng.integers(0, 2, 20).astype(float)
    w, b = rng.standard_normal(3), 0.3
    gw, gb = fa.grad(ex.logistic_loss, argnums=(0, 1))(w, b, X, y)
    p = sc.expit(X @ w + b)
    np.testing.assert_allclose(gw, X.T @ (p - y) / 20, rtol=1e-12)
    np.testing.assert_allclose(gb, np.mean(p - y), rtol=1e-12)


def test_softmax_classifier_on_digits_by_minibatch_sgd():
    d = ex.sgd_softmax_digits_demo(epochs=5)
    assert d["losses"][-1] < d["losses"][0] / 2
    assert d["test_accuracy"] > 0.9


def test_newton_on_rosenbrock_converges_quadratically():
    xs, errors = ex.newton_rosenbrock_demo()
    np.testing.assert_allclose(xs[-1], [1.0, 1.0], atol=1e-12)
    assert errors[-1] < 1e-12 and len(errors) <= 10
    # quadratic: once close, e_{k+1} <= C e_k^2 with a moderate C
    close = [(a, b) for a, b in zip(errors, errors[1:]) if a < 0.1 and b > 0]
    assert close and all(b <= 10 * a ** 2 for a, b in close)
    # the hessian used is the closed-form one
    x = np.array([-1.2, 1.0])
    H = np.array([[1200 * x[0] ** 2 - 400 * x[1] + 2, -400 * x[0]], [-400 * x[0], 200]])
    np.testing.assert_allclose(fa.hessian(ex.rosenbrock)(x), H, rtol=1e-13)


def test_tour_sections_run_and_print():
    from funcad_tour.tour import SECTIONS

    mine = [(t, f) for t, f in SECTIONS if f.__module__ == "funcad_tour.examples"]
    assert len(mine) == 7
    for title, fn in mine:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            fn()
        assert len(out.getvalue()) > 100, title
    text = out.getvalue()
    assert "quadratic" in text


# The course's example scripts (others in examples/ are tested where their features are).
COURSE_SCRIPTS = ["activations_table.py", "newton_rosenbrock.py", "numerical_vs_automatic.py",
                  "reverse_accumulation.py", "sgd_logistic_regression.py",
                  "softmax_classifier_digits.py", "tanh_derivatives.py"]


@pytest.mark.parametrize("script", COURSE_SCRIPTS)
def test_example_scripts_run(script):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        runpy.run_path(str(EXAMPLES / script), run_name="__main__")
    assert out.getvalue().strip()


def test_spectral_pde_fits_the_initial_condition_through_the_fft_solver():
    """examples/spectral_pde.py (issue 21), a short run: gradient descent through a jitted
    pseudo-spectral Burgers solver recovers the initial condition."""
    from funcad.test_util import check_grads

    mod = runpy.run_path(str(EXAMPLES / "spectral_pde.py"))
    losses, u0, true_u0 = mod["main"](iterations=30, verbose=False)
    assert losses[-1] < 1e-6 * losses[0] and np.all(np.diff(losses) < 0)
    np.testing.assert_allclose(u0, true_u0, atol=1e-2)
    check_grads(lambda u: mod["solve"](u, 3), (true_u0,), order=1)  # the solver's derivative
