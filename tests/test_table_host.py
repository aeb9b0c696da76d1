"""Host steps of the table backend (backend/table_host.py): primitives without native code
run inside a table program by their NumPy implementation, against eager funcad (errors and
printing too); literal operands, constvars and inlined custom calls."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import scipy.special

import funcad as fa
import funcad.numpy as fnp
import funcad.random as fr
import funcad.scipy.linalg as fsl
from funcad.autograd.extend import defvjp, primitive
from funcad.backend import dispatch, table
from funcad.core import Primitive, ShapedArray, bind
from funcad.errors import ShapeError
from funcad.jaxpr import ClosedJaxpr, Jaxpr
from funcad.lax import random as lax_random
from funcad.lax import scatter, special
from funcad.lax.shapes import index_add_p
from funcad.tree_util import tree_leaves


def _kinds():
    return {type(e) for e in dispatch._executables.values()}


def _close(got, want, rtol=1e-12):
    for g, w in zip(tree_leaves(got), tree_leaves(want), strict=True):
        g, w = np.asarray(g), np.asarray(w)
        assert g.shape == w.shape and g.dtype == w.dtype, (g.shape, g.dtype, w.shape, w.dtype)
        np.testing.assert_allclose(g, w, rtol=rtol, atol=rtol, equal_nan=True)


RNG = np.random.default_rng(0)
M = RNG.uniform(0.1, 1.0, (3, 3))
V = RNG.uniform(0.1, 0.9, 4)
U32 = np.arange(5, dtype=np.uint32)


def _spd(m):
    return m @ m.T + 3.0 * fnp.eye(m.shape[0])


def _sin_cube(x):
    return fnp.sin(x) ** 3


_custom = fa.custom_jvp(_sin_cube)
_custom.defjvp(lambda p, t: (_sin_cube(p[0]), 3 * fnp.sin(p[0]) ** 2 * fnp.cos(p[0]) * t[0]))
W = RNG.normal(size=3)  # closed over by the custom_vjp below: a constvar of its body


@fa.custom_vjp
def _scaled(x):
    return fnp.sin(x) * W


_scaled.defvjp(lambda x: (_scaled(x), x), lambda x, g: (g * fnp.cos(x) * W,))


@primitive
def _j0(x):
    return scipy.special.j0(x)


@primitive
def _j1(x):
    return scipy.special.j1(x)


defvjp(_j0, lambda ans, x: lambda g: -g * _j1(x))


def _double(x):  # a pure callback's host function
    return np.asarray(x) * 2.0


PROGRAMS = {
    "special functions": (lambda v: (special.log_ndtr(v), special.ndtri(v), special.erfinv(v) * 2.0,
                                     special.i0e(v), special.i1e(v), special.polygamma(1, v + 0.5),
                                     special.gammainc(v, 1.5 * v), special.gammaincc(v, 2.0),
                                     special.betainc(v, 2.0, v),
                                     special.zeta(v + 1.5, v)), (V,)),
    "cumulative and their gradients (linear_recurrence)": (
        lambda m: (fnp.cumsum(fnp.sin(m), axis=1), fnp.cumprod(m, axis=0),
                   fa.grad(lambda q: fnp.sum(fnp.cumprod(q, axis=1) ** 2))(m)), (M,)),
    "sorting": (lambda m: (fnp.sort(m * 2.0, axis=1), fnp.argsort(m, axis=0), fnp.argmax(m, axis=1),
                           fnp.argmin(m, axis=0)), (M,)),
    "decompositions": (lambda m: (fnp.linalg.cholesky(_spd(m)), fnp.linalg.eigh(_spd(m))[0],
                                  fnp.abs(fnp.linalg.qr(m)[1]), fnp.linalg.svd(m)[1], fnp.linalg.det(m),
                                  fnp.linalg.slogdet(_spd(m))[1], fnp.linalg.pinv(m), fnp.linalg.inv(_spd(m)),
                                  fsl.solve_triangular(fnp.linalg.cholesky(_spd(m)), m, lower=True),
                                  fsl.lu_factor(m)[0]), (M,)),
    "gradient of a determinant and a solve": (fa.grad(lambda m: fnp.linalg.det(m) + fnp.sum(
        fnp.linalg.solve(_spd(m), m[0]))), (M,)),
    "index_set, a gather, index_add at repeated indices": (lambda m: (
        scatter.index_set(m, fnp.sin(m[0, 0]), (), (("int", 0), ("int", 1))), m[:, np.array([2, 0, 2])],
        fa.grad(lambda q: fnp.sum(fnp.sin(q[np.array([0, 0, 2])])))(m)), (M,)),
    "random draws and the gamma gradient": (lambda k, m: (
        fr.uniform(k, (3, 3)) * m, m + fr.normal(k, m.shape), fr.bits(k, (3,), np.uint32),
        fr.gamma(k, m + 0.5), fr.poisson(k, m * 3.0),
        fa.grad(lambda a: fnp.sum(fr.gamma(k, a)))(m + 1.0),
        bind(lax_random.threefry2x32_p, k[0], k[1], U32, U32 + 7)),
        (fr.key(3), M)),
    "fft": (lambda m: (fnp.fft.irfft(fnp.fft.rfft(m), n=3) * 2.0, fnp.fft.rfft(fnp.sin(m))), (M,)),
    "literal operands, full values read as arrays": (lambda m: (
        bind(index_add_p, m, 1.0, template=(("int", 0), ("int", 1))), fnp.cumsum(fnp.ones(4)) + m[0, 0],
        m @ fnp.full((3,), 2.0)), (M,)),
    "custom_jvp, custom_vjp (closed-over array), checkpoint": (lambda v: (
        _custom(v), fa.grad(lambda x: fnp.sum(_custom(x)))(v), _scaled(v[:3]),
        fa.grad(lambda x: fnp.sum(_scaled(x)))(v[:3]), fa.checkpoint(lambda x: fnp.exp(fnp.sin(x)))(v),
        fa.grad(lambda x: fnp.sum(fa.checkpoint(lambda y: fnp.exp(fnp.sin(y)))(x)))(v)), (V,)),
    "pure_callback and an autograd primitive": (lambda v: (
        fa.pure_callback(_double, fa.ShapeDtypeStruct(v.shape, v.dtype), fnp.sin(v)) + 1.0,
        fa.grad(lambda x: fnp.sum(_j0(x) ** 2))(v)), (V,)),
    "outputs: a literal, an input, repeats": (lambda m: (2.0, m, fnp.sort(m), fnp.sort(m), m), (M,)),
}


# (custom calls inline: their bodies are native loops; table_linalg has det and solve natively,
# table_fft the transforms, table_index index_set, gathers and scatter-adds)
HOSTED = [n for n in PROGRAMS
          if not n.startswith(("custom", "gradient of a determinant", "fft", "index_set"))]


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_host_steps_match_eager(table_backend, name):
    f, args = PROGRAMS[name]
    got = fa.jit(f)(*args)
    assert _kinds() == {table.TableProgram}
    _close(got, f(*args))
    if name in HOSTED:
        assert "host[" in fa.jit(f).lower(*args).source


def test_custom_lin_inlined(table_backend):
    """jit(grad) of a custom_vjp function differentiated forward (custom_lin's JVP)."""
    f = fa.jit(fa.jacfwd(lambda x: _scaled(x) * 2.0))
    _close(f(V[:3]), np.diag(2.0 * np.cos(V[:3]) * W))
    assert _kinds() == {table.TableProgram}


def test_a_literal_operand_of_a_native_rule_is_a_constant_buffer(table_backend):
    f = fa.jit(lambda m: bind(index_add_p, m, 1.0, template=(("int", 0), ("int", 1))))
    want = M.copy()
    want[0, 1] += 1.0
    _close(f(M), want)
    assert _kinds() == {table.TableProgram} and "host[" not in f.lower(M).source


def test_arrays_a_call_closes_over_are_constant_buffers(table_backend):
    """A checkpoint call whose body closes over arrays (a 0-d one among them): inlined, the
    arrays become constant buffers of the program, read by kernels and host steps."""
    from funcad.custom_derivatives import remat_p
    from funcad.jaxpr import Eqn, Var

    scale, shift = np.array(2.5), np.array([1.0, -1.0, 0.5, 2.0])
    j = fa.make_jaxpr(lambda s, b, x: fnp.sort(x * s) + b)(scale, shift, V).jaxpr
    body = ClosedJaxpr(Jaxpr(j.invars[:2], j.invars[2:], j.eqns, j.outvars), [scale, shift])
    x, y = Var(j.invars[2].aval), Var(j.outvars[0].aval)
    program = table.build(Jaxpr([], [x], [Eqn(remat_p, [x], {"jaxpr": body}, [y])], [y]))
    assert isinstance(program, table.TableProgram) and len(program.consts) == 2
    _close(program([V])[0], np.sort(V * 2.5) + shift)


def test_constvars_are_constant_buffers(table_backend):
    """A program with constvars takes them as its leading arguments (as codegen does)."""
    closed = fa.make_jaxpr(lambda x: fnp.sort(x * W) + W)(np.ones(3))
    j = closed.jaxpr
    assert j.constvars
    exe = dispatch.executable_for(Jaxpr(j.constvars, j.invars, j.eqns, j.outvars))
    assert isinstance(exe, table.TableProgram)
    _close(exe([*closed.consts, V[:3]])[0], np.sort(V[:3] * W) + W)


def test_module_is_the_same_whatever_the_host_steps(table_backend):
    """Host steps are table entries, not code: two programs that differ only in the primitive
    a host step runs share one compiled module."""
    a = fa.jit(lambda m: fnp.sin(fnp.cumsum(m * 2.0, axis=0))).lower(M).source
    b = fa.jit(lambda m: fnp.sin(fnp.sort(m * 2.0, axis=0))).lower(M).source
    assert a.splitlines()[0] == b.splitlines()[0] and a != b


def _singular():
    return np.array([[1.0, 2.0], [2.0, 4.0]])


def _failing(x):
    raise ValueError(f"user callback failed on {x.shape}")


ERRORS = {
    "not positive definite": lambda m: fnp.linalg.cholesky(m) * 2.0,
    "singular solve": lambda m: fnp.linalg.solve(m, fnp.ones(2)) + 1.0,
    "a callback's error, the prints after it skipped": lambda m: (
        fa.pure_callback(_failing, fa.ShapeDtypeStruct(m.shape, m.dtype),
                         (fa.debug.print("before {}", m[0]), m)[1])
        + (fa.debug.print("after {}", m[1]), 1.0)[1]),
}


def _outcome(f, capsys, jit=True):
    try:
        if jit:
            out = ("result", fa.jit(f)(_singular()).tolist())
        else:
            with fa.disable_jit():
                out = ("result", np.asarray(f(_singular())).tolist())
    except Exception as e:  # noqa: BLE001
        out = ("raised", type(e), str(e))
    return out, capsys.readouterr().out


@pytest.mark.parametrize("name", list(ERRORS))
def test_errors_as_eagerly(table_backend, capsys, name):
    got = _outcome(ERRORS[name], capsys)
    assert _kinds() == {table.TableProgram}
    assert got[0][0] == "raised"
    assert got == _outcome(ERRORS[name], capsys, jit=False)


def test_debug_print_as_eagerly(table_backend, capsys):
    def f(m):
        fa.debug.print("m={m} sum={s}", m=m, s=fnp.sum(m))
        y = fnp.sort(m, axis=1) * 2.0
        fa.debug.print("y={}", y)
        return y

    got = _outcome(f, capsys)
    assert _kinds() == {table.TableProgram} and "y=[[2. 4.]" in got[1]
    assert got == _outcome(f, capsys, jit=False)


def test_a_program_runs_again_after_an_error(table_backend):
    f = fa.jit(lambda m: fnp.linalg.cholesky(m) + 1.0)
    with pytest.raises(np.linalg.LinAlgError):
        f(_singular())
    _close(f(np.eye(2) * 4.0), np.eye(2) * 2.0 + 1.0)


def test_keyboard_interrupt_in_a_callback_reaches_the_caller(table_backend):
    def interrupt(x):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fa.jit(lambda v: fa.pure_callback(interrupt, fa.ShapeDtypeStruct(v.shape, v.dtype), v) * 2.0)(V)


def test_nested_and_reentrant_calls(table_backend):
    """A callback that calls jit programs with host steps, its own among them."""
    inner = fa.jit(lambda x: fnp.cumsum(x) * 2.0)
    depth = []

    def cb(x):
        depth.append(len(depth))
        x = np.asarray(x)
        if len(depth) < 3:  # the outer program itself, twice more, reentrantly
            np.testing.assert_allclose(outer(x), 2.0 * np.cumsum(x) + np.sort(x), rtol=1e-14)
        return inner(x)

    def body(x):
        return fa.pure_callback(cb, fa.ShapeDtypeStruct(x.shape, x.dtype), x) + fnp.sort(x)

    outer = fa.jit(body)
    _close(outer(V), 2.0 * np.cumsum(V) + np.sort(V))
    assert depth == [0, 1, 2]


def test_threads_each_see_their_own_buffers(table_backend):
    def slow(x):
        threading.Event().wait(0.002)  # the other threads run meanwhile
        return np.asarray(x) + 1.0

    f = fa.jit(lambda x: fnp.sort(fa.pure_callback(slow, fa.ShapeDtypeStruct(x.shape, x.dtype), x * 2.0)))
    f(V)
    results, errors = {}, []

    def work(i):
        try:
            for j in range(20):
                x = V + i * 10 + j
                results[i, j] = (f(x), np.sort(x * 2.0 + 1.0))
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 80
    for got, want in results.values():
        np.testing.assert_array_equal(got, want)


def test_an_implementation_disagreeing_with_its_shape_rule_is_a_clear_error(table_backend):
    p = Primitive("wrong_shape_for_test")
    p.def_impl(lambda x: np.concatenate([x, x]))
    p.def_abstract_eval(lambda x: ShapedArray(x.shape, x.dtype))
    want = r"returned a float64\[8\] result where the compiled program expects float64\[4\]"
    with pytest.raises(ShapeError, match=want):
        fa.jit(lambda v: bind(p, v) * 2.0)(V)


def test_control_flow_the_table_cannot_plan_is_one_host_step():
    """cond as one host step (its rule refused: tests/test_table_coverage.py), its branch run
    eagerly by cond's implementation."""
    from funcad.backend import table_host

    j = fa.make_jaxpr(lambda m: fa.lax.cond(fnp.sum(m) > 0, lambda q: q * 2.0, lambda q: q - 1.0, m))(M).jaxpr
    (e,) = [e for e in j.eqns if e.prim.name == "cond"]
    plan = table.Plan(Jaxpr([], j.invars, [], j.invars))
    plan.regions[e.inputs[0]] = plan.fresh(e.inputs[0])
    table_host.host_rule(plan, e)
    assert [type(k).__name__ for k, _ in plan.calls] == ["HostStep"]


def test_host_steps_inside_control_flow(table_backend):
    """Host steps in a scan body read the slices the loop advances (their regions' buffer and
    offset from the call's slots), and in a while body."""
    def f(m):
        c, ys = fa.lax.scan(lambda c, r: (c + fnp.sort(r), fnp.cumsum(r * c)), fnp.zeros(3), m)
        w = fa.lax.while_loop(lambda q: fnp.sum(q) < 20.0, lambda q: fnp.sort(q * 1.5)[::-1], m[0])
        return c, ys, w

    got = fa.jit(f)(M)
    assert _kinds() == {table.TableProgram}
    _close(got, f(M))
