"""The primitives under ``funcad.random``: the Threefry-2x32 hash (JAX's ``threefry2x32_p``)
draws (its words turned into JAX's integers and floats), JAX's gamma and poisson samplers and
XLA's exp/erf/erf_inv/fma. Their kernels, eagerly and under jit, are backend/table_random.py's."""

from __future__ import annotations

import numpy as np

from .. import batching
from ..ad import Zero, defjvp, defjvp_zero, jvp_rules
from ..core import Primitive, ShapedArray, bind, get_aval
from ..errors import DTypeError
from . import elementwise as ew
from . import shapes as sh

# --------------------------------------------------------------------------------------
# The Threefry-2x32 hash: a primitive, elementwise over four uint32 operands.

_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))


def _rotl(x, r):
    return (x << np.uint32(r)) | (x >> np.uint32(32 - r))


def _threefry_impl(k0, k1, x0, x1):
    shape = np.broadcast_shapes(*(np.shape(v) for v in (k0, k1, x0, x1)))
    k0, k1, x0, x1 = (np.broadcast_to(np.asarray(v, np.uint32), shape).reshape(-1)
                      for v in (k0, k1, x0, x1))
    ks = (k0, k1, k0 ^ k1 ^ np.uint32(0x1BD11BDA))
    x0, x1 = x0 + ks[0], x1 + ks[1]
    for i in range(5):
        for r in _ROTATIONS[i % 2]:
            x0 = x0 + x1
            x1 = _rotl(x1, r) ^ x0
        x0 = x0 + ks[(i + 1) % 3]
        x1 = x1 + ks[(i + 2) % 3] + np.uint32(i + 1)
    return [x0.reshape(shape), x1.reshape(shape)]


def _threefry_abstract_eval(*avals):
    """Operands of one shape, or scalars (size 1) read for every element (the key words)."""
    full = {a.shape for a in avals if a.size != 1}
    shape = full.pop() if len(full) == 1 else np.broadcast_shapes(*(a.shape for a in avals))
    if any(a.dtype != np.uint32 for a in avals) or full or len(shape) < max(a.ndim for a in avals):
        raise DTypeError(f"threefry2x32 takes four uint32 arrays of one shape (or of size 1), got "
                         f"{[f'{a.dtype}{list(a.shape)}' for a in avals]}")
    return [ShapedArray(shape, np.dtype(np.uint32))] * 2


def _threefry_batcher(axis_size, vals, dims):
    example = np.broadcast_shapes(*(get_aval(v).shape[:d] + get_aval(v).shape[d + 1:]
                                    if d is not None else get_aval(v).shape for v, d in zip(vals, dims)))
    shape = (axis_size, *example)
    out = []
    for v, d in zip(vals, dims):
        if d is not None:  # batch axis first, per-example axes right-aligned
            v = batching.moveaxis(v, d, 0)
            vs = get_aval(v).shape
            v = sh.reshape(v, vs[:1] + (1,) * (len(shape) - len(vs)) + vs[1:])
        out.append(v if get_aval(v).size == 1 and d is None or get_aval(v).shape == shape
                   else sh.broadcast_to(v, shape))
    return bind(threefry2x32_p, *out), [0, 0]


threefry2x32_p = Primitive("threefry2x32", multiple_results=True)
threefry2x32_p.def_impl(_threefry_impl)
threefry2x32_p.def_abstract_eval(_threefry_abstract_eval)
batching.primitive_batchers[threefry2x32_p] = _threefry_batcher
defjvp_zero(threefry2x32_p)  # integers: no derivative with respect to the key


# --------------------------------------------------------------------------------------
# A draw: the hash of the flat element indices under one key (or a batch of keys), turned
# into numbers in the same loop (backend/table_random.py): JAX's partitionable threefry bits,
# its floats in [0, 1), its normals and exponentials, bit for bit.

DRAW_KINDS = ("bits", "uniform", "normal", "exponential", "laplace", "logistic", "gumbel")


def _keys(k0, k1):
    k0, k1 = np.asarray(k0), np.asarray(k1)
    if k0.shape != k1.shape:
        k0, k1 = np.broadcast_arrays(k0, k1)
    return [np.array(k, np.uint32, order="C", copy=None) for k in (k0, k1)]


def _run(kind, dtype, ins, out, keys=None):
    """``out`` filled by table_random's kernel ``(kind, dtype)`` (the same code as under jit:
    one compile per machine, none per shape): a draw per key of ``keys`` if given, else
    elementwise over ``ins``."""
    if out.size:
        sizes = (out.size,) if keys is None else (keys[0].size, out.size // keys[0].size)
        _kernels["call"](kind, dtype, [*(keys or ()), *ins, out], sizes)
    return out


#: ``call(kind, dtype, arrays, sizes)`` of backend/table_random.py, which registers it when
#: funcad's backend is imported (with ``funcad``): lax never imports the backend.
_kernels: dict = {}


def _draw_impl(k0, k1, *, shape, kind, dtype):
    keys = _keys(k0, k1)
    return _run(kind, dtype, [], np.empty(keys[0].shape + tuple(shape), np.dtype(dtype)), keys)


def _draw_abstract_eval(k0, k1, *, shape, kind, dtype):
    if k0.dtype != np.uint32 or k1.dtype != np.uint32 or k0.shape != k1.shape or kind not in DRAW_KINDS:
        raise DTypeError(f"random_draw takes two uint32 key words of one shape, got {k0.dtype}"
                         f"{list(k0.shape)} and {k1.dtype}{list(k1.shape)} (kind {kind!r})")
    return ShapedArray(k0.shape + tuple(shape), np.dtype(dtype))


def _draw_batcher(axis_size, vals, dims, **params):
    k0, k1 = (batching.moveaxis(v, d, 0) if d is not None else v for v, d in zip(vals, dims))
    shape = (axis_size, *np.broadcast_shapes(get_aval(k0).shape[1:], get_aval(k1).shape[1:]))
    k0, k1 = (v if get_aval(v).shape == shape else sh.broadcast_to(v, shape) for v in (k0, k1))
    return bind(random_draw_p, k0, k1, **params), 0


random_draw_p = Primitive("random_draw")
random_draw_p.def_impl(_draw_impl)
random_draw_p.def_abstract_eval(_draw_abstract_eval)
batching.primitive_batchers[random_draw_p] = _draw_batcher
defjvp_zero(random_draw_p)  # numbers from a key: no derivative with respect to it


# --------------------------------------------------------------------------------------
# Gamma: JAX's rejection sampler (random_gamma_p, backend/table_random.py), differentiated in
# its shape by implicit reparameterisation (random_gamma_grad_p) as JAX's. Poisson: JAX's Knuth
# and transformed-rejection loops in float32 (random_poisson_p), bit for bit.

def _poisson_impl(k0, k1, lam, *, dtype):
    lam = np.array(lam, np.float32, order="C", copy=None)
    return _run("poisson", dtype, [lam], np.empty(lam.shape, np.dtype(dtype)), _keys(k0, k1))


def _poisson_abstract_eval(k0, k1, lam, *, dtype):
    if k0.dtype != np.uint32 or k1.dtype != np.uint32 or k0.shape != k1.shape \
            or lam.shape[:len(k0.shape)] != k0.shape or lam.dtype != np.float32:
        raise DTypeError(f"random_poisson takes uint32 key words of one shape and float32 rates "
                         f"whose shape starts with theirs, got {k0.dtype}{list(k0.shape)}, "
                         f"{k1.dtype}{list(k1.shape)}, {lam.dtype}{list(lam.shape)}")
    return ShapedArray(lam.shape, np.dtype(dtype))


def _poisson_batcher(axis_size, vals, dims, **params):  # a batch of keys: one draw per example
    k0, k1, lam = (batching.moveaxis(v, d, 0) if d is not None else
                   sh.broadcast_to(v, (axis_size, *get_aval(v).shape)) for v, d in zip(vals, dims))
    return bind(random_poisson_p, k0, k1, lam, **params), 0


random_poisson_p = Primitive("random_poisson")  # JAX's Knuth / transformed rejection, bit for bit
random_poisson_p.def_impl(_poisson_impl)
random_poisson_p.def_abstract_eval(_poisson_abstract_eval)
batching.primitive_batchers[random_poisson_p] = _poisson_batcher
defjvp_zero(random_poisson_p)


def _gamma_grad_impl(a, x):
    """d x / d a at fixed CDF value: ``-(dP(a, x)/da) / pdf(x; a)`` (implicit
    reparameterisation, JAX's ``random_gamma_grad``). With ``P = x^a e^-x / Gamma(a) * S``,
    S the series (x < a + 1) or ``1 - P = x^a e^-x / Gamma(a) * H``, H the continued fraction
    (Numerical Recipes' gser/gcf), the prefactor cancels against the pdf:
    ``-x (S (log x - digamma(a)) + dS/da)``, or ``x (H (log x - digamma(a)) + dH/da)``, with
    S, H and their derivatives in a carried through the recurrences (forward mode)."""
    import scipy.special as sc

    a, x = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(x, np.float64))
    out = np.zeros(a.shape)
    lower = x < a + 1
    ok = (x > 0) & (a > 0)
    for branch, sign, fn in ((lower & ok, -1.0, _gamma_series), (~lower & ok, 1.0, _gamma_cfrac)):
        if branch.any():
            aa, xx = a[branch], x[branch]
            v, dv = fn(aa, xx)
            out[branch] = sign * xx * (v * (np.log(xx) - sc.digamma(aa)) + dv)
    out[(x == 0) & (a > 0)] = 0.0
    out[~((x >= 0) & (a > 0))] = np.nan
    return out.astype(np.result_type(*(np.asarray(v).dtype for v in (a, x))))


def _gamma_series(a, x, eps=1e-16, max_terms=100_000):
    """S = sum_n x^n / (a (a+1) ... (a+n)) and dS/da."""
    term, dterm = 1 / a, -1 / a ** 2
    s, ds = term.copy(), dterm.copy()
    for n in range(1, max_terms):
        # term_n = term_{n-1} * x / (a + n)
        dterm = dterm * x / (a + n) - term * x / (a + n) ** 2
        term = term * x / (a + n)
        s, ds = s + term, ds + dterm
        if np.all(term <= eps * s) and np.all(np.abs(dterm) <= eps * (np.abs(ds) + s)):
            break
    return s, ds


def _gamma_cfrac(a, x, eps=1e-15, max_terms=100_000):  # delta - 1 settles at a few ulps
    """H = 1 / (x + 1 - a - 1 (1 - a) / (x + 3 - a - ...)) by the modified Lentz method
    (as Numerical Recipes' gcf), and dH/da."""
    tiny = 1e-300
    b, db = x + 1 - a, -np.ones_like(a)
    c, dc = np.full_like(a, 1 / tiny), np.zeros_like(a)
    d, dd = 1 / b, -db / b ** 2
    h, dh = d.copy(), dd.copy()
    for i in range(1, max_terms):
        an, dan = -i * (i - a), np.full_like(a, float(i))
        b, db = b + 2, db
        d_new = an * d + b
        dd_new = dan * d + an * dd + db
        d_new = np.where(np.abs(d_new) < tiny, tiny, d_new)
        c_new = b + an / c
        dc_new = db + dan / c - an * dc / c / c  # c starts at 1e300: c**2 would overflow
        c_new = np.where(np.abs(c_new) < tiny, tiny, c_new)
        d, dd = 1 / d_new, -dd_new / d_new ** 2
        c, dc = c_new, dc_new
        delta, ddelta = d * c, dd * c + d * dc
        h, dh = h * delta, dh * delta + h * ddelta
        if np.all(np.abs(delta - 1) <= eps) and np.all(np.abs(ddelta * h) <= eps * (np.abs(dh) + np.abs(h))):
            break
    return h, dh


def _gamma_draw_impl(k0, k1, a, *, log_space=False):
    a = np.asarray(a)
    dt = a.dtype if a.dtype in (np.float32, np.float64) else np.dtype(np.float64)  # (in float64)
    x = np.array(a, dt, order="C", copy=None)
    out = _run("loggamma" if log_space else "gamma", dt, [x], np.empty(x.shape, dt), _keys(k0, k1))
    return out.astype(a.dtype, copy=False)


def _gamma_draw_abstract_eval(k0, k1, a, *, log_space=False):
    if k0.dtype != np.uint32 or k1.dtype != np.uint32 or k0.shape != k1.shape \
            or a.shape[:len(k0.shape)] != k0.shape or a.dtype.kind != "f":
        raise DTypeError(f"random_gamma takes uint32 key words of one shape and float shapes "
                         f"whose shape starts with theirs, got {k0.dtype}{list(k0.shape)}, "
                         f"{k1.dtype}{list(k1.shape)}, {a.dtype}{list(a.shape)}")
    return ShapedArray(a.shape, a.dtype)


def _gamma_draw_batcher(axis_size, vals, dims, **params):
    k0, k1, a = (batching.moveaxis(v, d, 0) if d is not None else
                 sh.broadcast_to(v, (axis_size, *get_aval(v).shape)) for v, d in zip(vals, dims))
    return bind(random_gamma_p, k0, k1, a, **params), 0


def _gamma_draw_jvp(primals, tangents, *, log_space=False):
    x = bind(random_gamma_p, *primals, log_space=log_space)
    ta = tangents[2]
    if isinstance(ta, Zero):
        return x, Zero(get_aval(x))
    if not log_space:
        return x, ew.mul(ta, bind(random_gamma_grad_p, primals[2], x))
    # d log(g) = dg / g, g = exp(log g) (the smallest normal float where it underflows, as JAX)
    g = ew.max(ew.exp(x), np.asarray(np.finfo(get_aval(x).dtype).tiny, get_aval(x).dtype))
    return x, ew.mul(ta, ew.div(bind(random_gamma_grad_p, primals[2], g), g))


random_gamma_p = Primitive("random_gamma")  # JAX's Marsaglia-Tsang sampler, bit for bit
random_gamma_p.def_impl(_gamma_draw_impl)
random_gamma_p.def_abstract_eval(_gamma_draw_abstract_eval)
batching.primitive_batchers[random_gamma_p] = _gamma_draw_batcher
jvp_rules[random_gamma_p] = _gamma_draw_jvp

# XLA's CPU exp (not libm's), for beta's and dirichlet's normalisation as JAX's: an elementwise
# primitive, float64 bit for bit (xlamath.exp64); float32 by rounding it.

def _elementwise_impl(kind, dtype, *args):
    """table_random's elementwise kernel ``(kind, dtype)`` of ``args`` (broadcast)."""
    shape = np.broadcast_shapes(*(np.shape(a) for a in args))
    ins = [np.array(np.broadcast_to(a, shape), dtype, order="C", copy=None) for a in args]
    return _run(kind, dtype, ins, np.empty(shape, dtype))


def _xla_exp_impl(x):
    x = np.asarray(x)
    return _elementwise_impl("xla_exp", np.float64, x).astype(x.dtype)


xla_exp_p = Primitive("xla_exp")
xla_exp_p.def_impl(_xla_exp_impl)
xla_exp_p.def_abstract_eval(lambda x: ShapedArray(x.shape, x.dtype))
batching.defbroadcasting(xla_exp_p)
defjvp(xla_exp_p, lambda g, ans, x: ew.mul(g, ans))


# A fused multiply-add (``a * b + c`` rounded once), where XLA's CPU compiler contracts JAX's
# ``u * (maxval - minval) + minval`` (uniform's bounds) to one.

def _fma_impl(a, b, c):
    dtype = np.result_type(a, b, c)
    if dtype == np.float32:
        return _elementwise_impl("fma", dtype, a, b, c)
    return _elementwise_impl("fma", np.float64, a, b, c).astype(dtype, copy=False)


fma_p = Primitive("fma")
fma_p.def_impl(_fma_impl)
fma_p.def_abstract_eval(lambda a, b, c: ShapedArray(np.broadcast_shapes(a.shape, b.shape, c.shape),
                                                    np.result_type(a.dtype, b.dtype, c.dtype)))
batching.defbroadcasting(fma_p)
defjvp(fma_p, lambda g, ans, a, b, c: ew.mul(g, b), lambda g, ans, a, b, c: ew.mul(a, g),
       lambda g, ans, a, b, c: g)


# XLA's CPU erf and erf_inv (``jax.lax.erf``/``erf_inv`` on the CPU, bit for bit in float64
# and float32: xlamath.erf, erf_inv), for truncated_normal as JAX's.

def _xla_elementwise_impl(kind):
    def impl(x):
        x = np.asarray(x)
        dtype = np.float64 if x.dtype == np.float64 else np.float32  # float16: in float32, as XLA
        return _elementwise_impl(kind, dtype, x).astype(x.dtype, copy=False)
    return impl


xla_erf_p = Primitive("xla_erf")
xla_erf_p.def_impl(_xla_elementwise_impl("xla_erf"))
xla_erf_p.def_abstract_eval(lambda x: ShapedArray(x.shape, x.dtype))
batching.defbroadcasting(xla_erf_p)
defjvp(xla_erf_p, lambda g, ans, x: ew.mul(g, ew.mul(2 / np.sqrt(np.pi), ew.exp(ew.neg(ew.mul(x, x))))))

xla_erf_inv_p = Primitive("xla_erf_inv")
xla_erf_inv_p.def_impl(_xla_elementwise_impl("xla_erf_inv"))
xla_erf_inv_p.def_abstract_eval(lambda x: ShapedArray(x.shape, x.dtype))
batching.defbroadcasting(xla_erf_inv_p)
defjvp(xla_erf_inv_p, lambda g, ans, x: ew.mul(g, ew.mul(np.sqrt(np.pi) / 2, ew.exp(ew.mul(ans, ans)))))

# ``lax.nextafter`` (truncated_normal's open interval, on traced bounds too): no derivative, as JAX's.
nextafter_p = Primitive("nextafter")
nextafter_p.def_impl(lambda x, y: np.asarray(np.nextafter(x, y)))
nextafter_p.def_abstract_eval(lambda x, y: ShapedArray(np.broadcast_shapes(x.shape, y.shape),
                                                       np.result_type(x.dtype, y.dtype)))
batching.defbroadcasting(nextafter_p)
defjvp_zero(nextafter_p)

random_gamma_grad_p = Primitive("random_gamma_grad")
random_gamma_grad_p.def_impl(_gamma_grad_impl)
random_gamma_grad_p.def_abstract_eval(
    lambda a, x: ShapedArray(np.broadcast_shapes(a.shape, x.shape), np.result_type(a.dtype, x.dtype)))
batching.defbroadcasting(random_gamma_grad_p)


def random_gamma_grad(a, x):
    """The derivative of a Gamma(a, 1) sample ``x`` in its shape ``a`` at a fixed CDF value
    (implicit reparameterisation), as ``jax.lax.random_gamma_grad``.

    >>> round(float(random_gamma_grad(1.0, 1.0)), 12)
    1.173563027225
    """
    return bind(random_gamma_grad_p, a, x)


