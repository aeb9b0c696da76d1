"""The systems under test, each behind one small adapter.

Every workload is written once against an :class:`Adapter` ``S``: ``S.np`` is the system's
NumPy-like namespace (``funcad.numpy``, ``jax.numpy``, ``autograd.numpy``, ``torch``,
``pytensor.tensor``), ``S.grad`` / ``S.value_and_grad`` / ``S.hessian`` / ``S.egrad`` its
transformations and ``S.jit`` its compiler (the identity for eager systems). The hand-written
floors (NumPy, Numba) have no transformations; they implement each workload directly
(see ``workloads.py``).

Nothing is imported here at module import time: a system's ``load`` imports it, and any
exception there (ImportError, AttributeError, ...) makes that system "skipped" with the reason,
so a missing or half-written funcad never breaks the peers.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .tree import tree_flatten, tree_map, tree_unflatten


def _identity(x: Any) -> Any:
    return x


def _asarray(x: Any) -> np.ndarray:
    return np.asarray(x)


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


@dataclass
class Adapter:
    """What a workload may use of a system (see the module docstring)."""

    np: Any = None
    jit: Callable = _identity
    grad: Callable | None = None
    value_and_grad: Callable | None = None
    hessian: Callable | None = None
    egrad: Callable | None = None
    vmap: Callable | None = None  # vmap(f, in_axes) (None: the system has no vmap)
    jacfwd: Callable | None = None
    jacrev: Callable | None = None
    solve: Callable | None = None
    relu: Callable | None = None
    softplus: Callable | None = None
    log_softmax: Callable | None = None
    to_native: Callable = _identity  # one NumPy input array -> the system's array type
    to_numpy: Callable = _asarray  # one output leaf -> numpy.ndarray
    block: Callable = _identity  # wait for asynchronous results (JAX)
    version: str = ""


@dataclass(frozen=True)
class System:
    """A column of the results: a name, how to load it, and which floor it is (if any)."""

    key: str
    label: str
    load: Callable[[], Adapter]
    floor: str | None = None  # None: runs each workload's program through the adapter
    note: str = ""


# ----------------------------------------------------------------------------- funcad


def _load_funcad(jit: bool) -> Adapter:
    import funcad as fa
    import funcad.numpy as fnp

    for name in ("grad", "value_and_grad", "hessian", "elementwise_grad") + ("jit",) * jit:
        getattr(fa, name)  # AttributeError here: the system is reported as skipped
    return Adapter(
        np=fnp,
        jit=fa.jit if jit else _identity,
        grad=fa.grad,
        value_and_grad=fa.value_and_grad,
        hessian=fa.hessian,
        egrad=fa.elementwise_grad,
        vmap=lambda f, in_axes=0: fa.vmap(f, in_axes),
        jacfwd=lambda f: fa.jacfwd(f),
        jacrev=lambda f: fa.jacrev(f),
        # looked up at call time, so a missing piece fails one workload, not the system
        solve=lambda a, b: fnp.linalg.solve(a, b),
        relu=lambda x: fa.nn.relu(x),
        softplus=lambda x: fa.nn.softplus(x),
        log_softmax=lambda z: fa.nn.log_softmax(z, axis=-1),
        version=getattr(fa, "__version__", _version("funcad")),
    )


# ----------------------------------------------------------------------------- JAX


def _load_jax() -> Adapter:
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    return Adapter(
        np=jnp,
        jit=jax.jit,
        grad=jax.grad,
        value_and_grad=jax.value_and_grad,
        hessian=jax.hessian,
        egrad=lambda f: jax.grad(lambda x: jnp.sum(f(x))),  # autograd's egrad, as JAX docs do
        vmap=jax.vmap,
        jacfwd=jax.jacfwd,
        jacrev=jax.jacrev,
        solve=jnp.linalg.solve,
        relu=jax.nn.relu,
        softplus=jax.nn.softplus,
        log_softmax=lambda z: jax.nn.log_softmax(z, axis=-1),
        to_native=jnp.asarray,
        block=jax.block_until_ready,
        version=jax.__version__,
    )


# ----------------------------------------------------------------------------- autograd


def _load_autograd() -> Adapter:
    import autograd
    import autograd.numpy as anp
    from autograd.scipy.special import logsumexp

    return Adapter(
        np=anp,
        grad=autograd.grad,
        value_and_grad=autograd.value_and_grad,
        hessian=autograd.hessian,
        egrad=autograd.elementwise_grad,
        jacrev=autograd.jacobian,  # autograd has no vmap and no forward-mode jacobian
        solve=anp.linalg.solve,
        relu=lambda x: anp.maximum(x, 0.0),
        softplus=lambda x: anp.logaddexp(0.0, x),
        log_softmax=lambda z: z - logsumexp(z, axis=-1, keepdims=True),
        version=_version("autograd"),
    )


# ----------------------------------------------------------------------------- PyTorch


def _load_torch() -> Adapter:
    import torch
    from torch.func import grad, grad_and_value, hessian, jacfwd, jacrev, vmap

    def value_and_grad(f):
        g_and_v = grad_and_value(f)

        def value_and_grad_f(*args):
            g, v = g_and_v(*args)
            return v, g

        return value_and_grad_f

    def to_numpy(t):
        return t.detach().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)

    return Adapter(
        np=torch,
        grad=grad,
        value_and_grad=value_and_grad,
        hessian=hessian,
        egrad=lambda f: grad(lambda x: f(x).sum()),
        vmap=lambda f, in_axes=0: vmap(f, in_dims=in_axes),
        jacfwd=jacfwd,
        jacrev=jacrev,
        solve=torch.linalg.solve,
        relu=torch.relu,
        softplus=torch.nn.functional.softplus,
        log_softmax=lambda z: torch.log_softmax(z, dim=-1),
        to_native=lambda a: torch.from_numpy(np.array(a, dtype=np.float64)),
        to_numpy=to_numpy,
        version=torch.__version__,
    )


# ----------------------------------------------------------------------------- PyTensor


def _load_pytensor() -> Adapter:
    """PyTensor is symbolic: its 'transformations' build graphs and its 'jit' compiles them.

    ``jit(f)`` traces ``f`` on symbolic inputs of the arguments' dtypes and ranks (shapes left
    free, so one compilation serves every size, as ``pt.matrix()`` would) on the first call,
    compiles it with ``mode="NUMBA"`` and calls the compiled function from then on, with
    ``trust_input=True`` (the documented way to drop PyTensor's per-call input checks).
    """
    import pytensor
    import pytensor.tensor as pt
    from pytensor.gradient import jacobian

    def jit(f):
        cache: dict = {}

        def compiled(*args):
            leaves, treedef = tree_flatten(args)
            key = (repr(treedef), tuple((a.dtype.str, a.ndim) for a in leaves))
            if key not in cache:
                symbols = [pt.tensor(dtype=a.dtype, shape=(None,) * a.ndim) for a in leaves]
                out_leaves, out_def = tree_flatten(f(*tree_unflatten(treedef, symbols)))
                fn = pytensor.function(symbols, out_leaves, mode="NUMBA")
                fn.trust_input = True
                cache[key] = fn, out_def
            fn, out_def = cache[key]
            return tree_unflatten(out_def, fn(*leaves))

        return compiled

    def grads(value, wrt):
        leaves, treedef = tree_flatten(wrt)
        return tree_unflatten(treedef, pt.grad(value, leaves))

    def value_and_grad(f):
        def value_and_grad_f(*args):
            value = f(*args)
            return value, grads(value, args[0])

        return value_and_grad_f

    def hessian(f):
        def hessian_f(x, *rest):
            return jacobian(pt.grad(f(x, *rest), x), x, vectorize=True)

        return hessian_f

    return Adapter(
        np=pt,
        jit=jit,
        grad=lambda f: lambda *args: grads(f(*args), args[0]),
        value_and_grad=value_and_grad,
        hessian=hessian,
        egrad=lambda f: lambda x: pt.grad(pt.sum(f(x)), x),
        solve=pt.linalg.solve,
        relu=lambda x: pt.maximum(x, 0.0),
        softplus=pt.softplus,
        log_softmax=lambda z: pt.special.log_softmax(z, axis=-1),
        version=pytensor.__version__,
    )


# ----------------------------------------------------------------------------- floors


def _load_numpy() -> Adapter:
    return Adapter(np=np, version=np.__version__)


def _load_numba() -> Adapter:
    import numba

    return Adapter(np=np, version=numba.__version__)


SYSTEMS: tuple[System, ...] = (
    System("funcad-jit", "funcad jit", lambda: _load_funcad(jit=True)),
    System("funcad-eager", "funcad eager", lambda: _load_funcad(jit=False)),
    System("jax", "JAX jit", _load_jax, note="jax.jit, x64 enabled"),
    System("pytensor", "PyTensor (Numba)", _load_pytensor, note='mode="NUMBA"'),
    System("torch", "PyTorch", _load_torch, note="torch.func, eager, float64"),
    System("autograd", "autograd", _load_autograd),
    System("numpy", "hand NumPy", _load_numpy, floor="numpy", note="hand-written derivatives"),
    System("numba", "hand Numba", _load_numba, floor="numba", note="hand-fused loop"),
)


def system_by_key(key: str) -> System:
    """Look a system up by its key (``funcad-jit``, ``jax``, ...)."""
    for system in SYSTEMS:
        if system.key == key:
            return system
    raise KeyError(f"unknown system {key!r}; known: {', '.join(s.key for s in SYSTEMS)}")


@dataclass
class Loaded:
    """A system after the attempt to load it: an adapter, or the reason it is skipped."""

    system: System
    adapter: Adapter | None = None
    reason: str = ""
    import_s: float = 0.0
    extra: dict = field(default_factory=dict)


def load_system(system: System) -> Loaded:
    """Import one system; never raises (a failure becomes ``Loaded.reason``)."""
    import time

    start = time.perf_counter()
    try:
        adapter = system.load()
    except Exception as exc:  # noqa: BLE001 - any failure to import means "skipped"
        return Loaded(system, reason=f"{type(exc).__name__}: {exc}")
    return Loaded(system, adapter, import_s=time.perf_counter() - start)


def outputs_to_numpy(adapter: Adapter, out: Any) -> Any:
    """Convert a system's output pytree to NumPy arrays."""
    return tree_map(adapter.to_numpy, out)
