"""One array model: a line that works eagerly works under grad, vmap and jit, and the other way
round: .at[...] on arrays made by funcad.numpy (and NumPy arrays through fnp.asarray), JAX's
out-of-bounds modes, indexing a constant by a traced index, and in-place assignment refused
with the .at form in every mode."""

import numpy as onp
import pytest

import funcad as fa
import funcad.numpy as fnp
from funcad.errors import ConcretizationError
from funcad.test_util import check_grads

MODES = {"eager": lambda f: f, "jit": fa.jit}


@pytest.mark.parametrize("mode", sorted(MODES))
def test_at_on_a_constructed_array_in_every_mode(mode):
    f = lambda x: fnp.sum(fnp.zeros(3).at[0].set(x) ** 2 + fnp.ones(3).at[1:].add(x))  # noqa: E731
    t = MODES[mode]
    assert t(f)(3.0) == 9.0 + 1.0 + 8.0
    assert t(fa.grad(f))(3.0) == 6.0 + 2.0
    onp.testing.assert_allclose(t(fa.vmap(f))(onp.array([1.0, 2.0])), [f(1.0), f(2.0)])


def test_at_on_a_numpy_array_through_asarray():
    data = onp.arange(4.0)
    f = lambda w: fnp.sum(fnp.asarray(data).at[2].multiply(w) * w)  # noqa: E731
    check_grads(f, (1.5,), order=2)
    assert fa.jit(f)(1.5) == f(1.5)
    y = fnp.asarray(data).at[2].multiply(2.0)  # an update keeps .at (JAX's loops of updates)...
    assert isinstance(y, fnp.Array) and not isinstance(fnp.sin(y), fnp.Array)  # ...other results are plain
    for i in range(3):
        y = y.at[i].add(1.0)
    onp.testing.assert_array_equal(y, [1.0, 2.0, 5.0, 3.0])
    assert isinstance(fnp.asarray(data), onp.ndarray)
    assert repr(fnp.zeros(2)) == "array([0., 0.])"


def test_indexing_a_constant_with_a_traced_index():
    # the example: fa.vmap(lambda i: fnp.asarray(onp.arange(5.))[i])
    idx = onp.array([4, 0, 2])
    f = lambda i: fnp.asarray(onp.arange(5.0))[i] * 2.0  # noqa: E731
    onp.testing.assert_array_equal(fa.vmap(f)(idx), [8.0, 0.0, 4.0])
    onp.testing.assert_array_equal(fa.jit(fa.vmap(f))(idx), [8.0, 0.0, 4.0])
    onp.testing.assert_array_equal(fa.jit(f)(2), 4.0)
    table = fnp.asarray(onp.arange(12.0).reshape(3, 4))
    onp.testing.assert_array_equal(fa.vmap(lambda i: table[i, 1:])(idx[1:]), table[[0, 2], 1:])


@pytest.mark.parametrize("transform", ["eager", "grad", "jit", "vmap"])
def test_assignment_of_a_traced_value_raises_the_at_error_everywhere(transform):
    def fill(x):
        y = fnp.zeros(2)
        y[0] = 2.0 * x
        return fnp.sum(y)

    def assign_into_traced(w):
        w[0] = 1.0
        return fnp.sum(w)

    if transform == "eager":  # nothing traced: NumPy's in-place assignment
        y = fnp.zeros(2)
        y[0] = 3.0
        onp.testing.assert_array_equal(y, [3.0, 0.0])
        return
    run = {"grad": fa.grad, "jit": fa.jit, "vmap": fa.vmap}[transform]
    arg = onp.ones(2) if transform == "vmap" else 1.0
    with pytest.raises(ConcretizationError, match=r"y = y\.at\[0\]\.set\(value\)"):
        run(fill)(arg)
    with pytest.raises(ConcretizationError, match=r"\.at\[0\]\.set"):
        run(assign_into_traced)(onp.ones((2, 2)) if transform == "vmap" else onp.ones(2))


def test_at_power_and_modes_match_numpy():
    x = fnp.arange(5.0)
    onp.testing.assert_array_equal(x.at[2].power(3.0), [0, 1, 8, 3, 4])
    check_grads(lambda x: fnp.asarray(x).at[1:3].power(2.5), (onp.arange(1.0, 6.0),), order=2)
    for f in [lambda x, i: x.at[i].set(10.0, mode="drop"), lambda x, i: x.at[i].add(1.0, mode="clip"),
              lambda x, i: x.at[i].get(mode="fill", fill_value=-1.0), lambda x, i: x.at[i].get(mode="clip"),
              lambda x, i: x.at[i].get(mode="fill")]:
        i = onp.array([1, 7, -2, -9])
        eager = f(x, i)
        onp.testing.assert_array_equal(fa.jit(f)(x, i), eager)
        onp.testing.assert_array_equal(fa.vmap(f, in_axes=(None, 0))(x, i), [f(x, j) for j in i])
    i = onp.array([1, 7, -2, -9])
    onp.testing.assert_array_equal(x.at[i].set(10.0, mode="drop"), [0, 10, 2, 10, 4])
    onp.testing.assert_array_equal(x.at[i].add(1.0, mode="clip"), [1, 2, 2, 4, 5])
    onp.testing.assert_array_equal(x.at[i].get(mode="fill", fill_value=-1.0), [1, -1, 3, -1])
    assert onp.isnan(x.at[9].get(mode="fill"))
    onp.testing.assert_array_equal(x.at[i].get(mode="clip"), [1, 4, 3, 0])
    m = fnp.zeros((2, 3))
    onp.testing.assert_array_equal(m.at[..., 5].set(1.0, mode="clip"), [[0, 0, 1], [0, 0, 1]])
    onp.testing.assert_array_equal(m.at[1, 5].set(1.0, mode="drop"), m)
    g = fa.grad(lambda x: fnp.sum(x.at[i].get(mode="fill", fill_value=0.0) ** 2))(x)
    onp.testing.assert_array_equal(g, [0, 2, 0, 6, 0])
    with pytest.raises(ValueError, match="mode"):
        x.at[0].set(1.0, mode="wrap")


def test_array_copies_and_asarray_does_not_as_in_numpy():
    x = onp.zeros(2)
    y = fnp.array(x)
    y[0] = 1.0
    onp.testing.assert_array_equal(x, [0.0, 0.0])
    z = fnp.asarray(x)
    z[1] = 2.0
    onp.testing.assert_array_equal(x, [0.0, 2.0])
