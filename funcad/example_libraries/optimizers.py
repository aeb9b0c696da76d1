"""First-order optimizers in the (init, update, get_params) style of
``jax.example_libraries.optimizers``: each optimizer is written for one array and works on
any pytree of parameters; the state is a pytree, so ``update`` can be ``jit``-compiled.

>>> import funcad as fa, funcad.numpy as fnp
>>> opt_init, opt_update, get_params = momentum(0.1, mass=0.9)
>>> state = opt_init({"w": fnp.ones(2)})
>>> step = fa.jit(lambda i, s: opt_update(i, fa.grad(lambda p: fnp.sum(p["w"] ** 2))(get_params(s)), s))
>>> for i in range(200):
...     state = step(i, state)
>>> bool(fnp.abs(get_params(state)["w"]).max() < 1e-3)
True
"""

from __future__ import annotations

import functools
from collections import namedtuple
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from .. import numpy as fnp
from ..errors import ArgumentError, TreeStructureError
from ..tree_util import register_pytree_node, tree_flatten, tree_map, tree_unflatten

__all__ = ["Optimizer", "OptimizerState", "optimizer", "sgd", "momentum", "nesterov", "adagrad",
           "rmsprop", "rmsprop_momentum", "adam", "adamax", "constant", "exponential_decay",
           "inverse_time_decay", "polynomial_decay", "piecewise_constant", "make_schedule",
           "l2_norm", "clip_grads"]

# The state: each parameter leaf's own state, flattened, and the structures to rebuild them
# (a tuple: jit hashes a pytree's static part).
OptimizerState = namedtuple("OptimizerState", ["packed_state", "tree_def", "subtree_defs"])
register_pytree_node(OptimizerState, lambda s: ((s.packed_state,), (s.tree_def, s.subtree_defs)),
                     lambda aux, children: OptimizerState(children[0], *aux))


class Optimizer(NamedTuple):
    init_fn: Callable
    update_fn: Callable
    params_fn: Callable


def optimizer(opt_maker):
    """Lift an optimizer written for one array, ``opt_maker(*args) -> (init, update,
    get_params)``, to pytrees of parameters (JAX's decorator)."""

    @functools.wraps(opt_maker)
    def tree_opt_maker(*args, **kwargs):
        init, update, get_params = opt_maker(*args, **kwargs)

        def tree_init(x0_tree):
            leaves, tree = tree_flatten(x0_tree)
            flat = [tree_flatten(init(x0)) for x0 in leaves]
            return OptimizerState([f for f, _ in flat], tree, tuple(t for _, t in flat))

        def tree_update(i, grad_tree, opt_state):
            states_flat, tree, subtrees = opt_state
            grads, grad_tree_def = tree_flatten(grad_tree)
            if grad_tree_def != tree:
                raise TreeStructureError(f"optimizer update: the gradient's structure {grad_tree_def} "
                                         f"is not the parameters' {tree} (given to init).")
            new = [tree_flatten(update(i, g, tree_unflatten(t, s)))
                   for g, s, t in zip(grads, states_flat, subtrees)]
            return OptimizerState([f for f, _ in new], tree, subtrees)

        def tree_get_params(opt_state):
            states_flat, tree, subtrees = opt_state
            params = [get_params(tree_unflatten(t, s)) for s, t in zip(states_flat, subtrees)]
            return tree_unflatten(tree, params)

        return Optimizer(tree_init, tree_update, tree_get_params)

    return tree_opt_maker


def _first(state):
    return state[0]


@optimizer
def sgd(step_size):
    """Stochastic gradient descent: ``x - step_size(i) * g``."""
    step_size = make_schedule(step_size)
    return (lambda x0: x0), (lambda i, g, x: x - step_size(i) * g), (lambda x: x)


@optimizer
def momentum(step_size, mass: float):
    """Heavy-ball momentum: ``v = mass * v + g``, ``x - step_size(i) * v``."""
    step_size = make_schedule(step_size)

    def update(i, g, state):
        x, v = state
        v = mass * v + g
        return x - step_size(i) * v, v

    return (lambda x0: (x0, fnp.zeros_like(x0))), update, _first


@optimizer
def nesterov(step_size, mass: float):
    """Nesterov's accelerated momentum: the step is ``mass * v + g`` with the new ``v``."""
    step_size = make_schedule(step_size)

    def update(i, g, state):
        x, v = state
        v = mass * v + g
        return x - step_size(i) * (mass * v + g), v

    return (lambda x0: (x0, fnp.zeros_like(x0))), update, _first


@optimizer
def adagrad(step_size, momentum=0.9):
    """Adagrad (with momentum on the scaled gradient, as JAX's)."""
    step_size = make_schedule(step_size)

    def update(i, g, state):
        x, g_sq, m = state
        g_sq = g_sq + fnp.square(g)
        scale = fnp.where(g_sq > 0, 1.0 / fnp.sqrt(fnp.where(g_sq > 0, g_sq, 1.0)), 0.0)
        m = (1.0 - momentum) * (g * scale) + momentum * m
        return x - step_size(i) * m, g_sq, m

    return (lambda x0: (x0, fnp.zeros_like(x0), fnp.zeros_like(x0))), update, _first


@optimizer
def rmsprop(step_size, gamma=0.9, eps=1e-8):
    """RMSProp: the gradient divided by a running root mean square."""
    step_size = make_schedule(step_size)

    def update(i, g, state):
        x, avg_sq = state
        avg_sq = avg_sq * gamma + fnp.square(g) * (1.0 - gamma)
        return x - step_size(i) * g / fnp.sqrt(avg_sq + eps), avg_sq

    return (lambda x0: (x0, fnp.zeros_like(x0))), update, _first


@optimizer
def rmsprop_momentum(step_size, gamma=0.9, eps=1e-8, momentum=0.9):
    """RMSProp with momentum on the scaled step."""
    step_size = make_schedule(step_size)

    def update(i, g, state):
        x, avg_sq, mom = state
        avg_sq = avg_sq * gamma + fnp.square(g) * (1.0 - gamma)
        mom = momentum * mom + step_size(i) * g / fnp.sqrt(avg_sq + eps)
        return x - mom, avg_sq, mom

    return (lambda x0: (x0, fnp.zeros_like(x0), fnp.zeros_like(x0))), update, _first


def _bias(b, i, like):
    return 1 - fnp.asarray(b, fnp.result_type(like)) ** (i + 1)


@optimizer
def adam(step_size, b1=0.9, b2=0.999, eps=1e-8):
    """Adam: bias-corrected running moments of the gradient."""
    step_size = make_schedule(step_size)

    def update(i, g, state):
        x, m, v = state
        m = (1 - b1) * g + b1 * m
        v = (1 - b2) * fnp.square(g) + b2 * v
        mhat, vhat = m / _bias(b1, i, m), v / _bias(b2, i, m)
        return x - step_size(i) * mhat / (fnp.sqrt(vhat) + eps), m, v

    return (lambda x0: (x0, fnp.zeros_like(x0), fnp.zeros_like(x0))), update, _first


@optimizer
def adamax(step_size, b1=0.9, b2=0.999, eps=1e-8):
    """AdaMax: Adam with an exponentially weighted infinity norm."""
    step_size = make_schedule(step_size)

    def update(i, g, state):
        x, m, u = state
        m = (1 - b1) * g + b1 * m
        u = fnp.maximum(b2 * u, fnp.abs(g))
        return x - (step_size(i) / _bias(b1, i, m)) * m / (u + eps), m, u

    return (lambda x0: (x0, fnp.zeros_like(x0), fnp.zeros_like(x0))), update, _first


# --------------------------------------------------------------------------------------
# Step-size schedules: functions of the iteration number


def constant(step_size):
    """The same step size at every iteration."""
    return lambda i: step_size


def exponential_decay(step_size, decay_steps, decay_rate):
    """``step_size * decay_rate ** (i / decay_steps)``."""
    return lambda i: step_size * decay_rate ** (i / decay_steps)


def inverse_time_decay(step_size, decay_steps, decay_rate, staircase=False):
    """``step_size / (1 + decay_rate * i / decay_steps)`` (the ratio floored if ``staircase``)."""
    if staircase:
        return lambda i: step_size / (1 + decay_rate * fnp.floor(i / decay_steps))
    return lambda i: step_size / (1 + decay_rate * i / decay_steps)


def polynomial_decay(step_size, decay_steps, final_step_size, power=1.0):
    """From ``step_size`` to ``final_step_size`` over ``decay_steps`` along ``(1 - t) ** power``."""

    def schedule(i):
        frac = 1 - fnp.minimum(i, decay_steps) / decay_steps
        return frac ** power * (step_size - final_step_size) + final_step_size

    return schedule


def piecewise_constant(boundaries, values):
    """``values[k]`` for iterations past ``k`` of the ``boundaries``."""
    boundaries, values = fnp.asarray(boundaries), fnp.asarray(values)
    if boundaries.ndim != 1 or values.ndim != 1 or len(values) != len(boundaries) + 1:
        raise ArgumentError(f"piecewise_constant: values must be one longer than boundaries (both 1-d), "
                            f"got shapes {boundaries.shape} and {values.shape}.")
    return lambda i: values[fnp.sum(i > boundaries)]


def make_schedule(scalar_or_schedule):
    """A schedule from a number (constant) or a schedule."""
    if callable(scalar_or_schedule):
        return scalar_or_schedule
    if np.ndim(scalar_or_schedule) == 0:
        return constant(scalar_or_schedule)
    raise ArgumentError(f"step_size must be a number or a function of the iteration, got "
                        f"{type(scalar_or_schedule).__name__}.")


# --------------------------------------------------------------------------------------
# Utilities


def l2_norm(tree):
    """The l2 norm of all the leaves of ``tree`` together."""
    leaves, _ = tree_flatten(tree)
    return fnp.sqrt(sum(fnp.vdot(x, x) for x in leaves))


def clip_grads(grad_tree, max_norm):
    """``grad_tree`` scaled down to l2 norm ``max_norm`` where it is larger."""
    norm = l2_norm(grad_tree)
    return tree_map(lambda g: fnp.where(norm < max_norm, g, g * (max_norm / norm)), grad_tree)
