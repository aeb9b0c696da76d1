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


# Found by the other reliability tests, with their regression test where they live:
# * Numba code files copied from another cache entry with the same signature ran the other
#   program (a wrong result, silently): test_cache_faults.py::test_numba_files_swapped_with_another_programs
# * A 100,000-operation program under jit compiled for more than 5 minutes: now
#   ProgramTooLargeError, test_scale.py::test_a_100k_operation_program_traces_differentiates_and_jit_refuses_clearly
# * vmap over string/object/datetime arrays escaped as NumPy TypeErrors: now DTypeError,
#   test_errors_catalogue.py::test_unsupported_arguments_give_a_clear_error_in_every_transformation
