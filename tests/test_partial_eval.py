"""funcad/partial_eval.py: the transformations of whole jaxprs, against closed forms and
NumPy, their bounded memo, and jit's rules reusing their programs from call to call."""

import numpy as np
import pytest

import funcad as fa
import funcad.numpy as fnp
from funcad import partial_eval as pe
from funcad.backend import dispatch


def f(x, y):
    return fnp.sin(x) * y + x ** 2


X, Y = np.array([0.3, -1.2, 2.0]), np.array([1.5, 0.5, -2.0])


def test_jvp_and_partial_eval_and_transpose_against_closed_forms():
    cj = fa.make_jaxpr(f)(X, Y)
    jvp, out_nz = pe.jvp_jaxpr(cj, [True, False], False)  # tangent of x only
    tx = np.array([1.0, 2.0, -1.0])
    y, ty = jvp(X, Y, tx)
    np.testing.assert_allclose(y, np.sin(X) * Y + X ** 2, rtol=1e-14)
    np.testing.assert_allclose(ty, (np.cos(X) * Y + 2 * X) * tx, rtol=1e-14)
    assert out_nz == [True]
    # x known, y unknown: the known part computes sin(x) and x**2, the unknown one the product
    known, unknown, out_uk, n_res = pe.partial_eval_jaxpr(cj, [False, True], False)
    res = known(X)
    assert out_uk == [True] and n_res == len(res)
    np.testing.assert_allclose(unknown(*res, Y)[0], np.sin(X) * Y + X ** 2, rtol=1e-14)
    # f is affine in y: the transpose of its linear part maps ct to ct * sin(x)
    lin = fa.make_jaxpr(lambda x, y: fnp.sin(x) * y)(X, Y)
    ct = np.array([1.0, -3.0, 0.5])
    np.testing.assert_allclose(pe.transpose_jaxpr(lin, [False, True])(X, ct)[0], ct * np.sin(X),
                               rtol=1e-14)
    # an output cotangent known to be zero is not an input of the transposed jaxpr
    two = fa.make_jaxpr(lambda x, y: (fnp.sin(x) * y, 2.0 * y))(X, Y)
    t = pe.transpose_jaxpr(two, [False, True], [False, True])
    assert len(t.in_avals) == 2
    np.testing.assert_allclose(t(X, ct)[0], 2.0 * ct, rtol=1e-14)


def test_batch_jaxpr_against_a_loop():
    cj = fa.make_jaxpr(f)(X, Y)
    xs = np.random.default_rng(0).normal(size=(4, 3))
    batched, out_b = pe.batch_jaxpr(cj, 4, [True, False], False)
    assert out_b == [True]
    np.testing.assert_allclose(batched(xs, Y)[0], np.stack([np.sin(x) * Y + x ** 2 for x in xs]),
                               rtol=1e-14)


def test_memo_returns_the_same_jaxpr_and_is_bounded(monkeypatch):
    cj = fa.make_jaxpr(f)(X, Y)
    a = pe.partial_eval_jaxpr(cj, [False, True], False)
    b = pe.partial_eval_jaxpr(cj, (False, True), False)  # lists and tuples are one key
    assert a[0] is b[0] and a[1] is b[1]
    b[2].append(True)  # a caller extending the flags it got does not change the memo
    assert pe.partial_eval_jaxpr(cj, [False, True], False)[2] == [True]
    monkeypatch.setattr(pe, "MEMO_SIZE", 3)
    for k in range(6):
        pe.jvp_jaxpr(fa.make_jaxpr(lambda x: fnp.sin(x) * k)(X), [True], False)
    assert pe.jvp_jaxpr.cache_len() <= 3


@pytest.mark.parametrize("transform", ["grad", "vmap"])
def test_jit_rules_reuse_their_programs_from_call_to_call(transform):
    g = fa.jit(lambda x, y: fnp.sum(f(x, y)))
    run = {"grad": lambda: fa.grad(g)(X, Y),
           "vmap": lambda: fa.vmap(g, in_axes=(0, None))(np.stack([X, X]), Y)}[transform]
    first = run()
    n = len(dispatch._executables)
    np.testing.assert_allclose(run(), first, rtol=0)
    assert len(dispatch._executables) == n  # nothing new compiled or even lowered
    expected = (np.cos(X) * Y + 2 * X if transform == "grad"
                else np.full(2, np.sum(np.sin(X) * Y + X ** 2)))
    np.testing.assert_allclose(first, expected, rtol=1e-13)
