"""Regressions: every failure the property search (tests/test_properties.py) or the fault and
scale tests ever found, as a plain test of the program that failed, with what it checks.

Add one here for each new failure: paste the program hypothesis printed (replace ``ns.`` by
``fnp.``), and assert the property that failed against an independent reference. Failures
of other test files that have their own regression test are listed at the end."""

import warnings

import numpy as np
import scipy.special as sc

import funcad as fa
import funcad.numpy as fnp


def test_jit_cumsum_float32_then_float64_in_one_process():
    """Found by test_jit_matches_eager (first CI run): ``cumsum`` lowered through an objmode
    call whose registry key ignored dtypes, so the float64 program ran the float32 entry
    ("can't unbox array" / ValueError). Fixed in the backend (keys include dtypes)."""
    def program(x0):
        return fnp.cumsum(x0, axis=0)

    for dtype in (np.float32, np.float64):
        for n in (2, 1, 0, 3):
            x = np.linspace(-1.0, 1.0, n).astype(dtype)
            out = fa.jit(program)(x)
            assert out.dtype == dtype
            np.testing.assert_allclose(out, np.cumsum(x), rtol=1e-6)


def test_softmax_and_logsumexp_of_empty_axes():
    """Found while widening the program generator: fa.nn.softmax/logsumexp of an array with an
    empty axis raised (max of nothing); now an empty result, and -inf for logsumexp over an
    empty axis, as scipy.special.logsumexp (and JAX)."""
    for shape, axis in [((2, 0), -1), ((0, 3), -1), ((0,), None), ((2, 0), 0)]:
        x = np.ones(shape)
        assert fa.nn.softmax(x, axis=-1 if axis is None else axis).shape == shape
        np.testing.assert_array_equal(fa.nn.logsumexp(x, axis=axis), sc.logsumexp(x, axis=axis))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert fa.jit(fa.nn.softmax)(np.ones((2, 0))).shape == (2, 0)


def test_einsum_broadcasting_ellipsis_axes_differentiates():
    """Found by the long search (test_jvp_and_vjp_are_adjoint, test_check_grads_...): einsum
    broadcasts '...' axes of size 1 as NumPy does eagerly, but its derivative staged an einsum
    with unequal sizes ("index 'A' has sizes 2 and 1"). funcad.numpy.einsum now broadcasts
    the operands first. The shrunk programs:"""
    from funcad.test_util import check_grads

    def program_a(x0):  # float64[1, 1, 2]
        v0 = fnp.transpose(x0)
        v1 = v0 + x0
        v2 = fnp.sin(v1)
        v3 = fnp.sin(v2)
        v4 = fnp.einsum("...i,...i->...", v3, x0)
        return (v4, v3)

    def program_b(x0):  # float64[1, 2, 1]
        v0 = fnp.sum(x0, axis=1)
        v1 = fnp.sin(v0)
        v2 = fnp.sin(v1)
        v3 = fnp.einsum("...i,...i->...", v2, x0)
        return (v3, v2)

    rng = np.random.default_rng(0)
    for program, shape in [(program_a, (1, 1, 2)), (program_b, (1, 2, 1))]:
        x0 = rng.uniform(-2.0, 2.0, shape)
        check_grads(program, (x0,), order=2)
    a, b = np.arange(4.0).reshape(2, 2), np.array([[1.0, 2.0]])
    ga, gb = fa.grad(lambda a, b: fnp.sum(fnp.einsum("...i,...i->...", a, b)), (0, 1))(a, b)
    np.testing.assert_allclose(ga, np.broadcast_to(b, (2, 2)))  # d/da sum(a * b) = b
    np.testing.assert_allclose(gb, a.sum(axis=0, keepdims=True))  # summed over the broadcast
    np.testing.assert_allclose(fa.jit(lambda a, b: fnp.einsum("...i,...i->...", a, b))(a, b),
                               np.einsum("...i,...i->...", a, b))


# Found by the other reliability tests, with their regression test where they live:
# * Numba code files copied from another cache entry with the same signature ran the other
#   program (a wrong result, silently): test_cache_faults.py::test_another_programs_object_code_in_the_entry_is_not_run
# * A 100,000-operation program under jit compiled for more than 5 minutes: now
#   ProgramTooLargeError,
#   test_scale.py::test_a_100k_operation_program_traces_differentiates_and_jit_refuses_clearly
# * vmap over string/object/datetime arrays escaped as NumPy TypeErrors: now DTypeError,
#   test_errors_catalogue.py::test_unsupported_arguments_give_a_clear_error_in_every_transformation
