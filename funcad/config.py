"""Global settings: ``fa.config.update(name, value)``.

``debug_nans`` (and ``debug_infs``): raise :class:`funcad.errors.NaNError` at the first
primitive that produces a NaN (an inf), in the forward or the backward pass, naming the
primitive and the user's source line. Eagerly every primitive's output is checked as it is
computed; under ``jit`` the compiled program's outputs are checked and, if one holds a NaN,
the program is run again op by op (eagerly) to find the operation, as JAX does. Off by
default: it costs a check per operation. The environment variables ``FUNCAD_DEBUG_NANS=1``
and ``FUNCAD_DEBUG_INFS=1`` turn them on at import.

>>> import funcad as fa, funcad.numpy as fnp
>>> fa.config.update("debug_nans", True)
>>> try:
...     fa.grad(lambda x: fnp.sum(fnp.sqrt(x)))(fnp.array([1.0, -1.0]))
... except fa.errors.NaNError as e:
...     print(e.primitive, e.phase)
sqrt forward
>>> fa.config.update("debug_nans", False)

JAX's first lines are accepted: ``enable_x64`` (funcad computes in float64 already, and
Python floats are float64 whatever the setting: turning it off does not switch to float32),
``platform_name``/``platforms`` (``"cpu"``, the only one), and ``disable_jit`` (jitted
functions then run eagerly, op by op, as ``jax.disable_jit`` does).

>>> fa.config.update("jax_enable_x64", True)
>>> fa.config.jax_enable_x64
True

jit's memory: ``jit_cache_size`` (how many compiled programs jit's dispatch keeps memoized
beside each jitted function's own cache, default 128; the least recently used is forgotten),
also read from the environment (``FUNCAD_JIT_CACHE_SIZE``).

>>> fa.config.jit_cache_size
128

How the source line is found: the first Python frame outside funcad on the stack when the
primitive runs. An equation recorded into a jaxpr (by grad's linearization, jit, vmap of a
jaxpr...) remembers that line while debugging is on, so the backward pass and jit's
op-by-op rerun name the line the operation was written on.
"""

from __future__ import annotations

import linecache
import os
import sys

import numpy as np

from . import core
from .errors import ArgumentError, NaNError

_FUNCAD_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_MAX_SOURCES = 200_000


class Config:
    """funcad's settings; read them as attributes, change them with :meth:`update`."""

    _OPTIONS = ("debug_nans", "debug_infs", "enable_x64", "disable_jit", "platform_name",
                "platforms")

    def __init__(self):
        self.debug_nans = os.environ.get("FUNCAD_DEBUG_NANS", "") not in ("", "0")
        self.debug_infs = os.environ.get("FUNCAD_DEBUG_INFS", "") not in ("", "0")
        self.enable_x64 = True
        self.disable_jit = False
        self.platform_name = self.platforms = "cpu"
        self._install()

    def __getattr__(self, name):  # JAX's spellings: config.jax_enable_x64, config.x64_enabled
        if name in _JIT_OPTIONS:
            return _JIT_OPTIONS[name][1]()
        if name.startswith("jax_") and name[4:] in self._OPTIONS:
            return getattr(self, name[4:])
        if name == "x64_enabled":
            return True
        raise AttributeError(f"funcad.config has no option {name!r}")

    def update(self, name: str, value) -> None:
        """Set the option ``name`` (JAX's spelling, ``jax_debug_nans``, is accepted too).

        >>> import funcad as fa
        >>> fa.config.update("debug_nans", False)
        """
        key = name[4:] if name.startswith("jax_") else name
        if key in _JIT_OPTIONS:
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise ArgumentError(f"funcad.config: {name} takes an integer, not {value!r}.")
            os.environ[_JIT_OPTIONS[key][0]] = str(int(value))
            return
        if key not in self._OPTIONS:
            raise ArgumentError(f"funcad.config: unknown option {name!r}; options: "
                                f"{', '.join(self._OPTIONS + tuple(_JIT_OPTIONS))}.")
        if key in ("platform_name", "platforms"):
            if str(value).lower() not in ("cpu", ""):
                raise ArgumentError(f"funcad.config: {name}={value!r}: funcad runs on the CPU only "
                                    "(use \"cpu\").")
            setattr(self, key, "cpu")
            return
        setattr(self, key, bool(value))
        self._install()

    def _install(self) -> None:
        on = self.debug_nans or self.debug_infs
        core.debug_hooks.eval = _check_output if on else None
        core.debug_hooks.stage = _record_source if on else None
        if not on:
            _sources.clear()

    def __repr__(self):
        return "funcad.config(" + ", ".join(f"{k}={getattr(self, k)!r}" for k in self._OPTIONS) + ")"


def _cache_size():
    from .backend import cache

    return cache.max_programs()


# Integer settings of jit's memory, kept in the environment (read by funcad/backend/): how
# many compiled programs dispatch keeps memoized (cache.max_programs).
_JIT_OPTIONS = {"jit_cache_size": ("FUNCAD_JIT_CACHE_SIZE", _cache_size)}


class disable_jit:
    """``with fa.disable_jit():`` runs jitted functions eagerly inside the block (JAX's name).

    >>> import funcad as fa
    >>> with fa.disable_jit():
    ...     print(fa.jit(lambda x: float(x) + 1)(1.0))   # float() of a concrete value
    2.0
    """

    def __init__(self, disable: bool = True):
        self.disable = disable

    def __enter__(self):
        self.prev, config.disable_jit = config.disable_jit, self.disable

    def __exit__(self, *exc):
        config.disable_jit = self.prev


# --------------------------------------------------------------------------------------
# Where an operation comes from

_sources: dict = {}  # first output Var of a recorded equation -> (phase, "file:line", code, of)


def _record_source(eqn) -> None:
    if eqn.outputs:
        if len(_sources) >= _MAX_SOURCES:
            del _sources[next(iter(_sources))]
        _sources[eqn.outputs[0]] = _find_source(sys._getframe(1))


def _find_source(frame):
    """``(phase, "file:line", code, of)`` of the innermost user-written operation on the
    stack; in the backward pass ``of`` names the primitive whose derivative is running."""
    from . import ad, jaxpr

    while frame is not None:
        code = frame.f_code
        if code is jaxpr.eval_jaxpr.__code__:  # an equation of a jaxpr being evaluated
            eqn = frame.f_locals.get("eqn")
            if eqn is not None and eqn.outputs and eqn.outputs[0] in _sources:
                return _sources[eqn.outputs[0]]
        elif code is ad.backward_pass.__code__:  # transposing an equation: its forward line
            eqn = frame.f_locals.get("eqn")
            if eqn is not None and eqn.outputs:
                _, where, text, _ = _sources.get(eqn.outputs[0], ("", "", "", ""))
                return ("backward", where, text, eqn.prim.name)
        elif not code.co_filename.startswith(_FUNCAD_DIR):
            text = linecache.getline(code.co_filename, frame.f_lineno).strip()
            return ("forward", f"{code.co_filename}:{frame.f_lineno}", text, "")
        frame = frame.f_back
    return ("forward", "", "", "")


# --------------------------------------------------------------------------------------
# The check


def _bad(x, nans: bool, infs: bool) -> bool:
    if isinstance(x, (list, tuple)):
        return any(_bad(y, nans, infs) for y in x)
    if isinstance(x, float):
        return (nans and x != x) or (infs and x in (float("inf"), float("-inf")))
    if isinstance(x, np.ndarray | np.generic) and x.dtype.kind in "fc":
        return bool((nans and np.isnan(x).any()) or (infs and np.isinf(x).any()))
    return False


def _check_output(prim, args, params, out) -> None:
    cfg = config
    if not _bad(out, cfg.debug_nans, cfg.debug_infs):
        return
    from .jaxpr import jit_p

    what = "NaN" if cfg.debug_nans and _bad(out, True, False) else "inf"
    if prim is jit_p:
        _rerun_op_by_op(params, args, what)
    phase, where, text, of = _find_source(sys._getframe(1))
    came_in = _bad(list(args), cfg.debug_nans, cfg.debug_infs)
    avals = ", ".join(core.get_aval(a).str_short() for a in args)
    during = f" (in the derivative of {of}, reverse mode)" if of else ""
    lines = [f"debug_{'nans' if what == 'NaN' else 'infs'}: the primitive {prim.name}{during} "
             f"produced {what} in the {phase} pass" + (f", at {where}" if where else "") + "."]
    if text:
        lines.append(f"    {text}")
    lines.append(f"Its inputs: {avals}; " + (
        f"they already held {what}: it came in from outside (the function's arguments, or an "
        "earlier operation not checked)." if came_in else
        f"they held no {what}: this operation created it (check its domain: log or sqrt of a "
        "negative number, 0/0, inf - inf...)."))
    if phase == "backward":
        lines.append(f"The line above is where the {of} was written; its derivative, computed by "
                     "grad/vjp, is what produced the value (a derivative that is infinite there, "
                     "such as sqrt's at 0, times zero gives NaN).")
    lines.append('Turn this check off with funcad.config.update("debug_nans", False).')
    raise NaNError("\n".join(lines), prim.name, phase, where)


def _rerun_op_by_op(params, args, what) -> None:
    """A compiled program produced a NaN: run its jaxpr eagerly so the check finds the op."""
    from .jaxpr import eval_jaxpr

    with core.set_current_trace(core.EvalTrace(None)):
        eval_jaxpr(params["jaxpr"], [], *args)  # raises NaNError at the first bad op
    raise NaNError(
        f"debug_nans: the compiled program {params['name']} produced {what}, but running it op "
        "by op did not: the compiled and eager results differ here, which is a funcad bug; "
        "please report it with this program.", "jit", "forward", "")


config = Config()
