"""jit: trace a function once per input signature and run it as one compiled program.

``fa.jit(f)`` traces ``f`` on the shapes and dtypes of its arguments into a jaxpr and binds
the :data:`jit_p` primitive, which holds that jaxpr. At top level the primitive compiles
(funcad.backend: simplify -> fuse -> the table backend's one llvmlite module, cached on
disk) and runs it; under another transformation the primitive's rules apply, each written
on the inner jaxpr and bound as ``jit`` again, so grad(jit(f)), jit(grad(f)), jit inside
jit and vmap(jit(f)) all stay compiled:

* JVP: the JVP of the inner jaxpr, split by partial evaluation into a *known* program
  (primal outputs and residuals, from primals only) and a *linear* program (residuals and
  tangents -> output tangents). Under linearize the known program runs at once and only
  the linear one is staged, so reverse mode sees a linear ``jit`` equation.
* Transpose: the known part of the equation is evaluated forward first, then the rest is
  transposed with ``backward_pass``; the whole is traced and bound as one ``jit``.

llvmlite is imported on the first compile, never by ``import funcad``.
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
import uuid
import weakref
from typing import Any, Callable, Sequence

import numpy as np

from . import ad, core
from . import partial_eval as pe
from ._args import _leaf_paths
from .backend import dispatch, table  # (dispatch gives jit_p its implementation: compile, then run)
from .config import config as _config
from .core import ShapedArray, Tracer
from .errors import ArgumentError, DTypeError
from .jaxpr import ClosedJaxpr, Eqn, Jaxpr, Literal, bind_jaxpr, jit_p, trace_to_jaxpr  # noqa: F401
from .tree_util import tree_flatten, tree_unflatten, unregistered_hint

log = logging.getLogger("funcad.jit")

# --------------------------------------------------------------------------------------
# Rules of jit_p: transform the inner jaxpr (funcad/partial_eval.py, memoized there) and
# bind jit on the result. A derived jaxpr may have constants: they become leading inputs.


_opened: dict[int, tuple] = {}  # id(cj) -> (cj, program): the derived jaxprs with constants


def _open(cj: ClosedJaxpr) -> tuple[Jaxpr, list]:
    """``cj`` as a jit program (no constvars) and the constants to pass first. The same
    ``cj`` (partial_eval.py memoizes them) gives the same program object, which is what the
    backend's executables are keyed on."""
    j = cj.jaxpr
    if not j.constvars:
        return j, []
    hit = _opened.get(id(cj))
    if hit is None or hit[0] is not cj:
        hit = _opened[id(cj)] = (cj, Jaxpr([], j.constvars + j.invars, j.eqns, j.outvars))
        if len(_opened) > pe.MEMO_SIZE:
            del _opened[next(iter(_opened))]
    return hit[1], list(cj.consts)


def _bind_closed(cj: ClosedJaxpr, args: Sequence, name: str) -> list:
    jaxpr, consts = _open(cj)
    return bind_jaxpr(jaxpr, consts + list(args), name)


def _jit_jvp(primals, tangents, *, jaxpr: Jaxpr, name: str):
    nonzero = [type(t) is not ad.Zero for t in tangents]
    n, n_out = len(primals), len(jaxpr.outvars)
    jvp_j, out_nonzero = pe.jvp_jaxpr(ClosedJaxpr(jaxpr, []), nonzero, False)
    # the primal part runs now, the tangent part (linear) in a second program
    known, unknown, out_uk, n_res = pe.partial_eval_jaxpr(
        jvp_j, [False] * n + [True] * sum(nonzero), False)
    known_out = _bind_closed(known, primals, f"{name}_jvp_known")
    t_in = [t for t in tangents if type(t) is not ad.Zero]
    n_known = out_uk.count(False)
    unk = (_bind_closed(unknown, known_out[n_known:] + t_in, f"{name}_jvp_linear")
           if unknown.jaxpr.outvars else [])
    k, u = iter(known_out[:n_known]), iter(unk)
    outs = [next(u) if uk else next(k) for uk in out_uk]
    nz_t = iter(outs[n_out:])
    tangents_out = [next(nz_t) if nz else ad.Zero(v.aval) for nz, v in zip(out_nonzero, jaxpr.outvars)]
    return outs[:n_out], tangents_out


def _jit_transpose(cts, *invals, jaxpr: Jaxpr, name: str):
    undefined = [ad.is_undefined(x) for x in invals]
    ct_nonzero = [ct is not None and type(ct) is not ad.Zero for ct in cts]
    t_jaxpr = pe.transpose_jaxpr(ClosedJaxpr(jaxpr, []), undefined, ct_nonzero)
    args = [x for x, u in zip(invals, undefined) if not u] + [c for c, nz in zip(cts, ct_nonzero) if nz]
    outs = iter(_bind_closed(t_jaxpr, args, f"{name}_transpose"))
    return [next(outs) if u else None for u in undefined]


def _jit_batch(axis_size, vals, dims, *, jaxpr: Jaxpr, name: str):
    from . import batching

    vals = [v if d is None else batching.bdim_at_front(v, d, axis_size) for v, d in zip(vals, dims)]
    b_jaxpr, _ = pe.batch_jaxpr(ClosedJaxpr(jaxpr, []), axis_size, [d is not None for d in dims], True)
    return _bind_closed(b_jaxpr, vals, f"{name}_vmap"), [0] * len(jaxpr.outvars)


ad.jvp_rules[jit_p] = _jit_jvp
ad.transpose_rules[jit_p] = _jit_transpose


def _register_batching_rule() -> None:
    from . import batching

    batching.primitive_batchers[jit_p] = _jit_batch


# --------------------------------------------------------------------------------------
# The user API


def _log_enabled() -> bool:
    return os.environ.get("FUNCAD_LOG_COMPILES", "") not in ("", "0")


def _is_uniform(c) -> bool:
    """Whether ``c`` is a non-empty NumPy array of one repeated value (not NaN)."""
    if type(c) is not np.ndarray or c.size == 0 or c.dtype.kind not in "biuf":
        return False
    flat = c.reshape(-1)
    first = flat[0]
    if first != first or flat[-1] != first or flat[flat.size // 2] != first:
        return False
    return bool((flat == first).all())


def _uniform_consts_as_full(jaxpr: Jaxpr, consts: list) -> tuple:
    """Constants that are one repeated value (the ones of an ``elementwise_grad`` seed, a
    ``np.zeros`` closed over) become ``full`` equations instead of program inputs: the
    compiled program then sees a literal, which simplify folds (x * 1 -> x, x + 0 -> x) and
    codegen inlines, rather than an array read at every element. The 6th derivative of tanh
    by nested elementwise_grad carries six such seeds."""
    from .lax.shapes import full_p

    keep_vars, keep, eqns = [], [], []
    for v, c in zip(jaxpr.constvars, consts):
        if _is_uniform(c):
            eqns.append(Eqn(full_p, [], {"shape": c.shape, "fill_value": c.reshape(-1)[0].item(),
                                          "dtype": c.dtype}, [v]))
        else:
            keep_vars.append(v)
            keep.append(c)
    if not eqns:
        return jaxpr, consts
    return Jaxpr(keep_vars, jaxpr.invars, eqns + list(jaxpr.eqns), jaxpr.outvars), keep


class _Entry:
    """What one input signature traced to."""

    __slots__ = ("jaxpr", "consts", "out_tree", "name", "avals", "executable", "rebuild")

    def __init__(self, jaxpr, consts, out_tree, name, avals):
        self.jaxpr, self.consts, self.out_tree, self.name, self.avals = jaxpr, consts, out_tree, name, avals
        self.executable = None
        self.rebuild = _rebuilder(out_tree)

    def run(self, leaves):
        """The compiled program on the flat arguments ``leaves``, its outputs as a tree."""
        return self.rebuild(self.executable([*self.consts, *leaves] if self.consts else leaves))


def _rebuilder(tree):
    """A function of the flat outputs that rebuilds ``tree``: for tuples, lists and leaves one
    expression indexing them (``lambda o: (o[0], (o[1], o[2]))``, ~5x faster than walking the
    structure at every call), for other nodes tree_unflatten."""
    index = iter(range(tree.num_leaves))

    def text(t):
        if t.nodetype is None:
            return f"o[{next(index)}]"
        if t.nodetype is not tuple and t.nodetype is not list:
            raise TypeError
        inner = ", ".join(map(text, t.children))
        return f"({inner}{',' if len(t.children) == 1 else ''})" if t.nodetype is tuple else f"[{inner}]"

    try:
        return eval(f"lambda o: {text(tree)}")  # (only indexes and brackets: no user text)
    except (TypeError, SyntaxError, RecursionError, MemoryError):  # another node, too deep
        return functools.partial(tree_unflatten, tree)


_SCALAR_TYPES = (bool, int, float, complex)


def _signature(x, leaves: list):
    """The per-call cache's key of the arguments ``x`` (JAX's fast path keys on the same: the
    tree structure and each leaf's aval), appending the leaves to ``leaves`` in tree_flatten's
    order: tuples and lists (their type and items), dicts (sorted keys), None, NumPy arrays
    (shape and dtype) and Python numbers (their type: weakly typed). None for anything else
    (namedtuples, registered classes, tracers, NumPy scalars, subclasses...): those calls
    take the path through tree_flatten."""
    t = type(x)
    if t is tuple or t is list:
        key = [t]
        for c in x:
            tc = type(c)
            if tc is np.ndarray:
                leaves.append(c)
                key.append((c.shape, c.dtype.char))
            elif tc is float or tc is int or tc is bool or tc is complex:
                leaves.append(c)
                key.append(tc)
            else:
                k = _signature(c, leaves)
                if k is None:
                    return None
                key.append(k)
        return tuple(key)
    if t is np.ndarray:
        leaves.append(x)
        return x.shape, x.dtype.char
    if t in _SCALAR_TYPES:
        leaves.append(x)
        return t
    if x is None:
        return "None"
    if t is dict:
        try:
            keys = sorted(x)
        except TypeError:
            return None
        key = [dict, tuple(keys)]
        for k in keys:
            c = _signature(x[k], leaves)
            if c is None:
                return None
            key.append(c)
        return tuple(key)
    return None


def _leaf_key(x):
    t = type(x)
    if t is np.ndarray:
        return (x.shape, x.dtype.char)
    if t in _SCALAR_TYPES:
        return t
    if isinstance(x, Tracer):
        a = x.aval
        return (a.shape, a.dtype.char, "tracer")
    if isinstance(x, np.generic):
        return ((), x.dtype.char)
    if isinstance(x, np.ndarray):
        core.check_array_type(x, "jit: an argument")
        return (x.shape, x.dtype.char)
    raise DTypeError(
        f"jit: an argument of type {t.__name__} ({core._short_repr(x)}) cannot be traced. Pass "
        "NumPy arrays or Python numbers (in tuples, lists and dicts), or mark the argument "
        "static with static_argnums/static_argnames if it is a setting." + unregistered_hint(x)
    )


def _leaf_aval(x) -> ShapedArray:
    if isinstance(x, Tracer):
        return ShapedArray(x.aval.shape, x.aval.dtype)
    aval = core.get_aval(x)
    if aval.dtype.kind not in "biufc":
        raise DTypeError(f"jit: an argument of dtype {aval.dtype} is not supported; pass "
                         "float, complex, integer or boolean arrays.")
    return aval


class Jitted:
    """A function compiled by :func:`jit`; call it like the original. See :func:`jit`."""

    def __init__(self, fun: Callable, static_argnums=(), static_argnames=()):
        functools.update_wrapper(self, fun)
        self.fun = fun
        single = isinstance(static_argnums, (int, np.integer))
        nums = tuple(int(i) if isinstance(i, np.integer) else i
                     for i in ((static_argnums,) if single else tuple(static_argnums)))
        names = (static_argnames,) if isinstance(static_argnames, str) else tuple(static_argnames)
        try:
            sig = inspect.signature(fun)
            params = list(sig.parameters.values())
        except (TypeError, ValueError):
            params = None
        if params is not None:
            positional = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
            varargs = any(p.kind is p.VAR_POSITIONAL for p in params)
            named = [p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
            unknown = [n for n in names if n not in named]
            if unknown and not any(p.kind is p.VAR_KEYWORD for p in params):
                raise ArgumentError(
                    f"jit({_name(fun)}): static_argnames={static_argnames!r} names "
                    f"{', '.join(map(repr, unknown))}, which is not a parameter of {_name(fun)} "
                    f"(its parameters: {', '.join(named) or 'none'}). Fix the spelling, or drop it.")
            for i in nums:
                if not isinstance(i, int) or (not varargs and not -len(positional) <= i < len(positional)):
                    raise ArgumentError(
                        f"jit({_name(fun)}): static_argnums={static_argnums!r} is out of range: the "
                        f"function takes {len(positional)} positional argument(s) ({', '.join(positional)}).")
            nums = tuple(i % len(positional) if i < 0 and positional else i for i in nums)
            # As in JAX: a static argument may be named or numbered; each implies the other.
            nums = tuple(sorted(set(nums) | {positional.index(n) for n in names if n in positional}))
            names = tuple(dict.fromkeys(names + tuple(positional[i] for i in nums if i < len(positional))))
            self._arg_names = positional
        else:
            self._arg_names = []
        self.static_argnums, self.static_argnames = nums, names
        self._cache: dict = {}  # (tree structure, static arguments, leaf keys) -> _Entry
        self._fast: dict = {}  # _signature's key -> the compiled _Entry (the per-call path)
        self._last_key = None
        self._token: str | None = None

    # Pickling (for Dask workers): the function (by reference, or by value under cloudpickle)
    # and the static arguments, plus a token. Unpickling in a process that already holds the
    # jitted object with that token returns it, so its per-signature cache survives from one
    # task to the next and nothing is traced again; the first unpickling in a worker traces
    # once per signature and loads the compiled program from the worker's disk cache.

    def __reduce__(self):
        if self._token is None:
            self._token = uuid.uuid4().hex
            _by_token[self._token] = self
        return _unpickle_jitted, (self._token, self.fun, self.static_argnums, self.static_argnames)

    def __repr__(self):
        return f"<funcad.jit of {_name(self.fun)}>"

    def __get__(self, obj, objtype=None):
        return self if obj is None else functools.partial(self, obj)

    # -- signature and tracing ---------------------------------------------------------

    def _split(self, args, kwargs):
        nums, names = self.static_argnums, self.static_argnames
        if not nums and not names:
            return args, kwargs, ()
        for i in nums:
            if i >= len(args) and self._arg_names[i:i + 1] and self._arg_names[i] not in kwargs:
                raise ArgumentError(f"jit({_name(self.fun)}): static_argnums includes {i}, but the "
                                    f"call passes only {len(args)} positional argument(s).")
        dyn_args = tuple(a for i, a in enumerate(args) if i not in nums)
        static = [(i, args[i]) for i in nums if i < len(args)]
        dyn_kwargs = {k: v for k, v in kwargs.items() if k not in names}
        static += [(k, kwargs[k]) for k in names if k in kwargs]
        for where, v in static:
            try:
                hash(v)
            except TypeError:
                raise ArgumentError(
                    f"jit({_name(self.fun)}): the static argument {where!r} is a "
                    f"{type(v).__name__}, which is not hashable. Static arguments key the "
                    "compilation cache, so they must be hashable: pass a tuple instead of a "
                    "list, or make the argument a traced array (remove it from static_argnums)."
                ) from None
        return dyn_args, dyn_kwargs, tuple(static)

    def _paths(self, args, kwargs, static) -> list:
        """The name of each leaf of the dynamic arguments: ``params[0]``, ``x``..."""
        names = self._arg_names
        dyn_nums = [i for i in range(len(args) + len(static)) if i not in self.static_argnums]
        arg_names = [names[i] if i < len(names) else f"args[{i}]" for i in dyn_nums][: len(args)]
        kw_names = sorted(kwargs)
        return _leaf_paths(tuple(args) + tuple(kwargs[k] for k in kw_names), arg_names + kw_names)

    def _trace(self, args, kwargs, static, leaves, in_tree) -> _Entry:
        paths = self._paths(args, kwargs, static)
        static_map = dict(static)
        store: dict = {}

        def flat_fun(*flat):
            dyn_args, dyn_kwargs = tree_unflatten(in_tree, flat)
            it = iter(dyn_args)
            total = len(dyn_args) + sum(1 for k in static_map if isinstance(k, int))
            full = [static_map[i] if i in static_map else next(it) for i in range(total)]
            kw = dict(dyn_kwargs)
            kw.update({k: v for k, v in static_map.items() if isinstance(k, str)})
            out = self.fun(*full, **kw)
            out_leaves, store["out_tree"] = tree_flatten(out)
            from .api import _as_leaf

            return [_as_leaf(o, f"the output of {_name(self.fun)}") for o in out_leaves]

        avals = [_leaf_aval(x) for x in leaves]
        before = _np_random_position()
        jaxpr, consts = trace_to_jaxpr(flat_fun, avals, paths)
        if _np_random_position() != before:
            _warn_np_random(self.fun)
        jaxpr, consts = _uniform_consts_as_full(jaxpr, consts)
        # Constants become leading inputs, so the primitive's jaxpr is closed over nothing.
        jaxpr = Jaxpr([], jaxpr.constvars + jaxpr.invars, jaxpr.eqns, jaxpr.outvars)
        return _Entry(jaxpr, consts, store["out_tree"], _name(self.fun), avals)

    def _entry(self, args, kwargs):
        dyn_args, dyn_kwargs, static = self._split(args, kwargs)
        leaves, in_tree = tree_flatten((dyn_args, dyn_kwargs))
        key = (in_tree, static, tuple(map(_leaf_key, leaves)))
        entry = self._cache.get(key)
        if entry is None:
            if _log_enabled():
                log.warning("funcad.jit: tracing %s for %s", _name(self.fun), self._why(key))
            entry = self._trace(dyn_args, dyn_kwargs, static, leaves, in_tree)
            if not any(isinstance(c, Tracer) for c in entry.consts):
                self._cache[key] = entry
            self._last_key = key
        return entry, leaves

    def _why(self, key) -> str:
        if not self._cache:
            return "its first call"
        old = self._last_key or next(iter(self._cache))
        if old[0] != key[0]:
            return f"a new argument structure {key[0]} (was {old[0]})"
        if old[1] != key[1]:
            return f"new static arguments {key[1]} (were {old[1]})"
        diffs = [f"leaf {i}: {_fmt(a)} (was {_fmt(b)})"
                 for i, (a, b) in enumerate(zip(key[2], old[2])) if a != b]
        return "new argument shapes/dtypes: " + "; ".join(diffs[:4])

    # -- calling -------------------------------------------------------------------------

    def _key(self, args, kwargs, leaves: list):
        """The per-call cache's key of a call (see :func:`_signature`), or None."""
        static = ()
        if self.static_argnums or self.static_argnames:
            args, kwargs, static = self._split(args, kwargs)
        key = _signature(args, leaves)
        if key is None or not kwargs:
            return key and (key, static)
        k = _signature(kwargs, leaves)
        return k and (key, k, static)

    def __call__(self, *args, **kwargs):
        if _config.disable_jit:
            return self.fun(*args, **kwargs)
        # The per-call path: one walk over the arguments gives the key and the leaves.
        leaves: list = []
        fast = self._key(args, kwargs, leaves)
        if fast is not None:
            entry = self._fast.get(fast)
            if entry is not None and core.is_top_level() and core.debug_hooks.eval is None:
                return entry.run(leaves)  # (debug_nans checks on the path below)
        entry, leaves = self._entry(args, kwargs)
        if core.is_top_level() and not any(isinstance(x, Tracer) for x in leaves):
            exe = entry.executable
            if exe is None:
                exe = entry.executable = dispatch.executable_for(entry.jaxpr, entry.name)
            if fast is not None and not any(isinstance(c, Tracer) for c in entry.consts):
                self._fast[fast] = entry
            outs = exe((*entry.consts, *leaves))
            if core.debug_hooks.eval is not None:  # funcad.config's debug_nans: find the NaN's op
                core.debug_hooks.eval(jit_p, (*entry.consts, *leaves),
                                      {"jaxpr": entry.jaxpr, "name": entry.name}, outs)
        else:
            outs = bind_jaxpr(entry.jaxpr, [*entry.consts, *leaves], entry.name)
        return entry.rebuild(outs)

    def lower(self, *args, **kwargs) -> Lowered:
        """The traced, simplified and generated program for these arguments (no compile).

        >>> import funcad as fa, funcad.numpy as fnp
        >>> low = fa.jit(lambda x: fnp.sin(x) * 1.0).lower(fnp.zeros(3))
        >>> print(low.jaxpr)
        { lambda ; a:f64[3]. let b:f64[3] = sin a in (b,) }
        """
        entry, _ = self._entry(args, kwargs)
        simplified, program = dispatch.lower_jaxpr(entry.jaxpr, entry.name, keep_plan=True)
        if isinstance(program, table.TableProgram):  # its source names the arguments
            names = ["a constant"] * len(entry.consts) + self._paths(*self._split(args, kwargs))
            return Lowered(entry.jaxpr, simplified, program.describe(names))
        return Lowered(entry.jaxpr, simplified, program.source)


_by_token: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


def _unpickle_jitted(token, fun, static_argnums, static_argnames) -> Jitted:
    j = _by_token.get(token)
    if j is None:
        j = Jitted(fun, static_argnums, static_argnames)
        j._token = token
        _by_token[token] = j
        _keep_alive.append(j)
        if len(_keep_alive) > 256:
            del _keep_alive[0]
    return j


_keep_alive: list = []  # a worker keeps its recent unpickled jitted functions (and caches) alive


class Lowered:
    """What :meth:`Jitted.lower` returns: ``.traced`` and ``.jaxpr`` (simplified) jaxprs,
    and ``.source``, the compiled program with the jaxpr's equations as comments: the table
    program (backend/table_source.py; docs/generated_programs.md shows how to read one), or a
    note for a program run uncompiled (float16)."""

    def __init__(self, traced, jaxpr, source):
        self.traced, self.jaxpr, self.source = traced, jaxpr, source

    def as_text(self) -> str:
        return f"# simplified jaxpr\n{self.jaxpr}\n\n# generated source\n{self.source}"

    __str__ = as_text


def _fmt(k) -> str:
    if isinstance(k, type):
        return f"Python {k.__name__}"
    return f"{np.dtype(k[1]).name}{list(k[0])}"


def _np_random_position():
    """Where NumPy's legacy global generator is (``np.random.normal`` & co. advance it)."""
    state = np.random.get_state(legacy=False)
    return state["state"]["pos"], state["state"]["key"].tobytes(), state["has_gauss"]


_WARNED_NP_RANDOM: set = set()


def _warn_np_random(fun):
    """The sharp bit of random numbers under jit (docs/random.md): a draw from NumPy's global
    generator while tracing becomes a constant of the compiled program."""
    # the user's function, not a wrapper such as funcad.autograd's grad: the warning is given
    # once per place, and every wrapped function would share the wrapper's place
    code = getattr(inspect.unwrap(fun), "__code__", None)
    where = f"{code.co_filename}:{code.co_firstlineno}" if code else repr(fun)
    if where in _WARNED_NP_RANDOM:
        return
    _WARNED_NP_RANDOM.add(where)
    import warnings

    warnings.warn(
        f"jit({_name(fun)}) (defined at {where}) drew from numpy.random while being traced: "
        "those numbers are now constants of the compiled program, the same on every call. "
        "Pass a key and draw with funcad.random instead (np.random.normal(size=s) -> "
        "funcad.random.normal(key, s); split the key between calls).", UserWarning, stacklevel=4)


def _name(f) -> str:
    return getattr(f, "__name__", type(f).__name__)


def jit(fun: Callable | None = None, static_argnums: int | Sequence[int] = (),
        static_argnames: str | Sequence[str] = (), donate_argnums: int | Sequence[int] = (),
        donate_argnames: str | Sequence[str] = (), keep_unused: bool = False,
        inline: bool = False, **compat) -> Any:
    """Compile ``fun``: traced once per input signature, fused, compiled with llvmlite, cached on disk.

    The signature is the pytree structure, shapes and dtypes of the arguments plus the
    values of the static ones (``static_argnums``/``static_argnames``, which must be
    hashable). Composes with every transformation (grad(jit(f)), jit(grad(f)), vmap...).
    Usable as a decorator, with or without arguments.

    ``donate_argnums``/``donate_argnames`` are accepted and ignored: on the CPU funcad does not
    reuse the buffers of arguments, so a donated argument stays valid (in JAX it must not be
    used again). ``keep_unused``, ``inline``, ``device`` and ``backend`` are accepted too;
    ``fa.config.update("jax_disable_jit", True)`` runs jitted functions eagerly.

    >>> import funcad as fa, funcad.numpy as fnp
    >>> f = fa.jit(lambda x: fnp.sum(fnp.sin(x) ** 2))
    >>> round(float(f(fnp.ones(3))), 6)
    2.124219
    >>> @fa.jit(static_argnums=1)
    ... def power(x, n):
    ...     return x ** n
    >>> float(power(2.0, 3))
    8.0
    """
    unknown = set(compat) - {"device", "backend", "abstracted_axes", "in_shardings",
                             "out_shardings", "compiler_options"}
    if unknown:
        raise ArgumentError(f"jit: unexpected keyword argument(s) {', '.join(sorted(unknown))}.")
    if fun is None:
        return lambda f: Jitted(f, static_argnums, static_argnames)
    return Jitted(fun, static_argnums, static_argnames)


_register_batching_rule()
