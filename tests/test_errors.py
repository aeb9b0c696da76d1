"""Errors: each failure mode raises its own class, with the user's names, shapes and dtypes and
a fix, never a bare assertion or a deep NumPy error."""

import numpy as np
import pytest

import funcad as fa
import funcad.numpy as fnp
from funcad import errors


def test_grad_of_non_scalar_output_gives_the_shape_and_suggests_jacrev_or_sum():
    def predict(w):
        return w * 2.0

    with pytest.raises(errors.NonScalarOutputError) as e:
        fa.grad(predict)(np.ones((3, 2)))
    msg = str(e.value)
    assert "predict" in msg and "(3, 2)" in msg and "jacrev" in msg and "sum" in msg
    assert isinstance(e.value, TypeError)  # and the built-in class a NumPy user expects
    with pytest.raises(errors.NonScalarOutputError, match="2 arrays"):
        fa.grad(lambda x: (x, x))(1.0)


def test_grad_with_respect_to_an_integer_input_names_the_argument():
    with pytest.raises(errors.DTypeError) as e:
        fa.grad(lambda weights, n: fnp.sum(weights * n), argnums=1)(np.ones(3), np.arange(3))
    msg = str(e.value)
    assert "n has dtype int64" in msg and "astype(float)" in msg and "argnums" in msg
    with pytest.raises(errors.DTypeError, match=r"3\.0 rather than 3"):
        fa.grad(lambda x: x * 2.0)(3)
    with pytest.raises(errors.DTypeError, match=r"params\['k'\] has dtype int32"):
        fa.grad(lambda params: params["w"] * 1.0)({"w": 1.0, "k": np.int32(2)})
    with pytest.raises(errors.DTypeError, match="real floating-point output"):
        fa.grad(lambda x: fnp.sum(x > 0))(np.ones(3))


@pytest.mark.parametrize("fun,shapes", [
    (lambda x, y: fnp.add(x, y), "(3,) and (4,)"),
    (lambda x, y: fnp.multiply(x, fnp.sin(y)), "(3,) and (4,)"),
    (lambda x, y: fnp.where(x > 0, x, y), "(3,) and (4,)"),
])
def test_incompatible_shapes_give_the_users_shapes(fun, shapes):
    x, y = np.ones(3), np.ones(4)
    for call in (lambda: fun(x, y), lambda: fa.grad(lambda x: fnp.sum(fun(x, y)))(x),
                 lambda: fa.make_jaxpr(fun)(x, y)):
        with pytest.raises(errors.ShapeError, match="cannot be broadcast") as e:
            call()
        assert shapes in str(e.value) and "reshape" in str(e.value)
        assert isinstance(e.value, ValueError)


def test_shape_errors_of_products_and_shape_functions():
    cases = [
        (lambda: fa.grad(lambda a, b: fnp.sum(a @ b))(np.ones((2, 3)), np.ones((2, 3))), r"\(2, 3\) and \(2, 3\)"),
        (lambda: fnp.reshape(np.ones(3), (4,)), r"shape \(3,\)"),
        (lambda: fnp.concatenate([np.ones((2, 3)), np.ones((2, 2))]), r"\(2, 3\), \(2, 2\)"),
        (lambda: fnp.einsum("ij,jk", np.ones((2, 3)), np.ones((2, 3))), "index 'j' has sizes 3 and 2"),
        (lambda: fnp.broadcast_to(np.ones(3), (2, 4)), r"\(3,\) cannot be broadcast to \(2, 4\)"),
        (lambda: fnp.stack([np.ones(2), np.ones(3)]), "same shape"),
        (lambda: fnp.tensordot(np.ones((2, 3)), np.ones((3, 3))), "shape-mismatch"),
        (lambda: fnp.linalg.solve(np.eye(3), np.ones(2)), r"\(2, 1\)"),
        (lambda: fa.jvp(fnp.sin, (np.ones(3),), (np.ones(2),)), "tangent for x has shape"),
        (lambda: fa.vjp(fnp.sin, np.ones(3))[1](np.ones(2)), "cotangent has shape"),
    ]
    for call, pattern in cases:
        with pytest.raises(errors.ShapeError, match=pattern):
            call()


_leaked = []


def test_a_traced_value_escaping_its_transformation():
    def loss(w):
        h = fnp.tanh(w)
        _leaked.append(h)  # stored in a global during grad
        return fnp.sum(h)

    fa.grad(loss)(np.ones(2))
    tracer = _leaked.pop()
    uses = [lambda: tracer + 1.0, lambda: fnp.sin(tracer), lambda: float(tracer[0]),
            lambda: fa.grad(lambda w: fnp.sum(w * tracer))(np.ones(2)),
            lambda: fa.make_jaxpr(lambda w: w * tracer)(np.ones(2)),
            lambda: bool(tracer[0] > 0)]
    for use in uses:
        with pytest.raises(errors.UnexpectedTracerError) as e:
            use()
        assert "f64[2]" in str(e.value) or "f64[]" in str(e.value)
        assert "has_aux" in str(e.value)  # the fix
    # the same from make_jaxpr
    fa.make_jaxpr(lambda w: _leaked.append(w * 2) or w)(np.ones(3))
    with pytest.raises(errors.UnexpectedTracerError):
        _leaked.pop() * 2.0


def test_numpy_function_funcad_does_not_support_is_named():
    with pytest.raises(errors.UnsupportedFunctionError, match=r"numpy\.unwrap"):
        fa.grad(lambda x: fnp.sum(np.unwrap(x)))(np.ones(4))
    with pytest.raises(errors.UnsupportedFunctionError, match=r"numpy\.frexp"):
        fa.grad(lambda x: fnp.sum(np.frexp(x)[0]))(np.ones(2))
    with pytest.raises(errors.UnsupportedFunctionError, match=r"numpy\.add\.accumulate"):
        fa.grad(lambda x: fnp.sum(np.add.accumulate(x)))(np.ones(2))
    # a function funcad does support is dispatched, even from a NumPy submodule
    g = fa.grad(lambda A: fnp.sum(np.linalg.solve(A, np.ones(2))))(2 * np.eye(2))
    np.testing.assert_allclose(fa.grad(lambda x: fnp.sum(np.fft.rfft(x).real))(np.ones(4)), [3, 0, 1, 0])
    np.testing.assert_allclose(g, -0.25 * np.ones((2, 2)))


def test_numpy_conversion_of_a_tracer():
    with pytest.raises(errors.TracerArrayConversionError, match="funcad.numpy"):
        fa.grad(lambda x: float(np.asarray(x).sum()))(np.ones(2))


def test_concretization_under_make_jaxpr_names_the_argument():
    def f(x, threshold):
        return x if threshold > 0 else -x

    with pytest.raises(errors.ConcretizationError, match="argument threshold") as e:
        fa.make_jaxpr(f)(1.0, 2.0)
    assert "static" in str(e.value)


def test_bad_arguments_to_transformations():
    with pytest.raises(errors.ArgumentError, match="argnums=2"):
        fa.grad(lambda x: x, argnums=2)(1.0)
    with pytest.raises(errors.ArgumentError, match="lossfn .*has_aux=True"):
        def lossfn(x):
            return x
        fa.grad(lossfn, has_aux=True)(1.0)
    with pytest.raises(errors.ArgumentError, match="tuples"):
        fa.jvp(fnp.sin, 1.0, 1.0)
    with pytest.raises(errors.TreeStructureError):
        fa.vjp(lambda x: (x, x), 1.0)[1](1.0)
    with pytest.raises(errors.DTypeError, match="str"):
        fa.grad(lambda x: x)("a")
    with pytest.raises(errors.DTypeError, match="complex"):
        fa.grad(lambda x: x)(1j)


def test_every_error_class_is_a_funcad_error_and_a_builtin():
    for cls in (errors.ShapeError, errors.DTypeError, errors.NonScalarOutputError,
                errors.UnexpectedTracerError, errors.ConcretizationError,
                errors.TracerArrayConversionError, errors.UnsupportedFunctionError,
                errors.ArgumentError, errors.TreeStructureError):
        assert issubclass(cls, errors.FuncadError)
        assert issubclass(cls, (ValueError, TypeError, RuntimeError))
