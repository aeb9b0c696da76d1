"""Matrix decompositions and determinants: cholesky, eigh, qr, svd, lu, triangular_solve, det,
slogdet, pinv. Each works on stacks of matrices (leading batch axes).

JVP rules follow JAX's (jax/_src/lax/linalg.py) and are written with other primitives
(matmul, solve, triangular_solve), so second derivatives come for free. Only
triangular_solve is linear in an operand and needs a transpose rule.

Conventions for points where the derivative is not unique: cholesky and eigh read one
triangle of their input (the lower one, or eigh's ``uplo``), as NumPy does, and their
derivatives see the tangent through that triangle alone (as autograd), so forward values and
derivatives agree on any input, symmetric or not; at repeated eigen/singular
values (where neither the vectors nor the sorted values are differentiable) eigh and svd
set the coupling between equal values to zero and give the values the tangent
diag(V^T dA V) for the vectors NumPy returns; pinv's derivative is that of constant rank.
"""

from __future__ import annotations

import functools

import numpy as np

from .. import ad, batching
from ..ad import is_undefined, transpose_rules
from ..core import Primitive, ShapedArray, bind, get_aval
from ..errors import ShapeError
from . import elementwise as ew
from .linalg import matmul, solve
from .reductions import reduce_sum
from .shapes import broadcast_to, reshape, transpose

# --------------------------------------------------------------------------------------
# Helpers


def mT(x):
    nd = get_aval(x).ndim
    return transpose(x, tuple(range(nd - 2)) + (nd - 1, nd - 2))


def mH(x):
    """The conjugate transpose of the last two axes (the transpose for real ``x``)."""
    t = mT(x)
    return ew.conj(t) if get_aval(x).dtype.kind == "c" else t


def _is_complex(x) -> bool:
    return get_aval(x).dtype.kind == "c"


def _real_aval(a, shape=None) -> ShapedArray:
    return ShapedArray(a.shape if shape is None else shape, ew.real_dtype(a.dtype))


def _eye(n, dtype):
    return np.eye(n, dtype=dtype)


def _tri_mask(n, lower, k=0):
    return np.tril(np.ones((n, n), bool), k) if lower else np.triu(np.ones((n, n), bool), -k)


def _masked(x, mask):
    return ew.select(mask, x, np.zeros((), get_aval(x).dtype))


def _from_triangle(x, lower: bool):
    """The symmetric (Hermitian) matrix that one triangle of ``x`` stands for (the triangle
    mirrored; for complex x, conjugated, with the real part of the diagonal, as LAPACK reads
    it). cholesky and eigh read only that triangle, as NumPy and LAPACK do, so their
    derivatives see the tangent through it too: they agree with finite differences on any
    input."""
    n = get_aval(x).shape[-1]
    strict = _masked(x, _tri_mask(n, lower, -1))
    if _is_complex(x):
        diag = ew.convert_element_type(ew.real(_masked(x, np.eye(n, dtype=bool))), get_aval(x).dtype)
        return ew.add(ew.add(strict, diag), mH(strict))
    return ew.add(_masked(x, _tri_mask(n, lower)), mT(strict))


def trace(x):
    """Sum of the diagonal of the last two axes."""
    n = get_aval(x).shape[-1]
    nd = get_aval(x).ndim
    return reduce_sum(ew.mul(x, _eye(n, get_aval(x).dtype)), (nd - 2, nd - 1))


def _diag(x):
    """The diagonal of the last two axes, (..., n, n) -> (..., n)."""
    n = get_aval(x).shape[-1]
    return reduce_sum(ew.mul(x, _eye(n, get_aval(x).dtype)), (get_aval(x).ndim - 1,))


def _square(a, name):
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ShapeError(f"{name}: expected a square matrix or a stack of them (..., n, n), "
                         f"got shape {a.shape}.")


def _batched(fn, *arrays, n_out=1):
    """Apply a 2-D kernel over the broadcast leading axes of ``arrays``."""
    batch = np.broadcast_shapes(*(a.shape[:-2] for a in arrays))
    arrays = [np.broadcast_to(a, batch + a.shape[-2:]) for a in arrays]
    if not batch:
        return fn(*arrays)
    results = [fn(*(a[i] for a in arrays)) for i in np.ndindex(*batch)]
    if n_out == 1:
        return np.stack(results).reshape(batch + results[0].shape)
    return [np.stack([r[j] for r in results]).reshape(batch + results[0][j].shape) for j in range(n_out)]


# --------------------------------------------------------------------------------------
# triangular_solve: op(a) x = b with a triangular, op = identity or transpose


triangular_solve_p = Primitive("triangular_solve")


def _trisolve_impl(a, b, *, lower, transpose_a, unit_diagonal):
    import scipy.linalg

    return _batched(lambda a2, b2: scipy.linalg.solve_triangular(
        a2, b2, trans=1 if transpose_a else 0, lower=lower, unit_diagonal=unit_diagonal,
        check_finite=False), np.asarray(a), np.asarray(b))


def _trisolve_abstract_eval(a, b, *, lower, transpose_a, unit_diagonal):
    _square(a, "solve_triangular")
    if b.ndim < 2 or b.shape[-2] != a.shape[-1]:
        raise ShapeError(f"solve_triangular: right-hand side of shape {b.shape} does not fit the "
                         f"matrix of shape {a.shape} (expected (..., {a.shape[-1]}, k)).")
    try:
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise ShapeError(f"solve_triangular: batch axes of {a.shape} and {b.shape} do not "
                         "broadcast.") from None
    return ShapedArray(batch + b.shape[-2:], np.result_type(a.dtype, b.dtype))


triangular_solve_p.def_impl(_trisolve_impl)
triangular_solve_p.def_abstract_eval(_trisolve_abstract_eval)


def triangular_solve(a, b, lower: bool, transpose_a: bool = False, unit_diagonal: bool = False):
    """Solve ``a x = b`` (or ``a^T x = b``) for triangular ``a`` (only its triangle is read)."""
    return bind(triangular_solve_p, a, b, lower=bool(lower), transpose_a=bool(transpose_a),
                unit_diagonal=bool(unit_diagonal))


def _trisolve_jvp(primals, tangents, *, lower, transpose_a, unit_diagonal):
    a, b = primals
    a_dot, b_dot = tangents
    x = triangular_solve(a, b, lower, transpose_a, unit_diagonal)
    x_aval = get_aval(x)
    rhs = ad.Zero(x_aval) if type(b_dot) is ad.Zero else ad._broadcast_to_aval(b_dot, x_aval)
    if type(a_dot) is not ad.Zero:
        n = get_aval(a).shape[-1]
        mask = _tri_mask(n, lower, -1 if unit_diagonal else 0)
        a_dot = _masked(a_dot, mask)
        rhs = ad.add_tangents(rhs, ew.neg(matmul(mT(a_dot) if transpose_a else a_dot, x)))
    if type(rhs) is ad.Zero:
        return x, rhs
    return x, triangular_solve(a, rhs, lower, transpose_a, unit_diagonal)


def _trisolve_transpose(ct, a, b, *, lower, transpose_a, unit_diagonal):
    if is_undefined(a):
        raise ValueError("triangular_solve is not linear in its matrix")
    return [None, ad.unbroadcast(triangular_solve(a, ct, lower, not transpose_a, unit_diagonal), b.aval)]


ad.jvp_rules[triangular_solve_p] = _trisolve_jvp
transpose_rules[triangular_solve_p] = _trisolve_transpose


def solve_right_upper(b, r):
    """``b r^{-1}`` for upper-triangular ``r`` (solve ``x r = b``)."""
    return mT(triangular_solve(r, mT(b), lower=False, transpose_a=True))


# --------------------------------------------------------------------------------------
# cholesky: a = l l^T with l lower triangular

cholesky_p = Primitive("cholesky")
cholesky_p.def_impl(np.linalg.cholesky)


def _cholesky_abstract_eval(a):
    _square(a, "cholesky")
    return ShapedArray(a.shape, a.dtype)


cholesky_p.def_abstract_eval(_cholesky_abstract_eval)


def cholesky(a):
    return bind(cholesky_p, a)


def _cholesky_jvp(primals, tangents):
    (a,), (a_dot,) = primals, tangents
    l = cholesky(a)
    if type(a_dot) is ad.Zero:
        return l, ad.Zero(get_aval(l))
    n = get_aval(a).shape[-1]
    # l_dot = l phi(l^{-1} a_dot l^{-H}), phi = lower triangle with the diagonal halved.
    a_dot = _from_triangle(a_dot, lower=True)
    tmp = triangular_solve(l, mH(triangular_solve(l, a_dot, lower=True)), lower=True)
    phi = ew.mul(tmp, (np.tril(np.ones((n, n)), -1) + 0.5 * np.eye(n)).astype(get_aval(a).dtype))
    return l, matmul(l, phi)


ad.jvp_rules[cholesky_p] = _cholesky_jvp

# --------------------------------------------------------------------------------------
# eigh: a = v diag(w) v^T, eigenvalues ascending (reads the lower triangle, as NumPy)

eigh_p = Primitive("eigh", multiple_results=True)
eigh_p.def_impl(lambda a, *, uplo: list(np.linalg.eigh(a, UPLO=uplo)))


def _eigh_abstract_eval(a, *, uplo):
    _square(a, "eigh")
    return [_real_aval(a, a.shape[:-1]), ShapedArray(a.shape, a.dtype)]


eigh_p.def_abstract_eval(_eigh_abstract_eval)


def eigh(a, uplo: str = "L"):
    return bind(eigh_p, a, uplo=uplo)


def _gap_inverse(diffs):
    """1 / diffs off the ties, 0 at ties (and on the diagonal)."""
    tie = ew.eq(diffs, 0.0)
    return ew.select(tie, np.zeros((), get_aval(diffs).dtype),
                     ew.div(1.0, ew.select(tie, np.ones((), get_aval(diffs).dtype), diffs)))


def _eigh_jvp(primals, tangents, *, uplo):
    (a,), (a_dot,) = primals, tangents
    w, v = eigh(a, uplo)
    if type(a_dot) is ad.Zero:
        return [w, v], [ad.Zero(get_aval(w)), ad.Zero(get_aval(v))]
    c = matmul(mH(v), matmul(_from_triangle(a_dot, uplo == "L"), v))
    w_row = reshape(w, get_aval(w).shape[:-1] + (1, get_aval(w).shape[-1]))
    f = _gap_inverse(ew.sub(w_row, mT(w_row)))  # f_ij = 1 / (w_j - w_i)
    if _is_complex(c):  # real eigenvalues; the vectors' phases fixed by diag(V^H dV) = 0 (JAX's)
        f = ew.convert_element_type(f, get_aval(c).dtype)
        return [w, v], [ew.real(_diag(c)), matmul(v, ew.mul(f, c))]
    return [w, v], [_diag(c), matmul(v, ew.mul(f, c))]


ad.jvp_rules[eigh_p] = _eigh_jvp

# --------------------------------------------------------------------------------------
# qr (reduced, m >= n; funcad.numpy reduces wide matrices to a square one)

qr_p = Primitive("qr", multiple_results=True)
qr_p.def_impl(lambda a: list(np.linalg.qr(a, mode="reduced")))


def _qr_abstract_eval(a):
    if a.ndim < 2 or a.shape[-2] < a.shape[-1]:
        raise ShapeError(f"qr primitive: expected a (..., m, n) array with m >= n, got {a.shape}.")
    m, n = a.shape[-2:]
    return [ShapedArray(a.shape[:-2] + (m, n), a.dtype), ShapedArray(a.shape[:-2] + (n, n), a.dtype)]


qr_p.def_abstract_eval(_qr_abstract_eval)


def qr(a):
    return bind(qr_p, a)


def _qr_jvp(primals, tangents):
    (a,), (a_dot,) = primals, tangents
    q, r = qr(a)
    if type(a_dot) is ad.Zero:
        return [q, r], [ad.Zero(get_aval(q)), ad.Zero(get_aval(r))]
    n = get_aval(a).shape[-1]
    dx_rinv = solve_right_upper(a_dot, r)
    qt_dx_rinv = matmul(mH(q), dx_rinv)
    low = _masked(qt_dx_rinv, _tri_mask(n, True, -1))
    omega = ew.sub(low, mH(low))
    if _is_complex(a):  # r's diagonal is real: omega carries the imaginary part of that diagonal
        im_diag = ew.sub(qt_dx_rinv, ew.convert_element_type(ew.real(qt_dx_rinv), get_aval(a).dtype))
        omega = ew.add(omega, _masked(im_diag, np.eye(n, dtype=bool)))
    q_dot = ew.add(matmul(q, ew.sub(omega, qt_dx_rinv)), dx_rinv)
    r_dot = matmul(ew.sub(qt_dx_rinv, omega), r)
    return [q, r], [q_dot, r_dot]


ad.jvp_rules[qr_p] = _qr_jvp

# --------------------------------------------------------------------------------------
# svd (reduced): a = u diag(s) vt, s descending

svd_p = Primitive("svd", multiple_results=True)
svd_p.def_impl(lambda a: list(np.linalg.svd(a, full_matrices=False)))


def _svd_abstract_eval(a):
    if a.ndim < 2:
        raise ShapeError(f"svd: expected a (..., m, n) array, got shape {a.shape}.")
    m, n = a.shape[-2:]
    k = min(m, n)
    b = a.shape[:-2]
    return [ShapedArray(b + (m, k), a.dtype), _real_aval(a, b + (k,)),
            ShapedArray(b + (k, n), a.dtype)]


svd_p.def_abstract_eval(_svd_abstract_eval)


def svd(a):
    return bind(svd_p, a)


def _svd_jvp(primals, tangents):
    (a,), (a_dot,) = primals, tangents
    u, s, vt = svd(a)
    if type(a_dot) is ad.Zero:
        return [u, s, vt], [ad.Zero(get_aval(x)) for x in (u, s, vt)]
    m, n = get_aval(a).shape[-2:]
    dt = get_aval(a).dtype
    v = mH(vt)
    ds_mat = matmul(mH(u), matmul(a_dot, v))
    ds = ew.real(_diag(ds_mat)) if _is_complex(a) else _diag(ds_mat)
    s_row = reshape(s, get_aval(s).shape[:-1] + (1, get_aval(s).shape[-1]))
    s_col = mT(s_row)
    f = _gap_inverse(ew.mul(ew.add(s_row, s_col), ew.sub(s_row, s_col)))  # 1 / (s_j^2 - s_i^2)
    f, s_row, s_col = (ew.convert_element_type(x, dt) for x in (f, s_row, s_col))
    dss = ew.mul(ds_mat, s_row)
    sds = ew.mul(s_col, ds_mat)
    du = matmul(u, ew.mul(f, ew.add(dss, mH(dss))))
    dv = matmul(v, ew.mul(f, ew.add(sds, mH(sds))))
    if _is_complex(a):  # the phases shared by u's and v's columns: half the skew part of ds_mat / s
        skew = _masked(ew.mul(ew.sub(ds_mat, mH(ds_mat)), 0.5), np.eye(get_aval(s).shape[-1], dtype=bool))
        s_inv = ew.convert_element_type(_gap_inverse(reshape(s, get_aval(s_row).shape)), dt)  # 0 at s = 0
        du = ew.add(du, matmul(u, ew.mul(skew, s_inv)))
    if m > n:
        dav = matmul(a_dot, v)
        du = ew.add(du, ew.div(ew.sub(dav, matmul(u, matmul(mH(u), dav))), s_row))
    if n > m:
        dau = matmul(mH(a_dot), u)
        dv = ew.add(dv, ew.div(ew.sub(dau, matmul(v, matmul(vt, dau))), s_row))
    return [u, s, vt], [du, ds, mH(dv)]


ad.jvp_rules[svd_p] = _svd_jvp

# --------------------------------------------------------------------------------------
# det and slogdet: d log|det a| = tr(a^{-1} a_dot)

det_p = Primitive("det")
det_p.def_impl(np.linalg.det)


def _det_abstract_eval(a):
    _square(a, "det")
    return ShapedArray(a.shape[:-2], a.dtype)


det_p.def_abstract_eval(_det_abstract_eval)


def det(a):
    return bind(det_p, a)


ad.defjvp(det_p, lambda g, ans, a: ew.mul(ans, trace(solve(a, g))))

slogdet_p = Primitive("slogdet", multiple_results=True)
slogdet_p.def_impl(lambda a: list(np.linalg.slogdet(a)))


def _slogdet_abstract_eval(a):
    _square(a, "slogdet")
    return [ShapedArray(a.shape[:-2], a.dtype), _real_aval(a, a.shape[:-2])]


slogdet_p.def_abstract_eval(_slogdet_abstract_eval)


def slogdet(a):
    return bind(slogdet_p, a)


def _slogdet_jvp(primals, tangents):
    (a,), (a_dot,) = primals, tangents
    sign, logabsdet = slogdet(a)
    zero = ad.Zero(get_aval(sign))
    if type(a_dot) is ad.Zero:
        return [sign, logabsdet], [zero, ad.Zero(get_aval(logabsdet))]
    t = trace(solve(a, a_dot))
    if _is_complex(a):  # d log det = d log|det| + i d arg(det): the phase moves the sign
        re = ew.real(t)
        sign_dot = ew.mul(ew.sub(t, ew.convert_element_type(re, get_aval(t).dtype)), sign)
        return [sign, logabsdet], [sign_dot, re]
    return [sign, logabsdet], [zero, t]


ad.jvp_rules[slogdet_p] = _slogdet_jvp

# --------------------------------------------------------------------------------------
# pinv, with the derivative of constant rank (Golub and Pereyra, 1973):
# dP = -P dA P + P P^T dA^T (I - A P) + (I - P A) dA^T P^T P

pinv_p = Primitive("pinv")


def _pinv_impl(a, *, rcond):
    return np.linalg.pinv(a) if rcond is None else np.linalg.pinv(a, rcond=rcond)


def _pinv_abstract_eval(a, *, rcond):
    if a.ndim < 2:
        raise ShapeError(f"pinv: expected a (..., m, n) array, got shape {a.shape}.")
    return ShapedArray(a.shape[:-2] + (a.shape[-1], a.shape[-2]), a.dtype)


pinv_p.def_impl(_pinv_impl)
pinv_p.def_abstract_eval(_pinv_abstract_eval)


def pinv(a, rcond=None):
    return bind(pinv_p, a, rcond=None if rcond is None else float(rcond))


def _pinv_jvp(g, p, a, *, rcond):
    m, n = get_aval(a).shape[-2:]
    pt, gt = mH(p), mH(g)
    term1 = ew.neg(matmul(p, matmul(g, p)))
    term2 = matmul(matmul(p, pt), matmul(gt, ew.sub(_eye(m, get_aval(a).dtype), matmul(a, p))))
    term3 = matmul(ew.sub(_eye(n, get_aval(a).dtype), matmul(p, a)), matmul(gt, matmul(pt, p)))
    return ew.add(ew.add(term1, term2), term3)


ad.defjvp(pinv_p, _pinv_jvp)


# --------------------------------------------------------------------------------------
# lu: a[perm] = l u, l unit lower triangular, u upper (partial pivoting, as LAPACK getrf)

lu_p = Primitive("lu", multiple_results=True)


def _lu_one(a):
    import scipy.linalg

    lu, piv = scipy.linalg.lu_factor(a, check_finite=False)
    perm = np.arange(a.shape[-1])
    for i, p in enumerate(piv):
        perm[i], perm[p] = perm[p], perm[i]
    return lu, piv.astype(np.int32), perm.astype(np.int32)


def _lu_impl(a):
    a = np.asarray(a)
    if a.ndim == 2:
        return list(_lu_one(a))
    outs = [_lu_one(a[i]) for i in np.ndindex(*a.shape[:-2])]
    return [np.stack([o[j] for o in outs]).reshape(a.shape[:-2] + outs[0][j].shape) for j in range(3)]


def _lu_abstract_eval(a):
    _square(a, "lu")
    idx = ShapedArray(a.shape[:-1], np.dtype(np.int32))
    return [ShapedArray(a.shape, a.dtype), idx, idx]


lu_p.def_impl(_lu_impl)
lu_p.def_abstract_eval(_lu_abstract_eval)


def lu(a):
    """(lu, pivots, permutation) of square ``a``: ``a[perm] = l u`` with l = tril(lu, -1) + I
    and u = triu(lu); pivots are LAPACK's row swaps (0-based)."""
    return bind(lu_p, a)


def lu_factors(lu_mat):
    """(l, u) from the packed ``lu`` matrix."""
    n = get_aval(lu_mat).shape[-1]
    dt = get_aval(lu_mat).dtype
    return ew.add(_masked(lu_mat, _tri_mask(n, True, -1)), _eye(n, dt)), _masked(lu_mat, _tri_mask(n, False))


def _lu_jvp(primals, tangents):
    (a,), (a_dot,) = primals, tangents
    lu_mat, piv, perm = lu(a)
    zeros = [ad.Zero(get_aval(piv)), ad.Zero(get_aval(perm))]
    if type(a_dot) is ad.Zero:
        return [lu_mat, piv, perm], [ad.Zero(get_aval(lu_mat))] + zeros
    from .sorting import take_along_axis

    n = get_aval(a).shape[-1]
    l, u = lu_factors(lu_mat)
    rows = broadcast_to(reshape(perm, get_aval(perm).shape + (1,)), get_aval(a).shape)
    pa_dot = take_along_axis(a_dot, rows, get_aval(a).ndim - 2)
    # l^{-1} (P da) u^{-1} = l^{-1} dl + du u^{-1}: strictly lower part -> dl, upper -> du
    x = solve_right_upper(triangular_solve(l, pa_dot, lower=True, unit_diagonal=True), u)
    l_dot = matmul(l, _masked(x, _tri_mask(n, True, -1)))
    u_dot = matmul(_masked(x, _tri_mask(n, False)), u)
    return [lu_mat, piv, perm], [ew.add(l_dot, u_dot)] + zeros


ad.jvp_rules[lu_p] = _lu_jvp


def batch_eye(shape, dtype):
    """An identity broadcast to (..., n, n)."""
    return broadcast_to(_eye(shape[-1], dtype), shape)


# --------------------------------------------------------------------------------------
# vmap: every primitive here maps over leading axes, so the batch axis goes first.


def _front_batch(prim, axis_size, vals, dims, **params):
    (x,), (d,) = vals, dims
    out = bind(prim, batching.moveaxis(x, d, 0), **params)
    return (out, [0] * len(out)) if prim.multiple_results else (out, 0)


def _trisolve_batch(axis_size, vals, dims, **params):
    (a, b), (da, db) = vals, dims
    r = max(get_aval(a).ndim - (da is not None), get_aval(b).ndim - (db is not None))
    a = a if da is None else batching.front_padded(a, da, r)
    b = b if db is None else batching.front_padded(b, db, r)
    return bind(triangular_solve_p, a, b, **params), 0


for _p in (cholesky_p, eigh_p, qr_p, svd_p, det_p, slogdet_p, pinv_p, lu_p):
    batching.primitive_batchers[_p] = functools.partial(_front_batch, _p)
batching.primitive_batchers[triangular_solve_p] = _trisolve_batch
