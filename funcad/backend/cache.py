"""The disk cache of compiled programs.

Numba's ``cache=True`` does not work for exec-generated code, so each generated source is
written as a real module file, ``funcad_jit_<hash>.py``, in the cache directory and imported;
Numba then caches the machine code next to it (``__pycache__``), and a second process
calling the same function compiles nothing. The hash covers the source, funcad's version
and Numba's version, so an upgrade never loads stale code.

* Directory: ``$FUNCAD_CACHE_DIR``, else platformdirs' user cache directory for funcad,
  created with mode 0700. A directory or entry owned by another user is never loaded.
* Writes are atomic (a temporary file, then ``os.replace``): concurrent writers cannot
  leave a half-written module.
* A corrupt or truncated entry (a module whose text is not the expected source, or Numba
  cache files that fail to load) is detected, rebuilt, and reported with one warning.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile
import traceback
import warnings
from pathlib import Path

from .. import __version__ as FUNCAD_VERSION


class CacheWarning(UserWarning):
    """A cache entry could not be used and was rebuilt (or the cache directory is unusable)."""


_dir: Path | None = None
_dir_env: str | None = None
_loaded: dict[str, object] = {}  # module name -> the compiled dispatcher
stats = {"disk_hits": 0, "writes": 0, "rebuilt": 0}


def cache_dir() -> Path:
    """The directory generated modules live in (created with mode 0700 on first use)."""
    global _dir, _dir_env
    env = os.environ.get("FUNCAD_CACHE_DIR") or None
    if _dir is not None and env == _dir_env:
        return _dir
    if env:
        path = Path(env)
    else:
        import platformdirs

        path = Path(platformdirs.user_cache_dir("funcad")) / "jit"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    st = path.stat()
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        warnings.warn(f"funcad: the cache directory {path} belongs to another user; compiled "
                      "programs go to a private temporary directory instead.", CacheWarning,
                      stacklevel=3)
        path = Path(tempfile.mkdtemp(prefix="funcad-jit-"))
    elif st.st_mode & 0o077 and not env:
        os.chmod(path, 0o700)
    _dir, _dir_env = path, env
    return path


def module_name(source: str) -> str:
    import numba

    h = hashlib.sha256(f"{source}\0{FUNCAD_VERSION}\0{numba.__version__}".encode()).hexdigest()
    return f"funcad_jit_{h[:32]}"


def _owned(path: Path) -> bool:
    return not hasattr(os, "getuid") or path.stat().st_uid == os.getuid()


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    stats["writes"] += 1


def _numba_files(path: Path):
    pyc = path.parent / "__pycache__"
    return list(pyc.glob(f"{path.stem}.*")) if pyc.is_dir() else []


def _ensure_module_file(path: Path, source: str) -> None:
    if path.exists():
        if not _owned(path):
            warnings.warn(f"funcad: cache entry {path.name} belongs to another user; not loading "
                          "it, writing a fresh one.", CacheWarning, stacklevel=4)
            path.unlink()
            _purge_numba_files(path)
        else:
            try:
                ok = path.read_text(encoding="utf-8") == source
            except (OSError, UnicodeDecodeError):
                ok = False
            if ok:
                stats["disk_hits"] += 1
                for f in _numba_files(path):
                    if not _owned(f):
                        f.unlink()
                return
            warnings.warn(f"funcad: cache entry {path.name} is corrupt or truncated; rebuilding "
                          "it.", CacheWarning, stacklevel=4)
            stats["rebuilt"] += 1
            _purge_numba_files(path)
    _atomic_write(path, source)


def _purge_numba_files(path: Path) -> None:
    for f in _numba_files(path):
        try:
            f.unlink()
        except OSError:
            pass


def _import(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # Numba's cache locator needs a real, importable __name__
    spec.loader.exec_module(module)
    return module.program


def load(source: str):
    """The compiled dispatcher for ``source``: from memory, from disk, or freshly written."""
    name = module_name(source)
    fn = _loaded.get(name)
    if fn is not None:
        return fn
    path = cache_dir() / f"{name}.py"
    _ensure_module_file(path, source)
    fn = _loaded[name] = Compiled(name, path)
    return fn


def is_numba_cache_error(e: BaseException) -> bool:
    """Whether ``e`` was raised while Numba loaded its cache files (a corrupt entry)."""
    return any("numba/core/caching.py" in fr.filename.replace("\\", "/")
               for fr in traceback.extract_tb(e.__traceback__))


class Compiled:
    """A program module: ``fn`` is its Numba dispatcher; use ``first_call`` for the first call,
    which rebuilds a corrupt Numba cache entry instead of failing."""

    __slots__ = ("name", "path", "fn")

    def __init__(self, name, path):
        self.name, self.path = name, path
        self.fn = _import(name, path)

    def first_call(self, *args):
        try:
            return self.fn(*args)
        except Exception as e:
            if not is_numba_cache_error(e):
                raise
            warnings.warn(f"funcad: the compiled cache of {self.name} is corrupt ({type(e).__name__}); "
                          "recompiling it.", CacheWarning, stacklevel=3)
            stats["rebuilt"] += 1
            _purge_numba_files(self.path)
            self.fn = _import(self.name, self.path)
            return self.fn(*args)
