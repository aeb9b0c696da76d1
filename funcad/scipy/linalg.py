"""funcad.scipy.linalg: solves (general, triangular, Cholesky, LU), decompositions (lu,
cholesky, eigh with a generalised form), expm, det, inv, block_diag; all differentiable.

>>> import funcad.numpy as fnp
>>> expm(fnp.zeros((2, 2)))
array([[1., 0.],
       [0., 1.]])
"""

from __future__ import annotations

import numpy as _np

from ..core import get_aval
from ..lax import decompositions as _dec
from ..lax import elementwise as _ew
from ..lax.shapes import reshape as _reshape
from ..numpy import _as_nd, _promote_float
from ..numpy.linalg import LinAlgError
from ..numpy.linalg import cholesky as _np_cholesky

__all__ = ["solve_triangular", "cho_solve", "cho_factor", "cholesky", "solve", "inv", "det", "eigh",
           "eigvalsh", "lu", "lu_factor", "lu_solve", "expm", "block_diag", "qr", "svd", "norm",
           "pinv", "lstsq", "sqrtm", "LinAlgError"]


def _rhs(a, b, name):
    (a, b), _ = _promote_float(a, b)
    a, b = _as_nd(a), _as_nd(b)
    sa, sb = get_aval(a).shape, get_aval(b).shape
    if len(sa) != 2 or sa[0] != sa[1]:
        raise ValueError(f"{name}: expected a square matrix, got shape {sa}")
    if not sb or sb[0] != sa[0]:
        raise ValueError(f"{name}: shapes of a {sa} and b {sb} are incompatible")
    vec = len(sb) == 1
    rest = sb[1:]
    b2 = _reshape(b, (sb[0], int(_np.prod(rest, dtype=_np.int64)) if rest else 1))
    return a, b2, (lambda x: _reshape(x, sb) if vec or len(sb) > 2 else x)


def solve_triangular(a, b, trans=0, lower=False, unit_diagonal=False, overwrite_b=False,
                     check_finite=True):
    """``scipy.linalg.solve_triangular``: solve ``a x = b`` (trans=0/'N') or ``a^T x = b``
    (trans=1/'T'/2/'C') reading only one triangle of ``a``. Linear in b, differentiable in a.

    >>> import funcad.numpy as fnp
    >>> solve_triangular(fnp.array([[2.0, 0.0], [1.0, 1.0]]), fnp.array([2.0, 3.0]), lower=True)
    array([1., 2.])
    """
    transpose = {0: False, "N": False, 1: True, "T": True, 2: True, "C": True}.get(trans)
    if transpose is None:
        raise ValueError(f"solve_triangular: invalid trans {trans!r}")
    a, b2, back = _rhs(a, b, "solve_triangular")
    return back(_dec.triangular_solve(a, b2, lower=lower, transpose_a=transpose,
                                      unit_diagonal=unit_diagonal))


def cho_factor(a, lower=False, overwrite_a=False, check_finite=True):
    """``scipy.linalg.cho_factor``: (c, lower) with c a Cholesky factor of ``a``.

    Unlike SciPy, the unused triangle of ``c`` is zero (SciPy leaves arbitrary values there).
    """
    return cholesky(a, lower), lower


def cholesky(a, lower=False, overwrite_a=False, check_finite=True):
    """``scipy.linalg.cholesky``: upper u with a = u^T u (lower=True: l with a = l l^T).

    Reads only the triangle of ``a`` it is asked for (the upper one by default), as SciPy;
    the derivative sees ``a`` through that triangle too."""
    if lower:
        return _np_cholesky(a)
    return _dec.mT(_np_cholesky(_dec.mT(a)))  # a's upper triangle is a^T's lower one


def cho_solve(c_and_lower, b, overwrite_b=False, check_finite=True):
    """``scipy.linalg.cho_solve``: solve ``a x = b`` given ``(c, lower)`` from cho_factor.

    >>> import funcad.numpy as fnp
    >>> cho_solve(cho_factor(fnp.eye(2) * 4.0), fnp.ones(2))
    array([0.25, 0.25])
    """
    c, lower = c_and_lower
    c, b2, back = _rhs(c, b, "cho_solve")
    # a = l l^T: solve l y = b, then l^T x = y (with c = l^T when upper).
    y = _dec.triangular_solve(c, b2, lower=lower, transpose_a=not lower)
    return back(_dec.triangular_solve(c, y, lower=lower, transpose_a=lower))


def solve(a, b, lower=False, overwrite_a=False, overwrite_b=False, check_finite=True,
          assume_a="gen", transposed=False):
    """``scipy.linalg.solve``: the x with ``a @ x == b``. ``assume_a='pos'`` solves through a
    Cholesky factor (reading the ``lower`` or upper triangle); other structures use LU.
    Differentiable in a and b."""
    from ..numpy import linalg as _nl

    if transposed:
        a = _dec.mT(_as_nd(_promote_float(a)[0][0]))
    if assume_a in ("pos", "positive definite"):
        return cho_solve(cho_factor(a if lower else _dec.mT(_as_nd(_promote_float(a)[0][0])), lower=True), b)
    if assume_a not in ("gen", "general", "sym", "symmetric", "her", "hermitian", "diagonal",
                        "tridiagonal", "banded", "upper triangular", "lower triangular"):
        raise ValueError(f"solve: {assume_a!r} is not a recognized matrix structure")
    return _nl.solve(a, b)


def inv(a, overwrite_a=False, check_finite=True):
    """``scipy.linalg.inv``; d inv = -inv da inv."""
    from ..numpy import linalg as _nl

    return _nl.inv(a)


def det(a, overwrite_a=False, check_finite=True):
    """``scipy.linalg.det``; d det = det tr(a^{-1} da)."""
    from ..numpy import linalg as _nl

    return _nl.det(a)


def eigh(a, b=None, lower=True, eigvals_only=False, overwrite_a=False, overwrite_b=False,
         type=1, check_finite=True, subset_by_index=None, subset_by_value=None, driver=None):
    """``scipy.linalg.eigh``: eigenvalues (ascending) and eigenvectors of symmetric ``a``, or
    of the generalised problem ``a v = w b v`` (b positive definite; type 1), through
    ``l^{-1} a l^{-T}`` with ``b = l l^T``. Differentiable in a and b."""
    from ..numpy import linalg as _nl

    if subset_by_index is not None or subset_by_value is not None or type != 1:
        raise ValueError("eigh: subset_by_index, subset_by_value and type != 1 are not supported "
                         "by funcad; take the slice of the full result")
    uplo = "L" if lower else "U"
    if b is None:
        w, v = _nl.eigh(a, UPLO=uplo)
    else:
        (a, b), _ = _promote_float(a, b)
        a, b = _as_nd(a), _as_nd(b)
        l = _np_cholesky(b if lower else _dec.mT(b))
        c = _dec.triangular_solve(l, _dec.mT(_dec.triangular_solve(l, a, lower=True)), lower=True)
        w, y = _nl.eigh(c, UPLO=uplo)
        v = _dec.triangular_solve(l, y, lower=True, transpose_a=True)
    return w if eigvals_only else (w, v)


def eigvalsh(a, b=None, lower=True, **kwargs):
    """``scipy.linalg.eigvalsh``: ``eigh(..., eigvals_only=True)``."""
    return eigh(a, b, lower, eigvals_only=True, **kwargs)


def _perm_matrix(perm, n, dtype):
    """P with P[perm[i], i] = 1, so that a = P l u when a[perm] = l u."""
    from .. import numpy as _fnp

    return _fnp.astype(_fnp.equal(_fnp.expand_dims(perm, -2), _np.arange(n)[:, None]), dtype)


def lu(a, permute_l=False, overwrite_a=False, check_finite=True, p_indices=False):
    """``scipy.linalg.lu`` of a square matrix: (p, l, u) with ``a = p @ l @ u``
    (``permute_l``: (p @ l, u); ``p_indices``: p as row indices, ``a = l[p] @ u``).
    Differentiable: d l and d u from ``l^{-1} p^T da u^{-1}``."""
    from .. import numpy as _fnp

    (a,), dt = _promote_float(a)
    a = _as_nd(a)
    lu_mat, _, perm = _dec.lu(a)
    l, u = _dec.lu_factors(lu_mat)
    n = get_aval(a).shape[-1]
    if permute_l:
        return _fnp.matmul(_perm_matrix(perm, n, dt), l), u
    p = _fnp.argsort(perm, axis=-1) if p_indices else _perm_matrix(perm, n, dt)
    return p, l, u


def lu_factor(a, overwrite_a=False, check_finite=True):
    """``scipy.linalg.lu_factor``: (lu, piv), l and u packed in one matrix and LAPACK's
    0-based row swaps; differentiable in a."""
    (a,), _ = _promote_float(a)
    lu_mat, piv, _ = _dec.lu(_as_nd(a))
    return lu_mat, piv


def _perm_from_pivots(piv, n):
    """The row permutation of LAPACK's swaps ``piv`` (applied in order)."""
    from .. import numpy as _fnp

    perm = _np.arange(n)
    ar = _np.arange(n)
    for i in range(get_aval(piv).shape[-1]):
        p = piv[..., i:i + 1]
        full = _fnp.broadcast_to(perm, get_aval(piv).shape[:-1] + (n,))
        pi, pp = perm[..., i:i + 1], _fnp.take_along_axis(full, p, axis=-1)
        perm = _fnp.where(ar == i, pp, _fnp.where(_fnp.equal(ar, p), pi, perm))
    return perm


def lu_solve(lu_and_piv, b, trans=0, overwrite_b=False, check_finite=True):
    """``scipy.linalg.lu_solve``: solve ``a x = b`` (trans=0) or ``a^T x = b`` (trans=1, 2)
    from lu_factor's (lu, piv). Differentiable in lu and b."""
    from .. import numpy as _fnp

    lu_mat, piv = lu_and_piv
    (lu_mat, b), _ = _promote_float(lu_mat, b)
    lu_mat, b = _as_nd(lu_mat), _as_nd(b)
    n = get_aval(lu_mat).shape[-1]
    vec = get_aval(b).ndim == 1
    b2 = _fnp.reshape(b, (n, -1)) if vec or get_aval(b).ndim > 2 else b
    perm = _perm_from_pivots(_as_nd(piv), n)
    if trans not in (0, 1, 2, "N", "T", "C"):
        raise ValueError(f"lu_solve: trans must be 0, 1 or 2, got {trans!r}")
    if trans in (0, "N"):
        y = _dec.triangular_solve(lu_mat, _fnp.take(b2, perm, axis=0), lower=True, unit_diagonal=True)
        x = _dec.triangular_solve(lu_mat, y, lower=False)
    else:
        y = _dec.triangular_solve(lu_mat, b2, lower=False, transpose_a=True)
        y = _dec.triangular_solve(lu_mat, y, lower=True, transpose_a=True, unit_diagonal=True)
        x = _fnp.take(y, _fnp.argsort(perm), axis=0)
    return _fnp.reshape(x, get_aval(b).shape)


_PADE13 = (64764752532480000.0, 32382376266240000.0, 7771770303897600.0, 1187353796428800.0,
           129060195264000.0, 10559470521600.0, 670442572800.0, 33522128640.0, 1323241920.0,
           40840800.0, 960960.0, 16380.0, 182.0, 1.0)
_THETA13 = 5.371920351148152


def expm(A, *, upper_triangular=False, max_squarings=16):
    """``scipy.linalg.expm``: the matrix exponential by scaling and squaring with a [13/13]
    Padé approximant (Higham 2005), for a matrix or a stack of them. Differentiable (through
    the approximant's products and solve: the derivative is the exact derivative of the
    approximation, accurate to rounding).

    The number of squarings s comes from the 1-norm of A. On concrete values exactly s
    squarings run; under jit or vmap (s abstract) ``max_squarings`` guarded squarings run and
    a matrix needing more gives NaN, as in JAX.
    """
    from .. import core
    from .. import numpy as _fnp

    (A,), dt = _promote_float(A)
    A = _as_nd(A)
    shape = get_aval(A).shape
    if len(shape) < 2 or shape[-1] != shape[-2]:
        raise ValueError(f"expm: expected a square matrix or a stack of them, got shape {shape}")
    n = shape[-1]
    norm1 = _ew.stop_gradient(_fnp.max(_fnp.sum(_fnp.abs(A), axis=-2), axis=-1))
    s = _fnp.maximum(_fnp.ceil(_fnp.log2(_fnp.maximum(norm1, 1e-300) / _THETA13)), 0.0)
    concrete = core.maybe_concrete(s)
    As = _fnp.divide(A, _fnp.expand_dims(_fnp.exp2(s), (-1, -2)))
    eye = _np.eye(n, dtype=dt)
    b = _PADE13
    A2 = _fnp.matmul(As, As)
    A4 = _fnp.matmul(A2, A2)
    A6 = _fnp.matmul(A4, A2)
    U = _fnp.matmul(A6, b[13] * A6 + b[11] * A4 + b[9] * A2) + b[7] * A6 + b[5] * A4 + b[3] * A2 + b[1] * eye
    U = _fnp.matmul(As, U)
    V = _fnp.matmul(A6, b[12] * A6 + b[10] * A4 + b[8] * A2) + b[6] * A6 + b[4] * A4 + b[2] * A2 + b[0] * eye
    R = _fnp.linalg.solve(V - U, V + U)
    if concrete is not None:
        for _ in range(int(_np.max(concrete))):
            R = _fnp.matmul(R, R)  # a stack squares max(s) times: extra squarings of the
        if _np.ndim(concrete) and _np.ptp(concrete) > 0:  # others are undone below
            raise ValueError("expm: a stack of matrices with different norms under eager mode "
                             "is computed per matrix; call expm on each, or under vmap")
        return R
    s_b = _fnp.expand_dims(s, (-1, -2))
    for k in range(max_squarings):
        R = _fnp.where(_fnp.less(k, s_b), _fnp.matmul(R, R), R)
    return _fnp.where(_fnp.greater(s_b, max_squarings), _np.asarray(_np.nan, dt), R)


def _db_step(y, z, n):
    """One scaled Denman-Beavers step; the scale |det(Y) det(Z)|^(-1/(2n)) is held constant
    (it sets the iteration's pace, not its limit)."""
    from .. import numpy as _fnp
    from ..numpy import linalg as _nl

    g = _ew.stop_gradient(_fnp.power(_fnp.abs(_fnp.multiply(_nl.det(y), _nl.det(z))), -0.5 / n))
    return (_fnp.multiply(0.5, _fnp.add(_fnp.multiply(g, y), _fnp.divide(_nl.inv(z), g))),
            _fnp.multiply(0.5, _fnp.add(_fnp.multiply(g, z), _fnp.divide(_nl.inv(y), g))))


def sqrtm(A, disp=True, blocksize=64, *, iterations=None):
    """``scipy.linalg.sqrtm`` of a real matrix with no eigenvalues on the closed negative real
    axis (where the principal square root is real): the scaled Denman-Beavers iteration
    ``Y <- (g Y + (g Z)^-1) / 2``, ``Z <- (g Z + (g Y)^-1) / 2`` with determinant scaling g,
    which converges quadratically. Differentiable (through the iteration's inverses).

    On concrete values it iterates to convergence (at most 100 steps) and raises LinAlgError if
    it does not converge; under jit or vmap it runs ``iterations`` steps (default 30).
    Unlike SciPy, a matrix with negative eigenvalues (complex root) is an error, not a
    complex result.
    """
    from .. import core
    from .. import numpy as _fnp

    (A,), dt = _promote_float(A)
    A = _as_nd(A)
    shape = get_aval(A).shape
    if len(shape) != 2 or shape[0] != shape[1]:
        raise ValueError(f"sqrtm: expected a square matrix, got shape {shape}")
    n = shape[0]
    y, z = A, _np.eye(n, dtype=dt)
    value = core.maybe_concrete(A)
    concrete = value is not None
    if concrete:
        ev = _np.linalg.eigvals(_np.asarray(value))
        if _np.any((_np.abs(ev.imag) <= 1e-12 * max(1.0, _np.abs(ev).max())) & (ev.real <= 0)):
            raise LinAlgError(f"sqrtm: the matrix (shape {shape}) has an eigenvalue on the closed "
                              "negative real axis, so it has no real principal square root (SciPy "
                              "returns a complex one); funcad's sqrtm computes real roots only")
    if not concrete:  # one compiled loop body, not 30 unrolled steps
        from ..lax.control import fori_loop

        steps = 30 if iterations is None else int(iterations)
        return fori_loop(0, steps, lambda i, yz: _db_step(*yz, n), (y, _fnp.asarray(z)))[0]
    for _ in range(100):
        y, z = _db_step(y, z, n)
        if concrete:
            a_val = _np.asarray(value)
            err = _np.abs(_np.asarray(core.maybe_concrete(_fnp.matmul(y, y))) - a_val).max()
            if err <= 1e-13 * max(1.0, _np.abs(a_val).max()):
                # two more steps: the derivative (carried by the iteration) converges a step behind
                for _ in range(2):
                    y, z = _db_step(y, z, n)
                return y
    raise LinAlgError("sqrtm: the Denman-Beavers iteration did not converge: the matrix has "
                          "eigenvalues on the negative real axis (its square root is not real) or "
                          "is singular")


def block_diag(*arrs):
    """``scipy.linalg.block_diag``: the arrays on the diagonal of a zero matrix (1-D arrays
    are rows, scalars 1x1, as in SciPy); differentiable in each block."""
    from .. import numpy as _fnp

    if not arrs:
        return _np.empty((1, 0))
    blocks = []
    for x in arrs:
        x = _as_nd(_fnp.asarray(x) if not hasattr(x, "shape") else x)
        nd = get_aval(x).ndim
        if nd > 2:
            raise ValueError(f"block_diag: arguments must be at most 2-D, got shape {get_aval(x).shape}")
        blocks.append(_fnp.reshape(x, (1, -1) if nd == 1 else (1, 1)) if nd < 2 else x)
    if any(get_aval(b).dtype.kind == "f" for b in blocks):
        blocks, _ = _promote_float(*blocks)
    blocks = [_as_nd(b) for b in blocks]
    total = sum(get_aval(b).shape[1] for b in blocks)
    rows, col = [], 0
    for blk in blocks:
        r, c = get_aval(blk).shape
        rows.append(_fnp.pad(blk, ((0, 0), (col, total - col - c))))
        col += c
    return _fnp.concatenate(rows, axis=0)


def qr(a, overwrite_a=False, lwork=None, mode="full", pivoting=False, check_finite=True):
    """``scipy.linalg.qr`` (modes 'full', 'economic', 'r'); as funcad.numpy.linalg.qr."""
    from ..numpy import linalg as _nl

    if pivoting:
        raise ValueError("qr: pivoting=True is not supported by funcad")
    np_mode = {"full": "complete", "economic": "reduced", "r": "r"}.get(mode)
    if np_mode is None:
        raise ValueError(f"qr: mode must be 'full', 'economic' or 'r', got {mode!r}")
    out = _nl.qr(a, mode=np_mode)
    return (out,) if mode == "r" else tuple(out)


def svd(a, full_matrices=True, compute_uv=True, overwrite_a=False, check_finite=True,
        lapack_driver="gesdd"):
    """``scipy.linalg.svd``; as funcad.numpy.linalg.svd."""
    from ..numpy import linalg as _nl

    out = _nl.svd(a, full_matrices=full_matrices, compute_uv=compute_uv)
    return tuple(out) if compute_uv else out


def norm(a, ord=None, axis=None, keepdims=False, check_finite=True):
    """``scipy.linalg.norm``; as funcad.numpy.linalg.norm."""
    from ..numpy import linalg as _nl

    return _nl.norm(a, ord, axis, keepdims)


def pinv(a, *, atol=None, rtol=None, return_rank=False, check_finite=True):
    """``scipy.linalg.pinv``; as funcad.numpy.linalg.pinv."""
    from ..numpy import linalg as _nl

    if return_rank or atol is not None:
        raise ValueError("pinv: atol= and return_rank=True are not supported by funcad")
    return _nl.pinv(a, rcond=rtol) if rtol is not None else _nl.pinv(a)


def lstsq(a, b, cond=None, overwrite_a=False, overwrite_b=False, check_finite=True, lapack_driver=None):
    """``scipy.linalg.lstsq``: (x, residues, rank, s); as funcad.numpy.linalg.lstsq."""
    from ..numpy import linalg as _nl

    return _nl.lstsq(a, b, rcond=cond)
