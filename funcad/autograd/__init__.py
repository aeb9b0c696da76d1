"""``funcad.autograd``: autograd's API on funcad, so that an autograd program runs after
changing ``import autograd`` to ``import funcad.autograd`` (and ``autograd.numpy`` to
``funcad.autograd.numpy``, and so on) alone.

The differential operators take autograd's ``argnum`` (an int, or a tuple for several
arguments) and return what autograd returns (``make_vjp`` gives ``(vjp, value)``,
``make_jvp(f)(x)`` a function of the tangent giving ``(value, tangent)``). ``grad`` accepts
a function whose output has size 1 (shape ``(1,)``, ``(1, 1)``...), as autograd does.
A gradient with respect to a Python float is a NumPy float.

>>> import funcad.autograd.numpy as np
>>> from funcad.autograd import grad, elementwise_grad
>>> float(grad(np.tanh)(1.0))
0.41997434161402614
>>> elementwise_grad(np.tanh)(np.array([0.0, 1.0]))
array([1.        , 0.41997434])

What differs from autograd is listed in docs/coming_from_autograd.md (no
``autograd.numpy.fft``; ``primitive`` functions cannot be jitted). Complex numbers follow
autograd's convention (grad of a real f(z) is df/dx - i df/dy; ``holomorphic_grad``).
"""

from __future__ import annotations

import functools
import inspect
import warnings
from collections import OrderedDict

import numpy as onp

from .. import api
from .. import numpy as fnp
from ..core import get_aval
from ..custom_derivatives import checkpoint as _checkpoint
from ..errors import NonScalarOutputError
from ..tree_util import tree_map
from .builtins import dict, isinstance, list, tuple, type  # noqa: F401,A004  (as autograd)
from .extend import primitive  # noqa: F401  (autograd exports it at top level)

__all__ = ["grad", "elementwise_grad", "deriv", "value_and_grad", "grad_and_aux", "jacobian",
           "hessian", "hessian_tensor_product", "hessian_vector_product", "tensor_jacobian_product",
           "vector_jacobian_product", "make_vjp", "make_jvp", "make_hvp", "make_ggnvp", "grad_named",
           "multigrad_dict", "checkpoint", "primitive", "holomorphic_grad"]

def _one_arg(fun, argnum, args, kwargs):
    """``(g, x)``: ``fun`` as a function of the argument(s) ``argnum`` alone, and its value."""
    nums = (argnum,) if isinstance(argnum, int | onp.integer) else tuple(argnum)

    def g(x):
        full = list(args)
        for i, v in zip(nums, x if not isinstance(argnum, int | onp.integer) else (x,)):
            full[i] = v
        return fun(*full, **kwargs)

    g.__name__ = getattr(fun, "__name__", "fun")
    x = args[argnum] if isinstance(argnum, int | onp.integer) else tuple(args[i] for i in argnum)
    return g, x


def _user(x):
    """A 0-d result as a NumPy float (autograd's gradients of scalars are scalars)."""
    def leaf(v):
        if isinstance(v, onp.ndarray) and v.ndim == 0 and v.dtype.kind in "fc":
            return onp.float64(v) if v.dtype == onp.float64 else v[()]
        return v

    return tree_map(leaf, x)


def _nary(op):
    """autograd's ``unary_to_nary``: ``op(fun, x)`` becomes ``op(fun, argnum=0)(*args)``."""

    @functools.wraps(op)
    def make(fun, argnum=0, *nary_op_args, **nary_op_kwargs):
        @functools.wraps(fun)
        def nary_f(*args, **kwargs):
            g, x = _one_arg(fun, argnum, args, kwargs)
            return op(g, x, *nary_op_args, **nary_op_kwargs)

        return nary_f

    return make


def _size_one_check(ans, what):
    size = get_aval(ans).size if not isinstance(ans, (list, tuple, dict)) else None
    if size != 1:
        shape = get_aval(ans).shape if size is not None else type(ans).__name__
        raise NonScalarOutputError(
            f"{what} only applies to real scalar-output functions (or outputs of size 1), but the "
            f"function returned {'shape ' + str(shape) if size is not None else 'a ' + str(shape)}. "
            "Try jacobian or elementwise_grad.")


def _ones(ans):
    a = get_aval(ans)
    return onp.ones(a.shape, a.dtype if a.dtype.kind in "fc" else onp.float64)


def _vjp(fun, x):
    ans, vjp_fn = api.vjp(fun, x)
    return (lambda g: vjp_fn(g)[0]), ans


@_nary
def make_vjp(fun, x):
    """``(vjp, ans)``: ``vjp(g)`` is the cotangent of ``x`` for an output cotangent ``g``."""
    vjp, ans = _vjp(fun, x)
    return (lambda g: _user(vjp(g))), ans


@_nary
def make_jvp(fun, x):
    """A function of a tangent ``v`` returning ``(ans, J v)``."""
    return lambda v: tuple(map(_user, api.jvp(fun, (x,), (v,))))


@_nary
def grad(fun, x):
    """The gradient of a function with a scalar (or size-1) output with respect to argument
    ``argnum`` (an int, or a tuple for several, giving a tuple of gradients)."""
    vjp, ans = _vjp(fun, x)
    _size_one_check(ans, "grad")
    return _user(vjp(_ones(ans)))


@_nary
def holomorphic_grad(fun, x):
    """The complex derivative f'(z) of a holomorphic ``fun`` (autograd's: the gradient of
    its real part, which for a holomorphic function is f'(z) in autograd's convention).

    >>> import funcad.autograd.numpy as np
    >>> complex(holomorphic_grad(np.sin)(0.5j))
    (1.1276259652063807+0j)
    """
    if get_aval(x).dtype.kind != "c":
        warnings.warn("Input to holomorphic_grad is not complex", stacklevel=3)
    return grad(lambda z: fnp.real(fun(z)))(x)


@_nary
def elementwise_grad(fun, x):
    """The sum of each column of the Jacobian (the derivative at each point, for a function
    applied elementwise): one reverse pass with a cotangent of ones."""
    vjp, ans = _vjp(fun, x)
    return _user(vjp(_ones(ans)))


egrad = elementwise_grad


@_nary
def deriv(fun, x):
    """The directional derivative along ones (forward mode)."""
    return _user(api.jvp(fun, (x,), (tree_map(lambda v: onp.ones_like(onp.asarray(v, float)), x),))[1])


@_nary
def value_and_grad(fun, x):
    """``(fun(x), grad(fun)(x))`` in one pass (suitable for scipy.optimize's ``jac=True``)."""
    vjp, ans = _vjp(fun, x)
    _size_one_check(ans, "value_and_grad")
    return ans, _user(vjp(_ones(ans)))


@_nary
def grad_and_aux(fun, x):
    """For ``fun`` returning ``(value, aux)``: ``(gradient of value, aux)``."""
    ans, vjp_fn, aux = api.vjp(fun, x, has_aux=True)
    return _user(vjp_fn(_ones(ans))[0]), aux


@_nary
def jacobian(fun, x):
    """The Jacobian, shape ``out.shape + in.shape`` (reverse mode, one pass per output row,
    vectorised)."""
    return _user(api.jacrev(fun)(x))


@_nary
def hessian(fun, x):
    """The Hessian: ``jacobian(jacobian(fun))``."""
    return _user(api.jacrev(api.jacrev(fun))(x))


@_nary
def make_hvp(fun, x):
    """``(hvp, grad_value)``: ``hvp(v)`` is the Hessian-vector product at ``x``, the forward
    pass done once."""
    g = lambda x: grad(fun)(x)  # noqa: E731
    vjp, gx = _vjp(g, x)
    return (lambda v: _user(vjp(v))), gx


def hessian_tensor_product(fun, argnum=0):
    """A function of ``(*args, tensor)`` returning the Hessian times ``tensor`` (contracted over
    the input's axes)."""
    fun_grad = grad(fun, argnum)

    def vector_dot_grad(*args, **kwargs):
        args, vector = args[:-1], args[-1]
        return fnp.tensordot(fun_grad(*args, **kwargs), vector, onp.ndim(vector))

    return grad(vector_dot_grad, argnum)


hessian_vector_product = hessian_tensor_product


def tensor_jacobian_product(fun, argnum=0):
    """A function of ``(*args, tensor)`` returning ``tensor`` times the Jacobian (a VJP)."""

    def vector_dot_fun(*args, **kwargs):
        args, vector = args[:-1], args[-1]
        return fnp.tensordot(vector, fun(*args, **kwargs), axes=onp.ndim(vector))

    return jacobian(vector_dot_fun, argnum)


vector_jacobian_product = tensor_jacobian_product


def make_ggnvp(f, g=lambda x: 0.5 * fnp.sum(x ** 2, axis=-1), f_argnum=0):
    """Generalised Gauss-Newton products ``J_f^T H_g J_f v`` at a point: a function of the
    arguments of ``f`` returning a function of ``v``."""

    def at(*args, **kwargs):
        fx, x = _one_arg(f, f_argnum, args, kwargs)
        f_vjp, y = _vjp(fx, x)
        g_hvp, _ = _vjp(lambda y: api.grad(g)(y), y)

        def ggnvp(v):
            jv = api.jvp(fx, (x,), (v,))[1]
            return _user(f_vjp(g_hvp(jv)))

        return ggnvp

    return at


def grad_named(fun, argname: str):
    """The gradient with respect to the argument named ``argname``."""
    return grad(fun, inspect.getfullargspec(fun).args.index(argname))


def multigrad_dict(fun):
    """Gradients with respect to every argument at once, as an ordered dict by name."""
    sig = inspect.signature(fun)

    def gradfun(*args, **kwargs):
        bound = sig.bind(*args, **kwargs)
        bound.apply_defaults()
        names = list(bound.arguments)

        def by_dict(d):
            b = sig.bind_partial()
            b.arguments.update(d)
            return fun(*b.args, **b.kwargs)

        g = grad(by_dict)(dict(bound.arguments))
        return OrderedDict((n, g[n]) for n in names)

    return gradfun


def checkpoint(fun):
    """``fun`` whose intermediate values are recomputed in the backward pass."""
    return _checkpoint(fun)

