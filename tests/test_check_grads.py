"""check_grads itself: it passes on correct rules and FAILS on a deliberately wrong one."""

import numpy as np
import pytest

import funcad as fa
import funcad.numpy as fnp
from funcad import ad
from funcad.core import Primitive, bind
from funcad.lax import elementwise as ew
from funcad.test_util import check_grads


def _make_sin(first_rule, name):
    """A sin primitive with the given JVP rule ``(g, ans, x) -> tangent``."""
    p = Primitive(name)
    p.def_impl(np.sin)
    p.def_abstract_eval(lambda x: x)
    ad.defjvp(p, first_rule)
    return lambda x: bind(p, fnp.asarray(x) * 1.0)


# Wrong first derivative: sin' = sin (it should be cos).
wrong_sin = _make_sin(lambda g, ans, x: ew.mul(g, ew.sin(x)), "wrong_sin")
# Right first derivative, wrong second: sin'' computed through a primitive whose own
# derivative is wrong (cos' = +sin instead of -sin). Only order-2 checks can see this.
_bad_cos_p = Primitive("bad_cos")
_bad_cos_p.def_impl(np.cos)
_bad_cos_p.def_abstract_eval(lambda x: x)
ad.defjvp(_bad_cos_p, lambda g, ans, x: ew.mul(g, ew.sin(x)))
wrong_second = _make_sin(lambda g, ans, x: ew.mul(g, bind(_bad_cos_p, x)), "wrong_second")
right_sin = _make_sin(lambda g, ans, x: ew.mul(g, ew.cos(x)), "right_sin")


@pytest.mark.parametrize("modes", [("fwd",), ("rev",), ("fwd", "rev")])
def test_check_grads_fails_on_a_wrong_first_derivative(modes):
    with pytest.raises(AssertionError, match="finite differences"):
        check_grads(wrong_sin, (np.array([0.3, 1.2]),), order=1, modes=modes)


@pytest.mark.parametrize("modes", [("fwd",), ("rev",)])
def test_check_grads_fails_on_a_wrong_second_derivative_only_at_order_2(modes):
    x = (np.array([0.3, 1.2]),)
    check_grads(wrong_second, x, order=1, modes=modes)  # first order is right
    with pytest.raises(AssertionError, match="finite differences"):
        check_grads(wrong_second, x, order=2, modes=modes)


def test_check_grads_passes_on_the_right_rule():
    check_grads(right_sin, (np.array([0.3, 1.2]),), order=3)


def test_check_grads_on_pytrees_and_integer_leaves(rng):
    params = {"w": rng.standard_normal((3, 2)), "b": [rng.standard_normal(2), None]}
    idx = np.array([0, 2])

    def f(params, x, idx):
        h = fnp.tanh(x @ params["w"] + params["b"][0])
        return {"out": h[idx], "sum": fnp.sum(h ** 2)}

    check_grads(f, (params, rng.standard_normal((4, 3)), idx), order=2)


def test_check_grads_float32_uses_looser_defaults(rng):
    x = rng.standard_normal(3).astype(np.float32)
    check_grads(fnp.tanh, (x,), order=2)


def test_check_grads_rejects_bad_arguments():
    with pytest.raises(ValueError, match="mode"):
        check_grads(fnp.sin, (1.0,), modes=("backward",))
    with pytest.raises(TypeError, match="tuple"):
        check_grads(fnp.sin, 1.0)


def test_check_grads_catches_a_wrong_transpose_rule():
    # A linear primitive (scale by 2) whose transpose is wrong (scales by 3): forward mode is
    # right, so only the reverse-mode check can fail.
    p = Primitive("scale2")
    p.def_impl(lambda x: 2 * x)
    p.def_abstract_eval(lambda x: x)
    ad.deflinear(p, lambda ct, x: [ew.mul(ct, 3.0)])
    f = lambda x: bind(p, x)  # noqa: E731
    x = (np.array([1.0, 2.0]),)
    check_grads(f, x, order=1, modes=("fwd",))
    with pytest.raises(AssertionError):
        check_grads(f, x, order=1, modes=("rev",))
    assert float(fa.grad(lambda x: fnp.sum(f(x)))(np.ones(2))[0]) == 3.0  # wrong, as registered
