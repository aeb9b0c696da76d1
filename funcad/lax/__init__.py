"""funcad.lax: the primitives, one module per family, each primitive's rules side by side.

The public functions here take already-promoted operands (funcad.numpy does NumPy's
promotion and argument checks, then calls these).
"""

from .elementwise import *  # noqa: F401,F403
from .elementwise import ELEMENTWISE, abs, max, min, pow, round  # noqa: F401
from .linalg import einsum, matmul  # noqa: F401
from .reductions import reduce_max, reduce_min, reduce_prod, reduce_sum  # noqa: F401
from .shapes import broadcast_to, concatenate, full, index, reshape, transpose  # noqa: F401
from .cumulative import cumprod, cumsum, linear_recurrence  # noqa: F401
from .sorting import argmax, argmin, argsort, sort, take_along_axis  # noqa: F401
from .special import digamma, erf, erfc, fmod, gammaln, log_ndtr, mod, polygamma  # noqa: F401
from .scatter import index_set  # noqa: F401
from . import decompositions  # noqa: F401
from .fft import FftType, fft  # noqa: F401  (funcad.lax.fft is the function, as jax.lax.fft)
from .control import cond, fori_loop, map, scan, switch, while_loop  # noqa: F401,E402
from . import jax_api  # noqa: E402  (jax.lax's names built from the primitives above)
from .jax_api import *  # noqa: F401,F403,E402
from .convolution import *  # noqa: F401,F403,E402  (conv_general_dilated and its wrappers)
from .windowed_reductions import *  # noqa: F401,F403,E402  (reduce_window)

import sys as _sys  # noqa: E402

from .. import ad as _ad  # noqa: E402
from .. import batching as _batching  # noqa: E402

_ad.lax = _batching.lax = _sys.modules[__name__]  # their helpers use lax's operations (see ad.py)
from ..collectives import all_gather, axis_index, pmax, pmean, pmin, psum  # noqa: F401,E402
