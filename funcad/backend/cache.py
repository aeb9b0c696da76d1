"""The disk cache of compiled programs.

Numba's ``cache=True`` does not work for exec-generated code, so each generated source is
written as a real module file, ``funcad_jit_<hash>.py``, in the cache directory and imported;
Numba then caches the machine code next to it (``__pycache__``), and a second process
calling the same function compiles nothing. The hash covers the source, funcad's version,
Numba's version, the text of backend/nbrt.py and backend/vecmath.py (their routines are
compiled into the programs), which BLAS it calls (nbrt.BLAS: the integer width is compiled
in) and which vector math (vecmath.ISA), so an upgrade or an edit there never loads stale code.

* Directory: ``$FUNCAD_CACHE_DIR``, else platformdirs' user cache directory for funcad,
  created with mode 0700. A directory or entry owned by another user is never loaded.
* Writes are atomic (a temporary file, then ``os.replace``): concurrent writers cannot
  leave a half-written module.
* A corrupt or truncated entry (a module whose text is not the expected source, or Numba
  cache files that fail to load) is detected, rebuilt, and reported with one warning.
* A directory that cannot be written (read-only, full, not a directory) is reported with one
  warning; programs are then compiled in memory only, for the rest of the process.
* The size is bounded: ``$FUNCAD_CACHE_MAX_BYTES`` (default 1 GiB); past it, the least
  recently used entries (by the module file's mtime, refreshed on every load) are evicted.
* ``python -m funcad cache info|clear`` shows or empties it (:func:`info`, :func:`clear`).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import sys
import tempfile
import traceback
import types
import warnings
from pathlib import Path

from .._version import __version__ as FUNCAD_VERSION


class CacheWarning(UserWarning):
    """A cache entry could not be used and was rebuilt (or the cache directory is unusable)."""


_dir: Path | None = None
_dir_env: str | None = None
_loaded: dict[str, object] = {}  # module name -> the compiled dispatcher
stats = {"disk_hits": 0, "writes": 0, "rebuilt": 0, "evicted": 0, "memory_only": 0}
_unusable: set = set()  # FUNCAD_CACHE_DIR values whose directory could not be written
DEFAULT_MAX_BYTES = 1 << 30


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


_nbrt_digest = None


def _nbrt_hash() -> str:
    """A hash of backend/nbrt.py, vecmath.py and loopir.py: the code they write is linked
    into every program's cached machine code, so a change there (in development, without a
    version bump) must not load programs holding the old code."""
    global _nbrt_digest
    if _nbrt_digest is None:
        here = Path(__file__)
        _nbrt_digest = hashlib.sha256(b"".join(
            here.with_name(f).read_bytes() for f in ("nbrt.py", "vecmath.py", "loopir.py"))).hexdigest()
    return _nbrt_digest


def module_name(source: str) -> str:
    import numba

    from . import nbrt, vecmath  # which BLAS (its integer width is compiled into the program)
    # and which vector math (or none)

    text = (f"{source}\0{FUNCAD_VERSION}\0{numba.__version__}\0{_nbrt_hash()}\0{nbrt.BLAS}"
            f"\0{vecmath.ISA}")
    h = hashlib.sha256(text.encode()).hexdigest()
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
                _touch_numba_files(path)  # least recently used = oldest mtime
                for f in _numba_files(path):
                    if not _owned(f):
                        f.unlink()
                if _holds_foreign_code(path):
                    warnings.warn(f"funcad: the compiled cache of {path.stem} holds another program's "
                                  "machine code; recompiling it.", CacheWarning, stacklevel=4)
                    stats["rebuilt"] += 1
                    _purge_numba_files(path)
                return
            warnings.warn(f"funcad: cache entry {path.name} is corrupt or truncated; rebuilding "
                          "it.", CacheWarning, stacklevel=4)
            stats["rebuilt"] += 1
            _purge_numba_files(path)
    _atomic_write(path, source)


_MODULE_NAME = re.compile(rb"funcad_jit_[0-9a-f]{32}")


def _holds_foreign_code(path: Path) -> bool:
    """Whether a Numba code file of this entry was compiled from another module: Numba
    trusts an .nbc whose index matches, so a file copied over from another entry (same
    signature) would run the other program. Its symbols name the module they came from."""
    mine = path.stem.encode()
    for f in _numba_files(path):
        if f.suffix == ".nbc":
            try:
                names = set(_MODULE_NAME.findall(f.read_bytes()))
            except OSError:
                continue
            if names - {mine}:
                return True
    return False


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
    env = os.environ.get("FUNCAD_CACHE_DIR") or None
    if env not in _unusable:
        try:
            path = cache_dir() / f"{name}.py"
            writes = stats["writes"]
            _ensure_module_file(path, source)
            if stats["writes"] != writes:
                evict(keep=path)
        except OSError as e:
            _unusable.add(env)
            warnings.warn(f"funcad: the jit cache directory ({env or 'the user cache directory'}) "
                          f"cannot be written ({type(e).__name__}: {e}); compiled programs are kept "
                          "in memory only for the rest of this process. Set FUNCAD_CACHE_DIR to a "
                          "writable directory to cache them on disk.", CacheWarning, stacklevel=3)
    if env in _unusable:
        stats["memory_only"] += 1
        fn = _loaded[name] = InMemory(name, source)
    else:
        fn = _loaded[name] = Compiled(name, path)
    return fn


def _touch_numba_files(path: Path) -> None:
    """Mark an entry as used, for eviction. Never touch the module file itself: Numba's
    cache index records the source file's mtime and would treat the entry as stale."""
    for f in _numba_files(path):
        try:
            os.utime(f)
        except OSError:  # a read-only directory: the entry is still usable
            pass


# --------------------------------------------------------------------------------------
# Size bound (least recently used eviction) and the CLI helpers


def max_bytes() -> int:
    """The cache's size bound: ``$FUNCAD_CACHE_MAX_BYTES`` (``0`` or less: unbounded)."""
    try:
        return int(float(os.environ.get("FUNCAD_CACHE_MAX_BYTES", DEFAULT_MAX_BYTES)))
    except ValueError:
        return DEFAULT_MAX_BYTES


def _entries(path: Path) -> list[tuple[float, int, Path, list[Path]]]:
    """``(mtime, bytes, module file, Numba files)`` of every entry, oldest first."""
    # Numba's files of every entry from ONE listing of __pycache__ (a glob per entry read
    # the whole directory each time: quadratic, ~1 s per new program at 2,500 entries).
    numba_files: dict[str, list[Path]] = {}
    pyc = path / "__pycache__"
    if pyc.is_dir():
        for f in pyc.iterdir():
            numba_files.setdefault(f.name.split(".", 1)[0], []).append(f)
    out = []
    for py in path.glob("funcad_jit_*.py"):
        try:
            files = numba_files.get(py.stem, [])
            stats_ = [py.stat(), *(f.stat() for f in files)]
            out.append((max(st.st_mtime for st in stats_), sum(st.st_size for st in stats_), py, files))
        except OSError:  # removed meanwhile by another process
            continue
    return sorted(out, key=lambda e: e[0])


def evict(keep: Path | None = None) -> int:
    """Remove least recently used entries until the cache fits :func:`max_bytes`."""
    limit = max_bytes()
    if limit <= 0:
        return 0
    entries = _entries(cache_dir())
    total, removed = sum(e[1] for e in entries), 0
    for _, size, py, files in entries:
        if total <= limit:
            break
        if py == keep:
            continue
        for f in [py, *files]:
            try:
                f.unlink()
            except OSError:
                pass
        total -= size
        removed += 1
    stats["evicted"] += removed
    return removed


def info() -> dict:
    """The cache's directory, entry count, size in bytes and bound."""
    path = cache_dir()
    entries = _entries(path)
    return {"directory": str(path), "entries": len(entries), "bytes": sum(e[1] for e in entries),
            "max_bytes": max_bytes(), "numba": _numba_version()}


def clear() -> int:
    """Remove every entry (module files and Numba's files); returns how many."""
    path = cache_dir()
    entries = _entries(path)
    for _, _, py, files in entries:
        for f in [py, *files]:
            try:
                f.unlink()
            except OSError:
                pass
    for tmp in path.glob(".funcad_jit_*.tmp"):  # left by a writer that was killed
        try:
            tmp.unlink()
        except OSError:
            pass
    _loaded.clear()
    return len(entries)


def _numba_version() -> str:
    import numba

    return numba.__version__


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


class InMemory(Compiled):
    """A program compiled without a disk cache (the cache directory is unusable)."""

    __slots__ = ()

    def __init__(self, name, source):
        self.name, self.path = name, None
        module = types.ModuleType(name)
        module.__file__ = f"<funcad {name}>"
        sys.modules[name] = module
        # Numba cannot cache code without a file (cache=True would fail at decoration).
        exec(compile(source.replace("cache=True", "cache=False"), module.__file__, "exec"), module.__dict__)
        self.fn = module.program

    def first_call(self, *args):
        return self.fn(*args)
