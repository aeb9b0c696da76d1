"""Scale-out on Dask: derivatives of a loss summed over the row chunks of ``dask.array`` data.

A loss written per chunk, ``loss(params, X_chunk, y_chunk)``, as a sum (``reduction="sum"``)
or a mean (``reduction="mean"``) over the chunk's rows, has a value, gradient and Hessian that
are sums over chunks. :class:`ChunkedLoss` evaluates each chunk's part next to the data with
one jitted ``value_grad_hessian`` (or gradient, or Hessian-vector product) program, and adds
the parts by a tree reduction; the parameters enter the task graph once per evaluation. With
a ``distributed.Client``, each jitted program (with whatever the loss closes over, arrays too)
goes to the cluster once per client, as a task whose result the workers fetch and keep, not
pickled into every chunk's task. The programs pickle by a token (:mod:`funcad.jit`), so each
worker process traces and compiles (or loads from its disk cache) once per signature.

:func:`newton` and :func:`newton_cg` run :mod:`funcad.optimize`'s iterations (same damping,
line search, :class:`~funcad.optimize.OptimizeResult` and verbose table) on such a loss: the
derivatives are computed on the cluster, the small ``d x d`` solve on the client; the line
search's full step is evaluated with its gradient and Hessian, so an iteration whose full step
is taken is one pass over the chunks. :func:`per_example_grads` maps a jitted ``vmap(grad)``
over the row blocks. :func:`persist_evenly` persists row-chunked arrays round-robin over the
workers (equal shares, a chunk's ``X`` and ``y`` together).

Any Dask scheduler works: with a ``distributed.Client`` active (``Client("tcp://host:8786")``
for a real cluster), the tasks run on its workers. Install with ``pip install funcad[dask]``.
Dask's nanny starts workers with ``MALLOC_TRIM_THRESHOLD_=65536``, which returns every
freed temporary to the OS; a chunk's task keeps its row blocks' temporaries for reuse while
it runs and gives them back at its end (:func:`funcad._malloc.kept_for_reuse`): 0.22 s
instead of 0.43 s of CPU per 250,000 x 100 chunk of a logistic Newton step
(benchmarks/DASK.md). ``FUNCAD_MALLOC_TUNING=1`` in the workers' environment (e.g.
``LocalCluster(env={"FUNCAD_MALLOC_TUNING": "1"})``) keeps freed memory in the whole worker.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable

import numpy as np

from . import _malloc, api
from .batching import vmap
from .errors import ArgumentError
from .jit import jit
from .optimize import OptimizeResult, _check_on_nonfinite, _newton_cg_loop, _newton_loop, _Problem
from .second_order import ravel_pytree, value_grad_hessian
from .tree_util import tree_leaves, tree_structure

__all__ = ["ChunkedLoss", "newton", "newton_cg", "per_example_grads", "persist_evenly"]


def _dask():
    try:
        import dask
        import dask.array  # noqa: F401
    except ImportError:
        raise ImportError("funcad.dask needs dask: install the extra with "
                          "`pip install funcad[dask]` (dask and distributed).") from None
    return dask


def _blocks(a, name):
    """The row blocks of a 1-d or 2-d dask array (or NumPy array: one block), as delayed."""
    da = _dask().array
    if isinstance(a, np.ndarray):
        a = da.from_array(a, chunks=a.shape[:1] + a.shape[1:])
    if not isinstance(a, da.Array):
        raise ArgumentError(f"funcad.dask: {name} must be a dask.array (or NumPy) array chunked by "
                            f"rows, got {type(a).__name__}. Convert it: dask.array.from_array("
                            f"np.asarray({name}), chunks=(rows_per_chunk, -1)).")
    if a.ndim == 2 and a.numblocks[1] != 1:
        a = a.rechunk({1: -1})
    return a, list(a.to_delayed().reshape(-1))


def _client():
    """The active ``distributed.Client``, or None (another Dask scheduler, or none)."""
    if "distributed" not in sys.modules:  # not imported: no client can be active
        return None
    try:
        return sys.modules["distributed"].default_client()
    except ValueError:
        return None


def _ship(shipped: dict, program):
    """``program`` as a Future on the active client's cluster, made once per client: its
    pickle (with what the loss closes over: arrays too) goes to the scheduler once, a worker
    unpickles it once, and the others fetch that worker's copy once; each task then takes
    the Future, not the pickle. A task (not ``scatter``): a lost copy (a worker died) is
    recomputed from the task. Without a client, the program itself (embedded in the graph)."""
    client = _client()
    if client is None:
        return program
    key = (client.id, id(program))
    hit = shipped.get(key)
    if hit is None or hit[0] is not program or hit[1].status in ("cancelled", "lost"):
        future = client.submit(_identity, program, key=f"funcad-program-{uuid.uuid4().hex}",
                               pure=False)
        hit = shipped[key] = (program, future)
    return hit[1]


def _identity(x):
    return x


def _tree_sum(parts, split_every=8):
    dask = _dask()
    add = dask.delayed(_add_parts, pure=True)
    while len(parts) > 1:
        parts = [add(*parts[i:i + split_every]) if len(parts[i:i + split_every]) > 1 else parts[i]
                 for i in range(0, len(parts), split_every)]
    return parts[0]


def _add_parts(*parts):
    if isinstance(parts[0], tuple):
        return tuple(sum(p) for p in zip(*parts))
    return sum(parts)


# Row blocks of 2 MiB of X inside a chunk's task: the program's rows x d temporaries stay in
# cache. Measured per 125,000 x 100 chunk (value, gradient, Hessian; CPU s) on the former Numba
# path, whose allocator asked for huge pages past 4 MiB (a fault each time): 0.103 with 1-4 MiB
# blocks, 0.25 at 6 MiB, 0.15 at 32 MiB, 0.13 on the whole chunk at once.
_BLOCK_BYTES = 2 << 20


def _chunk_call(fn, scale, shared, *data):
    """One chunk's part: ``fn`` (a jitted program) on ``(*shared, *data)``, weighted by
    ``rows / n`` for a mean. The chunk goes through ``fn`` in row blocks of at most
    ``_BLOCK_BYTES`` of ``X`` (the loss is a sum or mean over rows, so the parts add up): the
    temporaries are a block's, not the chunk's, at the cost of one more signature (the last
    block's rows) per chunk size."""
    rows = data[0].shape[0]
    step = max(1, _BLOCK_BYTES // max(1, data[0][:1].nbytes))
    out = None
    # FUNCAD_MALLOC_TUNING=1 given as the workers' env= is set after the worker process has
    # imported funcad (by the client's __main__, under the spawn start method): apply it here
    _malloc.configure()
    with _malloc.kept_for_reuse():  # the blocks' temporaries, under Dask's MALLOC_TRIM_THRESHOLD_
        for start in range(0, rows, step):
            block = tuple(a[start:start + step] for a in data)
            part = fn(*shared, *block)
            w = scale * block[0].shape[0] if scale is not None else 1.0
            part = tuple(np.asarray(o) * w for o in part) if isinstance(part, tuple) else np.asarray(part) * w
            out = part if out is None else _add_parts(out, part)
    return out


class ChunkedLoss:
    """The value and derivatives of ``sum_chunks loss(params, X_chunk, y_chunk)`` on Dask.

    ``X`` (and ``y``, optional) are dask arrays chunked by rows (the same row chunks).
    ``reduction="sum"``: ``loss`` returns the sum over its chunk's rows, and the total is the
    sum over chunks. ``reduction="mean"``: ``loss`` returns the chunk's mean, and the total is
    the mean over all rows (each chunk weighted by its rows). ``penalty(params)`` (e.g. an L2
    term) is added once, on the client. Methods take ``params`` as a pytree and return NumPy
    values: :meth:`value`, :meth:`grad`, :meth:`value_and_grad`, :meth:`value_grad_hessian`,
    :meth:`hessian`, :meth:`hvp`; gradients and Hessians are flat (over ``ravel_pytree(params)``).

    >>> import dask.array as da, numpy as np, funcad.numpy as fnp
    >>> from funcad.dask import ChunkedLoss
    >>> X = da.from_array(np.arange(12.0).reshape(6, 2), chunks=(2, 2)); y = da.ones(6, chunks=2)
    >>> L = ChunkedLoss(lambda w, X, y: fnp.sum((X @ w - y) ** 2), X, y)
    >>> v, g, H = L.value_grad_hessian(np.zeros(2))
    >>> float(v), H.shape
    (6.0, (2, 2))
    """

    def __init__(self, loss: Callable, X, y=None, *, reduction: str = "sum",
                 penalty: Callable | None = None):
        if reduction not in ("sum", "mean"):
            raise ArgumentError(f"ChunkedLoss: reduction must be 'sum' or 'mean', got {reduction!r}: "
                                "'sum' if the loss returns its chunk's sum, 'mean' if its mean.")
        self.loss, self.reduction, self.penalty = loss, reduction, penalty
        self.X, self._Xb = _blocks(X, "X")
        self._yb = None
        if y is not None:
            y, self._yb = _blocks(y, "y")
            if y.chunks[0] != self.X.chunks[0]:
                raise ArgumentError(f"ChunkedLoss: X and y must have the same row chunks; X has "
                                    f"{self.X.chunks[0]}, y has {y.chunks[0]}. Rechunk y like X: "
                                    "y.rechunk({0: X.chunks[0]}).")
        self.n = int(self.X.shape[0])
        self._programs: dict = {}
        self._shipped: dict = {}  # (client id, program) -> its Future on that client

    def _program(self, kind, unravel, key):
        """The jitted per-chunk program of ``kind`` for one parameter structure (made once, so
        its token, and the workers' compiled programs, are reused at every step)."""
        hit = self._programs.get((kind, key))
        if hit is None:
            loss = self.loss

            def f(v, *data):
                return loss(unravel(v), *data)

            if kind == "value":
                hit = jit(f)
            elif kind == "vg":
                hit = jit(api.value_and_grad(f))
            elif kind == "vgh":
                hit = jit(value_grad_hessian(f))
            else:
                hit = jit(lambda v, t, *data: api.jvp(lambda u: api.grad(f)(u, *data), (v,), (t,))[1])
            self._programs[(kind, key)] = hit
        return hit

    def _reduce(self, kind, params, *extra):
        dask = _dask()
        flat, unravel = ravel_pytree(params)
        flat = np.asarray(flat, dtype=np.result_type(flat.dtype, np.float32))
        fn = _ship(self._shipped, self._program(kind, unravel, (flat.size, tree_structure(params))))
        scale = 1.0 / self.n if self.reduction == "mean" else None
        shared = dask.delayed((flat,) + extra, pure=True)  # the parameters: one key in the graph
        call = dask.delayed(_chunk_call, pure=True)
        data = zip(self._Xb, self._yb) if self._yb is not None else ((b,) for b in self._Xb)
        parts = [call(fn, scale, shared, *d) for d in data]
        out = _tree_sum(parts).compute()
        return out, flat

    def _penalised(self, out, params, kind):
        if self.penalty is None:
            return out
        flat, unravel = ravel_pytree(params)
        pen = lambda v: self.penalty(unravel(v))  # noqa: E731
        if kind == "value":
            return out + float(pen(flat))
        if kind == "vg":
            pv, pg = api.value_and_grad(pen)(flat)
            return out[0] + float(pv), out[1] + np.asarray(pg)
        if kind == "vgh":
            pv, pg, pH = value_grad_hessian(pen)(flat)
            return out[0] + float(pv), out[1] + np.asarray(pg), out[2] + np.asarray(pH)
        return out

    def value(self, params) -> float:
        out, _ = self._reduce("value", params)
        return float(self._penalised(out, params, "value"))

    def value_and_grad(self, params):
        out, _ = self._reduce("vg", params)
        v, g = self._penalised(out, params, "vg")
        return float(v), np.asarray(g)

    def grad(self, params):
        return self.value_and_grad(params)[1]

    def value_grad_hessian(self, params):
        out, _ = self._reduce("vgh", params)
        v, g, H = self._penalised(out, params, "vgh")
        return float(v), np.asarray(g), np.asarray(H)

    def hessian(self, params):
        return self.value_grad_hessian(params)[2]

    def hvp(self, params, t):
        """The Hessian (over the flat parameters) times the flat vector ``t``."""
        t = np.asarray(t, dtype=float)
        out, flat = self._reduce("hvp", params, t)
        if self.penalty is not None:
            _, unravel = ravel_pytree(params)
            pen = lambda v: self.penalty(unravel(v))  # noqa: E731
            out = out + np.asarray(api.jvp(api.grad(pen), (flat,), (t,))[1])
        return np.asarray(out)


class _DaskProblem(_Problem):
    """funcad.optimize's problem, evaluated by a :class:`ChunkedLoss` on the cluster."""

    def __init__(self, closs: ChunkedLoss, x0, name: str):
        from .optimize import _check_x0

        self.name, self.closs = name, closs
        self.paths = _check_x0(x0, name)
        x_flat, self.unravel = ravel_pytree(x0)
        self.x0 = np.array(x_flat, dtype=np.result_type(x_flat.dtype, np.float32))
        self.sizes = [np.size(leaf) for leaf in tree_leaves(x0)]
        self.jitted, self._sparse = True, None
        self.nfev = self.ngev = self.nhev = 0
        # a pass over the chunks costs more than the Hessian's arithmetic on them: the line
        # search's full step evaluates the value, gradient and Hessian (the next iteration's)
        self.fuse_full_step = True

    def f(self, x) -> float:
        self.nfev += 1
        return self.closs.value(self.unravel(x))

    def value_and_grad(self, x):
        self.nfev += 1
        self.ngev += 1
        return self.closs.value_and_grad(self.unravel(x))

    def value_grad_hessian(self, x):
        self.nfev += 1
        self.ngev += 1
        self.nhev += 1
        return self.closs.value_grad_hessian(self.unravel(x))

    def hvp(self, x, t):
        self.nhev += 1
        return self.closs.hvp(self.unravel(x), t)


def _closs(loss, X, y, reduction, penalty):
    return loss if isinstance(loss, ChunkedLoss) else ChunkedLoss(loss, X, y, reduction=reduction,
                                                                   penalty=penalty)


def newton(loss: Callable, x0, X, y=None, *, reduction: str = "sum", penalty: Callable | None = None,
           gtol: float = 1e-10, maxiter: int = 100, verbose: bool = False,
           callback: Callable | None = None, on_nonfinite: str = "raise") -> OptimizeResult:
    """Newton's method on ``sum_chunks loss(params, X_chunk, y_chunk)`` (+ ``penalty(params)``)
    over dask arrays: value, gradient and Hessian computed per chunk on the workers and summed
    by a tree reduction, the ``d x d`` solve on the client. Iterations, damping, line search,
    result and ``verbose`` table as :func:`funcad.optimize.newton`, except that the line
    search's full step is evaluated with its gradient and Hessian in one pass (the next
    iteration's, when the step is taken: one pass per iteration; value-only trials after a
    rejected full step). Pass ``loss`` as a :class:`ChunkedLoss` (and ``X=None``) to reuse it.

    >>> import dask.array as da, numpy as np, funcad.numpy as fnp
    >>> from funcad import dask as fdask
    >>> X = da.from_array(np.c_[np.ones(6), np.arange(6.0)], chunks=(3, 2))
    >>> y = da.from_array(np.arange(6.0) * 2 + 1, chunks=3)
    >>> res = fdask.newton(lambda w, X, y: fnp.sum((X @ w - y) ** 2), np.zeros(2), X, y)
    >>> res.success, np.round(res.x, 8)
    (True, array([1., 2.]))
    """
    _check_on_nonfinite(on_nonfinite, "newton")
    P = _DaskProblem(_closs(loss, X, y, reduction, penalty), x0, "newton")
    return _newton_loop(P, gtol, maxiter, verbose, callback, on_nonfinite)


def newton_cg(loss: Callable, x0, X, y=None, *, reduction: str = "sum",
              penalty: Callable | None = None, gtol: float = 1e-10, maxiter: int = 200,
              cg_maxiter: int | None = None, verbose: bool = False,
              callback: Callable | None = None, on_nonfinite: str = "raise") -> OptimizeResult:
    """Newton-CG on a chunked loss (as :func:`newton`): each CG iteration is one distributed
    Hessian-vector product, so the Hessian is never formed. Result and table as
    :func:`funcad.optimize.newton_cg`."""
    _check_on_nonfinite(on_nonfinite, "newton_cg")
    P = _DaskProblem(_closs(loss, X, y, reduction, penalty), x0, "newton_cg")
    return _newton_cg_loop(P, gtol, maxiter, cg_maxiter, verbose, callback, on_nonfinite)


def _per_example_block(fn, flat, *blocks):
    g = fn(flat, *blocks)
    return np.asarray(g).reshape(blocks[0].shape[0], -1)


def per_example_grads(loss_one: Callable, params, X, y=None):
    """Per-example gradients ``grad(loss_one)(params, x_i, y_i)`` over the rows of dask arrays,
    as a dask array of shape ``(n, P)`` (``P``: the flat parameter size, ``ravel_pytree``
    order): ``map_blocks`` of one jitted ``vmap(grad)``. With a ``distributed.Client``, the
    program (and what ``loss_one`` closes over) goes to the cluster once, as for
    :class:`ChunkedLoss`, and each block's task takes it by reference.

    >>> import dask.array as da, numpy as np, funcad.numpy as fnp
    >>> from funcad.dask import per_example_grads
    >>> X = da.from_array(np.arange(6.0).reshape(3, 2), chunks=(2, 2))
    >>> per_example_grads(lambda w, x: fnp.dot(w, x) ** 2 / 2, np.ones(2), X).compute()
    array([[ 0.,  1.],
           [10., 15.],
           [36., 45.]])
    """
    dask = _dask()
    da = dask.array
    X, _ = _blocks(X, "X")
    flat, unravel = ravel_pytree(params)
    flat = np.asarray(flat, dtype=np.result_type(flat.dtype, np.float32))
    in_axes = (None, 0) if y is None else (None, 0, 0)
    program = jit(vmap(api.grad(lambda v, *d: loss_one(unravel(v), *d)), in_axes=in_axes))
    fn = _ship({}, program)
    if fn is not program:  # a Future: a dependency of every block's task, not a copy in each
        fn = dask.delayed(fn)
    data = (X,) if y is None else (X, _blocks(y, "y")[0])
    if y is not None and data[1].chunks[0] != X.chunks[0]:
        data = (X, data[1].rechunk({0: X.chunks[0]}))
    inds = [("ij" if d.ndim == 2 else "i") for d in data]
    args = [a for d, ind in zip(data, inds) for a in (d, ind)]
    return da.blockwise(_per_example_block, "ik", fn, None, flat, None, *args,
                        new_axes={"k": flat.size}, dtype=flat.dtype, concatenate=True,
                        adjust_chunks=None)


def persist_evenly(*arrays):
    """Persist dask arrays chunked by rows (the same row chunks) on the active
    ``distributed.Client``'s workers, row block ``i`` of every array on worker ``i mod k``
    (in the scheduler's order): the workers hold equal shares, and a chunk's ``X`` and ``y``
    are on the same worker. (``persist`` leaves placement to the scheduler, which can put twice
    as many chunks on one worker as on another, and ``Client.rebalance`` moves nothing until a
    worker holds 30% of its memory limit.) The placement is a preference: a lost chunk is
    recomputed on any worker. Returns the persisted arrays (one array for one argument).

    >>> import dask.array as da, distributed  # doctest: +SKIP
    >>> client = distributed.Client(n_workers=2)  # doctest: +SKIP
    >>> X, y = persist_evenly(da.random.random((8000, 5), chunks=1000),
    ...                       da.random.random(8000, chunks=1000))  # doctest: +SKIP
    """
    da = _dask().array
    client = _client()
    if client is None:
        raise ArgumentError("persist_evenly needs an active distributed.Client (e.g. "
                            "distributed.Client(LocalCluster()) or Client('tcp://host:8786')).")
    arrays = [_blocks(a, f"arrays[{i}]")[0] for i, a in enumerate(arrays)]
    for i, a in enumerate(arrays[1:], 1):
        if a.chunks[0] != arrays[0].chunks[0]:
            raise ArgumentError(f"persist_evenly: arrays[{i}] has row chunks {a.chunks[0]}, "
                                f"arrays[0] has {arrays[0].chunks[0]}; rechunk it like arrays[0].")
    workers = list(client.scheduler_info(n_workers=-1)["workers"])
    parts = [[] for _ in arrays]
    for i in range(arrays[0].numblocks[0]):
        blocks = client.persist([a.blocks[i] for a in arrays], workers=[workers[i % len(workers)]],
                                allow_other_workers=True)
        for p, b in zip(parts, blocks):
            p.append(b)
    out = client.persist([da.concatenate(p) for p in parts], optimize_graph=False)
    return out[0] if len(out) == 1 else tuple(out)
