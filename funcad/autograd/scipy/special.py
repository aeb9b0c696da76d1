"""``funcad.autograd.scipy.special``: funcad.scipy.special under autograd's module name."""

import importlib as _importlib

try:
    _mod = _importlib.import_module("funcad.scipy.special")
except ImportError as _e:
    raise ImportError("funcad.autograd.scipy.special: funcad has no funcad.scipy.special in this "
                      "version, so autograd.scipy.special has no counterpart yet.") from _e
globals().update({k: v for k, v in vars(_mod).items() if not k.startswith("_")})


def __getattr__(name):
    return getattr(_mod, name)
