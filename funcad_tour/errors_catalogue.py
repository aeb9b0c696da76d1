"""The bad-input catalogue: every user mistake funcad recognises, run for real.

Each entry is a snippet that makes the mistake, the exception class it must raise, and the fix.
``python -m funcad_tour.errors_catalogue > docs/errors.md`` regenerates the documentation from the
messages the code actually produces (tests/test_errors_catalogue.py checks it is up to date,
and that every snippet raises its class).
"""

from __future__ import annotations

import textwrap
import warnings
from typing import NamedTuple


class Case(NamedTuple):
    key: str
    title: str
    code: str  # runs with np, fa, fnp in scope; must raise ``error``
    error: str  # the class in funcad.errors
    fix: str
    needs: str = ""  # an optional extra's module the code imports (the case is skipped without it)


CASES = [
    # shapes
    Case("broadcast", "Operands whose shapes do not broadcast",
         "fnp.add(np.ones(3), np.ones(4))", "ShapeError",
         "Align the shapes (NumPy's broadcasting rule): insert an axis with `x[:, None]` or reshape."),
    Case("matmul", "Matrix product with mismatched inner dimensions",
         "fa.grad(lambda a, b: fnp.sum(a @ b))(np.ones((2, 3)), np.ones((2, 3)))", "ShapeError",
         "Transpose one operand (`a @ b.T`) so the inner dimensions agree."),
    Case("reshape", "Reshape to a different number of elements",
         "fnp.reshape(np.ones(3), (4,))", "ShapeError", "Give a shape with the same product (or -1 once)."),
    Case("jvp-tangent-shape", "A tangent shaped unlike its primal",
         "fa.jvp(fnp.sin, (np.ones(3),), (np.ones(2),))", "ShapeError",
         "Give each tangent the shape and dtype of its primal."),
    # dtypes under differentiation
    Case("grad-int", "grad with respect to an integer",
         "fa.grad(lambda x: x * 2.0)(3)", "DTypeError", "Pass a float: `3.0`, or `x.astype(float)`."),
    Case("grad-bool", "grad with respect to a boolean array",
         "fa.grad(lambda m: fnp.sum(m * 1.0))(np.array([True, False]))", "DTypeError",
         "Booleans have no derivative: move the mask out of `argnums`, or cast it to float."),
    Case("grad-complex-output", "grad of a complex-valued function without holomorphic=True",
         "fa.grad(lambda z: z * z)(1j)", "HolomorphicError",
         "Pass `holomorphic=True` for a holomorphic function, or differentiate a real value "
         "(`fnp.abs(y) ** 2`, `y.real`) or use `vjp`, as in JAX."),
    Case("holomorphic-real-input", "holomorphic=True with a real input",
         "fa.grad(lambda z: z * z, holomorphic=True)(2.0)", "HolomorphicError",
         "Pass a complex input (`2.0 + 0j`), or drop `holomorphic=True`."),
    Case("jacfwd-complex-input", "jacfwd of a complex input without holomorphic=True",
         "fa.jacfwd(lambda z: fnp.abs(z))(np.array([1j]))", "HolomorphicError",
         "Pass `holomorphic=True` for a holomorphic function; otherwise use `jacrev` (real "
         "outputs) or `jvp` along the real and imaginary directions, as in JAX."),
    Case("hessian-int", "hessian (jacfwd, jacrev) of an integer input",
         "fa.hessian(lambda x: x ** 3)(2)", "DTypeError", "Pass a float (`2.0`)."),
    Case("grad-nonscalar", "grad of a function whose output is not a scalar",
         "fa.grad(lambda w: w * 2.0)(np.ones((3, 2)))", "NonScalarOutputError",
         "Reduce the output (`fnp.sum`), or use `jacrev`/`jacobian` or `elementwise_grad`."),
    Case("grad-int-output", "grad of a function with an integer or boolean output",
         "fa.grad(lambda x: fnp.sum(x > 0))(np.ones(3))", "DTypeError",
         "Return a float: the derivative of a count or a test is zero almost everywhere."),
    # argument types
    Case("str", "A string as an argument to a transformation",
         "fa.grad(lambda x: x)('1.5')", "DTypeError",
         "Convert it: `float('1.5')`, or make it static under jit."),
    Case("str-jit", "A string as a traced argument of jit",
         "fa.jit(lambda x, mode: x)(1.0, 'fast')", "DTypeError",
         "Mark settings static: `jit(f, static_argnames='mode')`."),
    Case("object-array", "An object array",
         "fa.grad(lambda x: fnp.sum(x))(np.array([1.0, 'a'], dtype=object))", "DTypeError",
         "Build a numeric array (`np.asarray(values, dtype=float)`)."),
    Case("string-array", "A string array under vmap",
         "fa.vmap(fnp.sin)(np.array(['a', 'b']))", "DTypeError", "Pass numeric arrays."),
    Case("class-instance", "An instance of an unregistered class",
         "class Params:\n    w = 1.0\n    def __repr__(self):\n        return 'Params()'\n\n"
         "fa.grad(lambda p: p.w)(Params())", "DTypeError",
         "Use a dict or tuple, or register the class with `fa.tree_util.register_pytree_node`."),
    Case("none", "None where an array is expected",
         "fa.grad(lambda x, y: fnp.sum(x * y))(np.ones(2), None)", "DTypeError",
         "Pass an array. (None itself is an empty pytree, as in JAX: a transformation passes it "
         "through untouched, so `grad(f)(None)` differentiates with respect to nothing.)"),
    Case("none-vmap", "vmap over nothing but None",
         "fa.vmap(fnp.sin)(None)", "BatchingError", "Map at least one array argument."),
    # tracing
    Case("if-under-jit", "Python control flow on a traced value under jit",
         "fa.jit(lambda x: x if x > 0 else -x)(1.0)", "ConcretizationError",
         "Use `fnp.where`, `fa.lax.cond`, or mark the argument static (`static_argnums`)."),
    Case("float-under-jit", "float() of a traced value under jit",
         "fa.jit(lambda x: float(x) * 2.0)(1.0)", "ConcretizationError",
         "Keep the value an array (no `float`/`int`/`.item()`) inside jit."),
    Case("float-under-grad", "A differentiated value converted to a Python number (math.sin, float)",
         "import math\nfa.grad(lambda w: math.sin(w))(1.0)", "ConcretizationError",
         "Use funcad.numpy (`fnp.sin(w)`); keep values arrays; `fa.lax.stop_gradient(w)` if the "
         "number is meant as a constant. (`if w > 0:` keeps working under eager grad.)"),
    Case("setitem-traced", "Assignment into an array of a traced value (`y[0] = 2 * x`)",
         "def f(x):\n    y = fnp.zeros(2)\n    y[0] = 2 * x\n    return fnp.sum(y)\n\n"
         "fa.grad(f)(1.0)", "ConcretizationError",
         "Write `y = y.at[0].set(2 * x)` (`fnp.asarray(y).at[...]` for a NumPy array)."),
    Case("custom-vjp-traced", "Python control flow in a custom_vjp function under jit",
         "f = fa.custom_vjp(lambda x: x if x > 0 else -x)\n"
         "f.defvjp(lambda x: (f(x), x), lambda x, g: (g * fnp.sign(x),))\n"
         "fa.jit(f)(1.0)", "ConcretizationError",
         "Use `fnp.where`/`fa.lax.cond` in the function (eagerly, and under eager grad, it runs "
         "on concrete values)."),
    Case("custom-jvp-nonlinear", "grad through a custom_jvp rule that is not linear in its tangents",
         "f = fa.custom_jvp(lambda x: x)\n"
         "f.defjvp(lambda primals, tangents: (primals[0], fnp.clip(tangents[0], -1.0, 1.0)))\n"
         "fa.grad(f)(2.0)", "NonlinearTangentError",
         "Write the rule as a `fa.custom_vjp` (its backward pass may clip), or use forward mode "
         "(`jvp`, `jacfwd`), as in JAX's tutorial."),
    Case("arange-traced-jit", "arange with a traced endpoint under jit",
         "fa.jit(lambda a: fnp.arange(a, 3.0))(0.5)", "ConcretizationError",
         "Use `fnp.linspace(a, b, num)` with a fixed `num`, or make the endpoint static."),
    Case("pure-callback-grad", "grad through a pure_callback",
         "import scipy.special\n"
         "fa.grad(lambda x: fnp.sum(fa.pure_callback(scipy.special.j0, x, x)))(np.ones(2))",
         "CallbackDerivativeError",
         "Wrap the caller in `fa.custom_jvp`/`fa.custom_vjp` and give its derivative."),
    Case("pure-callback-shape", "A pure_callback returning another shape than declared",
         "fa.pure_callback(np.sin, np.zeros(3), np.ones(2))", "CallbackResultError",
         "Declare the shapes and dtypes the callback really returns."),
    Case("pure-callback-vmap", "vmap of a pure_callback without vmap_method",
         "fa.vmap(lambda x: fa.pure_callback(np.sin, x, x))(np.ones(2))", "BatchingError",
         "Pass `vmap_method='sequential'`, `'expand_dims'` or `'broadcast_all'`."),
    Case("if-under-vmap", "Python branching on a batched value under vmap",
         "fa.vmap(lambda x: x if x > 0 else -x)(np.ones(3))", "ConcretizationError",
         "Select per example with `fnp.where(x > 0, x, -x)`."),
    Case("value-dependent-shape", "A function whose result's shape depends on the values, under jit",
         "fa.jit(lambda x: fnp.unique(x))(np.array([3.0, 1.0, 3.0]))", "ConcretizationError",
         "Fix the size as in JAX: `fnp.unique(x, size=3, fill_value=0.0)` (also `nonzero`, "
         "`argwhere`, `where(c)`; `bincount(x, length=n)`), or call it outside jit."),
    Case("leaked-tracer", "A traced value stored outside its transformation and used later",
         "leaked = []\n"
         "fa.grad(lambda w: leaked.append(fnp.tanh(w)) or fnp.sum(w))(np.ones(2))\n"
         "leaked[0] + 1.0", "UnexpectedTracerError",
         "Return the value from the function (`has_aux=True` to return it alongside a gradient)."),
    Case("np-asarray", "Plain NumPy conversion of a traced value",
         "fa.grad(lambda x: float(np.asarray(x).sum()))(np.ones(2))", "TracerArrayConversionError",
         "Use funcad.numpy (`import funcad.numpy as fnp`) inside transformed functions."),
    Case("unsupported-numpy", "A NumPy function funcad does not support, on a traced value",
         "fa.grad(lambda x: fnp.sum(np.unwrap(x)))(np.ones(4))", "UnsupportedFunctionError",
         "Use a supported function, or call NumPy outside the transformed function."),
    Case("no-shape-derivative", "The derivative of an incomplete gamma/beta function in its shape parameter",
         "import funcad.scipy.special as fsp\nfa.grad(lambda a: fsp.gammainc(a, 2.0))(1.5)",
         "UnsupportedFunctionError",
         "Differentiate in x only; hold a (and b of betainc) constant, e.g. with `fa.lax.stop_gradient`."),
    # transformation arguments
    Case("vjp-cotangent-structure", "A cotangent whose structure does not match vjp's output",
         "out, vjp_fn = fa.vjp(lambda x: (x, 2.0 * x), 1.0)\nvjp_fn(1.0)", "TreeStructureError",
         "Pass one cotangent per output, in the same structure: `vjp_fn((1.0, 0.0))`."),
    Case("vjp-cotangent-shape", "A cotangent shaped unlike its output",
         "out, vjp_fn = fa.vjp(fnp.sin, np.ones(3))\nvjp_fn(np.ones(2))", "ShapeError",
         "Give the cotangent the output's shape."),
    Case("static-argnums-range", "static_argnums out of range",
         "fa.jit(lambda x: x, static_argnums=3)", "ArgumentError",
         "Number static arguments among the function's positional parameters."),
    Case("static-argnames-unknown", "static_argnames naming a parameter the function does not have",
         "fa.jit(lambda x, mode: x, static_argnames='mdoe')", "ArgumentError",
         "Spell the parameter as the function does (or give the function a `**kwargs`)."),
    Case("masked-array", "A masked array (or np.matrix) as an argument",
         "fa.jit(fnp.sum)(np.ma.array([1.0, 2.0, 3.0], mask=[0, 1, 0]))", "ArraySubclassError",
         "Pass plain arrays: `x.filled(0.0)` or `x.compressed()`, with the mask as an array if needed."),
    Case("int-out-of-bounds", "A Python integer that does not fit the array's integer dtype",
         "fa.jit(lambda x: x + 2**63)(np.arange(3))", "IntegerOutOfBoundsError",
         "Widen the array first (`x.astype(np.float64)`, or a wider integer dtype), as in NumPy."),
    Case("bool-subtract", "Arithmetic NumPy does not define on booleans (subtract, negative, sign)",
         "fa.jit(fnp.subtract)(np.array([True]), np.array([False]))", "DTypeError",
         "Use `fnp.logical_xor`/`fnp.logical_not`, or cast to int first."),
    Case("real-only-complex", "A complex operand of a function NumPy defines on reals only (copysign, deg2rad...)",
         "fnp.copysign(np.array([1 + 2j]), 1.0)", "DTypeError",
         "Pass the real and imaginary parts separately (`x.real`, `x.imag`), or the magnitude `fnp.abs(x)`."),
    Case("ldexp-float-exponent", "A float exponent for ldexp",
         "fnp.ldexp(np.ones(2), np.array([1.5, 2.0]))", "DTypeError",
         "Round the exponent to integers: `x2.astype(int)`."),
    Case("static-unhashable", "An unhashable static argument",
         "fa.jit(lambda x, n: x * n, static_argnums=1)(1.0, np.ones(2))", "ArgumentError",
         "Static arguments key the cache: pass a tuple or a number, or make the array a traced argument."),
    Case("argnums-range", "argnums out of range",
         "fa.grad(lambda x: x, argnums=2)(1.0)", "ArgumentError",
         "Number the differentiated arguments among those passed."),
    Case("vmap-in-axes-range", "vmap in_axes out of range",
         "fa.vmap(fnp.sin, in_axes=2)(np.ones(3))", "BatchingError",
         "Map an existing axis, in [-rank, rank)."),
    Case("vmap-out-axes-range", "vmap out_axes out of range",
         "fa.vmap(fnp.sin, out_axes=3)(np.ones(3))", "BatchingError",
         "Place the batch axis within the result's rank."),
    Case("vmap-sizes", "vmap over arguments of different sizes",
         "fa.vmap(fnp.add)(np.ones(3), np.ones(4))", "BatchingError",
         "Every mapped argument must have the same size along its mapped axis."),
    Case("vmap-in-axes-tree", "vmap in_axes that do not match the arguments",
         "fa.vmap(fnp.add, in_axes=(0,))(np.ones(3), np.ones(3))", "BatchingError",
         "Give one in_axes entry per positional argument (None for unmapped ones)."),
    Case("has-aux", "has_aux=True on a function that does not return a pair",
         "fa.grad(lambda x: x * 1.0, has_aux=True)(1.0)", "ArgumentError",
         "Return `(output, aux)`."),
    Case("jvp-not-tuples", "jvp with primals that are not a tuple",
         "fa.jvp(fnp.sin, 1.0, 1.0)", "ArgumentError", "Wrap them: `fa.jvp(f, (x,), (v,))`."),
    # control flow
    Case("cond-branches", "lax.cond branches returning different types",
         "fa.lax.cond(True, lambda: 1.0, lambda: np.ones(2))", "BranchTypeError",
         "Make both branches return the same structure, shapes and dtypes."),
    Case("loop-carry", "A loop body that changes the carry's type",
         "fa.lax.while_loop(lambda c: c < 3.0, lambda c: np.ones(2), 0.0)", "CarryTypeError",
         "Return a carry shaped like the initial value."),
    # jit limits and debugging
    Case("too-large", "A program too large to compile (an unrolled Python loop)",
         "def f(x):\n    for _ in range(50001):\n        x = x * 0.5 + 1.0\n    return x\n"
         "fa.jit(f)(1.0)", "ProgramTooLargeError",
         "Write the loop with `fa.lax.fori_loop`/`fa.lax.scan`, or raise FUNCAD_JIT_MAX_EQNS."),
    Case("jit-backend", "An unknown jit backend in FUNCAD_JIT_BACKEND",
         "import os\nsaved = os.environ.get('FUNCAD_JIT_BACKEND', '')\n"
         "os.environ['FUNCAD_JIT_BACKEND'] = 'llvm'\n"
         "try:\n    fa.jit(lambda x: x * 2.0)(1.0)\nfinally:\n    os.environ['FUNCAD_JIT_BACKEND'] = saved",
         "UnknownBackendError",
         "Unset it, or set it to `table` (the only backend)."),
    Case("python-build", "jit on a Python whose object layout it cannot read (a free-threaded build)",
         "from funcad.backend import table\nsaved, table._OFFSETS = table._OFFSETS, None  # (as there)\n"
         "try:\n    fa.jit(lambda x: x * 3.0)(1.0)\nfinally:\n    table._OFFSETS = saved",
         "UnsupportedPythonError", "Use a standard (GIL) CPython build, or run without jit."),
    Case("debug-nans", "A NaN, with debug_nans on",
         "fa.config.update('debug_nans', True)\n"
         "try:\n    fa.grad(lambda x: fnp.sum(fnp.log(x)))(np.array([1.0, -1.0]))\n"
         "finally:\n    fa.config.update('debug_nans', False)", "NaNError",
         "Keep the input in the function's domain; the message names the primitive and the line."),
    Case("config-option", "An unknown configuration option",
         "fa.config.update('debug_nan', True)", "ArgumentError", "Use one of the listed options."),
    # sparse derivatives
    Case("sparsity-mode", "An unknown sparsity mode",
         "fa.jacobian_sparsity(fnp.sin, mode='exact')", "ArgumentError",
         "Use `mode='global'` (any input) or `mode='local'` (at the given input)."),
    Case("sparse-hessian-nonscalar", "sparse_hessian of a function that is not scalar",
         "fa.sparse_hessian(fnp.sin)(np.ones(3))", "NonScalarObjectiveError",
         "Sum the output, or take `fa.sparse_jacobian(fa.grad(f))` of a scalar function."),
    Case("coloring-order", "An unknown vertex order for a coloring",
         "fa.coloring.color_star(np.eye(3), order='random')", "ArgumentError",
         "Use 'natural', 'largest_first' or 'smallest_last'."),
    Case("newton-hessian", "newton with an unknown Hessian kind",
         "fa.optimize.newton(lambda x: fnp.sum(x ** 2), np.ones(2), hessian='banded')", "ArgumentError",
         "Use `hessian='dense'` or `hessian='sparse'`."),
    # porting JAX and autograd code
    Case("traced-slice-size", "A slice whose size depends on a traced value",
         "fa.jit(lambda x, i, j: x[i:j])(np.arange(5.0), 1, 3)", "ConcretizationError",
         "Write `x[i:i + k]` with a Python int `k` (a dynamic slice), or "
         "`fa.lax.dynamic_slice_in_dim(x, i, k)`."),
    Case("unregistered-dataclass", "A dataclass that is not a registered pytree",
         "import dataclasses\n@dataclasses.dataclass\nclass P:\n    w: object\n"
         "fa.grad(lambda p: p.w)(P(1.0))", "DTypeError",
         "Decorate the class with `@fa.tree_util.register_dataclass`."),
    Case("vmap-axis-size", "vmap's axis_size disagreeing with a mapped argument",
         "fa.vmap(lambda x: x, axis_size=2)(np.ones(3))", "BatchingError",
         "Give the size the mapped arguments have, or leave axis_size out."),
    Case("autograd-size-one", "autograd's grad of an output with more than one element",
         "import funcad.autograd as ag\nag.grad(lambda x: x * 2.0)(np.ones(2))", "NonScalarOutputError",
         "Reduce the output (`np.sum`), or use `jacobian`/`elementwise_grad`."),
    Case("autograd-missing-rule", "Differentiating an autograd primitive without a rule",
         "from funcad.autograd.extend import primitive\nimport funcad.autograd as ag\n"
         "f = primitive(lambda x: x * 2.0)\nag.grad(f)(1.0)", "UnsupportedFunctionError",
         "Give the derivative with `defvjp(f, ...)` or `defjvp(f, ...)`."),
    Case("callback-result", "A pure_callback returning other shapes than it declares",
         "fa.pure_callback(lambda x: np.ones(3), fa.ShapeDtypeStruct((2,), np.float64), np.ones(2))",
         "CallbackResultError", "Declare the shapes and dtypes the callback really returns."),
    Case("callback-derivative", "Differentiating through pure_callback",
         "fa.grad(lambda x: fa.pure_callback(np.sin, fa.ShapeDtypeStruct((), np.float64), x))(1.0)",
         "CallbackDerivativeError",
         "Wrap the function that calls it in `fa.custom_jvp`/`fa.custom_vjp` and give a rule."),
    Case("autograd-primitive-jit", "An autograd primitive under jit that fails on stand-in arguments",
         "from funcad.autograd.extend import primitive\n"
         "f = primitive(lambda x: np.linalg.cholesky(x - 1.0))\n"
         "fa.jit(f)(2.0 * np.eye(2))", "PrimitiveShapeError",
         "Call it outside jit, or use `fa.pure_callback`, which states the result's shape."),
    Case("numpy-scalar-of-tracer", "A NumPy conversion of a traced value (`np.float64(x)`)",
         "fa.grad(lambda w: np.float64(w) * w)(3.0)", "TracerArrayConversionError",
         "Keep it an array: `w`, `fnp.asarray(w)`, `w.astype(fnp.float64)`; "
         "`fa.lax.stop_gradient(w)` if it is a constant."),
    Case("fft-norm", "A Fourier transform's norm that is not a normalisation",
         "fnp.fft.rfft(np.ones(8), norm='unitary')", "FFTArgumentError",
         "Use norm='backward' (the default), 'ortho' or 'forward', as NumPy."),
    # funcad.dask (the extra funcad[dask])
    Case("dask-not-an-array", "funcad.dask given data that is not a dask array",
         "from funcad import dask as fdask\n"
         "fdask.ChunkedLoss(lambda w, X: fnp.sum(X @ w), [[1.0, 2.0], [3.0, 4.0]])", "ArgumentError",
         "Pass a `dask.array` chunked by rows (`da.from_array(X, chunks=(10_000, -1))`) or a "
         "NumPy array.", needs="dask"),
    Case("dask-reduction", "A chunked loss's reduction other than 'sum' or 'mean'",
         "import dask.array as da\nfrom funcad import dask as fdask\n"
         "X = da.ones((6, 2), chunks=(3, 2))\n"
         "fdask.ChunkedLoss(lambda w, X: fnp.sum(X @ w), X, reduction='avg')", "ArgumentError",
         "Say whether the loss returns its chunk's sum (`'sum'`) or mean (`'mean'`).", needs="dask"),
    Case("dask-row-chunks", "X and y chunked by different rows",
         "import dask.array as da\nfrom funcad import dask as fdask\n"
         "X, y = da.ones((6, 2), chunks=(3, 2)), da.ones(6, chunks=2)\n"
         "fdask.newton(lambda w, X, y: fnp.sum((X @ w - y) ** 2), np.zeros(2), X, y)",
         "ArgumentError", "Rechunk y like X: `y.rechunk({0: X.chunks[0]})`.", needs="dask"),
    Case("dask-persist-no-client", "persist_evenly without a distributed.Client",
         "import dask.array as da\nfrom funcad import dask as fdask\n"
         "fdask.persist_evenly(da.ones((6, 2), chunks=(3, 2)))", "ArgumentError",
         "Start a client first (`distributed.Client(LocalCluster())`, or `Client('tcp://host:8786')` "
         "for a cluster), or use `X.persist()` with another scheduler.", needs="dask"),
]


def missing_extras() -> list[str]:
    """The optional extras' modules that some case needs and this environment lacks."""
    import importlib.util

    return sorted({c.needs for c in CASES if c.needs and importlib.util.find_spec(c.needs) is None})


def run_case(case: Case) -> BaseException:
    """Run ``case.code``; return the exception it raised (AssertionError if none)."""
    import numpy as np

    import funcad as fa
    import funcad.numpy as fnp

    env = {"np": np, "fa": fa, "fnp": fnp}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            exec(compile(case.code, f"<{case.key}>", "exec"), env)
        except Exception as e:  # noqa: BLE001 - the point is to catch it
            return e
    return AssertionError(f"{case.key}: no error was raised")


NAN_INF_INPUTS = "np.array([np.nan, np.inf, -np.inf, 0.0, -1.0])"
NAN_INF_FUNCTIONS = ["fnp.sin(x)", "fnp.log(x)", "fnp.sqrt(x)", "1.0 / x", "fnp.exp(x)", "fnp.tanh(x)",
                     "fnp.maximum(x, 0.0)", "fnp.sum(x)", "fnp.max(x)", "x * 0.0"]


def render() -> str:
    """docs/errors.md, from the messages the code produces now (all the optional extras
    installed: a case whose extra is missing shows that instead of its message)."""
    from funcad import errors

    out = ["# Errors: every user mistake funcad recognises\n",
           "Generated by `python -m funcad_tour.errors_catalogue > docs/errors.md` from the messages the "
           "code raises (tests/test_errors_catalogue.py keeps it true). Every class derives from "
           "`funcad.errors.FuncadError` and from the built-in exception a NumPy user would expect "
           "(`ValueError` for shapes and bad arguments, `TypeError` for dtypes and types), so "
           "`except ValueError` keeps working in ported code.\n",
           "| mistake | exception | built-in base |", "| --- | --- | --- |"]
    for c in CASES:
        cls = getattr(errors, c.error)
        bases = ", ".join(b.__name__ for b in cls.__mro__[1:] if b.__module__ == "builtins"
                          and b not in (Exception, BaseException, object))
        out.append(f"| [{c.title}](#{c.key}) | `{c.error}` | {bases} |")
    out.append("")
    missing = missing_extras()
    for c in CASES:
        err = run_case(c) if c.needs not in missing else getattr(errors, c.error)(
            f"(not run: {c.needs} is not installed where this page was generated)")
        out += [f'<a id="{c.key}"></a>', f"## {c.title}\n", "```python", c.code, "```\n",
                f"raises `funcad.errors.{type(err).__name__}`:\n", "```text",
                textwrap.fill(str(err), 100, break_long_words=False, replace_whitespace=False)
                if "\n" not in str(err) else str(err), "```\n", f"**Fix:** {c.fix}\n"]
    out += ["## NaN and inf inputs propagate as in NumPy\n",
            "They are not mistakes: funcad never raises on them (unless `debug_nans` is on), and eager "
            "and jit results equal NumPy's, with NumPy's RuntimeWarnings eagerly. For "
            f"`x = {NAN_INF_INPUTS}`:\n", "| expression | result (eager = jit = NumPy) |", "| --- | --- |"]
    for expr, val in nan_inf_table():
        out.append(f"| `{expr}` | `{val}` |")
    return "\n".join(out) + "\n"


def nan_inf_table():
    import numpy as np

    import funcad.numpy as fnp

    x = eval(NAN_INF_INPUTS, {"np": np})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [(e, np.array2string(np.asarray(eval(e, {"fnp": fnp, "x": x})), separator=", "))
                for e in NAN_INF_FUNCTIONS]


if __name__ == "__main__":
    print(render(), end="")
