"""The disk cache of compiled programs: its directory, checked reads and writes, its bound.

The table backend (backend/table_engine.py) writes each program's object code to
``table/<sha256>.o`` in the cache directory, keyed by its kernels' description, llvmlite's
version, the host CPU and the text of the modules that write the IR, so an upgrade or an
edit there never loads stale code. funcad's Numba graph kernels (coloring's, optimize's;
funcad/_numba_cache.py) keep theirs in ``__pycache__``.

What is trusted (the threat model is in docs/architecture.md, "The disk cache's threat model"):

* Directory: ``$FUNCAD_CACHE_DIR``, else platformdirs' user cache directory for funcad. It and
  its ``__pycache__`` must belong to this user and be private: one that others can write is
  tightened to mode 0700 with one warning; one owned by another user, or a shared sticky
  directory such as /tmp itself, is refused with one warning (programs are then compiled in
  memory; no temporary directory is made).
* Nothing of an entry is loaded unless this user owns it and it is the exact file funcad
  wrote: each file is read once into memory, checked against the SHA-256 recorded in the
  entry's manifest (``<entry>.sums``, written by this user, mode 0600, under a lock) when
  funcad wrote it, and only then used (:func:`read_checked`). A file that fails is deleted and
  rebuilt, with one warning. Nothing is written outside the cache directory.
* Writes are atomic (a temporary file, then ``os.replace``): concurrent writers cannot
  leave a half-written file.
* A directory that cannot be written (read-only, full, not a directory) is reported with one
  warning per process; programs not already in it are then compiled in memory only. Entries
  already in a read-only or full directory are still loaded (the LRU touch is best effort).
* A manifest another user owns (or a link, or one others can write) is never trusted: the
  next write replaces it atomically by this user's own (the directory is this user's).
* The size is bounded: ``$FUNCAD_CACHE_MAX_BYTES`` (default 1 GiB); past it, the least
  recently used entries (by their files' mtime, refreshed on every load) are evicted.
* ``python -m funcad cache info|clear`` shows or empties it (:func:`info`, :func:`clear`).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import stat
import tempfile
import time
import warnings
from pathlib import Path

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
stats = {"rebuilt": 0, "evicted": 0}
_unusable: set = set()  # FUNCAD_CACHE_DIR values whose directory cannot be used
_unwritable: set = set()  # ... whose directory cannot be written (its entries are still loaded)
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
    """The cache directory (private to this user: mode 0700)."""
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
    for sub in (path / "__pycache__", path / "table"):
        try:
            _private_dir(sub)
        except _Refused:  # planted by another user while the directory was open to them
            import shutil

            shutil.rmtree(sub)
            _private_dir(sub)
        except OSError:  # a read-only pre-filled cache without it: fine
            pass
    _dir, _dir_env = path, env
    return path


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
    except OSError as e:  # ELOOP: a link (read: not trusted; written: replaced by write_checked)
        if exclusive and e.errno == errno.ELOOP:
            yield None
            return
        raise
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
    """The bytes of the cache file ``path`` if they are exactly what funcad wrote there
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
            sums = _manifest(f) if f is not None else {}
        except Untrusted:  # another user's (or a link): never trusted, replaced by our own
            sums, f = {}, None
        _atomic_write(path, data)
        sums[path.name] = hashlib.sha256(data).hexdigest()
        text = json.dumps(sums, sort_keys=True).encode()
        try:
            if f is None:  # (mkstemp's file: this user's, mode 0600)
                _atomic_write(_sums_path(path), text)
                return
            f.seek(0)
            f.truncate()
            f.write(text)
            f.flush()
            os.fchmod(f.fileno(), 0o600)
        except OSError:  # (a full disk) no digest recorded: the file would be refused, with a warning
            discard(path)
            raise


def discard(path) -> None:
    """Remove an untrusted file (best effort: a read-only directory keeps it, unused)."""
    with contextlib.suppress(OSError):
        os.unlink(path)


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def unusable(e: OSError, env=None, stacklevel: int = 4, loads: bool = False) -> None:
    """Report (once per process) that the cache directory cannot be used (``loads``: cannot
    be written, its entries are still loaded); later programs not in it are kept in memory."""
    env = os.environ.get("FUNCAD_CACHE_DIR") or None if env is None else env
    if env in _unusable or env in _unwritable:
        return
    (_unwritable if loads else _unusable).add(env)
    where = env or "the user cache directory"
    why = str(e) if isinstance(e, _Refused) else f"cannot be written ({type(e).__name__}: {e})"
    what = (f"{why}; programs not already in it are compiled" if loads
            else f"is not used: {why}; compiled programs are kept")
    warnings.warn(f"funcad: the jit cache directory ({where}) {what} in memory only for the "
                  "rest of this process. Set FUNCAD_CACHE_DIR to a directory of your own (with "
                  "free space) to cache them on disk.", CacheWarning, stacklevel=stacklevel)


def writable() -> bool:
    """False once a write to this cache directory failed in this process (:func:`unusable`)."""
    return (os.environ.get("FUNCAD_CACHE_DIR") or None) not in _unwritable


def max_programs() -> int:
    """How many compiled programs dispatch keeps memoized beside jit's own caches:
    ``$FUNCAD_JIT_CACHE_SIZE`` (default 128; ``0`` or less: unbounded)."""
    try:
        return int(os.environ.get("FUNCAD_JIT_CACHE_SIZE", DEFAULT_MAX_PROGRAMS))
    except ValueError:
        return DEFAULT_MAX_PROGRAMS


# --------------------------------------------------------------------------------------
# Size bound (least recently used eviction) and the CLI helpers


def max_bytes() -> int:
    """The cache's size bound: ``$FUNCAD_CACHE_MAX_BYTES`` (``0`` or less: unbounded)."""
    try:
        return int(float(os.environ.get("FUNCAD_CACHE_MAX_BYTES", DEFAULT_MAX_BYTES)))
    except ValueError:
        return DEFAULT_MAX_BYTES


def _entries(path: Path) -> list[tuple[float, int, list[Path]]]:
    """``(mtime, bytes, files)`` of every entry, oldest first: each program's object code
    (backend/table_engine.py: ``table/<digest>.o`` and its manifest) and the kernels of each of
    funcad's Numba modules (``__pycache__/funcad_kernel_<module>.*``: funcad/_numba_cache.py)."""
    kernels: dict[str, list[Path]] = {}
    for f in (path / "__pycache__").glob("funcad_kernel_*"):
        kernels.setdefault(f.name.split(".", 1)[0], []).append(f)
    table = path / "table"
    found = [*kernels.values(), *([o, *table.glob(f"{o.stem}.sums")] for o in table.glob("*.o"))]
    out = []
    for files in found:
        try:
            stats_ = [f.stat() for f in files]
            out.append((max(st.st_mtime for st in stats_), sum(st.st_size for st in stats_), files))
        except OSError:  # removed meanwhile by another process
            continue
    return sorted(out, key=lambda e: e[0])


def evict(added: int | None = None) -> int:
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
    for _, size, files in entries:
        if total <= limit:
            break
        for f in files:
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
    bytes, bound and the llvmlite that compiled its programs."""
    import llvmlite

    path = cache_dir()
    entries = _entries(path)
    return {"directory": str(path), "entries": len(entries), "bytes": sum(e[1] for e in entries),
            "max_bytes": max_bytes(), "llvmlite": llvmlite.__version__}


def clear() -> int:
    """Remove every entry (programs' object code, kernel files); returns how many."""
    path = cache_dir()
    entries = _entries(path)
    for _, _, files in entries:
        for f in files:
            discard(f)
    for tmp in [*path.glob("__pycache__/*.tmp*"), *path.glob("table/.*.tmp")]:
        discard(tmp)  # left by a writer that was killed
    return len(entries)
