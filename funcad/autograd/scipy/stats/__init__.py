"""``funcad.autograd.scipy.stats``: each distribution as a module (``import
funcad.autograd.scipy.stats.norm as norm``), delegating to funcad.scipy.stats."""

from . import multivariate_normal, norm  # noqa: F401


def __getattr__(name):
    import importlib

    try:
        return importlib.import_module(f"funcad.autograd.scipy.stats.{name}")
    except ImportError:
        raise AttributeError(f"funcad.autograd.scipy.stats has no {name!r}") from None
