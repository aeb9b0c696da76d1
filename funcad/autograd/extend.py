"""``funcad.autograd.extend``: autograd's ``primitive`` with ``defvjp``/``defjvp``.

A function wrapped by :func:`primitive` is opaque to funcad: its body runs on concrete
NumPy values (it may call SciPy, C code, plain ``numpy``), and its derivatives come only
from the rules given with :func:`defvjp` (reverse mode) and :func:`defjvp` (forward mode),
with autograd's signatures:

* ``defvjp(f, vjpmaker_0, vjpmaker_1, ...)``: ``vjpmaker_i(ans, *args, **kwargs)`` returns
  ``g -> cotangent of args[i]`` (None: no derivative for that argument);
* ``defjvp(f, jvpfun_0, ...)``: ``jvpfun_i(g, ans, *args, **kwargs)`` is the output tangent
  for an input tangent ``g`` of ``args[i]``;
* ``defvjp_argnum(f, vjpmaker)``: ``vjpmaker(argnum, ans, args, kwargs)`` for every argument.

Rules written with ``funcad.autograd.numpy`` are themselves differentiable (grad of grad).
Forward mode of a function with only VJPs builds its Jacobian from the VJPs (one per output
element). Only top-level positional arguments are differentiated, as in autograd.

Under ``funcad.jit`` the compiled program calls the primitive back in Python (as
``funcad.pure_callback``); autograd's primitives do not state their result's shape, so at
trace time funcad calls the function once on arrays of ones (then zeros, then identity
matrices, if it raises) of the arguments' shapes to learn it. Under ``vmap`` it is called
once per example, as autograd would.

>>> import funcad.autograd.numpy as np
>>> from funcad.autograd import grad
>>> from funcad.autograd.extend import primitive, defvjp
>>> @primitive
... def logsumexp(x):
...     m = float(x.max())                       # plain NumPy on a concrete array
...     return m + np.log(np.sum(np.exp(x - m)))
>>> defvjp(logsumexp, lambda ans, x: lambda g: g * np.exp(x - ans))
>>> grad(logsumexp)(np.array([0.0, 0.0]))
array([0.5, 0.5])
"""

from __future__ import annotations

import functools
import warnings

import numpy as onp

from .. import ad, batching, core
from ..core import Primitive, Tracer, bind, get_aval
from ..errors import ConcretizationError, PrimitiveShapeError, UnsupportedFunctionError

__all__ = ["primitive", "defvjp", "defjvp", "defvjp_argnum", "defjvp_argnum", "defvjp_argnums",
           "defjvp_argnums", "def_linear", "notrace_primitive", "vspace"]


class primitive:
    """Wrap ``fun`` so that funcad treats it as one opaque operation (autograd's
    ``@primitive``); give its derivatives with :func:`defvjp` / :func:`defjvp`."""

    def __init__(self, fun):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.vjpmaker = None  # (argnum, ans, args, kwargs) -> (g -> ct)
        self.jvpmaker = None  # (argnum, g, ans, args, kwargs) -> tangent of the output
        self.linear = False
        self.out_avals: dict = {}  # (argument avals, ...) -> the result's aval, found under jit

    def __call__(self, *args, **kwargs):
        argnums = tuple(i for i, a in enumerate(args) if isinstance(a, Tracer))
        if not argnums:
            return self.fun(*args, **kwargs)
        spec = _Call(self, args, kwargs, argnums)
        return bind(call_p, *[args[i] for i in argnums], spec=spec)

    def __get__(self, obj, objtype=None):  # a primitive used as a method
        return self if obj is None else functools.partial(self, obj)

    def __repr__(self):
        return f"<funcad.autograd primitive {getattr(self.fun, '__name__', self.fun)!r}>"


def notrace_primitive(fun):
    """A function whose result has no derivative (autograd's ``notrace_primitive``): it runs
    on the concrete values of its arguments."""

    @functools.wraps(fun)
    def wrapped(*args, **kwargs):
        plain = [core.maybe_concrete(a) if isinstance(a, Tracer) else a for a in args]
        if any(p is None for p in plain):
            raise ConcretizationError(f"{getattr(fun, '__name__', fun)}: a notrace_primitive needs "
                                      "concrete arguments; it cannot run under jit.")
        return fun(*plain, **kwargs)

    return wrapped


class _Call:
    """One application of a primitive: the function, its non-traced arguments, and which
    positional arguments are traced. Compared by identity (it is an equation parameter)."""

    __slots__ = ("prim", "args", "kwargs", "argnums")

    def __init__(self, prim, args, kwargs, argnums):
        self.prim, self.args, self.kwargs, self.argnums = prim, args, kwargs, argnums

    def full_args(self, vals):
        args = list(self.args)
        for i, v in zip(self.argnums, vals):
            args[i] = v
        return args

    def name(self) -> str:
        return getattr(self.prim.fun, "__name__", repr(self.prim.fun))

    def __repr__(self):  # names the compiled program's call: see _stable_key
        return f"{self.name()}{self.argnums} {_stable_key(self)}"


# The compiled program calls a primitive traced in the running process (a host step, as
# pure_callback's, see funcad.callback._stable_key): a key the
# same in every process lets a program load from the disk cache, and two calls that could
# behave differently must never share one within a process. A call is numbered among those
# with the same text: the same primitive object, arrays equal by contents, other arguments
# the same objects (a repr says nothing of an object's state).
_NUMBERED: dict[str, list] = {}


def _stable_key(spec) -> str:
    import hashlib

    fun = spec.prim.fun
    code = getattr(fun, "__code__", None)
    text = repr((getattr(fun, "__module__", None), getattr(fun, "__qualname__", None),
                 hashlib.sha1(code.co_code + repr(code.co_consts).encode()).hexdigest()[:12]
                 if code is not None else "", spec.argnums, len(spec.args), sorted(spec.kwargs)))
    text = hashlib.sha1(text.encode()).hexdigest()[:16]
    untraced = [None if i in spec.argnums else a for i, a in enumerate(spec.args)]  # (tracers)
    ident = [spec.prim] + [_arg_key(a) if isinstance(a, onp.ndarray) else a
                           for a in untraced + [spec.kwargs[k] for k in sorted(spec.kwargs)]]
    seen = _NUMBERED.setdefault(text, [])
    for n, other in enumerate(seen):
        if len(other) == len(ident) and all(
                x == y if isinstance(x, tuple) and x[:1] == ("ndarray",) else x is y
                for x, y in zip(other, ident)):
            return f"{text}#{n}"
    seen.append(ident)
    return f"{text}#{len(seen) - 1}"


def _call_impl(*vals, spec):
    out = spec.prim.fun(*spec.full_args(vals), **spec.kwargs)
    return onp.asarray(out)


def _probes(aval):
    """Stand-in arguments of ``aval``'s shape: ones, zeros, and identity matrices."""
    yield onp.ones(aval.shape, aval.dtype)
    yield onp.zeros(aval.shape, aval.dtype)
    if len(aval.shape) >= 2 and aval.shape[-1] == aval.shape[-2]:
        yield onp.broadcast_to(onp.eye(aval.shape[-1], dtype=aval.dtype), aval.shape).copy()


def _arg_key(a):
    """A non-traced argument, as part of the key of the result's shape (an array by its
    contents: its repr may elide them)."""
    if isinstance(a, onp.ndarray):
        import hashlib

        return ("ndarray", a.shape, a.dtype.str, hashlib.sha1(onp.ascontiguousarray(a).tobytes()).hexdigest())
    return repr(a)


def _call_abstract_eval(*avals, spec):
    """The result's aval, found by calling the function once on stand-in arguments (an
    autograd primitive does not state its result's shape); remembered per argument avals."""
    key = (tuple(avals), tuple(map(_arg_key, spec.args)),
           tuple((k, _arg_key(v)) for k, v in sorted(spec.kwargs.items())))
    out = spec.prim.out_avals.get(key)
    if out is not None:
        return out
    errors = []
    for k in range(3):
        args = [list(_probes(a)) for a in avals]
        if not all(len(p) > k for p in args):
            break
        try:
            with onp.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = onp.asarray(_call_impl(*[p[k] for p in args], spec=spec))
        except Exception as e:  # noqa: BLE001  (the user's code: any failure means "try another")
            errors.append(f"{type(e).__name__}: {e}")
            continue
        if res.dtype.kind not in "biuf":
            break
        out = spec.prim.out_avals[key] = core.ShapedArray(res.shape, res.dtype)
        return out
    raise PrimitiveShapeError(
        f"The autograd primitive {spec.name()} runs NumPy code on concrete values; to call it "
        f"from a compiled program (funcad.jit) funcad must know its result's shape, and calling "
        f"it on arrays of ones, zeros and identity matrices shaped like its arguments "
        f"({', '.join(a.str_short() for a in avals)}) failed ({'; '.join(errors) or 'no real result'}). "
        "Call it outside jit, or use funcad.pure_callback, which states the result's shape.")


call_p = Primitive("autograd_primitive")
call_p.def_impl(_call_impl)
call_p.def_abstract_eval(_call_abstract_eval)


def _missing(spec, i, mode):
    if spec.prim.vjpmaker is None and spec.prim.jvpmaker is None:
        return UnsupportedFunctionError(
            f"The autograd primitive {spec.name()} has no derivative rule, and funcad cannot look "
            f"inside it (its body runs on concrete values): give one with "
            f"funcad.autograd.extend.defvjp({spec.name()}, ...) (for grad) or defjvp(...).")
    return UnsupportedFunctionError(
        f"{mode} of the autograd primitive {spec.name()} with respect to its argument {i} is not "
        f"defined: give it with funcad.autograd.extend.{'defvjp' if mode == 'VJP' else 'defjvp'}"
        f"({spec.name()}, ...).")


def _call_jvp(primals, tangents, *, spec):
    ans = bind(call_p, *primals, spec=spec)
    nz = [k for k, t in enumerate(tangents) if type(t) is not ad.Zero]
    if not nz:
        return ans, ad.Zero(get_aval(ans))
    prim = spec.prim
    if prim.vjpmaker is None:  # forward rules only: the tangent in funcad operations
        args = spec.full_args(primals)
        return ans, _jvp_sum(spec, [(spec.argnums[k], tangents[k]) for k in nz], ans, args)
    t_in = [ad.instantiate(t, get_aval(p)) for t, p in zip(tangents, primals)]
    return ans, bind(lin_p, ans, *primals, *t_in, spec=spec)


def _jvp_sum(spec, pairs, ans, args):
    prim, out = spec.prim, None
    for i, g in pairs:
        if prim.jvpmaker is None:
            raise _missing(spec, i, "JVP")
        term = prim.jvpmaker(i, g, ans, args, spec.kwargs)
        if term is None:
            raise _missing(spec, i, "JVP")
        out = term if out is None else out + term
    return out


def _call_batch(axis_size, vals, dims, *, spec):
    from .. import numpy as fnp
    from ..lax.shapes import index

    outs = [bind(call_p, *[v if d is None else index(v, (slice(None),) * d + (i,))
                           for v, d in zip(vals, dims)], spec=spec) for i in range(axis_size)]
    return fnp.stack(outs), 0


ad.jvp_rules[call_p] = _call_jvp
batching.primitive_batchers[call_p] = _call_batch

# lin(ans, primals..., tangents...): the primitive's derivative, linear in the tangents.
# Transposed it calls the VJP makers; evaluated forward it uses the JVP makers, or the
# Jacobian built from the VJPs when there are none.
lin_p = Primitive("autograd_primitive_lin")


def _split(args, spec):
    n = len(spec.argnums)
    return args[0], args[1:1 + n], args[1 + n:]


def _lin_forward(*args, spec):
    ans, primals, tangents = _split(args, spec)
    full = spec.full_args(primals)
    if spec.prim.jvpmaker is not None:
        return _jvp_sum(spec, list(zip(spec.argnums, tangents)), ans, full)
    from .. import numpy as fnp
    from ..batching import vmap

    out_shape = get_aval(ans).shape
    n = int(onp.prod(out_shape, dtype=onp.int64))
    basis = onp.eye(n).reshape((n,) + out_shape)
    out = None
    for i, t in zip(spec.argnums, tangents):
        vjp = _vjp_fn(spec, i, ans, full)
        jac = vmap(vjp)(basis)  # rows: d out[k] / d args[i]
        t_shape = get_aval(t).shape
        term = fnp.reshape(fnp.reshape(jac, (n, -1)) @ fnp.reshape(t, (-1,)), out_shape) if t_shape \
            else fnp.reshape(fnp.reshape(jac, (n,)) * t, out_shape)
        out = term if out is None else out + term
    return out


def _vjp_fn(spec, i, ans, full):
    g = spec.prim.vjpmaker(i, ans, full, spec.kwargs)
    if g is None:
        raise _missing(spec, i, "VJP")
    return g


def _lin_transpose(ct, *args, spec):
    ans, primals, tangents = _split(args, spec)
    full = spec.full_args(primals)
    if type(ct) is ad.Zero:
        return [None] * len(args)
    cts = []
    for i, t in zip(spec.argnums, tangents):
        if not ad.is_undefined(t):
            cts.append(None)
            continue
        c = _vjp_fn(spec, i, ans, full)(ct)
        a = t.aval
        cts.append(ad.unbroadcast(c, a) if get_aval(c).shape != a.shape else c)
    return [None] * (1 + len(primals)) + cts


lin_p.def_impl(_lin_forward)
lin_p.def_abstract_eval(lambda ans, *avals, spec: core.ShapedArray(ans.shape, ans.dtype))
ad.jvp_rules[lin_p] = lambda primals, tangents, *, spec: ad.jvp_flat(
    lambda *a: [_lin_forward(*a, spec=spec)], list(primals), list(tangents))
ad.transpose_rules[lin_p] = _lin_transpose


def _lin_batch(axis_size, vals, dims, *, spec):
    from ..batching import vmap_flat

    return vmap_flat(lambda *a: [_lin_forward(*a, spec=spec)], list(dims), vals, [0], axis_size)[0], 0


batching.primitive_batchers[lin_p] = _lin_batch

# jit: the compiled program calls the function (and a forward-mode rule) back in Python
# (host steps, backend/table_host.py).


# --------------------------------------------------------------------------------------
# Defining the rules (autograd's signatures)


def defvjp_argnum(fun: primitive, vjpmaker) -> None:
    """``vjpmaker(argnum, ans, args, kwargs) -> (g -> cotangent of args[argnum])``."""
    fun.vjpmaker = vjpmaker


def defvjp_argnums(fun: primitive, vjpmaker) -> None:
    """``vjpmaker(argnums, ans, args, kwargs) -> (g -> tuple of cotangents)``."""
    fun.vjpmaker = lambda i, ans, args, kwargs: (
        lambda g: vjpmaker((i,), ans, args, kwargs)(g)[0])


def defvjp(fun: primitive, *vjpmakers, argnums=None) -> None:
    """One ``vjpmaker(ans, *args, **kwargs) -> (g -> cotangent)`` per positional argument
    (None where the argument has no derivative)."""
    nums = list(argnums) if argnums is not None else list(range(len(vjpmakers)))
    table = dict(zip(nums, vjpmakers))

    def maker(i, ans, args, kwargs):
        m = table.get(i)
        return None if m is None else m(ans, *args, **kwargs)

    fun.vjpmaker = maker


def defjvp_argnum(fun: primitive, jvpmaker) -> None:
    """``jvpmaker(argnum, g, ans, args, kwargs) -> output tangent``."""
    fun.jvpmaker = jvpmaker


def defjvp_argnums(fun: primitive, jvpmaker) -> None:
    """``jvpmaker(argnums, gs, ans, args, kwargs) -> output tangent``."""
    fun.jvpmaker = lambda i, g, ans, args, kwargs: jvpmaker((i,), (g,), ans, args, kwargs)


def defjvp(fun: primitive, *jvpfuns, argnums=None) -> None:
    """One ``jvpfun(g, ans, *args, **kwargs) -> output tangent`` per positional argument
    (None: no derivative; the string ``"same"`` for a function linear in that argument)."""
    nums = list(argnums) if argnums is not None else list(range(len(jvpfuns)))
    table = dict(zip(nums, jvpfuns))

    def maker(i, g, ans, args, kwargs):
        f = table.get(i)
        if f is None:
            return None
        if f == "same":
            new = list(args)
            new[i] = g
            return fun(*new, **kwargs)
        return f(g, ans, *args, **kwargs)

    fun.jvpmaker = maker


def def_linear(fun: primitive) -> None:
    """Declare ``fun`` linear in each positional argument: its derivative is itself."""
    defjvp_argnum(fun, lambda i, g, ans, args, kwargs: fun(*[g if j == i else a for j, a in enumerate(args)],
                                                            **kwargs))


class vspace:
    """A minimal stand-in for autograd's vector spaces: zeros, ones, shape, size."""

    def __init__(self, value):
        aval = get_aval(value)
        self.shape, self.dtype, self.size = aval.shape, aval.dtype, aval.size
        self.ndim = len(self.shape)

    def zeros(self):
        return onp.zeros(self.shape, self.dtype)

    def ones(self):
        return onp.ones(self.shape, self.dtype)

    def standard_basis(self):
        for i in range(self.size):
            e = onp.zeros(self.size, self.dtype)
            e[i] = 1
            yield e.reshape(self.shape)

    def randn(self):
        return onp.random.randn(*self.shape).astype(self.dtype)

    def add(self, x, y):
        return x + y

    def scalar_mul(self, x, a):
        return x * a

    def inner_prod(self, x, y):
        from .. import numpy as fnp

        return fnp.sum(x * y)

    iscomplex = False
