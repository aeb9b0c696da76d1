"""The bad-input catalogue (funcad_tour/errors_catalogue.py -> docs/errors.md): every listed mistake
raises its own class with a real message, docs/errors.md shows the messages the code produces
now, unsupported argument types never escape as internal errors, and NaN/inf inputs propagate
as in NumPy (eager and jit). More targeted error tests live in test_errors.py, test_vmap.py,
test_control_flow.py and test_debug_nans.py; this file checks the catalogue as a whole."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

import funcad as fa
import funcad.numpy as fnp
from funcad import errors
from funcad_tour.errors_catalogue import (
    CASES,
    NAN_INF_FUNCTIONS,
    NAN_INF_INPUTS,
    missing_extras,
    render,
    run_case,
)

DOC = Path(__file__).resolve().parent.parent / "docs" / "errors.md"


@pytest.mark.parametrize("case", CASES, ids=[c.key for c in CASES])
def test_each_mistake_raises_its_class_with_a_message(case):
    if case.needs:
        pytest.importorskip(case.needs)
    err = run_case(case)
    expected = getattr(errors, case.error)
    assert type(err) is expected, f"{case.key}: {type(err).__name__}: {err}"
    assert isinstance(err, errors.FuncadError) and isinstance(err, (ValueError, TypeError,
                                                                   RuntimeError, ArithmeticError))
    assert len(str(err)) > 40  # a sentence, not a bare assertion


def test_docs_errors_md_is_up_to_date():
    if missing_extras():
        pytest.skip(f"docs/errors.md is generated with the optional extras installed: {missing_extras()}")
    assert DOC.read_text() == render(), (
        "docs/errors.md is stale: regenerate it with `python -m funcad_tour.errors_catalogue > docs/errors.md`")


def test_the_catalogue_covers_every_error_class_raised_on_bad_input():
    raised = {c.error for c in CASES}
    internal = {"FuncadError", "NonScalarObjectiveError", "IntegerParameterError", "NonFiniteError",
                "NotCallableError"}  # the base, and the optimizers' own (tested in test_optimize.py)
    classes = {n for n, v in vars(errors).items()
               if isinstance(v, type) and issubclass(v, errors.FuncadError)}
    assert classes - internal <= raised, classes - internal - raised


# --------------------------------------------------------------------------------------
# Unsupported argument types across every transformation


class Thing:
    def __repr__(self):
        return "Thing()"


BAD_ARGUMENTS = {
    "str": "abc", "bytes": b"ab", "list of str": ["a", "b"], "dict of str": {"a": "x"},
    "object array": np.array([1.0, "a"], dtype=object), "str array": np.array(["a", "b"]),
    "datetime array": np.array(["2020-01-01"], dtype="datetime64[D]"), "set": {1.0},
    "instance": Thing(), "function": len, "Ellipsis": ..., "slice": slice(1), "None": None,
    "complex": 1j, "complex array": np.ones(2, complex), "int": 3, "bool array": np.ones(2, bool),
}


def _f(x):
    return fnp.sum(fnp.sin(x))


TRANSFORMS = {
    "grad": lambda x: fa.grad(_f)(x), "value_and_grad": lambda x: fa.value_and_grad(_f)(x),
    "jit": lambda x: fa.jit(fnp.sin)(x), "vmap": lambda x: fa.vmap(fnp.sin)(x),
    "jvp": lambda x: fa.jvp(fnp.sin, (x,), (x,)), "vjp": lambda x: fa.vjp(fnp.sin, x),
    "jacfwd": lambda x: fa.jacfwd(fnp.sin)(x), "jacrev": lambda x: fa.jacrev(fnp.sin)(x),
    "hessian": lambda x: fa.hessian(_f)(x), "make_jaxpr": lambda x: fa.make_jaxpr(fnp.sin)(x),
    "linearize": lambda x: fa.linearize(fnp.sin, x),
}

# Valid inputs for some transformations, with NumPy's meaning: sin of an int or a bool array
# is a float (NumPy's rule); jvp/vjp/make_jaxpr/vmap/jit of complex values compute (grad,
# jacfwd, jacrev and hessian of sin(z) need holomorphic=True, as in JAX).
ACCEPTED = {(n, t) for n in ("int", "complex") for t in ("jit", "jvp", "vjp", "make_jaxpr", "linearize")} | {
    (n, t) for n in ("bool array", "complex array")
    for t in ("jit", "vmap", "jvp", "vjp", "make_jaxpr", "linearize")}


@pytest.mark.parametrize("transform", sorted(TRANSFORMS))
def test_unsupported_arguments_give_a_clear_error_in_every_transformation(transform):
    unclear = []
    for name, bad in BAD_ARGUMENTS.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                TRANSFORMS[transform](bad)
            except errors.FuncadError:
                continue
            except Exception as e:  # noqa: BLE001 - collected and reported
                unclear.append(f"{name}: {type(e).__name__}: {e}")
                continue
        if (name, transform) not in ACCEPTED:
            unclear.append(f"{name}: accepted without error")
    assert not unclear, "\n".join(unclear)


# --------------------------------------------------------------------------------------
# NaN and inf: no error, NumPy's values, eagerly and under jit


@pytest.mark.parametrize("expr", NAN_INF_FUNCTIONS)
def test_nan_and_inf_propagate_as_in_numpy(expr):
    x = eval(NAN_INF_INPUTS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = eval(expr, {"fnp": np, "x": x})
        eager = eval(expr, {"fnp": fnp, "x": x})
        compiled = fa.jit(lambda x: eval(expr, {"fnp": fnp, "x": x}))(x)
        g = fa.grad(lambda x: fnp.sum(eval(expr, {"fnp": fnp, "x": x})))(x)  # never crashes
    np.testing.assert_array_equal(eager, expected)
    # The same NaNs and infs exactly; finite values within jit's vector math's 4 ulp
    # (backend/vecmath.py: libmvec, where NumPy may call glibc's scalar functions).
    compiled = np.asarray(compiled)
    finite = np.isfinite(expected)
    np.testing.assert_array_equal(np.where(finite, 0.0, compiled), np.where(finite, 0.0, expected))
    np.testing.assert_array_max_ulp(compiled[finite], expected[finite], maxulp=4)
    assert g.shape == x.shape


def test_the_catalogue_runs_without_the_optional_extras(monkeypatch):
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "dask" else find_spec(name, *a))
    assert missing_extras() == ["dask"]
    assert {c.needs for c in CASES} == {"", "dask"}
