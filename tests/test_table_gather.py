"""Advanced indexing on the table (backend/table_index.py): ``x[idx]`` at index arrays and
``index_add`` there (a gather's gradient) are native loop kernels, not host steps. Each case
is checked against eager funcad and NumPy (``x[idx]``, ``np.add.at``), gradients against
finite differences, and out-of-bounds indices raise eager's (NumPy's) IndexError."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import funcad as fa
import funcad.numpy as fnp
from funcad.backend import table, table_index
from funcad.backend.simplify import simplify
from funcad.lax.shapes import index_add_p
from funcad.test_util import check_grads

RNG = np.random.default_rng(16)


def on_table(f, *args):
    """``jit(f)(*args)`` as the table builds it: (results, program), asserted free of host
    steps and calling at least one gather/scatter-add kernel."""
    entry, leaves = fa.jit(f)._entry(args, {})
    program = table.build(simplify(entry.jaxpr), keep_plan=True)
    kernels = program._plan.kernels
    assert not program.host, [k for k, _ in program._plan.calls if not isinstance(k, int)]
    assert any(type(k) is table_index.Checked for k in kernels)
    return program([*entry.consts, *leaves]), program


def check(f, *args, exact=True):
    """jit(f) on the table == f eagerly (== the NumPy value the caller checks)."""
    got, _ = on_table(f, *args)
    want = f(*args)
    want = want if isinstance(want, tuple) else (want,)
    for g, w in zip(got, want, strict=True):
        w = np.asarray(w)
        assert g.shape == w.shape and g.dtype == w.dtype, (g.shape, g.dtype, w.shape, w.dtype)
        if exact:
            np.testing.assert_array_equal(g, w)
        else:
            np.testing.assert_allclose(g, w, rtol=1e-13, atol=1e-13)
    return got


# -- index patterns, generated: slices, integers, None, Ellipsis and broadcast index arrays ---


@st.composite
def patterns(draw):
    """(x, an index template of Python objects with ("array", k) placeholders, the arrays)."""
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    bshape = tuple(draw(st.lists(st.integers(1, 3), min_size=0, max_size=2)))
    entries, arrays = [], []
    ellipsis = draw(st.booleans()) and len(shape) > 1
    used = draw(st.integers(1, len(shape)))
    for d in range(used):
        n = min(shape) if ellipsis else shape[d]  # (an Ellipsis shifts the axes after it)
        kind = draw(st.sampled_from(["array", "array", "slice", "int", "none"]))
        if kind == "none":
            entries.append(None)
            kind = draw(st.sampled_from(["array", "slice"]))
        if kind == "array":
            sub = bshape[draw(st.integers(0, len(bshape))):]  # (a trailing part: broadcasts)
            sub = tuple(1 if draw(st.booleans()) and draw(st.booleans()) else m for m in sub)
            dt = draw(st.sampled_from([np.int64, np.int32, np.int8, np.uint8, np.intp]))
            lo = 0 if np.dtype(dt).kind == "u" else -n
            arrays.append(np.asarray(draw(st.lists(st.integers(lo, n - 1), min_size=int(np.prod(sub)),
                                                   max_size=int(np.prod(sub))))).astype(dt).reshape(sub))
            entries.append(("array", len(arrays) - 1))
        elif kind == "int":
            entries.append(draw(st.integers(-n, n - 1)))
        else:
            start, stop = draw(st.sampled_from([None, 0, 1, -1])), draw(st.sampled_from([None, 2, -1]))
            entries.append(slice(start, stop, draw(st.sampled_from([None, 1, 2, -1]))))
    if ellipsis:
        entries.insert(draw(st.integers(0, len(entries))), Ellipsis)
    if not arrays:
        arrays.append(np.array([0, -1, 0]))
        entries[next(j for j, t in enumerate(entries) if t is not None and t is not Ellipsis)] = ("array", 0)
    x = RNG.standard_normal(shape)
    return x, entries, arrays


def _index(entries, arrays):
    return tuple(arrays[t[1]] if type(t) is tuple else t for t in entries)


@settings(max_examples=60, deadline=None)
@given(patterns())
def test_gathers_match_numpy_and_eager(case):
    x, entries, arrays = case
    want = x[_index(entries, arrays)]
    got = check(lambda x, *a: fnp.asarray(x)[_index(entries, a)] * 1.0, x, *arrays)
    np.testing.assert_array_equal(got[0], want)


@settings(max_examples=40, deadline=None)
@given(patterns())
def test_scatter_adds_match_np_add_at_and_eager(case):
    """x.at[idx].add(u) with repeated indices accumulating, as np.add.at; u broadcast."""
    x, entries, arrays = case
    region = x[_index(entries, arrays)].shape
    u = RNG.standard_normal(region[1:] if region else ())  # (broadcast over the first axis)
    want = x.copy()
    # (u broadcast first: NumPy 2.4's np.add.at adds [1, 10] at a (2, 2) index of zeros once, 11)
    np.add.at(want, _index(entries, arrays), np.broadcast_to(u, region))
    got = check(lambda x, u, *a: fnp.asarray(x).at[_index(entries, a)].add(u), x, u, *arrays, exact=False)
    np.testing.assert_allclose(got[0], want, rtol=1e-13, atol=1e-13)


@settings(max_examples=40, deadline=None)
@given(patterns())
def test_scatter_sets_match_numpy_assignment_and_eager(case):
    """x.at[idx].set(u): where indices repeat, the last update wins, as in NumPy."""
    x, entries, arrays = case
    region = x[_index(entries, arrays)].shape
    u = RNG.standard_normal(region)
    want = x.copy()
    want[_index(entries, arrays)] = u
    got = check(lambda x, u, *a: fnp.asarray(x).at[_index(entries, a)].set(u), x, u, *arrays)
    np.testing.assert_array_equal(got[0], want)


def test_set_at_basic_and_advanced_indices_and_its_gradient():
    x, u = RNG.standard_normal((4, 5)), RNG.standard_normal((3, 2))
    i = np.array([2, 0, 2])  # (repeated: the last update wins, and gets the derivative)

    def f(x, u, i):
        y = fnp.asarray(fnp.asarray(x).at[1:4, ::2].set(fnp.ones((3, 3)) * u[0, 0])).at[i, 3:].set(u)
        return fnp.sum(fnp.sin(y) * x)

    got, _ = on_table(fa.grad(f, argnums=(0, 1)), x, u, i)
    for g, w in zip(got, fa.grad(f, argnums=(0, 1))(x, u, i), strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-13, atol=1e-15)
    check_grads(lambda x, u: f(x, u, i), (x, u), order=1)


@pytest.mark.parametrize("index", [
    lambda y, a: y[:, a, ..., 0],     # (an Ellipsis of no axes separates advanced indices: (5, 2))
    lambda y, a: y[:, a, 0, ...],     # (adjacent: (2, 5))
    lambda y, a: y[:, a, None, a],    # (None separates them: (5, 2, 1))
    lambda y, a: y[..., a, :, 0],
    lambda y, a: y[None, a, ..., 0],
])
def test_numpys_layout_of_the_broadcast_axes(index):
    y, a = np.arange(24.0).reshape(2, 3, 4), np.array([0, 1, 0, 1, 0])
    got = check(lambda y, a: index(fnp.asarray(y), a), y, a)
    np.testing.assert_array_equal(got[0], index(y, a))


@pytest.mark.parametrize("index", [
    lambda y, a: y[:, a, ..., 0], lambda y, a: y[:, a, 0, ...], lambda y, a: y[None, a, ..., 0],
    lambda y, a: y[1, ..., a], lambda y, a: y[:, 1, ..., a],
])
@pytest.mark.parametrize("axes", [(0, None), (None, 0), (0, 0)])
def test_vmap_of_those_layouts_matches_a_loop_eagerly_and_under_jit(index, axes):
    """(vmap's rule once expanded the Ellipsis first: the broadcast axes moved)"""
    y, a = np.arange(24.0).reshape(2, 3, 4), np.array([0, 1, 0, 1, 0])
    args = (np.stack([y, y + 1]) if axes[0] == 0 else y, np.stack([a, a[::-1]]) if axes[1] == 0 else a)
    want = np.stack([index(*[v[b] if d == 0 else v for v, d in zip(args, axes)]) for b in range(2)])
    f = fa.vmap(lambda y, a: index(fnp.asarray(y), a), axes)
    np.testing.assert_array_equal(f(*args), want)
    np.testing.assert_array_equal(fa.jit(f)(*args), want)
    g = fa.vmap(lambda y, a: fnp.asarray(y).at[index(_Spy(), a)].add(1.0), axes)
    want = np.stack([fnp.asarray(v).at[index(_Spy(), i)].add(1.0) for v, i in
                     zip(*[v if d == 0 else [v, v] for v, d in zip(args, axes)])])
    np.testing.assert_array_equal(g(*args), want)
    np.testing.assert_array_equal(fa.jit(g)(*args), want)


class _Spy:
    """``_Spy()[idx]`` is ``idx``."""

    def __getitem__(self, idx):
        return idx


# -- real programs ----------------------------------------------------------------------------


def test_embedding_lookup_and_its_gradient_repeated_tokens_accumulate():
    W = RNG.standard_normal((50, 8))
    tokens = RNG.integers(0, 50, 64)  # (repeats)

    def loss(W, tokens):
        return fnp.sum(fnp.tanh(W[tokens]) ** 2)

    check(lambda W, t: fnp.tanh(W[t]), W, tokens, exact=False)
    (g,), _ = on_table(fa.grad(loss), W, tokens)
    want = np.zeros_like(W)
    np.add.at(want, tokens, 2 * np.tanh(W[tokens]) / np.cosh(W[tokens]) ** 2)
    np.testing.assert_allclose(g, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(g, fa.grad(loss)(W, tokens), rtol=1e-13, atol=1e-13)
    check_grads(lambda W: loss(W, tokens[:10]), (W,), order=2)


def test_softmax_cross_entropy_gradient_picks_each_rows_label():
    logits = RNG.standard_normal((32, 10))
    labels = RNG.integers(0, 10, 32)

    def loss(z, y):  # the JAX docs' softmax cross-entropy, labels as integers
        logp = z - fa.scipy.special.logsumexp(z, axis=1, keepdims=True)
        return -fnp.mean(logp[fnp.arange(z.shape[0]), y])

    (g,), _ = on_table(fa.grad(loss), logits, labels)
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    np.testing.assert_allclose(g, (p - np.eye(10)[labels]) / 32, rtol=1e-12, atol=1e-15)
    check_grads(lambda z: loss(z, labels), (logits,), order=1)


def test_take_take_along_axis_and_batched_gathers_under_vmap():
    x = RNG.standard_normal((5, 6))
    idx = np.array([[0, 5, 2], [1, 1, -1], [4, 0, 3], [2, 2, 2], [5, 4, 3]])
    check(lambda x, i: fnp.take(x, i[0], axis=1), x, idx)
    check(lambda x, i: fnp.take_along_axis(x, i, axis=1), x, idx)
    check(lambda x, i: fa.vmap(lambda r, j: r[j])(x, i), x, idx)
    check_grads(lambda x: fa.vmap(lambda r, j: r[j] * r[0])(x, idx), (x,), order=1)


def test_gathers_and_scatters_in_a_scan_body_step_with_its_slices():
    W, I = RNG.standard_normal((10, 3)), RNG.integers(-10, 10, (6, 4))

    def f(W, I):
        W = fnp.asarray(W)
        return fa.lax.scan(lambda c, i: (c + fnp.sum(W[i], 0), fnp.asarray(c).at[i[0] % 3].add(1.0)),
                           fnp.zeros(3), I)

    check(f, W, I, exact=False)
    check(fa.grad(lambda W: fnp.sum(f(W, I)[0] ** 2)), W, exact=False)
    J = I.copy()
    J[3, 2] = 12  # (a bad index in the fourth step)
    assert _error(fa.jit(f), W, J) == _error(f, W, J) == "index 12 is out of bounds for axis 0 with size 10"


@pytest.mark.parametrize("dt", [np.int32, np.int64, np.uint8, np.complex128, np.float32, np.bool_])
def test_dtypes_gather_and_integer_and_complex_scatter_add(dt):
    x = (RNG.standard_normal((4, 3)) * 10).astype(dt) if dt is not np.complex128 else \
        RNG.standard_normal((4, 3)) + 1j * RNG.standard_normal((4, 3))
    idx = np.array([3, 0, 3, -1], np.int32)
    check(lambda x, i: fnp.asarray(x)[i, ::-1], x, idx)
    if dt is not np.bool_:
        want = x.copy()
        np.add.at(want, (idx, slice(None, None, -1)), x[:4])
        got = check(lambda x, i: fnp.asarray(x).at[i, ::-1].add(x), x, idx)
        np.testing.assert_array_equal(got[0], want)


# -- out-of-bounds indices: eager's error, never a read or write outside x --------------------


def _error(f, *args):
    with pytest.raises(IndexError) as e:
        f(*args)
    return str(e.value)


@pytest.mark.parametrize("index", [
    lambda x, i, j: x[i],
    lambda x, i, j: x[i[:2], j],
    lambda x, i, j: x[j[:, None], i],
    lambda x, i, j: x[:, i],
    lambda x, i, j: x[i, 0:0],                    # (an empty result: still checked, as NumPy)
    lambda x, i, j: fnp.asarray(x).at[i].add(1.0),
    lambda x, i, j: fnp.asarray(x).at[:, j].add(x[:, :2]),
])
@pytest.mark.parametrize("bad", [(np.array([0, 9, 1]), np.array([5, 1])),
                                 (np.array([0, -5, 1]), np.array([-5, 1])),
                                 (np.array([1, 2, 4]), np.array([1, 4]))])
def test_out_of_bounds_indices_raise_eagers_indexerror(index, bad):
    x = RNG.standard_normal((4, 4))
    f = fa.jit(index)
    ok = (np.array([0, -1, 3]), np.array([-4, 3]))
    np.testing.assert_array_equal(f(x, *ok), index(x, *ok))
    assert _error(f, x, *bad) == _error(index, x, *bad)
    np.testing.assert_array_equal(f(x, *ok), index(x, *ok))  # (the status words reset)


def test_a_bad_index_stops_the_program_before_later_steps():
    seen = []

    def f(x, i):
        y = x[i] * 2.0
        return fa.pure_callback(lambda v: seen.append(1) or v, y, y)

    x = RNG.standard_normal((3, 2))
    fa.jit(f)(x, np.array([2, 0]))
    assert len(seen) == 1
    with pytest.raises(IndexError, match="index 3 is out of bounds for axis 0 with size 3"):
        fa.jit(f)(x, np.array([0, 3]))
    assert len(seen) == 1


def test_a_rare_case_is_a_host_step_with_eagers_result():
    from funcad.backend import table_host  # noqa: F401

    x = np.arange(6.0).reshape(2, 3)
    i = np.array([0, 1, 1])  # (updates of another dtype than x)
    g = lambda x, u, i: index_add_p.bind(x, u, i, template=(("array", 0),))  # noqa: E731
    u = np.ones((3, 3), np.float32)
    entry, leaves = fa.jit(g)._entry((x, u, i), {})
    program = table.build(simplify(entry.jaxpr))
    want = x.copy()
    np.add.at(want, i, u)
    assert program.host
    np.testing.assert_array_equal(program([*entry.consts, *leaves])[0], want)
