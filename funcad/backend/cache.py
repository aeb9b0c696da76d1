"""The disk cache of compiled programs.

Numba's ``cache=True`` does not work for exec-generated code, so each generated source is
written as a real module file, ``funcad_jit_<hash>.py``, in the cache directory; Numba's
machine code for it goes to ``__pycache__`` beside it (through :class:`nbcache._LoadCache`), and
a second process calling the same function compiles nothing. The hash covers the source,
funcad's version, Numba's version, the text of backend/nbrt.py, vecmath.py and loopir.py
(their routines are compiled into the programs), which BLAS it calls (nbrt.BLAS: the integer
width is compiled in) and which vector math (vecmath.ISA), so an upgrade or an edit there
never loads stale code.

What is trusted (the threat model is in docs/architecture.md, "The disk cache's threat model"):

* Directory: ``$FUNCAD_CACHE_DIR``, else platformdirs' user cache directory for funcad. It and
  its ``__pycache__`` must belong to this user and be private: one that others can write is
  tightened to mode 0700 with one warning; one owned by another user, or a shared sticky
  directory such as /tmp itself, is refused with one warning (programs are then compiled in
  memory; no temporary directory is made).
* Nothing of an entry is executed or unpickled unless this user owns it and it is the exact
  file funcad wrote: the module is compared with the expected source and then compiled from
  that source in memory (no ``.pyc`` is ever read or written); each Numba index (``.nbi``) and
  code (``.nbc``) file is read once into memory, checked against the SHA-256 recorded in the
  entry's manifest (``__pycache__/funcad_jit_<hash>.sums``, written by this user, mode 0600,
  under a lock) when funcad wrote it, and only then unpickled. A file that fails is deleted and
  rebuilt, with one warning.
* Numba's own cache locations (``NUMBA_CACHE_DIR``, ``~/.cache/numba``) are never used: nothing
  is written outside the cache directory.
* Writes are atomic (a temporary file, then ``os.replace``): concurrent writers cannot
  leave a half-written file.
* A directory that cannot be written (read-only, full, not a directory) is reported with one
  warning; programs not already in it are then compiled in memory only. Entries already in a
  read-only directory are still loaded.
* The size is bounded: ``$FUNCAD_CACHE_MAX_BYTES`` (default 1 GiB); past it, the least
  recently used entries (by their files' mtime, refreshed on every load) are evicted.
* ``python -m funcad cache info|clear`` shows or empties it (:func:`info`, :func:`clear`).

In memory, at most ``$FUNCAD_JIT_CACHE_SIZE`` programs (default 128) are held; the least
recently used is released (:func:`release`) and loaded again from disk if it is called later.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import json
import os
import stat
import sys
import tempfile
import time
import traceback
import types
import warnings
from pathlib import Path

from .._version import __version__ as FUNCAD_VERSION
from . import compile_worker

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; concurrent writers may lose a manifest line
    fcntl = None


class CacheWarning(UserWarning):
    """A cache entry could not be used and was rebuilt (or the cache directory is unusable)."""


class _Refused(OSError):
    """The cache directory is not private to this user (its message says why)."""


_dir: Path | None = None
_dir_env: str | None = None
_loaded: dict[str, Compiled] = {}  # module name -> program, least recently used first
stats = {"disk_hits": 0, "writes": 0, "rebuilt": 0, "evicted": 0, "memory_only": 0,
         "released": 0}
_unusable: set = set()  # FUNCAD_CACHE_DIR values whose directory could not be written
DEFAULT_MAX_BYTES = 1 << 30
DEFAULT_MAX_PROGRAMS = 128


def _uid() -> int | None:
    return os.getuid() if hasattr(os, "getuid") else None


def _private_dir(path: Path) -> None:
    """Create ``path`` if needed and make sure only this user can write it (see the module
    docstring). Raises :class:`_Refused` for a directory owned by another user or a shared
    sticky one; tightens (with one warning) one that others can write."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    st = os.stat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise NotADirectoryError(20, "Not a directory", str(path))
    uid = _uid()
    if uid is None:
        return
    if st.st_uid != uid:
        raise _Refused(f"{path} belongs to another user (uid {st.st_uid}), who could replace "
                       "the code it holds")
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o022 and mode & stat.S_ISVTX:
        raise _Refused(f"{path} is a shared directory (mode {mode:o}: others can write it)")
    if mode & 0o077:
        try:
            os.chmod(path, 0o700)
        except OSError:
            if mode & 0o022:
                raise _Refused(f"{path} can be written by other users (mode {mode:o}) and its "
                               "mode cannot be changed") from None
            return  # readable by others only, on a read-only file system: harmless
        if mode & 0o022:
            warnings.warn(f"funcad: the jit cache directory {path} could be written by other "
                          f"users (mode {mode:o}); its mode is now 700. Files in it that another "
                          "user owns or that funcad did not write are never loaded.",
                          CacheWarning, stacklevel=5)


def cache_dir() -> Path:
    """The directory generated modules live in (private to this user: mode 0700)."""
    global _dir, _dir_env
    env = os.environ.get("FUNCAD_CACHE_DIR") or None
    if _dir is not None and env == _dir_env:
        return _dir
    if env:
        path = Path(env)
    else:
        import platformdirs

        path = Path(platformdirs.user_cache_dir("funcad")) / "jit"
    _private_dir(path)
    pyc = path / "__pycache__"
    try:
        _private_dir(pyc)
    except _Refused:  # planted by another user while the directory was open to them
        import shutil

        shutil.rmtree(pyc)
        _private_dir(pyc)
    except OSError:
        if not pyc.is_dir():  # a read-only pre-filled cache without Numba files: fine
            pass
    _dir, _dir_env = path, env
    return path


_LINKED = ("nbrt.py", "nbcache.py", "pocketfft.py", "vecmath.py", "loopir.py")


@functools.cache
def _nbrt_hash() -> str:
    """A hash of the backend modules whose code is linked into (or loads) every program's
    cached machine code, so a change there (in development, without a version bump) must not
    load programs holding the old code."""
    here = Path(__file__)
    return hashlib.sha256(b"".join(here.with_name(f).read_bytes() for f in _LINKED)).hexdigest()


class _NumbaConfigWithoutYaml:
    """An import hook, installed while :func:`import_numba` runs, that tells numba/core/config.py
    (and only it: the importing frame, the first outside importlib, is checked, so any other
    ``import yaml``, in another thread too, is untouched) that PyYAML is not installed."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if name != "yaml":
            return None
        frame = sys._getframe(1)
        while frame is not None and frame.f_code.co_filename.startswith("<frozen importlib"):
            frame = frame.f_back
        if frame is not None and frame.f_globals.get("__name__") == "numba.core.config":
            raise ModuleNotFoundError("yaml: imported when a Numba config file is read")
        return None


def _yaml_safe_load(stream):
    import yaml

    return yaml.safe_load(stream)


def import_numba():
    """Numba, imported for the first program of the process (``import funcad`` never does).

    Numba's config module imports PyYAML whenever it is installed (~27 ms of a ~180 ms import,
    on every first call), only to read a ``.numba_config.yaml`` in the working directory, which
    it looks for at each compilation. So Numba is imported without it, and then given a
    ``yaml.safe_load`` that imports PyYAML when such a file is actually read."""
    if ("numba" in sys.modules or "yaml" in sys.modules or os.path.isfile(".numba_config.yaml")
            or importlib.util.find_spec("yaml") is None):
        import numba

        return numba
    sys.meta_path.insert(0, _NumbaConfigWithoutYaml)
    try:
        import numba
        from numba.core import config
    finally:
        sys.meta_path.remove(_NumbaConfigWithoutYaml)
    if not getattr(config, "_HAVE_YAML", True):  # Numba 0.6x; tests/test_jit.py checks
        config.yaml, config._HAVE_YAML = types.SimpleNamespace(safe_load=_yaml_safe_load), True
    return numba


def module_name(source: str) -> str:
    numba = import_numba()
    from . import nbrt, vecmath  # which BLAS (its integer width is compiled into the program)
    # and which vector math (or none)

    text = (f"{source}\0{FUNCAD_VERSION}\0{numba.__version__}\0{_nbrt_hash()}\0{nbrt.BLAS}"
            f"\0{vecmath.ISA}")
    h = hashlib.sha256(text.encode()).hexdigest()
    return f"funcad_jit_{h[:32]}"


# --------------------------------------------------------------------------------------
# Reading only what this user wrote


class Untrusted(Exception):
    """A cache file that is not this user's, not a regular file, or not what funcad wrote."""


def read_own(path) -> bytes | None:
    """The bytes of ``path`` if this user owns it and it is a regular file (not a link);
    None if it does not exist; :class:`Untrusted` otherwise. Read through one descriptor, so
    what was checked is what is returned."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        return None
    except OSError as e:  # ELOOP: a symbolic link
        raise Untrusted(f"{Path(path).name} cannot be opened as a plain file ({e.strerror})") from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise Untrusted(f"{Path(path).name} is not a regular file")
        uid = _uid()
        if uid is not None and st.st_uid != uid:
            raise Untrusted(f"{Path(path).name} belongs to another user (uid {st.st_uid})")
        return f.read()


def _sums_path(path: Path) -> Path:
    """The manifest of the entry ``path`` (a file of the entry) belongs to."""
    return path.parent / f"{path.name.split('.', 1)[0]}.sums"


@contextlib.contextmanager
def _locked(sums: Path, exclusive: bool):
    """The manifest ``sums`` opened and locked (shared to read, exclusive to write); yields
    its file object, or None when it does not exist and only reading."""
    flags = (os.O_RDWR | os.O_CREAT) if exclusive else os.O_RDONLY
    try:
        fd = os.open(sums, flags | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except FileNotFoundError:
        yield None
        return
    with os.fdopen(fd, "r+b" if exclusive else "rb") as f:
        if fcntl is not None:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield f


def _manifest(f) -> dict:
    st = os.fstat(f.fileno())
    uid = _uid()
    if not stat.S_ISREG(st.st_mode) or (uid is not None and (st.st_uid != uid or st.st_mode & 0o022)):
        raise Untrusted("the entry's manifest is not this user's private file")
    f.seek(0)
    try:
        sums = json.loads(f.read() or b"{}")
    except ValueError:
        return {}  # a writer died mid-write: nothing in the entry is trusted
    return sums if isinstance(sums, dict) else {}


def read_checked(path) -> bytes | None:
    """The bytes of the Numba cache file ``path`` if they are exactly what funcad wrote there
    (their SHA-256 is in the entry's manifest, and this user owns both); None if the file does
    not exist; :class:`Untrusted` otherwise."""
    path = Path(path)
    with _locked(_sums_path(path), exclusive=False) as f:
        data = read_own(path)
        if data is None:
            return None
        if f is None:
            raise Untrusted(f"{path.name} has no recorded digest (funcad did not write it)")
        if _manifest(f).get(path.name) != hashlib.sha256(data).hexdigest():
            raise Untrusted(f"{path.name} is not the file funcad wrote (its digest differs)")
        return data


def write_checked(path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically and record its digest in the entry's manifest."""
    path = Path(path)
    with _locked(_sums_path(path), exclusive=True) as f:
        try:
            sums = _manifest(f)
        except Untrusted:
            sums = {}
        _atomic_write(path, data, count=False)
        sums[path.name] = hashlib.sha256(data).hexdigest()
        text = json.dumps(sums, sort_keys=True).encode()
        f.seek(0)
        f.truncate()
        f.write(text)
        f.flush()
        os.fchmod(f.fileno(), 0o600)


def discard(path) -> None:
    """Remove an untrusted file (best effort: a read-only directory keeps it, unused)."""
    with contextlib.suppress(OSError):
        os.unlink(path)


def _atomic_write(path: Path, data, count: bool = True) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    if count:
        stats["writes"] += 1


def _numba_files(path: Path):
    pyc = path.parent / "__pycache__"
    return list(pyc.glob(f"{path.stem}.*")) if pyc.is_dir() else []


def _ensure_module_file(path: Path, source: str) -> None:
    """Make ``path`` hold exactly ``source``: a hit if it does (and this user owns it), else
    (absent, foreign, corrupt) it is written afresh with the entry's Numba files removed."""
    try:
        data = read_own(path)
    except Untrusted as e:
        warnings.warn(f"funcad: cache entry {path.name} is not usable ({e}); not loading it, "
                      "writing a fresh one.", CacheWarning, stacklevel=4)
        stats["rebuilt"] += 1
        discard(path)
        _purge_numba_files(path)
        data = None
    else:
        if data is not None:
            try:
                ok = data.decode("utf-8") == source
            except UnicodeDecodeError:
                ok = False
            if ok:
                stats["disk_hits"] += 1
                _touch_numba_files(path)  # least recently used = oldest mtime
                return
            warnings.warn(f"funcad: cache entry {path.name} is corrupt or truncated; rebuilding "
                          "it.", CacheWarning, stacklevel=4)
            stats["rebuilt"] += 1
            _purge_numba_files(path)
    _atomic_write(path, source)


def _purge_numba_files(path: Path) -> None:
    for f in _numba_files(path):
        discard(f)


def _exec_module(name: str, source: str, filename: str):
    """The module ``name`` made from ``source`` (compiled here: no bytecode file is read or
    written); ``filename`` is what Numba's cache locates it by."""
    module = types.ModuleType(name)
    module.__file__ = filename
    sys.modules[name] = module  # Numba rebuilds cached code by importing its module's name
    exec(compile(source, filename, "exec"), module.__dict__)
    return module.program


def load(source: str):
    """The compiled dispatcher for ``source``: from memory, from disk, or freshly written."""
    name = module_name(source)
    fn = _loaded.pop(name, None)
    if fn is not None:
        _loaded[name] = fn  # now the most recently used (dicts keep insertion order)
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
            unusable(e, env)
    if env in _unusable:
        stats["memory_only"] += 1
        fn = InMemory(name, source)
    else:
        fn = Compiled(name, path, source)
    _loaded[name] = fn
    _bound_programs()
    return fn


def unusable(e: OSError, env=None, stacklevel: int = 4) -> None:
    """Report (once) that the cache directory cannot be used; later programs are kept in memory."""
    env = os.environ.get("FUNCAD_CACHE_DIR") or None if env is None else env
    if env in _unusable:
        return
    _unusable.add(env)
    where = env or "the user cache directory"
    why = str(e) if isinstance(e, _Refused) else f"cannot be written ({type(e).__name__}: {e})"
    warnings.warn(f"funcad: the jit cache directory ({where}) is not used: {why}; compiled "
                  "programs are kept in memory only for the rest of this process. Set "
                  "FUNCAD_CACHE_DIR to a directory of your own to cache them on disk.",
                  CacheWarning, stacklevel=stacklevel)


def _touch_numba_files(path: Path) -> None:
    """Mark an entry as used, for eviction. Never touch the module file itself: Numba's
    cache index records the source file's mtime and would treat the entry as stale."""
    for f in _numba_files(path):
        try:
            os.utime(f)
        except OSError:  # a read-only directory: the entry is still usable
            pass


# --------------------------------------------------------------------------------------
# The programs held in memory: least recently used ones are released


def max_programs() -> int:
    """How many compiled programs are kept in memory: ``$FUNCAD_JIT_CACHE_SIZE`` (default 128;
    ``0`` or less: unbounded). A released program is loaded again (from disk) when needed."""
    try:
        return int(os.environ.get("FUNCAD_JIT_CACHE_SIZE", DEFAULT_MAX_PROGRAMS))
    except ValueError:
        return DEFAULT_MAX_PROGRAMS


_release_hooks: list = []  # called with the module name of each released program
_on_release: dict = {}  # module name -> weak references to callbacks of its users


def on_release(name: str, callback) -> None:
    """Call ``callback()`` (a bound method, held weakly) when the program ``name`` is released."""
    import weakref

    _on_release.setdefault(name, []).append(weakref.WeakMethod(callback))


def _bound_programs() -> None:
    limit = max_programs()
    while 0 < limit < len(_loaded):
        release(next(iter(_loaded)))


def release(name: str, program=None) -> None:
    """Forget the program ``name``: its module, its dispatcher (and with them Numba's code),
    and whatever funcad memoized for it (jit's traces, dispatch's executables)."""
    program = _loaded.pop(name, None) if program is None else program
    sys.modules.pop(name, None)
    if program is not None and program.fn is not None:
        # Numba registers each compiled overload with its target context (to be callable
        # from other jitted code) and only unregisters it when the dispatcher is collected,
        # which that registration itself prevents (numba#7831: "Dispatcher immortality").
        fn, program.fn = program.fn, None
        for cres in list(getattr(fn, "overloads", {}).values()):
            with contextlib.suppress(KeyError, AttributeError):
                fn.targetctx.remove_user_function(cres.entry_point)
        # The compiled wrapper holds its environment, which holds the module's globals, which
        # hold the dispatcher: a cycle through a C object the garbage collector cannot see
        # into. Emptying the (generated, private) module's namespace breaks it.
        with contextlib.suppress(AttributeError):
            fn.py_func.__globals__.clear()
    for hook in _release_hooks:
        hook(name)
    for ref in _on_release.pop(name, ()):
        callback = ref()
        if callback is not None:
            callback()
    stats["released"] += 1


# --------------------------------------------------------------------------------------
# Size bound (least recently used eviction) and the CLI helpers


def max_bytes() -> int:
    """The cache's size bound: ``$FUNCAD_CACHE_MAX_BYTES`` (``0`` or less: unbounded)."""
    try:
        return int(float(os.environ.get("FUNCAD_CACHE_MAX_BYTES", DEFAULT_MAX_BYTES)))
    except ValueError:
        return DEFAULT_MAX_BYTES


def _entries(path: Path) -> list[tuple[float, int, Path | None, list[Path]]]:
    """``(mtime, bytes, module file, Numba files)`` of every entry, oldest first: each
    program, and the kernels of each of funcad's modules (``funcad_kernel_<module>``, no
    module file: nbcache.KernelCache)."""
    # Numba's files of every entry from ONE listing of __pycache__ (a glob per entry read
    # the whole directory each time: quadratic, ~1 s per new program with 2,500 entries).
    numba_files: dict[str, list[Path]] = {}
    pyc = path / "__pycache__"
    if pyc.is_dir():
        for f in pyc.iterdir():
            numba_files.setdefault(f.name.split(".", 1)[0], []).append(f)
    found = [(py, numba_files.get(py.stem, [])) for py in path.glob("funcad_jit_*.py")]
    found += [(None, files) for stem, files in numba_files.items() if stem.startswith("funcad_kernel_")]
    # the table backend's object code (backend/table.py): table/<digest>.o and its manifest
    table = path / "table"
    found += [(None, [o, *table.glob(f"{o.stem}.sums")]) for o in table.glob("*.o")]
    out = []
    for py, files in found:
        try:
            stats_ = [f.stat() for f in ([py] if py else []) + files]
            out.append((max(st.st_mtime for st in stats_), sum(st.st_size for st in stats_), py, files))
        except OSError:  # removed meanwhile by another process
            continue
    return sorted(out, key=lambda e: e[0])


def evict(keep: Path | None = None, added: int | None = None) -> int:
    """Remove least recently used entries until the cache fits :func:`max_bytes`.

    ``added``: the bytes just written, when the caller knows them (the table backend's object
    files). Then the directory is scanned again only if its size at the last scan (at most
    :data:`RESCAN_SECONDS` ago) plus what this process wrote since passes the bound: the
    table backend writes one file per program and shape, and a scan of a cache of thousands of
    entries costs more than the compile (other processes' writes count at the next scan)."""
    limit = max_bytes()
    if limit <= 0:
        return 0
    where = cache_dir()
    seen = _scans.get(where)
    if added is not None and seen is not None and time.monotonic() - seen[0] < RESCAN_SECONDS:
        seen[1] += added
        if seen[1] <= limit:
            return 0
    entries = _entries(where)
    total, removed = sum(e[1] for e in entries), 0
    for _, size, py, files in entries:
        if total <= limit:
            break
        if py is not None and py == keep:
            continue
        for f in [py, *files] if py else files:
            discard(f)
        total -= size
        removed += 1
    _scans[where] = [time.monotonic(), total]
    stats["evicted"] += removed
    return removed


RESCAN_SECONDS = 60.0
_scans: dict = {}  # cache directory -> [time of its last scan, its bytes then + written since]


def info() -> dict:
    """The cache's directory, entry count (programs and funcad's kernel modules), size in
    bytes and bound."""
    path = cache_dir()
    entries = _entries(path)
    return {"directory": str(path), "entries": len(entries), "bytes": sum(e[1] for e in entries),
            "max_bytes": max_bytes(), "numba": import_numba().__version__}


def clear() -> int:
    """Remove every entry (module files, Numba's files, the table backend's object code);
    returns how many."""
    path = cache_dir()
    entries = _entries(path)
    for _, _, py, files in entries:
        for f in [py, *files] if py else files:
            discard(f)
    for tmp in [*path.glob(".funcad_jit_*.tmp"), *path.glob("__pycache__/*.tmp*"),
                *path.glob("table/.*.tmp")]:
        discard(tmp)  # left by a writer that was killed
    for name in list(_loaded):
        release(name)
    return len(entries)


def is_numba_cache_error(e: BaseException) -> bool:
    """Whether ``e`` was raised while Numba loaded its cache files (a corrupt entry)."""
    return any("numba/core/caching.py" in fr.filename.replace("\\", "/")
               for fr in traceback.extract_tb(e.__traceback__))


class Compiled:
    """A program module: ``fn`` is its Numba dispatcher; use ``first_call`` for the first call,
    which rebuilds a corrupt Numba cache entry instead of failing."""

    __slots__ = ("name", "path", "fn", "source", "__weakref__")

    def __init__(self, name, path, source):
        self.name, self.path, self.source = name, path, source
        self.fn = _exec_module(name, source, str(path))

    def first_call(self, *args):
        compile_worker.prepare(self, args)
        try:
            return self._counted_call(args)
        except Exception as e:
            if not is_numba_cache_error(e):
                raise
            warnings.warn(f"funcad: the compiled cache of {self.name} is corrupt ({type(e).__name__}); "
                          "recompiling it.", CacheWarning, stacklevel=3)
            stats["rebuilt"] += 1
            _purge_numba_files(self.path)
            self.fn = _exec_module(self.name, self.source, str(self.path))
            return self._counted_call(args)

    def _counted_call(self, args):
        """Call, counting a compilation done in this process (compile_worker.py)."""
        misses = sum(self.fn.stats.cache_misses.values())
        out = self.fn(*args)
        if sum(self.fn.stats.cache_misses.values()) > misses:
            compile_worker.compiled_here()
        return out


class InMemory(Compiled):
    """A program compiled without a disk cache (the cache directory is unusable)."""

    __slots__ = ()

    def __init__(self, name, source):
        self.name, self.path, self.source = name, None, source
        # No file: nbcache.fast_load gives the dispatcher no disk cache.
        self.fn = _exec_module(name, source, f"<funcad {name}>")

    def first_call(self, *args):
        return self._counted_call(args)
