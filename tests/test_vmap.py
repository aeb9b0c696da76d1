"""vmap: every batching rule against a Python loop over slices (check_vmap), with the batch
axis at 0, 1 and -1 and unbatched operands, in float32 and float64; compositions with grad
and jacobians; the errors; and the structure of batched programs (one GEMM, not a loop)."""

import importlib
import pkgutil

import numpy as np
import pytest

import funcad as fa
import funcad.numpy as fnp
from funcad import batching, lax
import funcad.lax.cumulative  # noqa: F401
import funcad.lax.decompositions  # noqa: F401
import funcad.lax.scatter  # noqa: F401
from funcad.core import Primitive, bind
from funcad.errors import BatchingError, ConcretizationError
from funcad.lax import elementwise as ew
from funcad.lax import linalg as la
from funcad.lax import reductions as red
from funcad.lax import shapes as sh
from funcad.test_util import check_vmap

B = 3
DTYPES = [np.float64, np.float32]
AXES = [0, 1, -1]


def batched(rng, shape, axis, dtype=np.float64, low=0.2, high=0.9):
    """A random array of per-example ``shape`` with a batch of B inserted at ``axis``."""
    full = list(shape)
    full.insert(axis if axis >= 0 else len(shape) + 1 + axis, B)
    return rng.uniform(low, high, full).astype(dtype)


# --------------------------------------------------------------------------------------
# Every primitive has a batching rule


def _all_primitives():
    import funcad

    for pkg in ("funcad.lax", "funcad.backend"):
        try:
            mod = importlib.import_module(pkg)
        except ImportError:
            continue
        for info in pkgutil.iter_modules(mod.__path__):
            importlib.import_module(f"{pkg}.{info.name}")
    for name in ("funcad.jit",):
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    prims = set(ew.ELEMENTWISE.values())
    import sys

    for modname, m in list(sys.modules.items()):
        if modname.startswith("funcad") and m is not None:
            prims.update(v for v in vars(m).values() if isinstance(v, Primitive))
    assert funcad
    return prims


def test_every_primitive_has_a_batching_rule():
    prims = _all_primitives()
    assert len(prims) > 60  # the enumeration itself found the primitives
    missing = sorted(p.name for p in prims if p not in batching.primitive_batchers)
    assert not missing, f"primitives without a batching rule: {missing}"


# --------------------------------------------------------------------------------------
# The elementwise family

BOOL_OPS = {"and", "or", "xor", "not"}
PARAMS = {"integer_pow": [{"y": 3}, {"y": -2}, {"y": 0}], "convert_element_type": [{"new_dtype": np.dtype(np.int32)}, {"new_dtype": np.dtype(np.float32)}],
          "polygamma": [{"n": 1}]}


def _nargs(prim):
    if prim.name == "select":
        return 3
    avals = [fa.core.ShapedArray((2,), np.float64)] * 3
    for n in (1, 2, 3):  # the fewest operands its abstract_eval accepts (betainc takes 3)
        try:
            prim.abstract_eval(*avals[:n], **PARAMS.get(prim.name, [{}])[0])
            return n
        except TypeError:
            continue
    raise AssertionError(prim.name)


def _operand(rng, prim, k, shape, axis, dtype):
    if prim.name in BOOL_OPS or (prim.name == "select" and k == 0):
        x = batched(rng, shape, axis) > 0.55 if axis is not None else rng.uniform(0, 1, shape) > 0.5
        return x
    x = rng.uniform(0.2, 0.9, shape).astype(dtype) if axis is None else batched(rng, shape, axis, dtype)
    integers_only = prim.name.startswith("bitwise_") or prim.name.endswith("_shift")
    return (x * 1000).astype(np.int64) % 70 if integers_only else x


ELEMENTWISE_CASES = [(name, params) for name in sorted(ew.ELEMENTWISE)
                     for params in PARAMS.get(name, [{}])]


@pytest.mark.parametrize("name,params", ELEMENTWISE_CASES, ids=[f"{n}{p}" for n, p in ELEMENTWISE_CASES])
@pytest.mark.parametrize("dtype", DTYPES)
def test_elementwise(name, params, dtype, rng):
    prim = ew.ELEMENTWISE[name]
    n = _nargs(prim)
    f = lambda *xs: bind(prim, *xs, **params)  # noqa: E731
    with np.errstate(all="ignore"):
        for axis in AXES:  # every operand batched at the same axis
            check_vmap(f, tuple(_operand(rng, prim, k, (4, 5), axis, dtype) for k in range(n)),
                       in_axes=axis)
        if n == 1:
            return
        # Batched at different axes, with per-example ranks that broadcast.
        args = [_operand(rng, prim, 0, (4, 5), 1, dtype), _operand(rng, prim, 1, (5,), 0, dtype)]
        args += [_operand(rng, prim, 2, (1, 5), -1, dtype)] if n == 3 else []
        check_vmap(f, tuple(args), in_axes=(1, 0, -1)[:n])
        # One operand unbatched, of full per-example rank: it must not align with the batch axis.
        for k in range(n):
            args = [_operand(rng, prim, j, (4, 5), None if j == k else 1, dtype) for j in range(n)]
            check_vmap(f, tuple(args), in_axes=tuple(None if j == k else 1 for j in range(n)))
        # Batched operand of lower rank than an unbatched one.
        args = [_operand(rng, prim, j, (5,) if j == 0 else (4, 5), -1 if j == 0 else None, dtype)
                for j in range(n)]
        check_vmap(f, tuple(args), in_axes=(-1,) + (None,) * (n - 1))


def test_python_scalars_and_stop_gradient(rng):
    x = batched(rng, (4,), 1)
    check_vmap(lambda v: 2.0 * v + 1, (x,), in_axes=1)
    check_vmap(lambda v: fa.stop_gradient(v) * v, (x,), in_axes=1)
    check_vmap(lambda v: v.astype(np.float32) * 2, (x,), in_axes=-1)


# --------------------------------------------------------------------------------------
# Reductions

@pytest.mark.parametrize("fn", [red.reduce_sum, red.reduce_max, red.reduce_min, red.reduce_prod])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("axes", [(0,), (1,), (0, 2), (0, 1, 2), ()])
def test_reductions(fn, dtype, axis, axes, rng):
    check_vmap(lambda x: fn(x, axes), (batched(rng, (2, 3, 4), axis, dtype),), in_axes=axis)


def test_numpy_reductions(rng):
    x = batched(rng, (3, 4), 1)
    check_vmap(lambda v: fnp.mean(v, axis=-1, keepdims=True), (x,), in_axes=1)
    check_vmap(lambda v: fnp.max(v), (x,), in_axes=1)


# --------------------------------------------------------------------------------------
# Shapes

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis", AXES)
def test_shape_primitives(dtype, axis, rng):
    x = batched(rng, (2, 3), axis, dtype)
    check_vmap(lambda v: sh.broadcast_to(v, (4, 2, 3)), (x,), in_axes=axis)
    check_vmap(lambda v: sh.broadcast_to(v[:, :1], (2, 5)), (x,), in_axes=axis)
    for new in [(6,), (3, 2), (1, 6, 1), (2, 1, 3), (2, 3, 1)]:
        check_vmap(lambda v: sh.reshape(v, new), (x,), in_axes=axis)
    check_vmap(lambda v: sh.transpose(v, (1, 0)), (x,), in_axes=axis)
    y = batched(rng, (2, 3, 4), axis, dtype)
    check_vmap(lambda v: sh.transpose(v, (2, 0, 1)), (y,), in_axes=axis)
    z = rng.normal(size=(2, 5)).astype(dtype)
    check_vmap(lambda v, w: sh.concatenate([v, w, v], 1), (x, z), in_axes=(axis, None))
    check_vmap(lambda v, w: sh.concatenate([w, v], 0), (x, batched(rng, (1, 3), 0, dtype)), in_axes=(axis, 0))
    check_vmap(lambda v: v + sh.full((2, 3), 1.5, dtype), (x,), in_axes=axis)


INDEX_CASES = {
    "basic": lambda v: v[1:, None, ::-1],
    "int": lambda v: v[1],
    "ellipsis": lambda v: v[..., 0, 1:],
    "array": lambda v: v[np.array([2, 0, 0])],
    "array_after_slice": lambda v: v[:, np.array([[1, 0], [3, 3]])],
    "non_adjacent": lambda v: v[np.array([1, 0]), :, np.array([2, 3])],
    "int_and_array_apart": lambda v: v[0, :, np.array([2, 3, 1])],
    "adjacent_pair": lambda v: v[:, np.array([1, 0]), np.array([[4], [3]])],
    "mask": lambda v: v[np.array([True, False, True])],
    "newaxis_array": lambda v: v[None, :, np.array([1, 1])],
}


@pytest.mark.parametrize("case", sorted(INDEX_CASES))
@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_index_with_batched_operand(case, axis, dtype, rng):
    check_vmap(INDEX_CASES[case], (batched(rng, (3, 4, 5), axis, dtype),), in_axes=axis)


def _gather(idx_pos):
    def f(v, i):
        idx = [slice(None)] * 3
        idx[idx_pos] = ("array", 0)
        return sh.index(v, tuple(idx), [i])

    return f


@pytest.mark.parametrize("pos", [0, 1, 2])
@pytest.mark.parametrize("x_axis", [0, -1, None])
def test_index_with_batched_indices(pos, x_axis, rng):
    x = batched(rng, (4, 4, 4), x_axis) if x_axis is not None else rng.normal(size=(4, 4, 4))
    i = np.stack([rng.integers(0, 4, (2, 3)) for _ in range(B)], axis=1)
    check_vmap(_gather(pos), (x, i), in_axes=(x_axis, 1))
    # Two index arrays, one batched, one not, apart (non-adjacent) and together.
    j = rng.integers(0, 4, (3,))
    A0, A1, s = ("array", 0), ("array", 1), slice(None)
    check_vmap(lambda v, a, b: sh.index(v, (A0, s, A1), [a, b]), (x, i, j), in_axes=(x_axis, 1, None))
    check_vmap(lambda v, a, b: sh.index(v, (s, A0, A1), [a, b]), (x, i, j), in_axes=(x_axis, 1, None))
    check_vmap(lambda v, a: sh.index(v, (1, A0), [a]), (x, i), in_axes=(x_axis, 1))
    check_vmap(lambda v, a: sh.index(v, (1, s, A0), [a]), (x, i), in_axes=(x_axis, 1))


def _scatter(template):
    def f(x, u, *arrays):
        return bind(sh.index_add_p, x, u, *arrays, template=template)

    return f


S = ("slice", None, None, None)


@pytest.mark.parametrize("axes", [(0, None), (None, 0), (1, -1), (-1, 1)])
def test_index_add(axes, rng):
    def arg(shape, a):
        return batched(rng, shape, a) if a is not None else rng.normal(size=shape)

    ax, au = axes
    check_vmap(_scatter((S, ("slice", 1, 3, None))), (arg((3, 4), ax), arg((3, 2), au)), in_axes=axes)
    check_vmap(_scatter((S, ("slice", 1, 3, None))), (arg((3, 4), ax), arg((2,), au)), in_axes=axes)
    i = np.array([0, 2, 0])  # repeated index: contributions add up
    check_vmap(lambda x, u: _scatter((("array", 0), S))(x, u, i), (arg((3, 4), ax), arg((3, 4), au)), in_axes=axes)
    check_vmap(lambda x, u: _scatter((("array", 0), S, ("array", 1)))(x, u, i, np.array([1, 0, 1])),
               (arg((3, 5, 2), ax), arg((3, 5), au)), in_axes=axes)


def test_index_add_with_batched_indices(rng):
    x = batched(rng, (4, 3), 0)
    u = batched(rng, (2, 3), 1)
    i = rng.integers(0, 3, (B, 2))
    check_vmap(lambda a, b, c: _scatter((("array", 0), S))(a, b, c), (x, u, i), in_axes=(0, 1, 0))
    check_vmap(lambda a, b, c: _scatter((S, ("array", 0)))(a, b, c), (batched(rng, (3, 4), 0), batched(rng, (3, 2), 1), i),
               in_axes=(0, 1, 0))
    check_vmap(lambda a, b, c: _scatter((("array", 0), S))(a, b, c), (x[0], u, i), in_axes=(None, 1, 0))


def test_gather_gradient_is_batched_scatter(rng):
    # The transpose of a batched gather is a batched scatter-add: per-example gradients.
    x = batched(rng, (5,), 0)
    i = rng.integers(0, 5, (B, 4))
    check_vmap(fa.grad(lambda v, j: fnp.sum(v[j] ** 2)), (x, i), in_axes=(0, 0))


# --------------------------------------------------------------------------------------
# Products and solve

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axes", [(0, None), (1, None), (-1, None), (None, 0), (None, 1), (None, -1),
                                  (0, 0), (1, -1), (-1, 1)])
def test_matmul(axes, dtype, rng):
    def arg(shape, a):
        return batched(rng, shape, a, dtype) if a is not None else rng.normal(size=shape).astype(dtype)

    ax, ay = axes
    check_vmap(la.matmul, (arg((2, 3), ax), arg((3, 4), ay)), in_axes=axes)
    check_vmap(la.matmul, (arg((5, 2, 3), ax), arg((3, 4), ay)), in_axes=axes)  # batch dims on x
    check_vmap(la.matmul, (arg((2, 3), ax), arg((5, 3, 4), ay)), in_axes=axes)  # batch dims on y
    check_vmap(la.matmul, (arg((1, 5, 2, 3), ax), arg((6, 1, 3, 4), ay)), in_axes=axes)
    check_vmap(fnp.matmul, (arg((3,), ax), arg((3, 4), ay)), in_axes=axes)
    check_vmap(fnp.matmul, (arg((2, 3), ax), arg((3,), ay)), in_axes=axes)
    check_vmap(fnp.dot, (arg((3,), ax), arg((3,), ay)), in_axes=axes)


@pytest.mark.parametrize("axes", [(0, None), (None, 1), (2, -1), (None, -1)])
def test_einsum(axes, rng):
    def arg(shape, a):
        return batched(rng, shape, a) if a is not None else rng.normal(size=shape)

    ax = None if axes[0] is None else axes[0] % 3
    check_vmap(lambda a, b: la.einsum("ij,jk->ik", a, b), (arg((2, 3), ax), arg((3, 4), axes[1])),
               in_axes=(ax, axes[1]))
    check_vmap(lambda a, b: la.einsum("iij,j->i", a, b), (arg((3, 3, 2), axes[0]), arg((2,), axes[1])),
               in_axes=axes)
    check_vmap(lambda a, b: fnp.einsum("ij,ij,j->", a, b, b[0]), (arg((2, 3), ax), arg((2, 3), axes[1])),
               in_axes=(ax, axes[1]))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axes", [(0, None), (None, 0), (None, 1), (None, -1), (1, -1), (-1, 0)])
def test_solve(axes, dtype, rng):
    def mat(a):
        m = rng.normal(size=(3, 3)) + 4 * np.eye(3)
        if a is None:
            return m.astype(dtype)
        ms = np.stack([m + 0.1 * rng.normal(size=(3, 3)) for _ in range(B)], axis=a)
        return ms.astype(dtype)

    def rhs(shape, a):
        return batched(rng, shape, a, dtype) if a is not None else rng.normal(size=shape).astype(dtype)

    kw = {"rtol": 1e-4, "atol": 1e-4} if dtype == np.float32 else {"rtol": 1e-10, "atol": 1e-10}
    check_vmap(la.solve, (mat(axes[0]), rhs((3, 2), axes[1])), in_axes=axes, **kw)
    check_vmap(fnp.linalg.solve, (mat(axes[0]), rhs((3,), axes[1])), in_axes=axes, **kw)


# --------------------------------------------------------------------------------------
# The batched program does the batched operation

def _eqns(closed):
    return [(e.prim.name, [v.aval.shape for v in e.outputs], [getattr(a, "aval").shape for a in e.inputs])
            for e in closed.jaxpr.eqns]


def test_matrix_vector_batched_over_vectors_is_one_matrix_product(rng):
    A = rng.normal(size=(4, 3))
    for axis in (0, 1):
        vs = batched(rng, (3,), axis)
        jaxpr = fa.make_jaxpr(fa.vmap(lambda v: A @ v, in_axes=axis))(vs)
        mms = [e for e in _eqns(jaxpr) if e[0] == "matmul"]
        assert len(mms) == 1 and all(len(s) == 2 for s in mms[0][2]), jaxpr
        np.testing.assert_allclose(fa.vmap(lambda v: A @ v, in_axes=axis)(vs), np.moveaxis(vs, axis, 0) @ A.T)


def test_hessian_is_a_few_matrix_products(rng):
    X = rng.normal(size=(30, 6))
    y = np.sign(rng.normal(size=30))
    loss = lambda w: fnp.mean(fa.nn.softplus(-y * (X @ w))) + 0.05 * fnp.sum(w * w)  # noqa: E731
    jaxpr = fa.make_jaxpr(fa.hessian(loss))(np.zeros(6))
    mms = [e for e in _eqns(jaxpr) if e[0] in ("matmul", "einsum")]
    assert 1 <= len(mms) <= 4 and all(len(s) == 2 for e in mms for s in e[2]), jaxpr
    w = rng.normal(size=6) * 0.1
    p = 1 / (1 + np.exp(-y * (X @ w)))
    H = (X.T * (p * (1 - p)) / 30) @ X + 0.1 * np.eye(6)
    np.testing.assert_allclose(fa.hessian(loss)(w), H, rtol=1e-12, atol=1e-14)


# --------------------------------------------------------------------------------------
# Compositions

def test_per_example_gradients(rng):
    W = rng.normal(size=(4, 3))
    xs, ys = rng.normal(size=(5, 4)), rng.normal(size=(5, 3))
    loss = lambda w, x, y: fnp.sum((fnp.tanh(x @ w) - y) ** 2)  # noqa: E731
    check_vmap(fa.grad(loss), (W, xs, ys), in_axes=(None, 0, 0))
    # The same against closed-form per-example gradients.
    t = np.tanh(xs @ W)
    expected = np.einsum("bi,bj->bij", xs, 2 * (t - ys) * (1 - t * t))
    np.testing.assert_allclose(fa.vmap(fa.grad(loss), in_axes=(None, 0, 0))(W, xs, ys), expected, rtol=1e-12)


def test_grad_of_vmap_matches_finite_differences(rng):
    xs = rng.normal(size=(4, 3))
    f = lambda w: fnp.sum(fa.vmap(lambda x: fnp.sin(x @ w) * fnp.sum(x * w))(xs))  # noqa: E731
    w = rng.normal(size=3)
    fa.test_util.check_grads(f, (w,), order=2)
    g = fa.grad(f)(w)
    eps = 1e-6
    fd = [(f(w + eps * e) - f(w - eps * e)) / (2 * eps) for e in np.eye(3)]
    np.testing.assert_allclose(g, fd, rtol=1e-6)


def test_nested_vmap(rng):
    x = rng.normal(size=(3, 4, 5))
    y = rng.normal(size=(4,))
    f = fa.vmap(fa.vmap(lambda a, b: fnp.sum(a * b) + a, in_axes=(0, None)), in_axes=(2, None), out_axes=1)
    out = f(x, y)
    expected = np.stack([np.stack([np.sum(x[i, :, k] * y) + x[i, :, k] for i in range(3)]) for k in range(5)],
                        axis=1)
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    check_vmap(fa.vmap(fnp.outer, in_axes=(0, None)), (x, rng.normal(size=(4, 2))), in_axes=(2, None))


def test_vmap_closes_over_outer_tracers(rng):
    # A vmap inside grad closes over the differentiated value; one inside vmap over the outer batch.
    xs = rng.normal(size=(4, 3))
    g = fa.grad(lambda s: fnp.sum(fa.vmap(lambda x: fnp.sin(s * x))(xs)))(0.7)
    np.testing.assert_allclose(g, np.sum(xs * np.cos(0.7 * xs)), rtol=1e-12)
    outer = fa.vmap(lambda a: fa.vmap(lambda b: a * b + a.sum())(xs))(xs)
    expected = np.stack([np.stack([a * b + a.sum() for b in xs]) for a in xs])
    np.testing.assert_allclose(outer, expected, rtol=1e-12)


def test_jacobians_of_vmap_and_vmap_of_jacobians(rng):
    A = rng.normal(size=(3, 3))
    f = lambda x: fnp.tanh(A @ x) * x  # noqa: E731
    xs = rng.normal(size=(4, 3))
    check_vmap(fa.jacfwd(f), (xs,))
    check_vmap(fa.jacrev(f), (xs,))
    check_vmap(fa.hessian(lambda x: fnp.sum(f(x) ** 2)), (xs,))
    J = fa.jacrev(fa.vmap(f))(xs)  # block diagonal over examples
    for i in range(4):
        np.testing.assert_allclose(J[i, :, i, :], fa.jacfwd(f)(xs[i]), rtol=1e-12)


def test_jacobians_against_finite_differences(rng):
    A = rng.normal(size=(4, 3))
    f = lambda x, y: {"u": fnp.sin(A @ x) * y, "v": fnp.sum(x ** 3)}  # noqa: E731
    x, y = rng.normal(size=3), 1.3
    eps = 1e-6
    fd = {k: np.stack([(f(x + eps * e, y)[k] - f(x - eps * e, y)[k]) / (2 * eps) for e in np.eye(3)], axis=-1)
          for k in ("u", "v")}
    for jac in (fa.jacfwd, fa.jacrev):
        J = jac(f)(x, y)
        for k in ("u", "v"):
            np.testing.assert_allclose(J[k], fd[k], rtol=1e-6, atol=1e-8)
        J2 = jac(f, argnums=(0, 1))(x, y)
        np.testing.assert_allclose(J2["u"][1], np.sin(A @ x), rtol=1e-12)
    H = fa.hessian(lambda x: fnp.sum(fnp.sin(x) * x[0]))(x)
    Hfd = np.stack([(fa.grad(lambda x: fnp.sum(fnp.sin(x) * x[0]))(x + eps * e)
                     - fa.grad(lambda x: fnp.sum(fnp.sin(x) * x[0]))(x - eps * e)) / (2 * eps) for e in np.eye(3)])
    np.testing.assert_allclose(H, Hfd, rtol=1e-6, atol=1e-8)


def test_pytrees_in_axes_out_axes_and_kwargs(rng):
    p = {"w": rng.normal(size=(3, 2)), "b": rng.normal(size=2)}
    xs = rng.normal(size=(2, 5, 3))

    def f(params, x, scale=1.0):
        return {"y": (x @ params["w"] + params["b"]) * scale, "n": fnp.sum(params["b"])}

    out = fa.vmap(f, in_axes=({"w": None, "b": None}, 1), out_axes={"y": -1, "n": None})(p, xs)
    assert out["y"].shape == (2, 2, 5) and np.ndim(out["n"]) == 0
    for i in range(5):
        np.testing.assert_allclose(out["y"][..., i], xs[:, i] @ p["w"] + p["b"], rtol=1e-12)
    # Keyword arguments are mapped along axis 0; an unbatched output is broadcast by out_axes=0.
    scales = np.arange(5.0)
    out = fa.vmap(lambda x, scale: f(p, x, scale=scale), in_axes=(1,))(xs, scale=scales)
    np.testing.assert_allclose(out["y"][3], (xs[:, 3] @ p["w"] + p["b"]) * 3.0, rtol=1e-12)
    np.testing.assert_allclose(out["n"], np.full(5, p["b"].sum()))
    check_vmap(lambda t: (t[0] * 2, [t[1] + 1]), ((rng.normal(size=(3, 4)), rng.normal(size=(4, 3))),),
               in_axes=((0, 1),), out_axes=(0, [1]))


def test_vmap_integer_and_boolean_outputs(rng):
    x = rng.normal(size=(4, 3))
    check_vmap(lambda v: (v > 0, fnp.floor(v * 3).astype(np.int64)), (x,))


# --------------------------------------------------------------------------------------
# Errors

def test_error_inconsistent_sizes():
    def f(x, y):
        return x + y

    with pytest.raises(BatchingError, match=r"x has size 3 along axis 0, y has size 4 along axis 1"):
        fa.vmap(f, in_axes=(0, 1))(np.ones((3, 4)), np.ones((4, 4)))
    with pytest.raises(BatchingError, match=r"p\['a'\] has size 2.*p\['b'\] has size 5"):
        fa.vmap(lambda p: p["a"])({"a": np.ones(2), "b": np.ones(5)})


def test_error_axis_out_of_range():
    with pytest.raises(BatchingError, match=r"in_axes=2 is out of range for x of shape \(3, 4\)"):
        fa.vmap(lambda x: x, in_axes=2)(np.ones((3, 4)))
    with pytest.raises(BatchingError, match=r"in_axes=-3"):
        fa.vmap(lambda x: x, in_axes=-3)(np.ones((3, 4)))
    with pytest.raises(BatchingError, match="scalar"):
        fa.vmap(lambda x, y: x * y)(np.ones(3), 2.0)
    with pytest.raises(BatchingError, match=r"out_axes=3 is out of range"):
        fa.vmap(lambda x: x, out_axes=3)(np.ones((3, 4)))
    np.testing.assert_array_equal(fa.vmap(lambda x: x, out_axes=-1)(np.arange(6.0).reshape(3, 2)),
                                  np.arange(6.0).reshape(3, 2).T)


def test_error_axes_structure():
    with pytest.raises(BatchingError, match="in_axes is a tuple of length 2, but .* 1 positional"):
        fa.vmap(lambda x: x, in_axes=(0, 0))(np.ones(3))
    with pytest.raises(BatchingError, match=r"in_axes\[0\] is a dict .* arguments\[0\] is a tuple"):
        fa.vmap(lambda t: t[0], in_axes=({"a": 0},))((np.ones(3),))
    with pytest.raises(BatchingError, match=r"out_axes is a tuple of length 2, but the matching output is a tuple of length 3"):
        fa.vmap(lambda x: (x, x, x), out_axes=(0, 1))(np.ones((3, 2)))
    with pytest.raises(BatchingError, match="out_axes must be built of ints"):
        fa.vmap(lambda x: x, out_axes="0")
    with pytest.raises(BatchingError, match="maps nothing"):
        fa.vmap(lambda x: x, in_axes=None)(np.ones(3))


def test_error_out_axes_none_for_batched_output():
    with pytest.raises(BatchingError, match=r"out_axes is None for output\[1\].*varies along the mapped axis"):
        fa.vmap(lambda x: (fnp.sum(x * 0.0 + 1.0), x), out_axes=(0, None))(np.ones((3, 2)))
    out = fa.vmap(lambda x, c: (x, c * 2), in_axes=(0, None), out_axes=(0, None))(np.ones((3, 2)), np.ones(2))
    np.testing.assert_array_equal(out[1], np.full(2, 2.0))


def test_error_python_branch_on_batched_value():
    with pytest.raises(ConcretizationError, match="inside vmap"):
        fa.vmap(lambda x: x if x > 0 else -x)(np.ones(3))
    # A value that is the same for every example can still be branched on.
    out = fa.vmap(lambda x, c: x if c > 0 else -x, in_axes=(0, None))(np.ones(3), 1.0)
    np.testing.assert_array_equal(out, np.ones(3))


def test_check_vmap_catches_a_wrong_rule(rng):
    # A primitive whose batching rule forgets that the batch axis is not the reduced one.
    p = Primitive("sum_last_wrong")
    p.def_impl(lambda x: np.sum(x, axis=-1))
    p.def_abstract_eval(lambda x: fa.core.ShapedArray(x.shape[:-1], x.dtype))
    batching.primitive_batchers[p] = lambda size, vals, dims: (bind(p, batching.moveaxis(vals[0], dims[0], -1)), None)
    try:
        with pytest.raises(AssertionError):
            check_vmap(lambda x: bind(p, x), (rng.normal(size=(3, 4)),))
    finally:
        del batching.primitive_batchers[p]


# --------------------------------------------------------------------------------------
# The other families' primitives (their rules live beside them; checked here the same way)


def _spd(rng, axis, dtype):
    mats = [(lambda a: a @ a.T + 3 * np.eye(3))(rng.normal(size=(3, 3))) for _ in range(B)]
    return np.stack(mats, axis=axis % 3).astype(dtype)


OTHER_CASES = {
    "cumsum": (lambda x: fnp.cumsum(x, axis=1), "vec"),
    "cumprod_reverse": (lambda x: lax.cumulative.cumprod(x, 0, reverse=True), "vec"),
    "linear_recurrence": (lambda x: lax.cumulative.linear_recurrence(x * 0.5, x, 1), "vec"),
    "sort": (lambda x: fnp.sort(x, axis=0), "vec"),
    "argsort": (lambda x: fnp.argsort(x, axis=-1), "vec"),
    "argmax_argmin": (lambda x: (fnp.argmax(x, axis=1), fnp.argmin(x, axis=0)), "vec"),
    "index_set": (lambda x: lax.scatter.index_set(x, x[0] * 2.0, [np.array([2, 0])], (("array", 0), S)), "vec"),
    "cholesky": (fnp.linalg.cholesky, "spd"),
    "eigh_values": (lambda a: fnp.linalg.eigh(a)[0], "spd"),
    "det_slogdet": (lambda a: (fnp.linalg.det(a), fnp.linalg.slogdet(a)[1]), "spd"),
    "pinv": (fnp.linalg.pinv, "spd"),
    "qr_r_abs": (lambda a: fnp.abs(fnp.linalg.qr(a)[1]), "spd"),
    "svd_values": (lambda a: fnp.linalg.svd(a)[1], "spd"),
    "triangular_solve": (lambda a: lax.decompositions.triangular_solve(a, a[:, :2], lower=True), "spd"),
}


@pytest.mark.parametrize("case", sorted(OTHER_CASES))
@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_other_primitives(case, axis, dtype, rng):
    f, kind = OTHER_CASES[case]
    x = batched(rng, (3, 4), axis, dtype) if kind == "vec" else _spd(rng, axis, dtype)
    kw = {"rtol": 1e-4, "atol": 1e-4} if dtype == np.float32 else {"rtol": 1e-10, "atol": 1e-10}
    check_vmap(f, (x,), in_axes=axis, **kw)
    if kind == "vec":  # batched together with an unbatched operand
        check_vmap(lambda a, c: f(a + c), (x, rng.normal(size=(3, 4)).astype(dtype)), in_axes=(axis, None), **kw)
