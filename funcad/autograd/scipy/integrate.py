"""``funcad.autograd.scipy.integrate``: funcad.scipy.integrate under autograd's module name."""

import importlib as _importlib

_mod = _importlib.import_module("funcad.scipy.integrate")
globals().update({k: v for k, v in vars(_mod).items() if not k.startswith("_")})


def __getattr__(name):
    return getattr(_mod, name)
