"""The jaxpr: its pretty-printed text (a tested interface), eval_jaxpr against the function,
and typecheck_jaxpr on the jaxpr of every transformation."""

import numpy as np
import pytest

import funcad as fa
import funcad.numpy as fnp
from funcad.jaxpr import JaxprTypeError, Literal, Var, eval_jaxpr, typecheck_jaxpr


def test_pretty_printer_one_equation():
    assert str(fa.make_jaxpr(fnp.sin)(np.zeros(3))) == "{ lambda ; a:f64[3]. let b:f64[3] = sin a in (b,) }"


def test_pretty_printer_multiline_params_consts_and_literals():
    out = str(fa.make_jaxpr(lambda x: fnp.sum(x * 2.0, axis=0) + np.ones(2))(np.ones((3, 2), np.float32)))
    assert out == (
        "{ lambda a:f64[2] ; b:f32[3,2]. let\n"
        "    c:f32[3,2] = mul b 2.0\n"
        "    d:f32[2] = reduce_sum[axes=(0,)] c\n"
        "    e:f64[2] = convert_element_type[new_dtype=float64] d\n"
        "    f:f64[2] = add e a\n"
        "  in (f,) }")


def test_pretty_printer_reverse_accumulation_example():
    f = lambda x1, x2: x1 * x2 + fnp.sin(x1)  # noqa: E731
    assert str(fa.make_jaxpr(f)(1.0, 2.0)) == (
        "{ lambda ; a:f64[] b:f64[]. let\n"
        "    c:f64[] = mul a b\n"
        "    d:f64[] = sin a\n"
        "    e:f64[] = add c d\n"
        "  in (e,) }")


def test_pretty_printer_identity_and_literal_outputs_and_many_names():
    assert str(fa.make_jaxpr(lambda x: (x, 2.0))(np.ones(3))) == "{ lambda ; a:f64[3]. let in (a, 2.0) }"

    def chain(x):
        for _ in range(30):
            x = fnp.sin(x)
        return x

    text = str(fa.make_jaxpr(chain)(1.0))
    assert "z:f64[] = sin y" in text and "ba:f64[] = sin z" in text and "in (be,) }" in text


def _f(x, y):
    return fnp.sum(fnp.tanh(x @ y) * fnp.exp(-x[:, :1])) + fnp.max(y) ** 2


ARGS = (np.linspace(-1, 1, 6).reshape(2, 3), np.linspace(0, 1, 12).reshape(3, 4))

TRANSFORMS = {
    "f": lambda: _f,
    "grad": lambda: fa.grad(_f),
    "grad_argnums": lambda: fa.grad(_f, argnums=(0, 1)),
    "value_and_grad": lambda: fa.value_and_grad(_f, argnums=1),
    "jvp": lambda: (lambda x, y: fa.jvp(_f, (x, y), (x, y))),
    "vjp": lambda: (lambda x, y: fa.vjp(_f, x, y)[1](1.0)),
    "linearize": lambda: (lambda x, y: fa.linearize(_f, x, y)[1](x, y)),
    "jacfwd": lambda: fa.jacfwd(_f),
    "jacrev": lambda: fa.jacrev(lambda x, y: fnp.tanh(x @ y), argnums=1),
    "hessian": lambda: fa.hessian(_f),
    "grad_grad": lambda: fa.grad(lambda x, y: fa.grad(_f)(x, y).sum()),
    "egrad": lambda: fa.elementwise_grad(lambda x, y: fnp.sin(x) * 2.0),
    "jacfwd_jacrev": lambda: fa.jacfwd(fa.jacrev(_f, argnums=1), argnums=1),
}


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_every_transformation_produces_a_well_typed_jaxpr_that_evaluates_right(name):
    fun = TRANSFORMS[name]()
    closed = fa.make_jaxpr(fun)(*ARGS)
    typecheck_jaxpr(closed.jaxpr)
    expected = fa.tree_util.tree_leaves(fun(*ARGS))
    got = closed(*ARGS)
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_transformations_of_a_staged_jaxpr_typecheck(name):
    # The linear jaxpr built by linearize (what reverse mode transposes) is typechecked too.
    from funcad import ad

    fun = TRANSFORMS[name]()
    flat = lambda *a: fa.tree_util.tree_leaves(fun(*a))  # noqa: E731
    _, lin_jaxpr, _ = ad.linearize_flat(flat, list(ARGS))
    typecheck_jaxpr(lin_jaxpr)


def test_typecheck_catches_bad_jaxprs():
    closed = fa.make_jaxpr(lambda x: fnp.sin(x) * 2.0)(np.ones(3))
    jaxpr = closed.jaxpr
    typecheck_jaxpr(jaxpr)
    # use before definition
    eqns = list(reversed(jaxpr.eqns))
    with pytest.raises(JaxprTypeError, match="before it is defined"):
        typecheck_jaxpr(type(jaxpr)(jaxpr.constvars, jaxpr.invars, eqns, jaxpr.outvars))
    # a declared output type that the rule does not give
    eqn = jaxpr.eqns[0]
    bad = eqn._replace(outputs=[Var(fa.core.ShapedArray((4,), np.float64))])
    with pytest.raises(JaxprTypeError, match="declared outputs"):
        typecheck_jaxpr(type(jaxpr)(jaxpr.constvars, jaxpr.invars, [bad], bad.outputs))


def test_eval_jaxpr_runs_under_other_transformations():
    closed = fa.make_jaxpr(lambda x: fnp.sum(fnp.sin(x) ** 2))(np.ones(3))
    g = fa.grad(lambda x: eval_jaxpr(closed.jaxpr, closed.consts, x)[0])(np.arange(3.0))
    np.testing.assert_allclose(g, 2 * np.sin(np.arange(3.0)) * np.cos(np.arange(3.0)))


def test_make_jaxpr_static_argnums_and_pytrees():
    closed = fa.make_jaxpr(lambda d, n: d["a"] ** n, static_argnums=1)({"a": np.ones(2)}, 3)
    assert "integer_pow[y=3]" in str(closed)
    assert closed.in_avals == [fa.core.ShapedArray((2,), np.float64)]
    assert isinstance(closed.jaxpr.eqns[0].inputs[0], Var) and not isinstance(closed.jaxpr.eqns[0].inputs[0], Literal)
