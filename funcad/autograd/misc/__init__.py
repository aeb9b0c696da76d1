"""``funcad.autograd.misc``: ``flatten``, ``optimizers`` and ``fixed_points`` with autograd's
signatures."""

from . import fixed_points, optimizers  # noqa: F401
from .flatten import flatten, flatten_func  # noqa: F401
