"""lax control flow: cond, switch, scan, map, fori_loop, while_loop.

Each construct is checked against a plain Python loop or branch, eagerly, staged
(make_jaxpr then evaluation: abstract values, as under jit), under jit when it is
available, under vmap against a loop over slices, and its derivatives to second order
against finite differences (check_grads) or closed forms.
"""

import numpy as np
import pytest

import funcad as fa
import funcad.numpy as fnp
from funcad import lax
from funcad.errors import BranchTypeError, CarryTypeError, ConcretizationError, NotCallableError
from funcad.test_util import check_grads, check_vmap


def staged(f):
    """Run ``f`` through make_jaxpr and evaluate the jaxpr: every value is abstract while
    tracing, as under jit (trip counts unknown, predicates traced)."""

    def run(*args):
        cj = fa.make_jaxpr(f)(*args)
        leaves = fa.tree_util.tree_flatten(args)[0]
        outs = cj(*leaves)
        return fa.tree_util.tree_unflatten(cj.out_tree, outs)

    return run


RUNNERS = [lambda f: f, staged]
if hasattr(fa, "jit"):
    RUNNERS.append(fa.jit)


@pytest.fixture(params=range(len(RUNNERS)), ids=["eager", "staged", "jit"][: len(RUNNERS)])
def run(request):
    return RUNNERS[request.param]


def close(a, b, tol=1e-12):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=tol, atol=tol)


# --------------------------------------------------------------------------------------
# cond and switch


def piecewise(x):
    return lax.cond(x > 0, lambda x: fnp.sin(x) * x ** 2, lambda x: fnp.exp(x) - 1.0, x)


def piecewise_py(x):
    return np.sin(x) * x ** 2 if x > 0 else np.exp(x) - 1.0


@pytest.mark.parametrize("x", [-1.3, 0.7, 2.0])
def test_cond_matches_python(run, x):
    close(run(piecewise)(x), piecewise_py(x))


@pytest.mark.parametrize("x", [-1.3, 0.7])
def test_cond_grads(x):
    check_grads(piecewise, (x,), order=2)
    d = np.cos(x) * x ** 2 + 2 * x * np.sin(x) if x > 0 else np.exp(x)
    close(fa.grad(piecewise)(x), d)


def test_cond_pytrees_and_closure(run):
    w = np.array([1.0, 2.0])

    def f(x, flag):
        return lax.cond(flag, lambda t: {"a": t[0] * w, "b": t[1]},
                        lambda t: {"a": t[0] + w, "b": -t[1]}, (x, 3.0))

    out = run(f)(np.array([0.5, 0.25]), True)
    close(out["a"], np.array([0.5, 0.5]))
    close(out["b"], 3.0)
    out = run(f)(np.array([0.5, 0.25]), False)
    close(out["a"], np.array([1.5, 2.25]))


def test_cond_closes_over_traced_value():
    # The branch uses y from the enclosing grad: its derivative must flow through cond.
    f = lambda y: lax.cond(y > 0, lambda x: x * y, lambda x: x + y, 2.0) * y
    close(fa.grad(f)(3.0), 12.0)
    check_grads(f, (3.0,), order=2)


def test_cond_vmap_batched_predicate():
    xs = np.array([-2.0, -0.5, 0.3, 1.5])
    check_vmap(piecewise, (xs,))
    close(fa.vmap(fa.grad(piecewise))(xs), [fa.grad(piecewise)(x) for x in xs])


def test_cond_vmap_unbatched_predicate():
    f = lambda x, flag: lax.cond(flag, lambda x: 2.0 * x, lambda x: -x, x)
    check_vmap(f, (np.arange(3.0), True), in_axes=(0, None))


def test_cond_is_one_equation():
    text = str(fa.make_jaxpr(piecewise)(1.0))
    assert text.count("cond ") == 1 and "exp" in text and "sin" in text


BRANCHES = [lambda x: x + 1.0, lambda x: fnp.sin(x) * 10.0, lambda x: x ** 3]


@pytest.mark.parametrize("i, expected", [(0, 3.0), (1, 10 * np.sin(2.0)), (2, 8.0), (7, 8.0), (-3, 3.0)])
def test_switch_clamps_index(run, i, expected):
    close(run(lambda i, x: lax.switch(i, BRANCHES, x))(i, 2.0), expected)


def test_switch_grads_and_vmap():
    for i in range(3):
        check_grads(lambda x: lax.switch(i, BRANCHES, x), (0.8,), order=2)
    idx, xs = np.array([2, 0, 1, 2]), np.array([0.5, -1.0, 2.0, 1.5])
    check_vmap(lambda i, x: lax.switch(i, BRANCHES, x), (idx, xs))
    g = fa.vmap(fa.grad(lambda x, i: lax.switch(i, BRANCHES, x)))(xs, idx)
    close(g, [1.0 if i == 0 else 10 * np.cos(x) if i == 1 else 3 * x ** 2 for i, x in zip(idx, xs)])


# --------------------------------------------------------------------------------------
# scan and map


def rnn(w, xs, h0):
    def step(h, x):
        h = fnp.tanh(w * h + x["u"]) + x["v"]
        return h, {"h": h, "sq": h ** 2}

    return lax.scan(step, h0, xs)


def rnn_py(w, xs, h0, reverse=False):
    h, hs = h0, []
    order = range(len(xs["u"]) - 1, -1, -1) if reverse else range(len(xs["u"]))
    for i in order:
        h = np.tanh(w * h + xs["u"][i]) + xs["v"][i]
        hs.append(h)
    hs = hs[::-1] if reverse else hs
    return h, {"h": np.array(hs), "sq": np.array(hs) ** 2}


XS = {"u": np.linspace(-1, 1, 5)[:, None] * np.array([1.0, 0.5]),
      "v": np.linspace(0, 0.3, 5)[:, None] * np.ones(2)}
H0 = np.array([0.1, -0.2])


def test_scan_matches_python(run):
    h, ys = run(rnn)(0.7, XS, H0)
    h_py, ys_py = rnn_py(0.7, XS, H0)
    close(h, h_py)
    close(ys["h"], ys_py["h"])
    close(ys["sq"], ys_py["sq"])


def test_scan_reverse_and_length():
    step = lambda c, x: (fnp.tanh(0.7 * c + x["u"]) + x["v"], fnp.tanh(0.7 * c + x["u"]) + x["v"])
    h, hs = lax.scan(step, H0, XS, reverse=True)
    h_py, ys_py = rnn_py(0.7, XS, H0, reverse=True)
    close(h, h_py)
    close(hs, ys_py["h"])
    c, ys = lax.scan(lambda c, _: (c * 2.0, c), 1.0, None, length=4)
    close(c, 16.0)
    close(ys, [1.0, 2.0, 4.0, 8.0])


def test_scan_grads():
    f = lambda w, xs, h0: (lambda out: fnp.sum(out[0]) + fnp.sum(out[1]["sq"]))(rnn(w, xs, h0))
    check_grads(f, (0.7, XS, H0), order=2)
    check_grads(lambda w: lax.scan(lambda c, x: (c * w + x, c), 1.0, np.arange(3.0), reverse=True),
                (0.9,), order=2)


def test_scan_vmap():
    ws = np.array([0.2, 0.7, 1.1])
    check_vmap(lambda w: rnn(w, XS, H0), (ws,))
    xs_b = {"u": np.stack([XS["u"], 2 * XS["u"]]), "v": np.stack([XS["v"], XS["v"]])}
    check_vmap(lambda xs: rnn(0.7, xs, H0), (xs_b,))
    f = lambda w: fnp.sum(rnn(w, XS, H0)[0])
    close(fa.vmap(fa.grad(f))(ws), [fa.grad(f)(w) for w in ws])


def test_scan_is_not_unrolled():
    for n in (3, 50):
        text = str(fa.make_jaxpr(lambda xs: lax.scan(lambda c, x: (c + fnp.sin(x), c), 0.0, xs))(np.ones(n)))
        assert text.count("sin") == 1 and text.count("scan") == 1


def test_map(run):
    xs = np.linspace(-1, 1, 4)
    close(run(lambda xs: lax.map(lambda x: fnp.sin(x) ** 2, xs))(xs), np.sin(xs) ** 2)
    check_grads(lambda xs: lax.map(lambda x: fnp.sin(x) ** 2, xs), (xs,), order=2)


# --------------------------------------------------------------------------------------
# fori_loop and while_loop


def power_iter(x, n):
    return lax.fori_loop(0, n, lambda i, v: v * x + fnp.sin(i * 1.0), 1.0)


def power_iter_py(x, n):
    v = 1.0
    for i in range(n):
        v = v * x + np.sin(i)
    return v


def test_fori_loop(run):
    close(run(lambda x: power_iter(x, 6))(1.1), power_iter_py(1.1, 6))
    check_grads(lambda x: power_iter(x, 6), (1.1,), order=2)


def test_fori_loop_traced_bounds():
    # Bounds that are traced values make it a while_loop; still differentiable.
    f = lambda x, n: lax.fori_loop(0, n, lambda i, v: v * x, 1.0)
    close(staged(f)(1.5, 4), 1.5 ** 4)
    close(staged(fa.grad(f))(1.5, 4), 4 * 1.5 ** 3)
    close(staged(fa.grad(fa.grad(f)))(1.5, 4), 12 * 1.5 ** 2)


def babylonian_sqrt(a):
    return lax.while_loop(lambda x: fnp.abs(x * x - a) > 1e-13 * a,
                          lambda x: 0.5 * (x + a / x), a)


def test_while_loop_matches_python(run):
    for a in (2.0, 9.0, 1e4):
        close(run(babylonian_sqrt)(a), np.sqrt(a))
    count = lambda n: lax.while_loop(lambda c: c[0] < n, lambda c: (c[0] + 1, c[1] * 2.0), (0, 1.0))
    close(run(count)(10)[1], 1024.0)


@pytest.mark.parametrize("a", [2.0, 30.0])
def test_while_loop_reverse_mode(a):
    # JAX refuses reverse mode through while_loop; funcad records the trip count.
    close(fa.grad(babylonian_sqrt)(a), 0.5 / np.sqrt(a), 1e-10)
    close(fa.grad(fa.grad(babylonian_sqrt))(a), -0.25 * a ** -1.5, 1e-9)
    close(fa.hessian(babylonian_sqrt)(a), -0.25 * a ** -1.5, 1e-9)
    close(fa.jacfwd(babylonian_sqrt)(a), 0.5 / np.sqrt(a), 1e-10)


def test_while_loop_reverse_mode_abstract_trip_count():
    close(staged(fa.grad(babylonian_sqrt))(2.0), 0.5 / np.sqrt(2.0), 1e-10)
    close(staged(fa.hessian(babylonian_sqrt))(2.0), -0.25 * 2.0 ** -1.5, 1e-9)


def test_while_loop_grads_finite_differences():
    # A fixed number of steps decided by an integer counter: smooth in x.
    f = lambda x: lax.while_loop(lambda c: c[0] < 5, lambda c: (c[0] + 1, fnp.sin(c[1]) * x), (0, x))[1]
    check_grads(f, (0.8,), order=2)


def test_while_loop_vmap_runs_each_element_as_needed():
    a = np.array([2.0, 9.0, 1e6])

    def with_count(a):
        return lax.while_loop(lambda c: fnp.abs(c[1] * c[1] - a) > 1e-13 * a,
                              lambda c: (c[0] + 1, 0.5 * (c[1] + a / c[1])), (0, a))

    n, x = fa.vmap(with_count)(a)
    close(x, np.sqrt(a))
    expected = [int(with_count(ai)[0]) for ai in a]
    assert list(n) == expected and len(set(expected)) == 3  # each stopped at its own count
    close(fa.vmap(fa.grad(babylonian_sqrt))(a), 0.5 / np.sqrt(a), 1e-10)
    close(fa.vmap(fa.grad(fa.grad(babylonian_sqrt)))(a), -0.25 * a ** -1.5, 1e-9)


# --------------------------------------------------------------------------------------
# Errors


def test_branch_type_errors_name_both():
    with pytest.raises(BranchTypeError, match=r"f64\[3\] in true_fun.*f64\[2\] in false_fun"):
        lax.cond(True, lambda x: fnp.ones(3), lambda x: fnp.ones(2), 1.0)
    with pytest.raises(BranchTypeError, match=r"f64\[\].*i64\[\]"):
        lax.cond(True, lambda x: x * 1.0, lambda x: np.int64(1), 1.0)
    with pytest.raises(BranchTypeError, match=r"branches\[0\].*branches\[1\]"):
        lax.switch(0, [lambda x: (x, x), lambda x: x], 1.0)


def test_carry_type_errors():
    with pytest.raises(CarryTypeError, match=r"i64\[\].*f64\[\]"):
        lax.fori_loop(0, 3, lambda i, v: v * 0.5, 1)
    with pytest.raises(CarryTypeError, match=r"f64\[2\].*f64\[3\]"):
        lax.while_loop(lambda x: True, lambda x: fnp.ones(3), fnp.ones(2))
    with pytest.raises(CarryTypeError):
        lax.scan(lambda c, x: ((c, c), x), 1.0, np.ones(3))


def test_not_callable_errors():
    with pytest.raises(NotCallableError, match="body_fun"):
        lax.while_loop(lambda x: x < 1, 3.0, 0.0)
    with pytest.raises(NotCallableError, match="true_fun"):
        lax.cond(True, None, lambda x: x, 1.0)
    with pytest.raises(NotCallableError):
        lax.scan("f", 0.0, np.ones(2))


def test_python_if_on_traced_value_points_to_cond():
    def f(x):
        return x if x > 0 else -x

    with pytest.raises(ConcretizationError, match="lax.cond"):
        fa.make_jaxpr(f)(1.0)
