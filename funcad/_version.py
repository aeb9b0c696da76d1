"""funcad's version, in a module of its own so that any module can import it without
importing the package (the jit's disk cache keys programs by it)."""

__version__ = "0.1.0"
