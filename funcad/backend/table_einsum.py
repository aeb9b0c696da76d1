"""einsum and batched matmul in the table backend (backend/table.py).

A contraction is its operands' regions with one letter per axis (a repeated letter, as in
``ii->i``, is the diagonal: a view whose stride is the sum of the axes') and the output's
letters. Two operands of one float dtype whose product per matrix is large enough
(:data:`GEMM_MIN`) and sums more than one term (an outer product is loops) become ``?gemm``
(:func:`_gemm`): the rows, the columns and the summed letters each merge into one axis of a
view where the strides allow it (else the operand is copied in that order), and a batch is
ONE kernel looping over its matrices (:class:`table.Gemm` with ``batch``). Anything else is
one loop nest over every letter, the summed ones innermost into a scalar (a reassociable
sum, as codegen's reductions). Batched ``matmul`` is the contraction ``...ij,...jk->...ik``
of operands whose batch axes are broadcast by stride 0, as NumPy's ``matmul`` broadcasts.
"""

from __future__ import annotations

import math

from ..lax.linalg import einsum_p, matmul_p
from . import loopir as ir
from . import table
from .table import Gemm, Region, Unsupported
from .table_index import call_loops

#: The product size per matrix (m * n * k) from which a contraction calls ``?gemm``; smaller
#: ones are loops (benchmarks/table_einsum.py, stacks of s x s matrices under load: loops 3.5x
#: faster at s = 4, ?gemm 1.3-1.4x faster at s = 8 and 1.3-3.9x from s = 16).
GEMM_MIN = 512


def einsum(plan, e) -> None:
    ins, out = e.params["spec"].split("->")
    contract(plan, e, [plan.region(a) for a in e.inputs], ins.split(","), out)


def matmul(plan, e) -> None:
    x, y = e.inputs
    out = e.outputs[0]
    same = x.aval.dtype == y.aval.dtype == out.aval.dtype and out.aval.dtype in ir.FLOATS
    if out.aval.dtype.kind == "c":  # ?gemm on today's path; the table has no complex BLAS call yet
        raise Unsupported("complex matmul")
    if x.aval.ndim == y.aval.ndim == 2 and same:
        return table.Plan.matmul(plan, e)
    batch = out.aval.shape[:-2]
    letters = "".join(chr(ord("A") + j) for j in range(len(batch)))
    # batch axes broadcast by stride 0, as np.matmul broadcasts them; the second operand's
    # missing ones are no letters of it (a stack @ a matrix: the stack's rows merge)
    own = len(batch) + 2 - y.aval.ndim
    x, y = broadcast(plan.region(x), batch), broadcast(plan.region(y), batch[own:])
    contract(plan, e, [x, y], [letters + "ij", letters[own:] + "jk"], letters + "ik")


def broadcast(r: Region, batch) -> Region:
    """``r`` (..., p, q) with the batch axes ``batch``: stride 0 where it has none or 1."""
    nb = len(r.shape) - 2
    strides = [0] * (len(batch) - nb) + [0 if n == 1 else s for n, s in zip(r.shape[:nb], r.strides[:nb])]
    return Region(r.buffer, r.offset, tuple(batch) + r.shape[nb:], tuple(strides) + r.strides[nb:], r.dtype)


def _diagonal(r: Region, sub: str):
    """``(region, letters)`` with each repeated letter once: the diagonal as a view."""
    letters = "".join(dict.fromkeys(sub))
    if letters == sub:
        return r, sub
    shape = tuple(r.shape[sub.index(c)] for c in letters)
    strides = tuple(sum(s for d, s in zip(sub, r.strides) if d == c) for c in letters)
    return Region(r.buffer, r.offset, shape, strides, r.dtype), letters


def contract(plan, e, regions, subs, out_sub) -> None:
    out = e.outputs[0]
    ops = [_diagonal(r, s) for r, s in zip(regions, subs)]
    if 0 in out.aval.shape:
        plan.regions[out] = plan.fresh(out)
        return
    if len(ops) == 2 and _gemm(plan, out, ops, out_sub):
        return
    r = plan.regions[out] = plan.fresh(out)
    call_loops(plan, "loops", _loops(r, out_sub, ops), [r, *(o[0] for o in ops)])


def _loops(out: Region, out_sub: str, ops) -> table.Loops:
    """``out[o] = sum over the other letters of the product of the operands``: a loop per
    letter of size > 1, the output's first, the summed ones innermost into a local."""
    size = {c: n for r, s in ops for c, n in zip(s, r.shape)}
    size.update(zip(out_sub, out.shape))
    summed = [c for c in dict.fromkeys("".join(s for _, s in ops)) if c not in out_sub]
    order = [c for c in [*out_sub, *summed] if size[c] != 1]
    var = {c: ir.Local(f"i{j}", ir.INT) for j, c in enumerate(order)}
    arrs = [ir.Arr(f"v{j}", r.dtype, len(r.shape)) for j, (r, _) in enumerate([(out, out_sub), *ops])]

    def at(arr, r, s):
        return ir.Load(arr, tuple(var[c] if n != 1 else 0 for c, n in zip(s, r.shape)))

    dt = out.dtype
    prod = None
    for arr, (r, s) in zip(arrs[1:], ops):
        x = ir.cast(at(arr, r, s), dt)
        prod = x if prod is None else ir.Bin("*", prod, x)
    if prod is None:  # no operands: (not produced by funcad.numpy)
        raise Unsupported("einsum of no operands")
    target = at(arrs[0], out, out_sub).index
    inner = [c for c in summed if size[c] != 1]
    slot = {c: j for j, c in enumerate(order)}

    def nest(letters, body):
        for c in reversed(letters):
            body = [ir.Loop(var[c], ir.Size(slot[c], f"n{slot[c]}"), body)]
        return body

    if inner:
        acc = ir.Local("acc", dt)
        body = [ir.Assign(acc, ir.Const(0, dt)),
                *nest(inner, [ir.Assign(acc, ir.Call("_vm.radd", [acc, prod], dt) if dt in ir.FLOATS
                                        else ir.Bin("+", acc, prod))]),
                ir.Store(arrs[0], target, acc)]
    else:
        body = [ir.Store(arrs[0], target, prod)]
    body = nest([c for c in order if c in out_sub], body)
    return table.Loops(body, arrs, [r.strides for r, _ in [(out, out_sub), *ops]],
                       [size[c] for c in order])


def _gemm(plan, out, ops, out_sub) -> bool:
    """The contraction of two operands as (batched) ``?gemm``; False where it is not one
    (a letter summed in one operand alone, mixed dtypes) or too small for BLAS to pay.

    The output is computed in its own order where its last letters are the columns (of one
    operand alone) and the run before them the rows (of the other): what stands before is a
    batch, looped over. Where those matrices would be too small, in (batch, rows, columns)
    order (the letters of both operands, of the first alone, of the second alone), seen
    through a transposed view."""
    (x, sx), (y, sy) = ops
    dt = out.aval.dtype
    if not (x.dtype == y.dtype == dt and dt in ir.FLOATS):
        return False
    if any(c not in out_sub and c not in other for s, other in ((sx, sy), (sy, sx)) for c in s):
        return False
    if out_sub and out_sub[-1] in sx and out_sub[-1] not in sy:  # C^T = y^T x^T
        (x, sx), (y, sy) = (y, sy), (x, sx)
    size = dict(zip(sx, x.shape)) | dict(zip(sy, y.shape))
    K = sorted((c for c in sx if c not in out_sub), key=lambda c: -abs(x.strides[sx.index(c)]))
    k = math.prod(size[c] for c in K)
    tail = len(out_sub)
    while tail and out_sub[tail - 1] in sy and out_sub[tail - 1] not in sx:
        tail -= 1
    head = tail
    while head and out_sub[head - 1] in sx and out_sub[head - 1] not in sy:
        head -= 1
    B, M, N = list(out_sub[:head]), list(out_sub[head:tail]), list(out_sub[tail:])
    if math.prod(size[c] for c in M + N) * k < GEMM_MIN:
        B = [c for c in out_sub if c in sx and c in sy]
        M = [c for c in out_sub if c in sx and c not in sy]
        N = [c for c in out_sub if c in sy and c not in sx]
    m, n = (math.prod(size[c] for c in g) for g in (M, N))
    if m * n * k < GEMM_MIN or k == 1:  # (an outer product: one multiply per element)
        return False
    order = B + M + N
    c = plan.fresh(tuple(size[ch] for ch in order), dt)
    plan.regions[out] = Region(c.buffer, c.offset, tuple(size[ch] for ch in out_sub),
                               tuple(c.strides[order.index(ch)] for ch in out_sub), dt)
    (a, sa), (b, sb) = _matrix(plan, x, sx, B, M, K), _matrix(plan, y, sy, B, K, N)
    batch = tuple((size[ch], sa[j], sb[j], c.strides[j]) for j, ch in enumerate(B) if size[ch] != 1)
    cm = Region(c.buffer, c.offset, (m, n), (n * c.dtype.itemsize, c.dtype.itemsize), dt)
    if max(m, n, k, *(abs(s) // dt.itemsize for s in a.strides + b.strides)) >= 2 ** 31:
        raise Unsupported("a matrix size past 32-bit BLAS integers")
    la, lb = table._blas_layout(a, dt.itemsize), table._blas_layout(b, dt.itemsize)
    gemm = Gemm(dt, m, n, k, lb[0], lb[1], la[0], la[1], batch)
    plan.call(gemm.key(), lambda: gemm, [a, b, cm])
    return True


def _matrix(plan, r: Region, sub: str, B, rows, cols):
    """``(the first matrix of r as a (rows, cols) region BLAS takes, r's stride per batch
    letter (0 for one it lacks))``: a view where the letters merge, else r copied in
    (batch, rows, cols) order."""
    own = [c for c in B if c in sub]
    axes = [sub.index(c) for c in own + rows + cols]
    view = Region(r.buffer, r.offset, *(tuple(t[j] for j in axes) for t in (r.shape, r.strides)), r.dtype)
    nb, nr = len(own), len(rows)
    for _ in range(2):
        (m, ms), (n, ns) = (_merge(view, range(nb, nb + nr)) or (0, None),
                            _merge(view, range(nb + nr, len(axes))) or (0, None))
        matrix = Region(view.buffer, view.offset, (m, n), (ms, ns), view.dtype)
        if None not in (ms, ns) and table._blas_layout(matrix, r.dtype.itemsize) is not None:
            strides = dict(zip(own, view.strides))
            return matrix, [strides.get(c, 0) for c in B]
        copy = plan.fresh(view.shape, r.dtype)
        plan.copy(copy, view)
        view = copy
    raise AssertionError("a C-ordered copy merges")


def _merge(r: Region, axes):
    """``(size, stride)`` of ``r``'s ``axes`` as one axis, None if their strides do not allow it."""
    dims = [(r.shape[j], r.strides[j]) for j in axes if r.shape[j] != 1]
    if not dims:
        return 1, r.dtype.itemsize
    n, s = dims[-1]
    for size, stride in reversed(dims[:-1]):
        if stride != s * n:
            return None
        n *= size
    return n, s


table.register_single(einsum_p, einsum)
table.register_single(matmul_p, matmul)
