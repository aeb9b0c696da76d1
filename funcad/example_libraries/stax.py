"""A small neural-network library in the style of ``jax.example_libraries.stax``: each layer
is an ``(init_fun, apply_fun)`` pair; ``init_fun(rng, input_shape) -> (output_shape, params)``,
``apply_fun(params, inputs, **kwargs) -> outputs`` (``rng=`` a key for Dropout). Layers
compose with ``serial`` and ``parallel``; params are pytrees, so ``grad``, ``jit`` and the
optimizers apply.

>>> import funcad as fa, funcad.numpy as fnp
>>> init_fun, apply_fun = serial(Dense(4), Relu, Dense(2), LogSoftmax)
>>> out_shape, params = init_fun(fa.random.key(0), (-1, 3))
>>> out_shape, apply_fun(params, fnp.ones((5, 3))).shape
((-1, 2), (5, 2))
"""

from __future__ import annotations

import math

import numpy as np

from .. import lax, random
from .. import numpy as fnp
from ..api import ShapeDtypeStruct, eval_shape
from ..errors import ArgumentError
from ..nn import elu, gelu, leaky_relu, log_softmax, relu, selu, sigmoid, softmax, softplus, standardize

__all__ = ["Dense", "GeneralConv", "Conv", "GeneralConvTranspose", "Conv1DTranspose", "ConvTranspose",
           "BatchNorm", "elementwise", "Tanh", "Relu", "Exp", "LogSoftmax", "Softmax", "Softplus",
           "Sigmoid", "Elu", "LeakyRelu", "Selu", "Gelu", "MaxPool", "SumPool", "AvgPool", "Flatten",
           "Identity", "FanOut", "FanInSum", "FanInConcat", "Dropout", "serial", "parallel",
           "shape_dependent", "glorot_normal", "normal", "ones", "zeros", "glorot", "randn",
           "logsoftmax"]


# --------------------------------------------------------------------------------------
# Initializers (jax.nn.initializers'): functions of (key, shape)


def glorot_normal(in_axis=-2, out_axis=-1, dtype=None):
    """Truncated normal (within 2 standard deviations) of variance ``2 / (fan_in + fan_out)``,
    the fans including the receptive field (the axes other than ``in_axis`` and ``out_axis``)."""

    def init(key, shape, dtype=dtype):
        shape = tuple(shape)
        receptive = math.prod(shape) / (shape[in_axis] * shape[out_axis])
        fan_avg = (shape[in_axis] + shape[out_axis]) * receptive / 2
        # 0.8796... is the standard deviation of a standard normal truncated to (-2, 2).
        std = np.sqrt(1.0 / fan_avg) / 0.87962566103423978
        return random.truncated_normal(key, -2.0, 2.0, shape, dtype) * std

    return init


def normal(stddev=1e-2, dtype=None):
    """Normal draws of standard deviation ``stddev``."""
    return lambda key, shape, dtype=dtype: random.normal(key, tuple(shape), dtype) * stddev


def zeros(key, shape, dtype=None):
    """Zeros of ``shape`` (``key`` unused)."""
    return fnp.zeros(tuple(shape), dtype)


def ones(key, shape, dtype=None):
    """Ones of ``shape`` (``key`` unused)."""
    return fnp.ones(tuple(shape), dtype)


glorot, randn, logsoftmax = glorot_normal, normal, log_softmax  # JAX's older names
_GLOROT, _NORMAL, _NORMAL_TINY = glorot_normal(), normal(), normal(1e-6)  # the layers' defaults


# --------------------------------------------------------------------------------------
# Layers


def Dense(out_dim, W_init=_GLOROT, b_init=_NORMAL):
    """A fully connected layer: ``inputs @ W + b``."""

    def init_fun(rng, input_shape):
        k1, k2 = random.split(rng)
        params = W_init(k1, (input_shape[-1], out_dim)), b_init(k2, (out_dim,))
        return tuple(input_shape[:-1]) + (out_dim,), params

    def apply_fun(params, inputs, **kwargs):
        W, b = params
        return fnp.dot(inputs, W) + b

    return init_fun, apply_fun


def _kernel_shape(rhs_spec, lhs_spec, out_chan, filter_shape, input_shape):
    spatial = iter(filter_shape)
    return tuple(out_chan if c == "O" else input_shape[lhs_spec.index("C")] if c == "I" else next(spatial)
                 for c in rhs_spec)


def _out_shape(conv, input_shape, kernel_shape):
    """The output shape of ``conv`` on ``input_shape`` (a -1 batch kept as -1)."""
    shape = tuple(1 if d == -1 else d for d in input_shape)
    out = eval_shape(conv, ShapeDtypeStruct(shape, np.float64), ShapeDtypeStruct(kernel_shape, np.float64))
    return tuple(-1 if d == -1 else o for d, o in zip(input_shape, out.shape))


def GeneralConv(dimension_numbers, out_chan, filter_shape, strides=None, padding="VALID", W_init=None,
                b_init=_NORMAL_TINY):
    """A convolution layer (``lax.conv_general_dilated`` plus a bias) with layout
    ``dimension_numbers`` such as ``("NHWC", "HWIO", "NHWC")``."""
    one = (1,) * len(filter_shape)
    strides = strides or one

    def conv(x, W):
        return lax.conv_general_dilated(x, W, strides, padding, one, one, dimension_numbers=dimension_numbers)

    return _conv_layer(conv, dimension_numbers, out_chan, filter_shape, W_init, b_init)


def _conv_layer(conv, dimension_numbers, out_chan, filter_shape, W_init, b_init):
    """The (init_fun, apply_fun) of ``conv(x, W)`` plus a bias, for the convolution layers."""
    lhs_spec, rhs_spec, out_spec = dimension_numbers
    W_init = W_init or glorot_normal(rhs_spec.index("I"), rhs_spec.index("O"))

    def init_fun(rng, input_shape):
        kernel_shape = _kernel_shape(rhs_spec, lhs_spec, out_chan, filter_shape, input_shape)
        k1, k2 = random.split(rng)
        bias_shape = tuple(out_chan if c == "C" else 1 for c in out_spec)
        params = W_init(k1, kernel_shape), b_init(k2, bias_shape)
        return _out_shape(conv, input_shape, kernel_shape), params

    def apply_fun(params, inputs, **kwargs):
        W, b = params
        return conv(inputs, W) + b

    return init_fun, apply_fun


def Conv(out_chan, filter_shape, strides=None, padding="VALID", W_init=None, b_init=_NORMAL_TINY):
    """:func:`GeneralConv` with layout NHWC, HWIO, NHWC."""
    return GeneralConv(("NHWC", "HWIO", "NHWC"), out_chan, filter_shape, strides, padding, W_init, b_init)


def GeneralConvTranspose(dimension_numbers, out_chan, filter_shape, strides=None, padding="VALID",
                         W_init=None, b_init=_NORMAL_TINY):
    """A transposed-convolution layer (``lax.conv_transpose`` plus a bias)."""
    strides = strides or (1,) * len(filter_shape)

    def conv(x, W):
        return lax.conv_transpose(x, W, strides, padding, dimension_numbers=dimension_numbers)

    return _conv_layer(conv, dimension_numbers, out_chan, filter_shape, W_init, b_init)


def Conv1DTranspose(out_chan, filter_shape, strides=None, padding="VALID", W_init=None, b_init=_NORMAL_TINY):
    """:func:`GeneralConvTranspose` with layout NHC, HIO, NHC."""
    return GeneralConvTranspose(("NHC", "HIO", "NHC"), out_chan, filter_shape, strides, padding, W_init,
                                b_init)


def ConvTranspose(out_chan, filter_shape, strides=None, padding="VALID", W_init=None, b_init=_NORMAL_TINY):
    """:func:`GeneralConvTranspose` with layout NHWC, HWIO, NHWC."""
    return GeneralConvTranspose(("NHWC", "HWIO", "NHWC"), out_chan, filter_shape, strides, padding, W_init,
                                b_init)


def BatchNorm(axis=(0, 1, 2), epsilon=1e-5, center=True, scale=True, beta_init=zeros, gamma_init=ones):
    """Normalize over ``axis`` (the batch statistics of each call), then ``gamma * z + beta``."""
    axis = (axis,) if np.isscalar(axis) else tuple(axis)

    def init_fun(rng, input_shape):
        shape = tuple(d for i, d in enumerate(input_shape) if i not in axis)
        k1, k2 = random.split(rng)
        beta = beta_init(k1, shape) if center else ()
        gamma = gamma_init(k2, shape) if scale else ()
        return input_shape, (beta, gamma)

    def apply_fun(params, x, **kwargs):
        beta, gamma = params
        ed = tuple(None if i in axis else slice(None) for i in range(fnp.ndim(x)))
        z = standardize(x, axis, epsilon=epsilon)
        z = gamma[ed] * z if scale else z
        return z + beta[ed] if center else z

    return init_fun, apply_fun


def elementwise(fun, **fun_kwargs):
    """A layer applying ``fun(inputs, **fun_kwargs)``, without parameters."""
    def apply_fun(params, inputs, **kwargs):
        return fun(inputs, **fun_kwargs)

    return (lambda rng, input_shape: (input_shape, ())), apply_fun


Tanh = elementwise(fnp.tanh)
Relu = elementwise(relu)
Exp = elementwise(fnp.exp)
LogSoftmax = elementwise(log_softmax, axis=-1)
Softmax = elementwise(softmax, axis=-1)
Softplus = elementwise(softplus)
Sigmoid = elementwise(sigmoid)
Elu = elementwise(elu)
LeakyRelu = elementwise(leaky_relu)
Selu = elementwise(selu)
Gelu = elementwise(gelu)


def _pooling_layer(reducer, init_val, average=False):
    def PoolingLayer(window_shape, strides=None, padding="VALID", spec=None):
        """A pooling layer over the spatial axes (NHWC unless ``spec`` names the layout)."""
        window_shape = tuple(window_shape)
        strides = tuple(strides or (1,) * len(window_shape))
        ndim = len(window_shape) + 2
        non_spatial = (0, ndim - 1) if spec is None else (spec.index("N"), spec.index("C"))
        spatial = [i for i in range(ndim) if i not in non_spatial]
        dims, steps = [1] * ndim, [1] * ndim
        for i, k, s in zip(spatial, window_shape, strides):
            dims[i], steps[i] = k, s

        def init_fun(rng, input_shape):
            shape = tuple(1 if d == -1 else d for d in input_shape)  # a -1 batch stays -1
            pads = lax.padtype_to_pads(shape, dims, steps, padding) if isinstance(padding, str) else padding
            out = lax.reduce_window_shape_tuple(shape, dims, steps, pads)
            return tuple(-1 if d == -1 else o for d, o in zip(input_shape, out)), ()

        def apply_fun(params, inputs, **kwargs):
            out = lax.reduce_window(inputs, init_val, reducer, dims, steps, padding)
            if not average:
                return out
            # Divide by the number of operand elements in each window (fewer at SAME's edges).
            sizes = lax.reduce_window(np.ones(tuple(fnp.shape(inputs)[i] for i in spatial)), 0.0, lax.add,
                                      window_shape, strides, padding)
            return out / fnp.expand_dims(sizes, non_spatial).astype(fnp.result_type(out))

        return init_fun, apply_fun

    return PoolingLayer


MaxPool = _pooling_layer(lax.max, -np.inf)
SumPool = _pooling_layer(lax.add, 0.0)
AvgPool = _pooling_layer(lax.add, 0.0, average=True)


def _flatten_init(rng, input_shape):
    return (input_shape[0], math.prod(input_shape[1:])), ()


Flatten = (_flatten_init, lambda params, inputs, **kwargs: fnp.reshape(inputs, (fnp.shape(inputs)[0], -1)))
Identity = (lambda rng, input_shape: (input_shape, ())), (lambda params, inputs, **kwargs: inputs)


def FanOut(num):
    """``num`` copies of the input (a list), for ``parallel``."""
    return (lambda rng, input_shape: ([input_shape] * num, ())), (lambda params, inputs, **kw: [inputs] * num)


FanInSum = (lambda rng, input_shape: (input_shape[0], ())), (lambda params, inputs, **kwargs: sum(inputs))


def FanInConcat(axis=-1):
    """The list of inputs concatenated along ``axis``."""

    def init_fun(rng, input_shape):
        ax = axis % len(input_shape[0])
        size = sum(shape[ax] for shape in input_shape)
        return tuple(input_shape[0][:ax]) + (size,) + tuple(input_shape[0][ax + 1:]), ()

    return init_fun, lambda params, inputs, **kwargs: fnp.concatenate(inputs, axis)


def Dropout(rate, mode="train"):
    """In ``mode='train'``, keep each input with probability ``rate`` (scaled by ``1 / rate``,
    as JAX's stax: ``rate`` is the keep rate); needs ``apply_fun(..., rng=key)``."""

    def apply_fun(params, inputs, **kwargs):
        rng = kwargs.get("rng")
        if mode != "train":
            return inputs
        if rng is None:
            raise ArgumentError("Dropout: apply_fun needs a PRNG key in train mode: call "
                                "apply_fun(params, inputs, rng=key) with a key from funcad.random.key.")
        keep = random.bernoulli(rng, rate, fnp.shape(inputs))
        return fnp.where(keep, inputs / rate, 0)

    return (lambda rng, input_shape: (input_shape, ())), apply_fun


# --------------------------------------------------------------------------------------
# Combinators


def serial(*layers):
    """The layers applied one after the other; params is the list of theirs."""
    init_funs, apply_funs = zip(*layers)

    def init_fun(rng, input_shape):
        params = []
        for init in init_funs:
            rng, layer_rng = random.split(rng)
            input_shape, param = init(layer_rng, input_shape)
            params.append(param)
        return input_shape, params

    def apply_fun(params, inputs, **kwargs):
        rng = kwargs.pop("rng", None)
        rngs = random.split(rng, len(layers)) if rng is not None else (None,) * len(layers)
        for fun, param, r in zip(apply_funs, params, rngs):
            inputs = fun(param, inputs, rng=r, **kwargs)
        return inputs

    return init_fun, apply_fun


def parallel(*layers):
    """Each layer applied to its own input of a sequence (with FanOut and FanInSum/Concat)."""
    init_funs, apply_funs = zip(*layers)

    def init_fun(rng, input_shape):
        rngs = random.split(rng, len(layers))
        shapes, params = zip(*[init(r, shape) for init, r, shape in zip(init_funs, rngs, input_shape)])
        return list(shapes), list(params)

    def apply_fun(params, inputs, **kwargs):
        rng = kwargs.pop("rng", None)
        rngs = random.split(rng, len(layers)) if rng is not None else (None,) * len(layers)
        return [f(p, x, rng=r, **kwargs) for f, p, x, r in zip(apply_funs, params, inputs, rngs)]

    return init_fun, apply_fun


def shape_dependent(make_layer):
    """A layer built by ``make_layer(input_shape)`` once the input shape is known."""

    def init_fun(rng, input_shape):
        return make_layer(input_shape)[0](rng, input_shape)

    def apply_fun(params, inputs, **kwargs):
        return make_layer(fnp.shape(inputs))[1](params, inputs, **kwargs)

    return init_fun, apply_fun
