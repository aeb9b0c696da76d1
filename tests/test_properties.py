"""Differential property tests: random programs over funcad's primitives, computed several
independent ways that must agree.

A hypothesis strategy draws a *program*: a few input arrays of broadcast-compatible shapes
(0-d, size-1 and empty axes included; float32 or float64) and a chain of operations over
them, each kept inside its domain (``log(x * x + 0.5)``, ``arcsin(0.9 * tanh(x))``...) and
with values bounded, so every check is well conditioned. The program is Python source over
a namespace ``ns``: run with NumPy it is the reference; run with funcad.numpy it is traced,
differentiated, vmapped and compiled. The checks:

* eager funcad equals NumPy (values and dtypes);
* jit equals eager (tolerance by dtype), and jit(grad) equals grad;
* vmap equals a Python loop over slices (funcad.test_util.check_vmap);
* ``<u, J v> == <J^T u, v>`` between jvp and vjp;
* jacfwd equals jacrev; the hessian is symmetric;
* check_grads agrees with finite differences (programs of smooth operations only).

Budget: the "ci" profile (the default) is derandomized with a modest number of examples;
``FUNCAD_HYPOTHESIS_PROFILE=long`` searches 50 times longer with fresh randomness (see
docs/testing.md). A failure the long search finds becomes a test in test_regressions.py:
hypothesis prints the failing program's source.
"""

from __future__ import annotations

import math
import os
import types

import numpy as np
import pytest
import scipy.special as sc
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import funcad as fa
import funcad.numpy as fnp
from funcad.lax import elementwise as ew
from funcad.numpy._shape_ops import at as _at  # x.at[...] for NumPy arrays too
from funcad.test_util import check_grads, check_vmap

# --------------------------------------------------------------------------------------
# Budget: profiles

_COMMON = dict(deadline=None, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                      HealthCheck.filter_too_much])
settings.register_profile("ci", derandomize=True, **_COMMON)
settings.register_profile("long", derandomize=False, **_COMMON)
PROFILE = os.environ.get("FUNCAD_HYPOTHESIS_PROFILE", "ci")
settings.load_profile(PROFILE)
SCALE = {"ci": 1, "long": 50}.get(PROFILE, 1)
JIT_SCALE = {"ci": 1, "long": 10}.get(PROFILE, 1)  # every jit example compiles: ~1 s each


def budget(n: int, jit: bool = False):
    """``n`` examples in CI; ``50 n`` in the long search (``10 n`` for jit properties)."""
    return settings(max_examples=n * (JIT_SCALE if jit else SCALE))


STATS = {"programs": 0, "jit_programs": 0}


@pytest.fixture(autouse=True)
def _report_counts(request):
    yield
    path = os.environ.get("FUNCAD_PROPERTY_STATS")
    if path:  # cumulative counts after each test, so an interrupted search still reports
        with open(path, "a") as f:
            f.write(f"{request.node.name} {STATS}\n")


# --------------------------------------------------------------------------------------
# Namespaces a program runs in



def _np_loop(x, n=3):
    for _ in range(n):
        x = np.sin(x) * 1.1
    return x


def _np_scan(x):
    out, c = np.empty_like(x), np.zeros_like(x[0]) if len(x) else None
    for t in range(len(x)):
        c = 0.5 * c + x[t]
        out[t] = c
    return out


def _np_at_add(x, idx, v):
    y = x.copy()
    np.add.at(y, idx, v)
    return y


def _fa_scan(x):
    def step(c, xt):
        c = 0.5 * c + xt
        return c, c

    return fa.lax.scan(step, fnp.zeros_like(x[0]) if x.shape[0] else fnp.zeros(x.shape[1:], x.dtype), x)[1]


NP = types.SimpleNamespace(
    **{n: getattr(np, n) for n in dir(np) if not n.startswith("_")},
    erf=sc.erf, sigmoid=sc.expit, softplus=lambda x: np.logaddexp(0.0, x),
    softmax=sc.softmax, logsumexp=sc.logsumexp,
    cond=lambda p, x: np.sin(x) if p else np.cos(x), fori=_np_loop, while3=_np_loop, scan=_np_scan,
    at_add=_np_at_add)
FNP = types.SimpleNamespace(
    **{n: getattr(fnp, n) for n in dir(fnp) if not n.startswith("_")},
    erf=fa.lax.erf, sigmoid=fa.nn.sigmoid, softplus=fa.nn.softplus,
    softmax=fa.nn.softmax, logsumexp=fa.nn.logsumexp,
    cond=lambda p, x: fa.lax.cond(p, fnp.sin, fnp.cos, x),
    fori=lambda x: fa.lax.fori_loop(0, 3, lambda i, x: fnp.sin(x) * 1.1, x),
    while3=lambda x: fa.lax.while_loop(lambda c: c[0] < 3, lambda c: (c[0] + 1, fnp.sin(c[1]) * 1.1),
                                       (0, x))[1],
    scan=_fa_scan, at_add=lambda x, idx, v: _at(x)[idx].add(v))

# --------------------------------------------------------------------------------------
# The operations: (template, bound of the result given bounds of the operands, smooth)
#
# Each template is an expression over operands {a} (and {b}); every operation keeps its
# operands inside its domain, and the bound lets the generator avoid overflow and the
# ill-conditioned regions where finite differences mean nothing.

UNARY = {
    "sin": ("ns.sin({a})", lambda a: 1.0, True),
    "cos": ("ns.cos({a})", lambda a: 1.0, True),
    "tanh": ("ns.tanh({a})", lambda a: 1.0, True),
    "arctan": ("ns.arctan({a})", lambda a: 1.6, True),
    "neg": ("-{a}", lambda a: a, True),
    "scale": ("2.5 * {a}", lambda a: 2.5 * a, True),
    "shift": ("{a} - 1.5", lambda a: a + 1.5, True),
    "square": ("ns.square({a})", lambda a: a * a, True),
    "cube": ("{a} ** 3", lambda a: a ** 3, True),
    "exp": ("ns.exp(ns.sin({a}))", lambda a: math.e, True),
    "exp2": ("ns.exp2(ns.cos({a}))", lambda a: 2.0, True),
    "expm1": ("ns.expm1(ns.tanh({a}))", lambda a: 1.8, True),
    "log": ("ns.log({a} * {a} + 0.5)", lambda a: max(0.7, math.log(a * a + 0.5)), True),
    "log2": ("ns.log2({a} * {a} + 0.5)", lambda a: max(1.0, math.log2(a * a + 0.5)), True),
    "log10": ("ns.log10({a} * {a} + 0.5)", lambda a: max(0.31, math.log10(a * a + 0.5)), True),
    "log1p": ("ns.log1p({a} * {a})", lambda a: math.log1p(a * a), True),
    "sqrt": ("ns.sqrt({a} * {a} + 0.25)", lambda a: math.sqrt(a * a + 0.25), True),
    "recip": ("1.0 / ({a} * {a} + 1.0)", lambda a: 1.0, True),
    "arcsin": ("ns.arcsin(0.9 * ns.tanh({a}))", lambda a: 1.2, True),
    "arccos": ("ns.arccos(0.9 * ns.sin({a}))", lambda a: 2.7, True),
    "arctanh": ("ns.arctanh(0.9 * ns.tanh({a}))", lambda a: 1.5, True),
    "arcsinh": ("ns.arcsinh({a})", lambda a: math.asinh(a), True),
    "arccosh": ("ns.arccosh({a} * {a} + 1.5)", lambda a: math.acosh(a * a + 1.5), True),
    "sinh": ("ns.sinh(ns.tanh({a}))", lambda a: 1.2, True),
    "cosh": ("ns.cosh(ns.sin({a}))", lambda a: 1.6, True),
    "tan": ("ns.tan(0.9 * ns.arctan({a}))", lambda a: 6.4, True),
    "sigmoid": ("ns.sigmoid({a})", lambda a: 1.0, True),
    "softplus": ("ns.softplus({a})", lambda a: a + 0.7, True),
    "erf": ("ns.erf({a})", lambda a: 1.0, True),
    "cbrt": ("ns.cbrt({a} * {a} + 1.0)", lambda a: (a * a + 1.0) ** (1 / 3), True),
    "inv_square": ("({a} * {a} + 1.0) ** -2", lambda a: 1.0, True),
    "rsqrt": ("({a} * {a} + 1.0) ** -0.5", lambda a: 1.0, True),
    "fori": ("ns.fori({a})", lambda a: 1.1, True),
    "while": ("ns.while3({a})", lambda a: 1.1, True),
    "cond": ("ns.cond(ns.sum({a}) > 0.0, {a})", lambda a: 1.0, True),
    "to_f32": ("{a}.astype(ns.float32)", lambda a: a, False),  # smooth, but f32 defeats FD
    # piecewise: derivatives exist almost everywhere, finite differences are not checked
    "abs": ("ns.abs({a})", lambda a: a, False),
    "sign": ("ns.sign({a}) * {a}", lambda a: a, False),
    "floor": ("ns.floor({a})", lambda a: a + 1.0, False),
    "clip": ("ns.clip({a}, -1.0, 1.0)", lambda a: 1.0, False),
    "relu_where": ("ns.where({a} > 0.0, {a}, 0.1 * {a})", lambda a: a, False),
}

BINARY = {
    "add": ("{a} + {b}", lambda a, b: a + b, True),
    "sub": ("{a} - {b}", lambda a, b: a + b, True),
    "mul": ("{a} * {b}", lambda a, b: a * b, True),
    "div": ("{a} / ({b} * {b} + 1.0)", lambda a, b: a, True),
    "pow": ("({a} * {a} + 0.5) ** ns.sin({b})", lambda a, b: max(a * a + 0.5, 2.0), True),
    "logaddexp": ("ns.logaddexp({a}, {b})", lambda a, b: max(a, b) + 0.7, True),
    "hypot": ("ns.hypot({a}, {b} * {b} + 1.0)", lambda a, b: a + b * b + 1.0, True),
    "arctan2": ("ns.arctan2({a}, {b} * {b} + 1.0)", lambda a, b: 1.6, True),
    "maximum": ("ns.maximum({a}, {b})", lambda a, b: max(a, b), False),
    "minimum": ("ns.minimum({a}, {b})", lambda a, b: max(a, b), False),
    "where": ("ns.where({a} > {b}, ns.sin({a}), {a} * {b})", lambda a, b: max(1.0, a * b), False),
}

MAX_BOUND = 30.0  # no value may exceed this: keeps float32 and finite differences honest


class Program:
    """A random program: input shapes/dtypes, a list of assignments, outputs; and its source."""

    def __init__(self, in_shapes, in_dtypes, lines, outputs, smooth, seed):
        self.in_shapes, self.in_dtypes = in_shapes, in_dtypes
        self.lines, self.outputs, self.smooth, self.seed = lines, outputs, smooth, seed
        names = ", ".join(f"x{i}" for i in range(len(in_shapes)))
        body = "".join(f"    {ln}\n" for ln in lines)
        ret = outputs[0] if len(outputs) == 1 else "(" + ", ".join(outputs) + ")"
        self.source = f"def program({names}):\n{body}    return {ret}\n"
        self._fns = {}

    def fn(self, ns):
        key = id(ns)
        if key not in self._fns:
            env = {"ns": ns}
            exec(compile(self.source, "<random program>", "exec"), env)
            self._fns[key] = env["program"]
        return self._fns[key]

    def inputs(self, seed_offset=0):
        rng = np.random.default_rng(self.seed + seed_offset)
        return [rng.uniform(-2.0, 2.0, s).astype(d)
                for s, d in zip(self.in_shapes, self.in_dtypes, strict=True)]

    @property
    def mixed(self) -> bool:
        return len(set(self.in_dtypes)) > 1 or "astype" in self.source

    @property
    def low_precision(self) -> bool:
        return any(np.dtype(d) == np.float32 for d in self.in_dtypes) or "float32" in self.source

    def __repr__(self):
        args = ", ".join(f"{np.dtype(d).name}{list(s)}" for s, d in
                         zip(self.in_shapes, self.in_dtypes, strict=True))
        return f"\n# inputs: {args}, seed {self.seed}\n{self.source}"


_DIM = st.sampled_from([2, 3, 1, 2, 3, 1, 0])


@st.composite
def programs(draw, smooth_only=False, max_ops=8, dtypes=("float64", "float32"), max_inputs=3):
    """A random program (see :class:`Program`)."""
    STATS["programs"] += 1
    rank = draw(st.integers(0, 3))
    full = tuple(draw(_DIM) for _ in range(rank))
    n_in = draw(st.integers(1, max_inputs))
    dtype = draw(st.sampled_from(dtypes))
    mixed = len(dtypes) > 1 and n_in > 1 and draw(st.integers(0, 9)) == 0
    shapes, in_dtypes = [], []
    for i in range(n_in):
        drop = draw(st.integers(0, rank))
        shapes.append(tuple(1 if draw(st.integers(0, 3)) == 0 else n for n in full[drop:]))
        in_dtypes.append(dtype if not (mixed and i == n_in - 1) else
                         ("float32" if dtype == "float64" else "float64"))
    vals = [(f"x{i}", s, 2.0) for i, s in enumerate(shapes)]  # (name, shape, bound)
    lines, smooth = [], True
    n_ops = draw(st.integers(1, max_ops))
    for k in range(n_ops):
        # mostly a chain (the newest value), sometimes a branch from an older one
        back = 0 if draw(st.integers(0, 3)) else draw(st.integers(0, len(vals) - 1))
        name, shape, bound = vals[len(vals) - 1 - back]
        kind = draw(st.sampled_from(["unary", "binary", "unary", "binary", "reduce", "shape"]))
        expr = _draw_op(draw, kind, name, shape, bound, vals, smooth_only)
        if expr is None:
            continue
        code, out_shape, out_bound, is_smooth = expr
        if out_bound > MAX_BOUND:
            continue
        smooth = smooth and is_smooth
        v = f"v{k}"
        lines.append(f"{v} = {code}")
        vals.append((v, out_shape, out_bound))
    outputs = [vals[-1][0]]
    if len(vals) > 2 and draw(st.integers(0, 5)) == 0:
        outputs.append(vals[-2][0])
    seed = draw(st.integers(0, 2**16))
    return Program(shapes, in_dtypes, lines, outputs, smooth, seed)


def _draw_op(draw, kind, a, shape, bound, vals, smooth_only):
    nd = len(shape)
    if kind == "unary":
        names = [n for n, (_, _, sm) in UNARY.items() if sm or not smooth_only]
        t, bnd, sm = UNARY[draw(st.sampled_from(names))]
        return t.format(a=a), shape, bnd(bound), sm
    if kind == "binary":
        partners = [v for v in vals if _broadcastable(shape, v[1])]
        b, b_shape, b_bound = partners[len(partners) - 1 - draw(st.integers(0, len(partners) - 1))]
        names = [n for n, (_, _, sm) in BINARY.items() if sm or not smooth_only]
        t, bnd, sm = BINARY[draw(st.sampled_from(names))]
        if draw(st.booleans()):
            (a, shape, bound), (b, b_shape, b_bound) = (b, b_shape, b_bound), (a, shape, bound)
        return t.format(a=a, b=b), np.broadcast_shapes(shape, b_shape), bnd(bound, b_bound), sm
    if kind == "reduce":
        if nd == 0:
            return f"ns.sum({a})", (), bound, True
        ax = draw(st.integers(-nd, nd - 1))
        n = shape[ax]
        rest = tuple(s for i, s in enumerate(shape) if i != ax % nd)
        choice = draw(st.sampled_from(["sum", "mean", "sum_keep", "sum_all", "max", "prod", "cumsum"]))
        if choice == "sum":
            return f"ns.sum({a}, axis={ax})", rest, bound * n, True
        if choice == "sum_keep":
            kept = tuple(1 if i == ax % nd else s for i, s in enumerate(shape))
            return f"ns.sum({a}, axis={ax}, keepdims=True)", kept, bound * n, True
        if choice == "sum_all":
            return f"ns.sum({a})", (), bound * max(1, int(np.prod(shape))), True
        if choice == "cumsum":
            return f"ns.cumsum({a}, axis={ax})", shape, bound * n, True
        if n == 0:  # mean of nothing is nan and max of nothing an error, as in NumPy
            return None
        if choice == "mean":
            return f"ns.mean({a}, axis={ax})", rest, bound, True
        if choice == "prod":
            return f"ns.prod({a}, axis={ax})", rest, bound ** n, True
        if smooth_only:
            return None
        return f"ns.max({a}, axis={ax})", rest, bound, False
    # shape operations
    choice = draw(st.sampled_from(["transpose", "reshape", "expand", "broadcast", "flip",
                                   "slice", "index", "concat", "matmul", "softmax", "logsumexp",
                                   "var", "cumprod", "sort", "stack", "squeeze", "moveaxis", "take",
                                   "at_add", "scan", "solve", "slogdet", "einsum"]))
    if choice == "softmax" and nd >= 1 and shape[-1] > 0:
        return f"ns.softmax({a}, axis=-1)", shape, 1.0, True
    if choice == "logsumexp" and nd >= 1 and shape[-1] > 0:
        return f"ns.logsumexp({a}, axis=-1)", shape[:-1], bound + math.log(shape[-1]) + 1, True
    if choice == "var" and nd >= 1 and shape[0] > 0:
        return f"ns.var({a}, axis=0)", shape[1:], bound * bound, True
    if choice == "cumprod" and nd >= 1:
        return f"ns.cumprod({a}, axis=-1)", shape, max(1.0, bound) ** shape[-1], True
    if choice == "sort" and nd >= 1:  # ties (broadcast inputs) make it piecewise
        return f"ns.sort({a}, axis=-1)", shape, bound, False
    if choice == "stack":
        partners = [v for v in vals if v[1] == shape]
        b, _, b_bound = partners[draw(st.integers(0, len(partners) - 1))]
        return f"ns.stack([{a}, {b}], axis=0)", (2,) + shape, max(bound, b_bound), True
    if choice == "squeeze" and 1 in shape:
        ax = shape.index(1)
        return f"ns.squeeze({a}, axis={ax})", shape[:ax] + shape[ax + 1:], bound, True
    if choice == "moveaxis" and nd >= 2:
        return f"ns.moveaxis({a}, 0, -1)", shape[1:] + shape[:1], bound, True
    if choice == "take" and nd >= 1 and shape[0] > 0:
        idx = [draw(st.integers(0, shape[0] - 1)) for _ in range(draw(st.integers(1, 4)))]
        return f"ns.take({a}, {idx}, axis=0)", (len(idx),) + shape[1:], bound, True
    if choice == "at_add" and nd >= 1 and shape[0] > 0:
        idx = [draw(st.integers(0, shape[0] - 1)) for _ in range(draw(st.integers(1, 3)))]
        return f"ns.at_add({a}, {idx}, 0.5 * {a}[0])", shape, bound * 2.5, True
    if choice == "scan" and nd >= 1:
        return f"ns.scan({a})", shape, 2 * bound, True
    if choice in ("solve", "slogdet") and nd >= 2 and shape[-1] == shape[-2] and shape[-1] > 0:
        n = shape[-1]
        m = f"{a} @ ns.swapaxes({a}, -1, -2) + 4.0 * ns.eye({n}, dtype={a}.dtype)"  # eigenvalues >= 4
        if choice == "solve":
            return f"ns.linalg.solve({m}, {a})", shape, bound * n, True
        return f"ns.linalg.slogdet({m})[1]", shape[:-2], n * math.log(bound * bound * n + 4.0), True
    if choice == "einsum" and nd >= 1:
        partners = [v for v in vals if len(v[1]) >= 1 and v[1][-1] == shape[-1]]
        b, b_shape, b_bound = partners[draw(st.integers(0, len(partners) - 1))]
        return (f"ns.einsum('...i,...i->...', {a}, {b})", np.broadcast_shapes(shape[:-1], b_shape[:-1]),
                bound * b_bound * shape[-1], True) if _broadcastable(shape[:-1], b_shape[:-1]) else None
    if choice == "transpose" and nd >= 2:
        return f"ns.transpose({a})", shape[::-1], bound, True
    if choice == "reshape" and nd != 1:
        return f"ns.reshape({a}, (-1,))", (int(np.prod(shape)),), bound, True
    if choice == "expand" and nd < 4:
        ax = draw(st.integers(0, nd))
        return f"ns.expand_dims({a}, {ax})", shape[:ax] + (1,) + shape[ax:], bound, True
    if choice == "broadcast" and nd < 4:
        new = (draw(st.sampled_from([2, 1, 3])),) + shape
        return f"ns.broadcast_to({a}, {new})", new, bound, True
    if choice == "flip" and nd >= 1:
        return f"{a}[..., ::-1]", shape, bound, True
    if choice == "slice" and nd >= 1:
        return f"{a}[1:]", (max(shape[0] - 1, 0),) + shape[1:], bound, True
    if choice == "index" and nd >= 1 and shape[0] > 0:
        i = draw(st.integers(-shape[0], shape[0] - 1))
        return f"{a}[{i}]", shape[1:], bound, True
    if choice == "concat" and nd >= 1:
        partners = [v for v in vals if len(v[1]) == nd and v[1][:-1] == shape[:-1]]
        b, b_shape, b_bound = partners[draw(st.integers(0, len(partners) - 1))]
        return (f"ns.concatenate([{a}, {b}], axis=-1)", shape[:-1] + (shape[-1] + b_shape[-1],),
                max(bound, b_bound), True)
    if choice == "matmul" and nd >= 1:
        partners = [v for v in vals if len(v[1]) >= 1 and v[1][-1] == shape[-1]
                    and (nd == 1 or len(v[1]) == 1 or _broadcastable(shape[:-2], v[1][:-2]))]
        b, b_shape, b_bound = partners[draw(st.integers(0, len(partners) - 1))]
        k = shape[-1]
        if nd == 1 and len(b_shape) >= 2:  # a vector: a matrix-vector product
            return f"ns.matmul({b}, {a})", b_shape[:-1], bound * b_bound * k, True
        if len(b_shape) == 1:
            return f"ns.matmul({a}, {b})", shape[:-1], bound * b_bound * k, True
        out = np.broadcast_shapes(shape[:-2], b_shape[:-2]) + (shape[-2], b_shape[-2])
        return f"ns.matmul({a}, ns.swapaxes({b}, -1, -2))", out, bound * b_bound * k, True
    return None


def _broadcastable(s1, s2) -> bool:
    try:
        np.broadcast_shapes(s1, s2)
        return True
    except ValueError:
        return False


# --------------------------------------------------------------------------------------
# Helpers


def _tol(prog, scale=1.0):
    """(rtol, atol) by dtype: the worst input dtype decides."""
    return (2e-4 * scale, 2e-4 * scale) if prog.low_precision else (1e-9 * scale, 1e-9 * scale)


def _as_tuple(out):
    return tuple(out) if isinstance(out, tuple) else (out,)


def _assert_all_close(actual, expected, rtol, atol, what, prog, check_dtype=True):
    actual, expected = _as_tuple(actual), _as_tuple(expected)
    assert len(actual) == len(expected), f"{what}: {len(actual)} outputs vs {len(expected)}"
    for a, e in zip(actual, expected, strict=True):
        a, e = np.asarray(a), np.asarray(e)
        assert a.shape == e.shape, f"{what}: shape {a.shape} vs {e.shape}{prog!r}"
        if check_dtype:
            assert a.dtype == e.dtype, f"{what}: dtype {a.dtype} vs {e.dtype}{prog!r}"
        np.testing.assert_allclose(a.astype(np.float64), e.astype(np.float64), rtol=rtol, atol=atol,
                                   err_msg=f"{what}{prog!r}")


def _scalar_fn(prog):
    f = prog.fn(FNP)

    def loss(*xs):
        return sum(fnp.sum(o) for o in _as_tuple(f(*xs)))

    return loss


def _inner(xs, ys) -> float:
    return float(sum(np.sum(np.asarray(x, np.float64) * np.asarray(y, np.float64))
                     for x, y in zip(xs, ys, strict=True)))


def _random_like(rng, xs):
    return tuple(rng.standard_normal(np.shape(x)).astype(np.asarray(x).dtype) for x in xs)


# --------------------------------------------------------------------------------------
# The properties


@budget(200)
@given(programs())
def test_eager_matches_numpy(prog):
    xs = prog.inputs()
    expected = prog.fn(NP)(*xs)
    actual = prog.fn(FNP)(*xs)
    rtol, atol = _tol(prog, 10.0)
    _assert_all_close(actual, expected, rtol, atol, "eager funcad vs NumPy", prog)


@budget(16, jit=True)
@given(programs(max_ops=5))
def test_jit_matches_eager(prog):
    STATS["jit_programs"] += 1
    xs = prog.inputs()
    expected = prog.fn(FNP)(*xs)
    actual = fa.jit(prog.fn(FNP))(*xs)
    rtol, atol = _tol(prog, 10.0)
    _assert_all_close(actual, expected, rtol, atol, "jit vs eager", prog)
    # the same program at other values (and sizes of the same rank) reuses the compilation
    xs2 = prog.inputs(seed_offset=1)
    _assert_all_close(fa.jit(prog.fn(FNP))(*xs2), prog.fn(FNP)(*xs2), rtol, atol,
                      "jit vs eager (second call)", prog)


@budget(6, jit=True)
@given(programs(max_ops=4, dtypes=("float64",)))
def test_jit_of_grad_matches_grad(prog):
    STATS["jit_programs"] += 1
    xs = prog.inputs()
    argnums = tuple(range(len(xs)))
    g = fa.grad(_scalar_fn(prog), argnums=argnums)
    expected = g(*xs)
    actual = fa.jit(g)(*xs)
    _assert_all_close(actual, expected, 1e-9, 1e-9, "jit(grad) vs grad", prog)


@budget(5, jit=True)
@given(programs(max_ops=4))
def test_vmap_of_jit_matches_vmap(prog):
    """jit's batching rule: vmap(jit(f)) compiles the batched program; it must equal vmap(f)."""
    STATS["jit_programs"] += 1
    xs = [np.stack([x, prog.inputs(seed_offset=1)[i]]) for i, x in enumerate(prog.inputs())]
    expected = fa.vmap(prog.fn(FNP))(*xs)
    actual = fa.vmap(fa.jit(prog.fn(FNP)))(*xs)
    rtol, atol = _tol(prog, 10.0)
    _assert_all_close(actual, expected, rtol, atol, "vmap(jit) vs vmap", prog)


@budget(120)
@given(programs(), st.data())
def test_vmap_matches_a_loop(prog, data):
    size = data.draw(st.integers(1, 3), label="batch size")
    xs, in_axes = [], []
    for i, x in enumerate(prog.inputs()):
        ax = data.draw(st.sampled_from([0, None] + list(range(1, x.ndim + 1))), label=f"in_axes[{i}]")
        in_axes.append(ax)
        if ax is None:
            xs.append(x)
        else:
            rows = [x] + [prog.inputs(seed_offset=k)[i] for k in range(1, size)]
            xs.append(np.stack(rows, axis=ax))
    assume(any(a is not None for a in in_axes))
    out_axes = data.draw(st.sampled_from([0, -1]), label="out_axes")
    rtol, atol = _tol(prog, 10.0)
    check_vmap(prog.fn(FNP), xs, in_axes=tuple(in_axes), out_axes=out_axes, rtol=rtol, atol=atol)


@budget(40)
@given(programs(max_inputs=2, dtypes=("float64",)))
def test_vmap_of_grad_matches_a_loop_of_grads(prog):
    """Per-example gradients: vmap(grad(f)) against grad(f) on each example."""
    xs = [np.stack([x] + [prog.inputs(seed_offset=k)[i] for k in (1, 2)])
          for i, x in enumerate(prog.inputs())]
    in_axes = (0,) + (None,) * (len(xs) - 1)
    xs = [xs[0]] + [x[0] for x in xs[1:]]
    check_vmap(fa.grad(_scalar_fn(prog)), xs, in_axes=in_axes, rtol=1e-9, atol=1e-9)


@budget(150)
@given(programs())
def test_jvp_and_vjp_are_adjoint(prog):
    xs = tuple(prog.inputs())
    rng = np.random.default_rng(prog.seed)
    f = prog.fn(FNP)
    vs = _random_like(rng, xs)
    out, jv = fa.jvp(f, xs, vs)
    out2, vjp_fn = fa.vjp(f, *xs)
    us = _random_like(rng, _as_tuple(out))
    jtu = vjp_fn(us if isinstance(out, tuple) else us[0])
    rtol, atol = _tol(prog, 10.0)
    _assert_all_close(out, out2, rtol, atol, "jvp's and vjp's primal outputs", prog)
    lhs, rhs = _inner(us, _as_tuple(jv)), _inner(jtu, vs)
    scale = 1.0 + _inner([abs(np.asarray(u)) for u in us], [abs(np.asarray(j)) for j in _as_tuple(jv)])
    assert abs(lhs - rhs) <= atol * scale, f"<u, J v> = {lhs} but <J^T u, v> = {rhs}{prog!r}"


@budget(100)
@given(programs(max_inputs=2))
def test_jacfwd_equals_jacrev(prog):
    xs = prog.inputs()
    assume(sum(x.size for x in xs) <= 24)
    argnums = tuple(range(len(xs)))
    f = prog.fn(FNP)
    fwd = fa.jacfwd(f, argnums=argnums)(*xs)
    rev = fa.jacrev(f, argnums=argnums)(*xs)
    rtol, atol = _tol(prog, 10.0)
    fwd_l, rev_l = fa.tree_util.tree_flatten(fwd)[0], fa.tree_util.tree_flatten(rev)[0]
    assert len(fwd_l) == len(rev_l)
    # Blocks between a float32 and a float64 leaf take the output's dtype by jacfwd and the
    # input's by jacrev (as in JAX): only the values must agree then.
    _assert_all_close(tuple(fwd_l), tuple(rev_l), rtol, atol, "jacfwd vs jacrev", prog,
                      check_dtype=not prog.mixed)


@budget(80)
@given(programs(max_inputs=2))
def test_hessian_is_symmetric(prog):
    xs = prog.inputs()
    assume(xs[0].size <= 12)
    h = np.asarray(fa.hessian(_scalar_fn(prog))(*xs), np.float64)
    n = xs[0].size
    assert h.shape == xs[0].shape * 2
    h = h.reshape(n, n)
    rtol, atol = _tol(prog, 100.0)
    np.testing.assert_allclose(h, h.T, rtol=rtol, atol=atol * (1 + np.abs(h).max(initial=0)),
                               err_msg=f"hessian not symmetric{prog!r}")


@budget(80)
@given(programs(smooth_only=True, dtypes=("float64",), max_ops=5, max_inputs=2))
def test_check_grads_against_finite_differences(prog):
    xs = prog.inputs()
    try:
        check_grads(prog.fn(FNP), tuple(xs), order=2, modes=("fwd", "rev"), atol=1e-4, rtol=1e-4)
    except AssertionError as e:
        raise AssertionError(f"{e}{prog!r}") from None


# --------------------------------------------------------------------------------------
# The generator itself


def test_the_generator_covers_the_shapes_and_operations_it_promises():
    """Across the CI budget's worth of programs: 0-d, size-1 and empty axes, both dtypes,
    and every operation in the tables, appear."""
    seen_ops, shapes, dtypes = set(), set(), set()

    @settings(max_examples=400, derandomize=True, database=None)
    @given(programs())
    def collect(prog):
        for ln in prog.lines:
            seen_ops.update(w for w in UNARY if UNARY[w][0].split("(")[0] in ln)
        shapes.update(prog.in_shapes)
        dtypes.update(prog.in_dtypes)

    collect()
    assert () in shapes and any(1 in s for s in shapes) and any(0 in s for s in shapes)
    assert dtypes == {"float32", "float64"}
    assert len(seen_ops) > 10


def test_a_wrong_rule_is_caught():
    """The adjointness and finite-difference checks fail on a deliberately wrong JVP rule
    (a check that cannot fail is not a check)."""
    from funcad import ad

    saved = ad.jvp_rules[ew.sin_p]
    ad.defjvp(ew.sin_p, lambda g, ans, x: ew.mul(g, ew.sin(x)))  # wrong: should be cos
    try:
        prog = Program([(3,)], ["float64"], ["v0 = ns.sin(x0)"], ["v0"], True, 0)
        with pytest.raises(AssertionError):
            test_check_grads_against_finite_differences.hypothesis.inner_test(prog)
    finally:
        ad.jvp_rules[ew.sin_p] = saved
    test_check_grads_against_finite_differences.hypothesis.inner_test(prog)
