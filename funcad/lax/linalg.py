"""Products: matmul (batched, broadcasting, BLAS) and einsum, with their rules."""

from __future__ import annotations

import numpy as np

from .. import ad, batching
from ..ad import is_undefined, transpose_rules, unbroadcast
from ..batching import OneHot
from ..core import Primitive, ShapedArray, bind, get_aval, result_dtype
from ..errors import DTypeError, ShapeError
from .elementwise import convert_element_type, mul
from .shapes import concatenate, reshape, transpose

# --------------------------------------------------------------------------------------
# matmul: (..., n, k) @ (..., k, m) -> (..., n, m); both operands at least 2-D
# (funcad.numpy turns vectors into matrices and back, as NumPy's matmul does).

matmul_p = Primitive("matmul")


@matmul_p.def_impl
def _matmul_impl(x, y):
    # A contraction of length 1 is an outer product: BLAS takes 10x longer over it than a
    # broadcasting multiply, which gives the same numbers (one product per element). Such
    # products come from vectors in batched derivative programs (w @ w under hessian).
    if x.shape[-1] == 1:
        return np.multiply(x, y)
    return np.matmul(x, y)


def _matmul_abstract_eval(x, y):
    if x.ndim < 2 or y.ndim < 2 or x.shape[-1] != y.shape[-2]:
        raise ShapeError(
            f"matmul: shapes {x.shape} and {y.shape} do not fit: the last axis of the first "
            f"({x.shape[-1] if x.ndim else '-'}) must equal the second-to-last axis of the second "
            f"({y.shape[-2] if y.ndim > 1 else '-'}).")
    try:  # (np.broadcast_shapes costs 10 us: not for the matrices and vectors of most programs)
        batch = () if x.ndim == y.ndim == 2 else np.broadcast_shapes(x.shape[:-2], y.shape[:-2])
    except ValueError:
        raise ShapeError(f"matmul: the batch axes of shapes {x.shape} and {y.shape} cannot be "
                         "broadcast together.") from None
    return ShapedArray(batch + (x.shape[-2], y.shape[-1]), result_dtype(x, y))


matmul_p.def_abstract_eval(_matmul_abstract_eval)


def matmul(x, y):
    return bind(matmul_p, x, y)


def _mT(x):
    nd = get_aval(x).ndim
    return transpose(x, tuple(range(nd - 2)) + (nd - 1, nd - 2))


ad.defjvp(matmul_p, lambda g, ans, x, y: matmul(g, y), lambda g, ans, x, y: matmul(x, g))


def _matmul_transpose(ct, x, y):
    if is_undefined(x):
        return [unbroadcast(matmul(ct, _mT(y)), x.aval), None]
    return [None, unbroadcast(matmul(_mT(x), ct), y.aval)]


transpose_rules[matmul_p] = _matmul_transpose


def _matmul_batch(axis_size, vals, dims):
    # One operand unbatched: fold the batch into the other's rows or columns, so the
    # batched product is one big GEMM ((B*n, k) @ (k, m) or (n, k) @ (k, B*m)), C-ordered.
    (x, y), (dx, dy) = vals, dims
    rx, ry = get_aval(x).ndim - (dx is not None), get_aval(y).ndim - (dy is not None)
    if dx is not None and dy is not None:
        r = max(rx, ry)
        return matmul(batching.front_padded(x, dx, r), batching.front_padded(y, dy, r)), 0
    if dy is None:
        if dx not in (rx - 2, rx - 1):
            x, dx = batching.moveaxis(x, dx, rx - 2), rx - 2
        s = get_aval(x).shape
        x = reshape(x, s[:-3] + (s[-3] * s[-2], s[-1]))
        out = matmul(x, y)
        so = get_aval(out).shape
        return reshape(out, so[:-2] + s[-3:-1] + so[-1:]), len(so) - 2 + dx - (rx - 2)
    if dy not in (ry - 1, ry):
        y, dy = batching.moveaxis(y, dy, ry - 1), ry - 1
    s = get_aval(y).shape
    y = reshape(y, s[:-2] + (s[-2] * s[-1],))
    out = matmul(x, y)
    so = get_aval(out).shape
    return reshape(out, so[:-1] + s[-2:]), len(so) - 1 + dy - (ry - 1)


batching.primitive_batchers[matmul_p] = _matmul_batch


def _onehot_matmul(axis_size, vals, dims):
    # A @ (c_b e_b) is column b of A times c_b, exactly (no product with the identity, and
    # no inf * 0 from the other columns): the batch is A's columns, left where they are.
    # (c_b e_b)^T @ A is row b of A times c_b: the batch is A's rows.
    pair = batching.onehot_and_other(vals, dims)
    if pair is None or get_aval(pair[1]).ndim != 2:
        return NotImplemented
    s, a, first = pair
    axis = 0 if first else 1  # the contracted axis of a, along which the batch lies
    if len(s.shape) != 2 or s.shape[0 if first else 1] != 1:
        return NotImplemented
    k, dtype = s.size, result_dtype(s.aval, get_aval(a))
    if get_aval(a).dtype != dtype:
        a = convert_element_type(a, dtype)
    if s.coef is not None:
        a = mul(a, reshape(s.full_coef(), (k, 1) if first else (1, k)))
    if not s.full_block():
        shape = list(get_aval(a).shape)
        parts = []
        for n in (s.start, axis_size - s.start - k):
            shape[axis] = n
            parts.append(np.zeros(tuple(shape), dtype) if n else None)
        a = concatenate([p for p in (parts[0], a, parts[1]) if p is not None], axis)
    n, m = get_aval(a).shape
    return (reshape(a, (n, 1, m)), 0) if first else (reshape(a, (n, m, 1)), 1)


batching.structured_batchers[matmul_p] = _onehot_matmul

# --------------------------------------------------------------------------------------
# einsum, with an explicit normalised spec "ij,jk->ik" (no ellipsis; funcad.numpy expands it)

einsum_p = Primitive("einsum")
einsum_p.def_impl(lambda *xs, spec: np.einsum(spec, *xs, optimize=len(xs) > 2))


def _parse(spec):
    ins, out = spec.split("->")
    return ins.split(","), out


def _einsum_abstract_eval(*xs, spec):
    ins, out = _parse(spec)
    sizes: dict[str, int] = {}
    for sub, x in zip(ins, xs):
        if len(sub) != x.ndim:
            raise ShapeError(f"einsum '{spec}': operand with subscripts '{sub}' has shape {x.shape}.")
        for c, n in zip(sub, x.shape):
            if sizes.setdefault(c, n) != n:
                raise ShapeError(f"einsum '{spec}': index '{c}' has sizes {sizes[c]} and {n} "
                                 f"(operand shapes {[x.shape for x in xs]}).")
    return ShapedArray(tuple(sizes[c] for c in out), result_dtype(*xs))


einsum_p.def_abstract_eval(_einsum_abstract_eval)


def einsum(spec: str, *xs):
    return bind(einsum_p, *xs, spec=spec)


def _einsum_jvp(primals, tangents, *, spec):
    ans = einsum(spec, *primals)
    out = ad.Zero(get_aval(ans))
    for i, t in enumerate(tangents):
        if type(t) is not ad.Zero:
            ops = list(primals)
            ops[i] = t
            out = ad.add_tangents(out, einsum(spec, *ops))
    return ans, out


def _einsum_transpose(ct, *xs, spec):
    ins, out = _parse(spec)
    (i,) = [k for k, x in enumerate(xs) if is_undefined(x)]
    target, shape = ins[i], xs[i].aval.shape
    others = [(sub, x) for k, (sub, x) in enumerate(zip(ins, xs)) if k != i]
    available = set(out).union(*(set(s) for s, _ in others))
    unique = "".join(dict.fromkeys(target))
    kept = "".join(c for c in unique if c in available)
    ct_x = einsum(",".join([out] + [s for s, _ in others]) + "->" + kept, ct, *[x for _, x in others])
    # Letters only in this operand were summed out (the cotangent is constant along them);
    # a repeated letter is a diagonal (the cotangent lives on it: multiply by identities).
    fresh = iter(c for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in spec)
    result, eyes, seen = "", [], set()
    for c, n in zip(target, shape):
        if c in seen:
            d = next(fresh)
            eyes.append((c + d, np.eye(n, dtype=xs[i].aval.dtype)))
            c = d
        seen.add(c)
        result += c
    if kept == target:
        full = ct_x
    else:
        sizes = dict(zip(target, shape))
        missing = [c for c in unique if c not in kept]
        ones = [(c, np.ones(sizes[c], xs[i].aval.dtype)) for c in missing]
        subs = [kept] + [s for s, _ in ones + eyes]
        full = einsum(",".join(subs) + "->" + result, ct_x, *[e for _, e in ones + eyes])
    return [full if k == i else None for k in range(len(xs))]


def _einsum_batch(axis_size, vals, dims, *, spec):
    # One more letter, for the batch axis, on the batched operands and the output.
    ins, out = _parse(spec)
    b = next(c for c in "ZYXWVUTSRQPONMLKJIHGFEDCBAzyxwvutsrqponmlkjihgfedcba" if c not in spec)
    xs = [x if d is None else batching.moveaxis(x, d, 0) for x, d in zip(vals, dims)]
    subs = [sub if d is None else b + sub for sub, d in zip(ins, dims)]
    return einsum(",".join(subs) + "->" + b + out, *xs), 0


ad.jvp_rules[einsum_p] = _einsum_jvp
transpose_rules[einsum_p] = _einsum_transpose
batching.primitive_batchers[einsum_p] = _einsum_batch


def _onehot_einsum(axis_size, vals, dims, *, spec):
    # With c_b e_b as the (vector) operand of letter i, summing over i picks index b of the
    # other operand: i becomes the batch letter of the result, times c_b (no product with the
    # identity, and no inf * 0 from the other indices).
    ins, out = _parse(spec)
    if len(vals) != 2 or None not in dims:
        return NotImplemented
    k = 0 if type(vals[0]) is OneHot else 1
    s, a, sub = vals[k], vals[1 - k], ins[1 - k]
    if (len(ins[k]) != 1 or not s.full_block() or ins[k] in out or ins[k] not in sub
            or len(set(sub)) != len(sub)):
        return NotImplemented
    i, dtype = ins[k], result_dtype(s.aval, get_aval(a))
    a = a if get_aval(a).dtype == dtype else convert_element_type(a, dtype)
    if sorted(sub) == sorted(i + out):  # nothing summed: a transpose of a
        res = transpose(a, tuple(sub.index(c) for c in i + out))
    else:
        res = einsum(f"{sub}->{i}{out}", a)
    if s.coef is not None:
        res = mul(res, reshape(s.full_coef(), (axis_size,) + (1,) * len(out)))
    return res, 0


batching.structured_batchers[einsum_p] = _onehot_einsum

# --------------------------------------------------------------------------------------
# symmetrize: (x + x^T) / 2 over the last two axes, a primitive so that jit can write it over
# its operand (each pair x[i, j], x[j, i] read before both are written: one d x d array for
# value_grad_hessian's Hessian, where ``(r + r.T) * 0.5`` takes a second). Linear and
# self-adjoint: <S(x), c> = <x, S(c)>.

symmetrize_p = Primitive("symmetrize")


@symmetrize_p.def_impl
def _symmetrize_impl(x):
    _symmetrize_abstract_eval(get_aval(x))  # integers: the error jit gives, not a float result
    return (x + np.swapaxes(x, -1, -2)) * 0.5


def _symmetrize_abstract_eval(x):
    if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        raise ShapeError(f"symmetrize: the matrix must be square (..., n, n), got shape {x.shape}.")
    if x.dtype.kind not in "fc":
        raise DTypeError(f"symmetrize: a float or complex matrix is needed, got dtype {x.dtype}.")
    return ShapedArray(x.shape, x.dtype)


symmetrize_p.def_abstract_eval(_symmetrize_abstract_eval)
ad.deflinear(symmetrize_p, lambda ct, x: [symmetrize(ct)])
batching.primitive_batchers[symmetrize_p] = \
    lambda axis_size, vals, dims: (symmetrize(batching.moveaxis(vals[0], dims[0], 0)), 0)


def symmetrize(x):
    """``(x + x^T) / 2`` over the last two axes, exactly symmetric (bit for bit)."""
    return bind(symmetrize_p, x)


# --------------------------------------------------------------------------------------
# solve: a (..., n, n) with b (..., n, k) -> a^{-1} b. Linear in b; its JVP in a is
# -a^{-1} da x, so reverse mode needs only the transpose in b: solve(a^T, ct).

solve_p = Primitive("solve")
solve_p.def_impl(np.linalg.solve)


def _solve_abstract_eval(a, b):
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ShapeError(f"solve: the matrix must be square (..., n, n), got shape {a.shape}.")
    if b.ndim < 2 or b.shape[-2] != a.shape[-1]:
        raise ShapeError(f"solve: the right-hand side of shape {b.shape} does not fit the matrix "
                         f"of shape {a.shape} (expected (..., {a.shape[-1]}, k)).")
    try:
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise ShapeError(f"solve: batch axes of {a.shape} and {b.shape} do not broadcast.") from None
    return ShapedArray(batch + b.shape[-2:], result_dtype(a, b))


solve_p.def_abstract_eval(_solve_abstract_eval)


def solve(a, b):
    return bind(solve_p, a, b)


def _solve_jvp(primals, tangents):
    a, b = primals
    a_dot, b_dot = tangents
    x = solve(a, b)
    rhs = ad.Zero(get_aval(x)) if type(b_dot) is ad.Zero else ad._broadcast_to_aval(b_dot, get_aval(x))
    if type(a_dot) is not ad.Zero:
        from .elementwise import neg

        rhs = ad.add_tangents(rhs, neg(matmul(a_dot, x)))
    if type(rhs) is ad.Zero:
        return x, rhs
    return x, solve(a, rhs)


def _solve_transpose(ct, a, b):
    if is_undefined(a):
        raise ValueError("solve is not linear in its matrix")
    return [None, unbroadcast(solve(_mT(a), ct), b.aval)]


def _solve_batch(axis_size, vals, dims):
    (a, b), (da, db) = vals, dims
    ra, rb = get_aval(a).ndim - (da is not None), get_aval(b).ndim - (db is not None)
    if da is None:
        # One factorization for every example: fold the batch into the right-hand side's columns.
        if db not in (rb - 1, rb):
            b, db = batching.moveaxis(b, db, rb - 1), rb - 1
        s = get_aval(b).shape
        out = solve(a, reshape(b, s[:-2] + (s[-2] * s[-1],)))
        so = get_aval(out).shape
        return reshape(out, so[:-1] + s[-2:]), len(so) - 1 + db - (rb - 1)
    r = max(ra, rb)
    a = batching.front_padded(a, da, r)
    b = b if db is None else batching.front_padded(b, db, r)
    return solve(a, b), 0


ad.jvp_rules[solve_p] = _solve_jvp
transpose_rules[solve_p] = _solve_transpose
batching.primitive_batchers[solve_p] = _solve_batch
