"""funcad.numpy.linalg: NumPy's linear algebra, differentiable (real inputs).

Every function works on stacks of matrices (leading axes), as NumPy's do. Derivatives:
solve, inv, det, slogdet, cholesky, qr, svd, eigh, pinv, lstsq, norm, matrix_power, to any
order (the Hessian of ``slogdet(a)[1]`` is what Newton's method on a log-determinant needs).
Conventions where a derivative is not unique: cholesky and eigh treat the input as
symmetric (the tangent is symmetrised); at repeated singular or eigen values nothing is
differentiable (only directionally): funcad sets the coupling of equal values to zero and
gives the values the tangent diag(V^T dA V) for the vectors NumPy returns; norms at the zero vector/matrix have derivative 0 (a subgradient);
``norm(x, inf)`` and friends share the derivative among ties, as ``max`` does.
"""

from __future__ import annotations

import operator
from typing import NamedTuple

import numpy as _np

from .. import core
from ..core import Tracer, get_aval
from ..errors import ShapeError
from ..lax import decompositions as _dec
from ..lax import elementwise as _ew
from ..lax import linalg as _linalg
from ..lax.shapes import reshape as _reshape
from . import _as_nd, _normalize_axes, _promote_float
from ._unsupported import make_getattr as _make_getattr
from ._unsupported import numpy_only as _numpy_only
from . import abs as _abs
from . import concatenate as _concatenate
from . import matmul as _matmul
from . import max as _max
from . import min as _min
from . import moveaxis as _moveaxis
from . import sqrt as _sqrt
from . import sum as _sum
from . import where as _where

__all__ = ["solve", "inv", "det", "slogdet", "cholesky", "eigh", "eigvalsh", "qr", "svd",
           "svdvals", "norm", "vector_norm", "matrix_norm", "pinv", "matrix_power", "lstsq",
           "multi_dot", "matrix_rank", "LinAlgError"]

LinAlgError = _np.linalg.LinAlgError


class SlogdetResult(NamedTuple):
    sign: object
    logabsdet: object


class EighResult(NamedTuple):
    eigenvalues: object
    eigenvectors: object


class QRResult(NamedTuple):
    Q: object
    R: object


class SVDResult(NamedTuple):
    U: object
    S: object
    Vh: object


def _float_matrix(a, name, square=False):
    (a,), _ = _promote_float(a)
    a = _as_nd(a)
    shape = get_aval(a).shape
    if len(shape) < 2:
        raise LinAlgError(f"{len(shape)}-dimensional array given. Array must be at least two-dimensional")
    if square and shape[-1] != shape[-2]:
        raise LinAlgError("Last 2 dimensions of the array must be square")
    return a


def _mT(x):
    return _dec.mT(x)


def solve(a, b):
    """``numpy.linalg.solve``: the x with ``a @ x == b`` (b a vector or a stack of columns).

    >>> import funcad.numpy as fnp
    >>> fnp.linalg.solve(fnp.eye(2) * 2.0, fnp.ones(2))
    array([0.5, 0.5])
    """
    (a, b), _ = _promote_float(a, b)
    a, b = _as_nd(a), _as_nd(b)
    sa, sb = get_aval(a).shape, get_aval(b).shape
    if len(sa) < 2:
        raise ShapeError(f"solve: a must be at least 2-D (n, n), got shape {sa}")
    if len(sb) == 1:
        return _reshape(_linalg.solve(a, _reshape(b, sb + (1,))), sb)
    return _linalg.solve(a, b)


def inv(a):
    """``numpy.linalg.inv``, as ``solve(a, I)``; d inv = -inv da inv."""
    a = _float_matrix(a, "inv", square=True)
    aval = get_aval(a)
    return _linalg.solve(a, _dec.batch_eye(aval.shape, aval.dtype))


def det(a):
    """``numpy.linalg.det``; d det = det tr(a^{-1} da) (a must be invertible to differentiate)."""
    return _dec.det(_float_matrix(a, "det", square=True))


def slogdet(a):
    """``numpy.linalg.slogdet``: (sign, log|det a|); d log|det| = tr(a^{-1} da).

    >>> import funcad as fa, funcad.numpy as fnp
    >>> fa.grad(lambda a: fnp.linalg.slogdet(a)[1])(fnp.eye(2) * 2.0)
    array([[0.5, 0. ],
           [0. , 0.5]])
    """
    return SlogdetResult(*_dec.slogdet(_float_matrix(a, "slogdet", square=True)))


def cholesky(a, /, *, upper=False):
    """``numpy.linalg.cholesky``: lower l with a = l l^T (upper=True: u = l^T with a = u^T u).

    Reads the lower triangle only, as NumPy (the upper one is ignored), and so does its
    derivative: on a non-symmetric ``a`` it is the derivative of what is computed (as in
    autograd; JAX symmetrises ``a`` instead)."""
    l = _dec.cholesky(_float_matrix(a, "cholesky", square=True))
    return _mT(l) if upper else l


def eigh(a, UPLO="L"):
    """``numpy.linalg.eigh``: ascending eigenvalues and orthonormal eigenvectors (columns).

    Reads one triangle of ``a`` (``UPLO``, the lower by default), as NumPy, and so does its
    derivative: on a non-symmetric ``a`` it is the derivative of what is computed, the
    matrix that triangle mirrored stands for (as in autograd; JAX symmetrises ``a`` instead).
    At repeated eigenvalues (not differentiable) funcad gives w_dot = diag(V^T dA V) and sets
    the eigenvector coupling to zero.

    >>> import funcad as fa, funcad.numpy as fnp
    >>> a = fnp.array([[2.0, 5.0], [1.0, 2.0]])  # the 5.0 is never read
    >>> fa.grad(lambda a: fnp.linalg.eigh(a).eigenvalues[1])(a)
    array([[0.5, 0. ],
           [1. , 0.5]])
    """
    if UPLO not in ("L", "U"):
        raise ValueError("UPLO argument must be 'L' or 'U'")
    return EighResult(*_dec.eigh(_float_matrix(a, "eigh", square=True), UPLO))


def eigvalsh(a, UPLO="L"):
    """``numpy.linalg.eigvalsh``: the ascending eigenvalues of a symmetric matrix."""
    return eigh(a, UPLO).eigenvalues


def qr(a, mode="reduced"):
    """``numpy.linalg.qr`` (modes 'reduced', 'complete', 'r'), differentiable.

    For wide matrices (m < n), Q comes from the first m columns and R = Q^T a. 'complete'
    on a tall matrix (m > n) has no unique derivative and is available on concrete values only.
    """
    if mode not in ("reduced", "complete", "r"):
        raise ValueError(f"qr: mode {mode!r} is not supported; use 'reduced', 'complete' or 'r'")
    a = _float_matrix(a, "qr")
    m, n = get_aval(a).shape[-2:]
    if mode == "complete" and m > n:
        value = core.maybe_concrete(a) if isinstance(a, Tracer) else a
        if isinstance(a, Tracer):
            raise ShapeError("qr(mode='complete') of a tall matrix has no unique derivative (the "
                             "extra columns of Q are arbitrary); use mode='reduced' under "
                             "transformations.")
        return QRResult(*_np.linalg.qr(value, mode="complete"))
    if m >= n:
        q, r = _dec.qr(a)
    else:
        q, r_left = _dec.qr(a[..., :m])
        r = _concatenate([r_left, _matmul(_mT(q), a[..., m:])], axis=-1)
    return r if mode == "r" else QRResult(q, r)


def svd(a, full_matrices=True, compute_uv=True, hermitian=False):
    """``numpy.linalg.svd``: a = U diag(S) Vh, S descending, differentiable.

    With ``full_matrices=True`` on a non-square matrix the extra columns of U (or rows of
    Vh) are arbitrary, so they have no derivative: that case is available on concrete values
    only; use ``full_matrices=False`` under transformations. At repeated singular values
    (not differentiable) funcad sets the singular-vector coupling to zero.
    """
    a = _float_matrix(a, "svd")
    m, n = get_aval(a).shape[-2:]
    if not compute_uv:
        return _dec.svd(a)[1]
    if full_matrices and m != n:
        if isinstance(a, Tracer):
            raise ShapeError("svd(full_matrices=True) of a non-square matrix has no unique "
                             "derivative (the extra singular vectors are arbitrary); use "
                             "full_matrices=False under transformations.")
        return SVDResult(*_np.linalg.svd(a, full_matrices=True))
    return SVDResult(*_dec.svd(a))


def svdvals(x, /):
    """``numpy.linalg.svdvals``: the singular values, descending."""
    return svd(x, compute_uv=False)


def pinv(a, rcond=None, hermitian=False, *, rtol=None):
    """``numpy.linalg.pinv``; its derivative is the constant-rank one (Golub-Pereyra)."""
    a = _float_matrix(a, "pinv")
    if rtol is not None:
        rcond = rtol
    if rcond is not None and _np.ndim(rcond) != 0:
        raise ValueError("pinv: only a scalar rcond is supported")
    return _dec.pinv(a, rcond)


def matrix_power(a, n):
    """``numpy.linalg.matrix_power``: a^n by repeated squaring (negative n: of the inverse)."""
    a = _float_matrix(a, "matrix_power", square=True) if not _is_int_array(a) else _as_nd(a)
    try:
        n = operator.index(n)  # an int, a NumPy integer or a 0-d integer array, as NumPy
    except TypeError:
        raise TypeError(f"matrix_power: the exponent must be an integer; got {n!r}") from None
    aval = get_aval(a)
    if n == 0:
        return _dec.batch_eye(aval.shape, aval.dtype)
    if n < 0:
        a, n = inv(a), -n
    if n <= 3:
        out = a
        for _ in range(n - 1):
            out = _matmul(out, a)
        return out
    z = result = None
    while n > 0:
        z = a if z is None else _matmul(z, z)
        n, bit = divmod(n, 2)
        if bit:
            result = z if result is None else _matmul(result, z)
    return result


def _is_int_array(a):
    return not isinstance(a, float) and get_aval(a if not isinstance(a, list) else _np.asarray(a)).dtype.kind in "iub"


def lstsq(a, b, rcond=None):
    """``numpy.linalg.lstsq``: (x, residuals, rank, s), with x = pinv(a) @ b differentiable.

    Singular values below ``rcond * max(s)`` count as zero (default: eps * max(m, n), as
    NumPy). ``residuals`` (squared residual norms) is empty unless a has full column rank
    and m > n.
    """
    (a, b), _ = _promote_float(a, b)
    a, b = _as_nd(a), _as_nd(b)
    sa, sb = get_aval(a).shape, get_aval(b).shape
    if len(sa) != 2 or len(sb) not in (1, 2) or sb[0] != sa[0]:
        raise LinAlgError(f"lstsq: incompatible dimensions a {sa}, b {sb}")
    m, n = sa
    if rcond is None:
        rcond = _np.finfo(get_aval(a).dtype).eps * max(m, n)
    x = _matmul(_dec.pinv(a, rcond), b)
    s = _dec.svd(a)[1]
    s_value = core.maybe_concrete(s)
    if s_value is not None:
        s_value = _np.asarray(s_value)
        rank = int(_np.sum(s_value > rcond * s_value.max())) if s_value.size else 0
    else:
        rank = min(m, n)
    if rank == n and m > n:
        r = _ew.sub(b, _matmul(a, x))
        residuals = _sum(_ew.mul(r, r), axis=0)
        if len(sb) == 1:
            residuals = _reshape(residuals, (1,))
    else:
        residuals = _np.empty((0,), get_aval(x).dtype)
    return x, residuals, _np.int32(rank), s


def matrix_rank(A, tol=None, hermitian=False, *, rtol=None):
    """``numpy.linalg.matrix_rank`` (an integer: no derivative)."""
    A = _as_nd(A)
    if get_aval(A).ndim < 2:
        return _ew.convert_element_type(_ew.ne(_sum(_ew.ne(A, 0)), 0), _np.int64)
    s = svd(A, compute_uv=False)
    smax = _max(s, axis=-1, keepdims=True)
    if tol is None:
        m, n = get_aval(A).shape[-2:]
        tol = smax * (_np.finfo(get_aval(s).dtype).eps * max(m, n) if rtol is None else rtol)
    return _sum(_ew.gt(s, tol), axis=-1)


def multi_dot(arrays, *, out=None):
    """``numpy.linalg.multi_dot``: the chained product, left to right."""
    from . import dot

    arrays = list(arrays)
    if len(arrays) < 2:
        raise ValueError("Expecting at least two arrays.")
    result = arrays[0]
    for x in arrays[1:]:
        result = dot(result, x)
    return result


# --------------------------------------------------------------------------------------
# Norms


def _safe_root(total, p=2.0):
    """total ** (1/p), with derivative 0 where total == 0 (the subgradient at the origin)."""
    dt = get_aval(total).dtype
    zero = _ew.eq(total, 0.0)
    safe = _where(zero, _np.ones((), dt), total)
    root = _sqrt(safe) if p == 2.0 else _ew.pow(safe, _np.asarray(1.0 / p, dt))
    return _where(zero, _np.zeros((), dt), root)


def _abs2(x):
    """``|x| ** 2`` elementwise, real (``x * x`` for real x)."""
    if get_aval(x).dtype.kind == "c":
        re, im = _ew.real(x), _ew.imag(x)
        return _ew.add(_ew.mul(re, re), _ew.mul(im, im))
    return _ew.mul(x, x)


def _vector_norm(x, ord, axis, keepdims):
    if ord is None or ord == 2:
        return _safe_root(_sum(_abs2(x), axis=axis, keepdims=keepdims))
    if ord == _np.inf:
        return _max(_abs(x), axis=axis, keepdims=keepdims)
    if ord == -_np.inf:
        return _min(_abs(x), axis=axis, keepdims=keepdims)
    if ord == 0:
        return _sum(_ew.convert_element_type(_ew.ne(x, 0), _ew.real_dtype(get_aval(x).dtype)), axis=axis,
                    keepdims=keepdims)
    if ord == 1:
        return _sum(_abs(x), axis=axis, keepdims=keepdims)
    if isinstance(ord, str):
        raise ValueError(f"Invalid norm order '{ord}' for vectors")
    dt = _ew.real_dtype(get_aval(x).dtype)
    return _safe_root(_sum(_ew.pow(_abs(x), _np.asarray(float(ord), dt)), axis=axis, keepdims=keepdims), float(ord))


def _matrix_norm(x, ord, axes, keepdims):
    r, c = axes
    nd = get_aval(x).ndim
    if ord in (None, "fro", "f"):
        out = _safe_root(_sum(_abs2(x), axis=axes))
    elif ord in (1, -1):
        f = _max if ord == 1 else _min
        out = f(_sum(_abs(x), axis=r), axis=c - (c > r))
    elif ord in (_np.inf, -_np.inf):
        f = _max if ord == _np.inf else _min
        out = f(_sum(_abs(x), axis=c), axis=r - (r > c))
    elif ord in (2, -2, "nuc"):
        s = _dec.svd(_moveaxis(x, (r, c), (nd - 2, nd - 1)))[1]
        out = _max(s, axis=-1) if ord == 2 else _min(s, axis=-1) if ord == -2 else _sum(s, axis=-1)
    else:
        raise ValueError("Invalid norm order for matrices.")
    if keepdims:
        shape = list(get_aval(x).shape)
        shape[r] = shape[c] = 1
        out = _reshape(out, tuple(shape))
    return out


def norm(x, ord=None, axis=None, keepdims=False):
    """``numpy.linalg.norm``: vector norms (ord None/2, 1, inf, -inf, 0, any p) and matrix
    norms ('fro', 'nuc', 1, -1, 2, -2, inf, -inf), over ``axis`` (an int or a pair).

    At the zero vector (or matrix) the derivative is taken as 0; ties in inf/max-type norms
    share the derivative equally.

    >>> import funcad.numpy as fnp
    >>> float(fnp.linalg.norm(fnp.array([3.0, 4.0])))
    5.0
    """
    (x,), _ = _promote_float(x)
    x = _as_nd(x)
    nd = get_aval(x).ndim
    if axis is None:
        if ord is None:
            out = _safe_root(_sum(_abs2(x)))
            return _reshape(out, (1,) * nd) if keepdims else out
        if nd == 1:
            return _vector_norm(x, ord, None, keepdims)
        if nd == 2:
            return _matrix_norm(x, ord, (0, 1), keepdims)
        raise ValueError("Improper number of dimensions to norm.")
    if isinstance(axis, int | _np.integer):
        return _vector_norm(x, ord, _normalize_axes(axis, nd)[0], keepdims)
    axis = tuple(axis)
    if len(axis) == 1:
        return _vector_norm(x, ord, _normalize_axes(axis[0], nd)[0], keepdims)
    if len(axis) != 2:
        raise ValueError("Improper number of dimensions to norm.")
    r, c = (int(a) % nd for a in axis)
    if r == c:
        raise ValueError("Duplicate axes given.")
    return _matrix_norm(x, ord, (r, c), keepdims)


def vector_norm(x, /, *, axis=None, keepdims=False, ord=2):
    """``numpy.linalg.vector_norm`` (array API): the vector norm over all or some axes."""
    (x,), _ = _promote_float(x)
    x = _as_nd(x)
    nd = get_aval(x).ndim
    if axis is None:
        out = _vector_norm(_reshape(x, (get_aval(x).size,)), ord, 0, False)
        return _reshape(out, (1,) * nd) if keepdims else out
    if isinstance(axis, tuple) and len(axis) > 1:
        axes = _normalize_axes(axis, nd)
        moved = _moveaxis(x, axes, tuple(range(nd - len(axes), nd)))
        shp = get_aval(moved).shape
        flat = _reshape(moved, shp[: nd - len(axes)] + (int(_np.prod(shp[nd - len(axes):])),))
        out = _vector_norm(flat, ord, nd - len(axes), False)
        if keepdims:
            out = _reshape(out, tuple(1 if i in axes else n for i, n in enumerate(get_aval(x).shape)))
        return out
    return _vector_norm(x, ord, _normalize_axes(axis, nd)[0], keepdims)


__getattr__ = _make_getattr(__name__, _np.linalg)


def matrix_norm(x, /, *, keepdims=False, ord="fro"):
    """``numpy.linalg.matrix_norm`` (array API): the norm of the last two axes."""
    return norm(x, ord, axis=(-2, -1), keepdims=keepdims)


# --------------------------------------------------------------------------------------
# The general (non-Hermitian) eigendecomposition (no derivative in funcad yet) and the rest of
# NumPy 2's names


def _complex_only(np_fn):
    return _numpy_only(np_fn, "funcad has no derivative of the general (non-Hermitian) "
                              "eigendecomposition (for a symmetric or Hermitian matrix use "
                              "eigh/eigvalsh)")


eig = _complex_only(_np.linalg.eig)
eig.__doc__ = ("``numpy.linalg.eig`` of a concrete matrix (NumPy's; funcad has no derivative of "
               "the general eigendecomposition: on a traced value it raises "
               "UnsupportedFunctionError; use eigh for symmetric or Hermitian matrices).")
eigvals = _complex_only(_np.linalg.eigvals)
eigvals.__doc__ = "``numpy.linalg.eigvals`` of a concrete matrix (see eig)."


def cond(x, p=None):
    """``numpy.linalg.cond``: the condition number; p None/2/-2 from the singular values,
    other p as ``norm(x, p) * norm(inv(x), p)``. Differentiable (distinct singular values)."""
    x = _float_matrix(x, "cond")
    if p is None or p in (2, -2):
        s = svdvals(x)
        big, small = _max(s, axis=-1), _min(s, axis=-1)
        return _ew.div(small, big) if p == -2 else _ew.div(big, small)
    return _ew.mul(norm(x, p, axis=(-2, -1)), norm(inv(x), p, axis=(-2, -1)))


def outer(x1, x2, /):
    """``numpy.linalg.outer`` (array API): the outer product of two vectors."""
    from . import outer as _outer

    return _outer(x1, x2)


def matrix_transpose(x, /):
    """``numpy.linalg.matrix_transpose``: swap the last two axes."""
    return _mT(_as_nd(x))


def tensorsolve(a, b, axes=None):
    """``numpy.linalg.tensorsolve``: x with ``tensordot(a, x, x.ndim) == b``, as one solve."""
    from . import moveaxis as _mv

    a, b = _as_nd(a), _as_nd(b)
    if axes is not None:
        a = _mv(a, axes, tuple(range(get_aval(a).ndim - len(axes), get_aval(a).ndim)))
    bshape = get_aval(b).shape
    xshape = get_aval(a).shape[len(bshape):]
    n = int(_np.prod(bshape, dtype=_np.int64))
    return _reshape(solve(_reshape(a, (n, n)), _reshape(b, (n,))), xshape)


def tensorinv(a, ind=2):
    """``numpy.linalg.tensorinv``: the inverse for tensordot over the first ``ind`` axes."""
    a = _as_nd(a)
    shape = get_aval(a).shape
    n = int(_np.prod(shape[:ind], dtype=_np.int64))
    m = int(_np.prod(shape[ind:], dtype=_np.int64))
    return _reshape(inv(_reshape(a, (n, m))), shape[ind:] + shape[:ind])


def _pass(name):
    from .. import numpy as _fnp

    fn = getattr(_fnp, name)

    def f(*args, **kwargs):
        return fn(*args, **kwargs)

    f.__name__ = name
    f.__doc__ = f"``numpy.linalg.{name}``: as ``funcad.numpy.{name}``."
    return f


cross, diagonal, matmul, tensordot, trace, vecdot = (_pass(n) for n in
                                                      ("cross", "diagonal", "matmul", "tensordot", "trace", "vecdot"))

__all__ += ["eig", "eigvals", "cond", "outer", "matrix_transpose", "tensorsolve", "tensorinv", "cross",
            "diagonal", "matmul", "tensordot", "trace", "vecdot"]
