"""funcad: composable function transformations (grad, jvp, vjp, vmap, jit...) for NumPy code.

>>> import funcad as fa, funcad.numpy as fnp
>>> float(fa.grad(lambda x: fnp.sum(fnp.tanh(x)))(0.0))
1.0
"""

from __future__ import annotations

from ._version import __version__  # noqa: F401

from . import _malloc

_malloc.configure()  # opt-in (FUNCAD_MALLOC_TUNING=1): keep freed array memory (funcad/_malloc.py)
from . import errors, lax, tree, tree_util  # noqa: F401
from .config import config, disable_jit  # noqa: F401,E402  (fa.config.update("debug_nans", True))
from . import numpy  # noqa: F401  (installs the tracer operators)
from .api import (  # noqa: F401
    Array,
    ShapeDtypeStruct,
    block_until_ready,
    default_backend,
    device_count,
    device_get,
    device_put,
    devices,
    local_device_count,
    local_devices,
    eval_shape,
    linear_transpose,
    elementwise_grad,
    grad,
    jacfwd,
    jacobian,
    jacrev,
    jvp,
    linearize,
    make_jaxpr,
    value_and_grad,
    vjp,
)
from .lax.elementwise import stop_gradient  # noqa: F401
from .lax.jax_api import closure_convert  # noqa: F401,E402
from .jit import jit  # noqa: F401,E402  (llvmlite loads on the first compile)
from .batching import vmap  # noqa: F401,E402
from . import nn  # noqa: F401,E402
from . import random  # noqa: F401,E402  (jax.random: keys, split, normal...)
from .custom_derivatives import (  # noqa: F401,E402
    checkpoint,
    checkpoint_name,
    checkpoint_policies,
    custom_jvp,
    custom_vjp,
    remat,
)
from .callback import pure_callback  # noqa: F401,E402
from .second_order import hessian, hvp, value_grad_hessian  # noqa: F401,E402
from .sparsity import hessian_sparsity, jacobian_sparsity  # noqa: F401,E402
from .sparse_ad import sparse_hessian, sparse_jacobian  # noqa: F401,E402
from . import coloring  # noqa: F401,E402
from . import optimize  # noqa: F401,E402  (newton, newton_cg, minimize)
from . import viz  # noqa: F401,E402  (computation-graph pictures)
from . import scipy  # noqa: F401,E402  (fa.scipy.special, .linalg, .stats)
from . import flatten_util  # noqa: F401,E402
from . import debug  # noqa: F401,E402  (fa.debug.print)
from .tree_util import Partial  # noqa: F401,E402  (jax.tree_util.Partial)

egrad = elementwise_grad
