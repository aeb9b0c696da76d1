"""funcad's disk cache of Numba's machine code: where Numba's files go and how they are read.

:class:`KernelCache` serves funcad's own Numba kernels (coloring's and optimize's: jit itself
uses no Numba), instead of Numba's ``cache=True``: it does not ``refresh()`` Numba's target
context before loading (that refresh imports and installs every Numba lowering registry,
~0.3-0.5 s, which code loaded from cache never uses; a later compilation still refreshes it
as usual), only initialises Numba's runtime (NRT), whose symbols loaded code needs. Its
files go to ``__pycache__`` in funcad's cache directory only, and each is checked against the
digest funcad recorded when it wrote it before it is unpickled (:class:`_CheckedFile`,
cache.read_checked; docs/architecture.md has the threat model). Numba internals used here:
``numba.core.caching``'s cache classes (a subclass of each, and ``dispatcher._cache`` replaced).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import pickle
import sys
import warnings

from numba.core.caching import CompileResultCacheImpl, FunctionCache, IndexDataCacheFile

from ._version import __version__
from .backend import cache


class _CheckedFile(IndexDataCacheFile):
    """Numba's index and data files, each read once, checked against the digest funcad
    recorded when it wrote the file (cache.read_checked), and only then unpickled. A file that
    fails the check is deleted (and rebuilt by the compilation that follows), with one warning."""

    warned = False

    def _read(self, path):
        try:
            return cache.read_checked(path)
        except cache.Untrusted as e:
            if not self.warned:
                self.warned = True
                warnings.warn(f"funcad: the compiled cache of {os.path.basename(path).split('.')[0]} "
                              f"is corrupt or not funcad's ({e}); not loading it, recompiling.",
                              cache.CacheWarning, stacklevel=2)
                cache.stats["rebuilt"] += 1
            cache.discard(path)
            return None

    def _load_index(self):
        data = self._read(self._index_path)
        if data is None:
            return {}
        f = io.BytesIO(data)
        if pickle.load(f) != self._version:
            return {}
        stamp, overloads = pickle.loads(f.read())
        return overloads if stamp == self._source_stamp else {}

    def _save_index(self, overloads):
        data = pickle.dumps(self._version, protocol=-1) + self._dump((self._source_stamp, overloads))
        cache.write_checked(self._index_path, data)

    def _load_data(self, name):
        data = self._read(self._data_path(name))
        if data is None:
            raise FileNotFoundError(name)  # Numba's load(): compile instead
        return pickle.loads(data)

    def _save_data(self, name, data):
        cache.write_checked(self._data_path(name), self._dump(data))


class _LoadCache(FunctionCache):
    """Numba's per-function cache without the target-context refresh before a load."""

    def load_overload(self, sig, target_context):
        from numba.core.runtime import rtsys

        rtsys.initialize(target_context)
        return self._load_overload(sig, target_context)

    def save_overload(self, sig, data):
        try:
            self._save_overload(sig, data)
        except OSError as e:  # a full disk, a read-only directory: the program still runs
            cache.unusable(e, stacklevel=6)


class _KernelImpl(CompileResultCacheImpl):
    def __init__(self, py_func):  # no locator: KernelCache finds its directory itself
        self._lineno = py_func.__code__.co_firstlineno
        modname = os.path.splitext(os.path.basename(py_func.__code__.co_filename))[0]
        qualname = py_func.__qualname__.replace("<locals>.", "")
        py = f"py{sys.version_info[0]}{sys.version_info[1]}"
        self._filename_base = f"funcad_kernel_{modname}.{qualname}.{py}"


class KernelCache(_LoadCache):
    """The disk cache of one of funcad's own Numba kernels (coloring's, optimize's):
    Numba's ``cache=True`` would write beside funcad's sources or into ``~/.cache/numba``;
    these files go to ``__pycache__`` in funcad's cache directory, named
    ``funcad_kernel_<module>.<function>...``, checked as programs' are, stamped with a hash of
    the defining file. The directory is looked up at each load and save (``FUNCAD_CACHE_DIR``
    may change); where it is unusable the kernel is compiled in each process.

    >>> kernel = KernelCache.attach(numba.njit(nogil=True)(some_function))  # doctest: +SKIP
    """

    def __init__(self, py_func):
        self._name, self._py_func = repr(py_func), py_func
        self._impl = _KernelImpl(py_func)
        with open(py_func.__code__.co_filename, "rb") as f:
            self._stamp = hashlib.sha256(f.read() + __version__.encode()).hexdigest()
        self._files = {}
        self.enable()

    @classmethod
    def attach(cls, dispatcher):
        dispatcher._cache = cls(dispatcher.py_func)
        return dispatcher

    @property
    def cache_path(self):
        f = self._file()
        return None if f is None else f._cache_path

    def _file(self):
        env = os.environ.get("FUNCAD_CACHE_DIR") or None
        if env in cache._unusable:
            return None
        try:
            path = str(cache.cache_dir() / "__pycache__")
        except OSError as e:
            cache.unusable(e, env, stacklevel=7)
            return None
        if path not in self._files:
            self._files[path] = _CheckedFile(path, self._impl.filename_base, self._stamp)
        return self._files[path]

    def _load_overload(self, sig, target_context):
        f = self._file() if self._enabled else None
        data = None if f is None else f.load(self._index_key(sig, target_context.codegen()))
        if data is None:
            return None
        with contextlib.suppress(OSError):  # used: the last the size bound evicts (cache.evict)
            os.utime(f._index_path)
        return self._impl.rebuild(target_context, data)

    def _save_overload(self, sig, data):
        f = self._file() if self._enabled else None
        if f is not None and self._impl.check_cachable(data):
            f.save(self._index_key(sig, data.codegen), self._impl.reduce(data))

    def _index_key(self, sig, codegen):
        # The bytecode, not also the closure's cells as Numba's key: Numba pickles those, and
        # a dispatcher's pickle holds a per-process id (a factory's kernels would never hit).
        code = hashlib.sha256(self._py_func.__code__.co_code).hexdigest()
        return (sig, codegen.magic_tuple(), code)
