"""fa.config.update("debug_nans", True): the first primitive that produces a NaN raises
NaNError naming the primitive, the pass and the user's source line; eagerly, under grad
(backward pass) and under jit (an op-by-op rerun locates it)."""

import importlib
import inspect
import warnings

import numpy as np
import pytest

import funcad as fa
import funcad.numpy as fnp
from funcad.errors import ArgumentError, NaNError


@pytest.fixture
def debug_nans():
    fa.config.update("debug_nans", True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's own invalid-value warnings
            yield
    finally:
        fa.config.update("debug_nans", False)
        fa.config.update("debug_infs", False)


def _line_of(fun, text):
    lines, start = inspect.getsourcelines(fun)
    return start + next(i for i, ln in enumerate(lines) if text in ln)


def log_of_sin(x):
    y = fnp.sin(x)
    z = fnp.log(y)  # negative for x = -1: NaN
    return fnp.sum(z)


def sqrt_of_square(x):
    return fnp.sum(fnp.sqrt(x * x))  # fine forward; the derivative at 0 is 0 * inf = NaN


X_BAD = np.array([1.0, -1.0])


def _assert_names(err, prim, phase, fun, text):
    assert err.primitive == prim and err.phase == phase
    assert err.source.endswith(f"test_debug_nans.py:{_line_of(fun, text)}"), err.source
    assert text in str(err) and isinstance(err, FloatingPointError)


def test_eager_forward_names_the_primitive_and_line(debug_nans):
    with pytest.raises(NaNError) as e:
        log_of_sin(X_BAD)
    _assert_names(e.value, "log", "forward", log_of_sin, "z = fnp.log(y)")
    assert "this operation created it" in str(e.value)


def test_forward_pass_of_grad(debug_nans):
    with pytest.raises(NaNError) as e:
        fa.grad(log_of_sin)(X_BAD)
    _assert_names(e.value, "log", "forward", log_of_sin, "z = fnp.log(y)")


def test_backward_pass_names_the_line_whose_derivative_failed(debug_nans):
    assert sqrt_of_square(np.array([0.0, 1.0])) == 1.0  # the forward pass is clean
    with pytest.raises(NaNError) as e:
        fa.grad(sqrt_of_square)(np.array([0.0, 1.0]))
    _assert_names(e.value, "mul", "backward", sqrt_of_square, "fnp.sqrt(x * x)")
    assert "derivative of mul" in str(e.value)


def test_jit_reruns_op_by_op_to_find_the_nan(debug_nans):
    with pytest.raises(NaNError) as e:
        fa.jit(log_of_sin)(X_BAD)
    _assert_names(e.value, "log", "forward", log_of_sin, "z = fnp.log(y)")


def test_jit_of_grad_backward(debug_nans):
    with pytest.raises(NaNError) as e:
        fa.jit(fa.grad(sqrt_of_square))(np.array([0.0, 1.0]))
    _assert_names(e.value, "mul", "backward", sqrt_of_square, "fnp.sqrt(x * x)")


def test_jit_traced_before_debugging_still_names_the_primitive():
    f = fa.jit(log_of_sin)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert np.isnan(f(X_BAD))  # off: NaN propagates as in NumPy
        fa.config.update("debug_nans", True)
        try:
            with pytest.raises(NaNError) as e:
                f(X_BAD)
        finally:
            fa.config.update("debug_nans", False)
    assert e.value.primitive == "log"
    assert "test_debug_nans.py" in e.value.source  # the call site at least


def test_nan_arguments_are_reported_as_coming_from_outside(debug_nans):
    with pytest.raises(NaNError, match="came in from outside") as e:
        fa.grad(lambda x: fnp.sum(x * 2.0))(np.array([np.nan, 1.0]))
    assert e.value.primitive == "mul"


def test_debug_infs(debug_nans):
    fa.config.update("debug_nans", False)
    fa.config.update("debug_infs", True)
    with pytest.raises(NaNError, match="produced inf") as e:
        fa.grad(lambda x: fnp.sum(1.0 / x))(np.array([0.0, 1.0]))
    assert e.value.primitive == "div"


def test_clean_programs_raise_nothing(debug_nans):
    def f(w, x):
        return fnp.sum(fnp.tanh(x @ w) ** 2) + fnp.sum(fnp.log1p(w * w))

    w, x = np.ones((3, 2)) * 0.1, np.ones((4, 3))
    expected = fa.grad(f)(w, x)
    fa.config.update("debug_nans", False)
    np.testing.assert_allclose(expected, fa.grad(f)(w, x))
    fa.config.update("debug_nans", True)
    np.testing.assert_allclose(fa.jit(fa.grad(f))(w, x), expected, rtol=1e-12)
    np.testing.assert_allclose(fa.hessian(lambda w: f(w, x))(w).shape, (3, 2, 3, 2))


def test_off_by_default_nan_propagates_as_in_numpy():
    assert not fa.config.debug_nans
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert np.isnan(log_of_sin(X_BAD))
        g = fa.grad(sqrt_of_square)(np.array([0.0, 1.0]))
    assert np.isnan(g[0]) and g[1] == 1.0


def test_config_options():
    with pytest.raises(ArgumentError, match="debug_nans"):
        fa.config.update("debug_nan", True)
    fa.config.update("jax_debug_nans", True)  # JAX's spelling
    try:
        assert fa.config.debug_nans and "debug_nans=True" in repr(fa.config)
    finally:
        fa.config.update("debug_nans", False)


def test_a_compiled_nan_that_eager_does_not_reproduce_is_reported_as_a_bug(debug_nans):
    config_module = importlib.import_module("funcad.config")  # fa.config is the settings object

    jaxpr = fa.make_jaxpr(lambda x: fnp.sin(x))(np.ones(2)).jaxpr
    with pytest.raises(NaNError, match="funcad bug"):
        config_module._rerun_op_by_op({"jaxpr": jaxpr, "name": "f"}, [np.ones(2)], "NaN")
