"""``funcad.autograd.scipy``: funcad.scipy under autograd's module names (``special``,
``stats`` and its distributions as modules, ``linalg``, ``signal``, ``integrate`` where
funcad.scipy has them)."""

from . import linalg, special, stats  # noqa: F401


def __getattr__(name):
    import importlib

    try:
        return importlib.import_module(f"funcad.autograd.scipy.{name}")
    except ImportError:
        raise AttributeError(f"funcad.autograd.scipy has no {name!r}: funcad.scipy does not "
                             "provide it yet.") from None
