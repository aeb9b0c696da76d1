"""``funcad.autograd.scipy.linalg``: funcad.scipy.linalg under autograd's module name."""

import importlib as _importlib

try:
    _mod = _importlib.import_module("funcad.scipy.linalg")
except ImportError as _e:
    raise ImportError("funcad.autograd.scipy.linalg: funcad has no funcad.scipy.linalg in this "
                      "version, so autograd.scipy.linalg has no counterpart yet.") from _e
globals().update({k: v for k, v in vars(_mod).items() if not k.startswith("_")})


def __getattr__(name):
    return getattr(_mod, name)
