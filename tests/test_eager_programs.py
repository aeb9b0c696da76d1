"""Eager grad and hessian through the cache of transformed programs (funcad/eager_programs.py):
the same numbers as the uncached route, bit for bit; right against finite differences, jit and
hand-written derivatives; fresh results when captured arrays change; the user's Python (its
side effects, its control flow) runs on every call; programs keyed by structure only."""

import numpy as np
import pytest

import funcad as fa
import funcad.numpy as fnp
from funcad import eager_programs as ep
from funcad.lax.linalg import matmul_p
from funcad.test_util import check_grads

RNG = np.random.default_rng(7)
N, D, LAM = 60, 12, 1e-2
X = RNG.normal(size=(N, D)) / np.sqrt(D)
Y = np.where(RNG.uniform(size=N) < 0.5, -1.0, 1.0)
W = RNG.normal(0.0, 0.1, D)


def loss(w, x, y):
    return fnp.mean(fa.nn.softplus(-y * (x @ w))) + 0.5 * LAM * (w @ w)


def hand_grad_hessian(w, x, y):
    p = 1.0 / (1.0 + np.exp(y * (x @ w)))
    g = x.T @ (-y * p) / len(y) + LAM * w
    h = (x.T * (p * (1.0 - p) / len(y))) @ x + LAM * np.eye(len(w))
    return g, h


@pytest.fixture
def fresh():
    ep.clear()
    before = dict(ep.stats)
    yield lambda: {k: ep.stats[k] - before[k] for k in before}
    ep.clear()


def uncached(f, *args, **kwargs):
    ep.ENABLED = False
    try:
        return f(*args, **kwargs)
    finally:
        ep.ENABLED = True


def test_newton_step_matches_uncached_route_hand_derivatives_and_jit(fresh):
    H, G = fa.hessian(loss), fa.grad(loss)
    h1, h2 = H(W, X, Y), H(W, X, Y)
    g1, g2 = G(W, X, Y), G(W, X, Y)
    assert fresh() == {"hits": 2, "misses": 2, "uncached": 0}
    np.testing.assert_array_equal(h1, uncached(H, W, X, Y))
    np.testing.assert_array_equal(h2, uncached(H, W, X, Y))
    np.testing.assert_array_equal(g1, uncached(G, W, X, Y))
    np.testing.assert_array_equal(g2, uncached(G, W, X, Y))
    g_hand, h_hand = hand_grad_hessian(W, X, Y)
    np.testing.assert_allclose(h2, h_hand, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(g2, g_hand, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(h2, fa.jit(H)(W, X, Y), rtol=1e-12, atol=1e-14)
    check_grads(lambda w: loss(w, X, Y), (W,), order=2, modes=("rev",))
    assert type(h2) is np.ndarray and h2.flags.writeable and h2.dtype == np.float64


def test_the_cached_newton_program_is_what_a_person_writes(fresh):
    fa.hessian(loss)(W, X, Y)
    ((run, _),) = ep._cache.values()
    products = [e for e in run.jaxpr.eqns if e.prim is matmul_p]
    shapes = sorted(tuple(a.aval.shape for a in e.inputs) for e in products)
    # x @ w for the residual, then X.T @ (X * s[:, None]): no (D, D) basis operand
    assert shapes == [((D, N), (N, D)), ((N, D), (D, 1))]
    assert all(e.outputs[0].aval.shape != (D, D) or e.prim is matmul_p for e in run.jaxpr.eqns)


def test_closures_over_changing_arrays_give_fresh_results(fresh):
    x = X.copy()
    H = fa.hessian(lambda w: loss(w, x, Y))
    G = fa.grad(lambda w: loss(w, x, Y))
    first_h, first_g = H(W), G(W)
    x *= 2.0  # in place: the same array object, new values
    h, g = H(W), G(W)
    assert not np.allclose(h, first_h) and not np.allclose(g, first_g)
    np.testing.assert_array_equal(h, uncached(H, W))
    np.testing.assert_array_equal(g, uncached(G, W))
    x = X[::-1].copy()  # the closure now sees a new array
    np.testing.assert_allclose(H(W), hand_grad_hessian(W, x, Y)[1], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(G(W), hand_grad_hessian(W, x, Y)[0], rtol=1e-12)
    assert fresh()["misses"] == 2  # one program each for grad and hessian, whatever x holds


def test_python_side_effects_and_control_flow_run_on_every_call(fresh):
    calls = []

    def f(w):
        calls.append(1)
        return fnp.sum(w ** 3) if w[0] > 0 else fnp.sum(fnp.sin(w))

    H = fa.hessian(f)
    w_pos, w_neg = np.array([1.0, 2.0]), np.array([-1.0, 2.0])
    for _ in range(3):
        np.testing.assert_array_equal(H(w_pos), np.diag(6.0 * w_pos))
        np.testing.assert_array_equal(H(w_neg), np.diag(-np.sin(w_neg)))
    assert len(calls) == 6
    assert fresh() == {"hits": 4, "misses": 2, "uncached": 0}  # one program per branch


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_captured_python_scalars_are_part_of_the_key(fresh):
    G = {}
    for c in (0.0, -0.0, 2.0, 0.0):
        G[c] = fa.grad(lambda w, c=c: fnp.sum(1.0 / (w * 0.0 + c)) + fnp.sum(w * c))(W)
    assert np.array_equal(np.signbit(G[-0.0]), np.signbit(uncached(
        fa.grad(lambda w: fnp.sum(1.0 / (w * 0.0 + -0.0)) + fnp.sum(w * -0.0)), W)))
    np.testing.assert_array_equal(G[2.0], np.full(D, 2.0))
    assert fresh()["misses"] == 3  # 0.0 and -0.0 are different programs; 0.0 again a hit


def test_changing_literals_stop_being_cached_after_a_few_programs(fresh):
    for k in range(12):
        lam = 0.1 * (k + 1)
        g = fa.grad(lambda w: fnp.sum(w ** 2) * lam)(W)
        np.testing.assert_allclose(g, 2.0 * lam * W, rtol=1e-15)
    counts = fresh()
    assert counts["misses"] == 8 and counts["uncached"] == 4


def test_outputs_never_alias_the_cache_or_the_inputs(fresh):
    A = RNG.normal(size=(D, D))
    A0 = A.copy()
    H = fa.hessian(lambda w: 0.5 * w @ (A @ w) + LAM * 0.5 * (w @ w))
    h = H(W)
    np.testing.assert_allclose(h, 0.5 * (A + A.T) + LAM * np.eye(D), rtol=1e-14)
    h[:] = 7.0
    np.testing.assert_array_equal(A, A0)
    np.testing.assert_array_equal(H(W), uncached(H, W))
    zero = fa.hessian(lambda w: fnp.sum(w * X[0]))
    z = zero(W)
    z[:] = 1.0
    np.testing.assert_array_equal(zero(W), np.zeros((D, D)))


def test_pytrees_aux_argnums_and_float32_match_the_uncached_route(fresh):
    params = {"a": W[:4].copy(), "b": W[4:].copy()}

    def f(p, x):
        z = x[:, :4] @ p["a"] + x[:, 4:] @ p["b"]
        return fnp.sum(fnp.tanh(z) ** 2), {"z": z}

    for fun, args in [
        (fa.hessian(f, has_aux=True), (params, X)),
        (fa.value_and_grad(f, argnums=(0, 1), has_aux=True), (params, X)),
        (fa.grad(lambda a, b: fnp.sum(a * b ** 2), argnums=(1, 0, 1)), (W, W + 1.0)),
        (fa.hessian(lambda w: fnp.sum(fnp.exp(w) * w)), (W.astype(np.float32),)),
    ]:
        for _ in range(2):
            got, want = fun(*args), uncached(fun, *args)
            leaves_got, leaves_want = fa.tree_util.tree_leaves(got), fa.tree_util.tree_leaves(want)
            assert len(leaves_got) == len(leaves_want)
            for a, b in zip(leaves_got, leaves_want):
                assert np.asarray(a).dtype == np.asarray(b).dtype
                np.testing.assert_array_equal(a, b)
    assert fresh()["hits"] == 4
    g = fa.grad(lambda x: fnp.sum(x ** 2), argnums=(0, 0))(W)
    assert g[0] is not g[1] and not np.shares_memory(g[0], g[1])


def test_programs_that_cannot_be_keyed_or_traced_take_the_uncached_route(fresh):
    inner = fa.jit(lambda w: fnp.sin(w) * w)
    g = fa.grad(lambda w: fnp.sum(inner(w)))(W)
    np.testing.assert_allclose(g, np.cos(W) * W + np.sin(W), rtol=1e-13)
    g = fa.grad(lambda w: fnp.sum(fa.lax.cond(w[0] > 0, fnp.sin, fnp.cos, w)))(W)
    assert fresh()["uncached"] == 2
    with pytest.raises(fa.errors.ConcretizationError):  # the uncached route's own error
        fa.grad(lambda w: fnp.sum(w) * float(w[0]))(W)


def test_debug_nans_and_transformations_bypass_the_cache(fresh):
    fa.config.update("debug_nans", True)
    try:
        fa.grad(lambda w: fnp.sum(w ** 2))(W)
    finally:
        fa.config.update("debug_nans", False)
    fa.vmap(fa.grad(lambda w: fnp.sum(w ** 2)))(np.ones((3, D)))
    fa.grad(lambda w: fnp.sum(fa.grad(lambda v: fnp.sum(v ** 3))(w)))(W)
    assert fresh()["misses"] == 1  # only the outer grad of the last line


def test_the_cache_is_bounded(fresh, monkeypatch):
    monkeypatch.setattr(ep, "CACHE_SIZE", 3)
    G = fa.grad(lambda w: fnp.sum(fnp.sin(w)))
    for k in range(1, 7):  # a program per shape
        np.testing.assert_array_equal(G(W[:k]), np.cos(W[:k]))
    assert len(ep._cache) == 3
    G(W[:6])
    G(W[:1])
    assert fresh() == {"hits": 1, "misses": 7, "uncached": 0}


def test_large_constants_are_neither_folded_nor_kept(fresh, monkeypatch):
    H = fa.hessian(loss)
    want = H(W, X, Y)  # its program folds the regulariser's full((D,), lam) into a constant
    ((run, _),) = ep._cache.values()
    folded = run.steps
    ep.clear()
    monkeypatch.setattr(ep, "_FOLD_SIZE", 0)  # then it runs on every call: the same numbers
    np.testing.assert_array_equal(H(W, X, Y), want)
    ((run, _),) = ep._cache.values()
    assert run.steps > folded
    monkeypatch.setattr(ep, "_MAX_CONST_BYTES", -1)  # a program holding constants: not cached
    f = fa.hessian(lambda w: fnp.sum(w * X[0]))  # the zero Hessian is a constant
    np.testing.assert_array_equal(f(W), np.zeros((D, D)))
    assert fresh()["uncached"] == 1


def test_grad_programs_do_not_compute_the_value_that_grad_drops(fresh):
    from funcad.lax.elementwise import logaddexp_p

    for _ in range(2):
        g = fa.grad(loss)(W, X, Y)
        v, g2 = fa.value_and_grad(loss)(W, X, Y)
    np.testing.assert_array_equal(g, uncached(fa.grad(loss), W, X, Y))
    np.testing.assert_array_equal(g2, g)
    assert v == uncached(fa.value_and_grad(loss), W, X, Y)[0]
    assert fresh() == {"hits": 2, "misses": 2, "uncached": 0}
    (grad_run, _), (vg_run, _) = ep._cache.values()
    prims = lambda run: [e.prim for e in run.jaxpr.eqns]  # noqa: E731
    assert logaddexp_p in prims(vg_run) and logaddexp_p not in prims(grad_run)  # softplus's value
    aux = fa.grad(lambda w: (fnp.sum(w ** 2), {"n": fnp.sum(w)}), has_aux=True)(W)
    np.testing.assert_array_equal(aux[0], 2.0 * W)
    assert float(aux[1]["n"]) == np.sum(W)


def test_literals_are_keyed_by_their_bits(fresh):
    nan = float("nan")
    f = fa.grad(lambda w: fnp.sum(w * 2.0) + fnp.sum(fnp.where(w > 0.0, 0.0, nan)))
    for _ in range(3):
        np.testing.assert_array_equal(f(np.abs(W) + 0.1), np.full(D, 2.0))
    assert fresh() == {"hits": 2, "misses": 1, "uncached": 0}  # a NaN literal equals itself
    f32 = fa.grad(lambda w: fnp.sum(w * np.float32(3.0)))
    assert f32(W.astype(np.float32)).dtype == np.float32
    np.testing.assert_array_equal(fa.grad(lambda w: fnp.sum(w * 3))(W), np.full(D, 3.0))


def test_python_scalars_in_and_out_keep_their_weak_type(fresh):
    for fun, x in [(fa.grad(lambda x: x * 2.0 + 1.0), 3.0),
                   (fa.grad(lambda x: fnp.sin(x) * x), 0.5),
                   (fa.hessian(lambda x: x ** 3), 2.0),
                   (fa.grad(lambda x: x * 2.0), np.float32(1.5))]:
        for _ in range(2):
            got, want = fun(x), uncached(fun, x)
            assert type(got) is type(want) and np.asarray(got).dtype == np.asarray(want).dtype
            assert got == want


def test_generated_programs_run_any_primitive(fresh):
    from funcad.core import Primitive
    from funcad.jaxpr import Eqn, Jaxpr, Literal, Var

    odd = Primitive("odd_params")  # parameters that are not Python identifiers
    odd.def_impl(lambda x, **kw: x * kw["scale-by"] + kw["class"])
    x, y, z = (Var(fa.core.get_aval(np.ones(3))) for _ in range(3))
    jaxpr = Jaxpr([], [x], [Eqn(odd, [x], {"scale-by": 2.0, "class": 1.0}, [y]),
                            Eqn(odd, [y], {"scale-by": 3.0, "class": 0.0}, [z])],
                  [z, x, Literal(2.0)])
    run = ep.lean_program(jaxpr, [])
    a = np.arange(3.0)
    seen = []
    effect = Primitive("record_it", multiple_results=True)  # no outputs: called for its effect
    effect.def_impl(lambda x: seen.append(x.copy()) or [])
    effectful = ep.lean_program(Jaxpr([], [x], [Eqn(effect, [x], {}, [])], [x]), [])
    np.testing.assert_array_equal(effectful(a)[0], a)
    assert len(seen) == 1 and np.array_equal(seen[0], a)
    out = run(a)
    np.testing.assert_array_equal(out[0], (a * 2.0 + 1.0) * 3.0)
    assert out[1] is not a and np.array_equal(out[1], a)  # an input comes back as a copy
    assert out[2] == 2.0 and isinstance(out[2], np.ndarray)
    assert "def run(" in run.source and run.steps == 2


def test_float32_programs_stay_float32_through_simplify_folding(fresh):
    w32, x32 = W.astype(np.float32), X.astype(np.float32)
    for fun in (fa.grad(lambda w: fnp.mean(fnp.tanh(x32 @ w)) + 0.5 * 1e-2 * (w @ w)),
                fa.hessian(lambda w: fnp.mean(fnp.exp(w) * w) / 3)):
        for _ in range(2):
            got, want = fun(w32), uncached(fun, w32)
            assert got.dtype == want.dtype == np.float32
            np.testing.assert_array_equal(got, want)
    assert fresh()["hits"] == 2


def test_folded_weak_literals_keep_their_weak_type():
    from funcad.backend.simplify import fold_constants
    from funcad.jaxpr import eval_jaxpr
    from funcad.lax import elementwise as ew

    x = np.linspace(0.0, 1.0, 5, dtype=np.float32)
    closed = fa.make_jaxpr(lambda x: x * ew.div(1.0, 1000) + ew.mul(2.0, 3))(x)
    folded = fold_constants(closed.jaxpr)
    assert len(folded.eqns) == 2 and all(type(a) is not ep.Var for a in folded.eqns[1].inputs[1:])
    got = eval_jaxpr(folded, closed.consts, x)[0]
    assert got.dtype == np.float32  # a strong float64 literal would promote it
    np.testing.assert_array_equal(got, eval_jaxpr(closed.jaxpr, closed.consts, x)[0])
    np.testing.assert_array_equal(got, x * np.float32(0.001) + np.float32(6.0))
