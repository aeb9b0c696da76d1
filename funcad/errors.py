"""funcad's exceptions: one class per failure mode.

Every error funcad raises on bad input derives from :class:`FuncadError` and from the
built-in exception a NumPy user would expect (``ValueError`` for shapes, ``TypeError`` for
dtypes and types), so ``except ValueError`` keeps working in ported code.
"""

from __future__ import annotations


class FuncadError(Exception):
    """Base class of every error funcad raises on purpose."""


class ShapeError(FuncadError, ValueError):
    """Operands whose shapes do not fit the operation (broadcasting, matmul, reshape...)."""


class DTypeError(FuncadError, TypeError):
    """An operand of a dtype the operation or transformation does not accept."""


class NonScalarOutputError(FuncadError, TypeError):
    """``grad`` of a function whose output is not a scalar."""


class UnexpectedTracerError(FuncadError, RuntimeError):
    """A traced value used after the transformation that made it has finished."""


class ConcretizationError(FuncadError, TypeError):
    """A traced value whose concrete value is needed (``if x > 0`` under ``jit``)."""


class TracerArrayConversionError(ConcretizationError):
    """A traced value handed to plain NumPy (``np.asarray(tracer)``, ``np.float64(tracer)``):
    a conversion to a concrete value, so also a :class:`ConcretizationError`."""


class UnsupportedFunctionError(FuncadError, TypeError):
    """A NumPy function that funcad does not (yet) support, called on a traced value; or a
    program jit's compiler does not cover."""


class ArgumentError(FuncadError, ValueError):
    """A bad argument to a transformation: argnums, in_axes, static_argnums, pytrees..."""


class FFTArgumentError(ArgumentError):
    """A bad argument to a Fourier transform: ``norm`` other than "backward", "ortho" or
    "forward", a transform length below 1, ``s`` and ``axes`` of different lengths."""


class TreeStructureError(FuncadError, ValueError):
    """Two pytrees that must share a structure do not (e.g. a cotangent given to vjp_fn)."""


class BatchingError(FuncadError, ValueError):
    """Inconsistent vmap batch sizes or axes."""


class HolomorphicError(DTypeError):
    """Complex values where a derivative needs ``holomorphic=True`` (grad of a complex output,
    jacfwd of a complex input), or ``holomorphic=True`` with real inputs or outputs (as JAX)."""


class NonScalarObjectiveError(NonScalarOutputError):
    """An objective handed to ``funcad.optimize`` that does not return a scalar."""


class IntegerParameterError(DTypeError):
    """Parameters to optimize (``x0``) with an integer or boolean leaf: they cannot move."""


class NonFiniteError(FuncadError, FloatingPointError):
    """NaN or inf in an optimizer's objective, gradient or Hessian; says at which iteration.

    ``err.iteration`` is that iteration and ``err.result`` the optimizer's result up to it.
    """

    def __init__(self, message: str, iteration: int | None = None, result=None):
        super().__init__(message)
        self.iteration = iteration
        self.result = result


class BranchTypeError(FuncadError, TypeError):
    """Branches of ``lax.cond``/``lax.switch`` that return different structures, shapes or dtypes."""


class CarryTypeError(FuncadError, TypeError):
    """A loop body (``while_loop``, ``fori_loop``, ``scan``) whose carry changes type."""


class CallbackDerivativeError(FuncadError, TypeError):
    """A derivative asked of ``pure_callback``, which runs code funcad cannot see into."""


class CallbackResultError(FuncadError, ValueError):
    """A ``pure_callback`` function returned results unlike its ``result_shape_dtypes``."""


class NonlinearTangentError(FuncadError, TypeError):
    """Reverse mode met an operation applied non-linearly to a tangent (a ``custom_jvp`` rule
    that clips, squares... its tangents): it has no transpose. JAX raises NotImplementedError."""


class NotCallableError(FuncadError, TypeError):
    """A branch or loop body that is not callable."""


class NaNError(FuncadError, FloatingPointError):
    """``config.update("debug_nans", True)``: a primitive produced a NaN (or an inf, with
    ``debug_infs``). ``err.primitive`` names it, ``err.phase`` is "forward" or "backward", and
    ``err.source`` is the user's source line ("file:line") that the operation came from."""

    def __init__(self, message: str, primitive: str = "", phase: str = "", source: str = ""):
        super().__init__(message)
        self.primitive, self.phase, self.source = primitive, phase, source


class ProgramTooLargeError(FuncadError, ValueError):
    """A program too large for jit to compile in reasonable time (``FUNCAD_JIT_MAX_EQNS``)."""


class UnknownBackendError(FuncadError, ValueError):
    """``FUNCAD_JIT_BACKEND`` names no jit backend (``table``, the default and only one)."""


class UnsupportedPythonError(FuncadError, RuntimeError):
    """jit on a Python whose object layout its native entry cannot read (a free-threaded build)."""


class IntegerOutOfBoundsError(FuncadError, OverflowError):
    """A Python integer that does not fit the dtype of the array it is combined with
    (``int8_array + 300``, ``int64_array + 2**63``): NumPy raises OverflowError, so does funcad,
    eagerly and under jit."""


class ArraySubclassError(FuncadError, TypeError):
    """An ndarray subclass whose meaning funcad would drop: a masked array (its mask), a
    ``numpy.matrix`` (its ``*``), or one with its own ``__array_ufunc__``/``__array_function__``."""


class PrimitiveShapeError(ConcretizationError):
    """An autograd ``primitive`` under jit whose result's shape funcad could not learn (it
    failed on stand-in arguments): use ``pure_callback``, which states it."""
