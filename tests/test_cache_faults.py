"""The jit's disk cache under attack: truncated, corrupt and replaced entries are detected and
rebuilt with one warning (never a crash, never a wrong result); an unwritable directory falls
back to memory with one warning; 4 processes compiling the same function at once all get the
right answer and leave one entry; the size is bounded with least-recently-used eviction; and
``python -m funcad cache info|clear``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest

import funcad as fa
import funcad.numpy as fnp
from funcad.backend import cache


@pytest.fixture(autouse=True)
def _numba_backend(monkeypatch):
    """These tests read and damage Numba's cache files: the Numba path
    (FUNCAD_JIT_BACKEND=numba). The table backend's object code: tests/test_table.py (tampered
    files) and test_table_default.py (info, clear, size bound)."""
    monkeypatch.setenv("FUNCAD_JIT_BACKEND", "numba")


X = np.linspace(-1.0, 2.0, 5)


def f_sin(x):
    return fnp.sum(fnp.sin(x) * 2.0 + x)


def f_cos(x):
    return fnp.sum(fnp.cos(x) * 3.0 - x)


EXPECTED = {f_sin: float(np.sum(np.sin(X) * 2.0 + X)), f_cos: float(np.sum(np.cos(X) * 3.0 - X))}


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    d = tmp_path / "jit"
    monkeypatch.setenv("FUNCAD_CACHE_DIR", str(d))
    monkeypatch.delenv("FUNCAD_CACHE_MAX_BYTES", raising=False)
    saved = dict(cache._loaded)
    yield d
    cache._loaded.clear()
    cache._loaded.update(saved)


def run(f):
    """Call a fresh jit of ``f`` as a new process would: nothing compiled in memory."""
    cache._loaded.clear()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fa.jit(f)(X)
    mine = [w for w in caught if issubclass(w.category, cache.CacheWarning)]
    np.testing.assert_allclose(out, EXPECTED[f], rtol=1e-13)  # never a wrong result
    return mine


def entry(d: Path, f) -> Path:
    """The module file of ``f``'s program."""
    source = fa.jit(f).lower(X).source
    return d / f"{cache.module_name(source)}.py"


def numba_files(py: Path, kind: str) -> list[Path]:
    return sorted((py.parent / "__pycache__").glob(f"{py.stem}.*.{kind}"))


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    """f_sin's entry, compiled once into a cache directory of its own: each test that needs a
    filled cache copies it (a copy loads like the original: the files name no directory, and
    the copies keep their modification times) instead of compiling f_sin again."""
    d = tmp_path_factory.mktemp("compiled_once") / "jit"
    saved_env, saved_loaded = os.environ.get("FUNCAD_CACHE_DIR"), dict(cache._loaded)
    os.environ["FUNCAD_CACHE_DIR"] = str(d)
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("FUNCAD_JIT_BACKEND", "numba")
            assert run(f_sin) == []  # a first compile: no warning
    finally:
        if saved_env is None:
            del os.environ["FUNCAD_CACHE_DIR"]
        else:
            os.environ["FUNCAD_CACHE_DIR"] = saved_env
        cache._loaded.clear()
        cache._loaded.update(saved_loaded)
    return d


def _filled(d, compiled):
    """``d`` holding f_sin's entry (the files a compile writes), which loads with no warning."""
    src = entry(compiled, f_sin)
    (d / "__pycache__").mkdir(mode=0o700, parents=True, exist_ok=True)
    d.chmod(0o700)
    for f in [src, *(compiled / "__pycache__").glob(f"{src.stem}.*")]:
        shutil.copy2(f, d / f.relative_to(compiled))
    assert run(f_sin) == []
    (program,) = cache._loaded.values()
    assert sum(program.fn.stats.cache_hits.values()) == 1  # loaded, not compiled
    py = entry(d, f_sin)
    assert py.exists() and numba_files(py, "nbi") and numba_files(py, "nbc")
    return py


# --------------------------------------------------------------------------------------
# Faults injected into an entry: each is detected, rebuilt, reported once, and correct


def _truncate(p: Path):
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])


def _garbage(p: Path):
    p.write_bytes(os.urandom(max(64, p.stat().st_size)))


def _empty(p: Path):
    p.write_bytes(b"")


MODULE_FAULTS = {"truncated": _truncate, "garbage": _garbage, "empty": _empty}


@pytest.mark.parametrize("fault", sorted(MODULE_FAULTS))
def test_a_damaged_module_file_is_rebuilt_with_one_warning(cache_dir, compiled, fault):
    py = _filled(cache_dir, compiled)
    source = py.read_text()
    MODULE_FAULTS[fault](py)
    warned = run(f_sin)
    assert len(warned) == 1 and "corrupt or truncated" in str(warned[0].message)
    assert py.read_text() == source  # rebuilt
    assert run(f_sin) == []  # and healthy again


def test_a_module_replaced_by_another_program_is_not_run(cache_dir, compiled):
    """The file of f_sin's program holds f_cos's (valid, compiled) code: it must not be used."""
    py_sin = _filled(cache_dir, compiled)
    run(f_cos)
    py_sin.write_text(entry(cache_dir, f_cos).read_text())
    warned = run(f_sin)  # asserts the sin result, not the cos one
    assert len(warned) == 1


@pytest.mark.parametrize("kind", ["nbi", "nbc"])
@pytest.mark.parametrize("fault", sorted(MODULE_FAULTS))
def test_damaged_numba_cache_files_are_rebuilt_with_one_warning(cache_dir, compiled, kind, fault):
    py = _filled(cache_dir, compiled)
    for p in numba_files(py, kind):
        MODULE_FAULTS[fault](p)
    warned = run(f_sin)
    assert len(warned) <= 1  # Numba itself may already discard some damage silently
    assert run(f_sin) == []


def test_numba_files_swapped_with_another_programs(cache_dir, compiled):
    """f_sin's compiled code replaced by f_cos's (same signature): detected, not run."""
    py_sin = _filled(cache_dir, compiled)
    run(f_cos)
    py_cos = entry(cache_dir, f_cos)
    for kind in ("nbc", "nbi"):
        (src,), (dst,) = numba_files(py_cos, kind), numba_files(py_sin, kind)
        dst.write_bytes(src.read_bytes())
        assert len(run(f_sin)) <= 1
    assert run(f_sin) == []


def test_deleted_numba_files_and_leftover_temporaries(cache_dir, compiled):
    py = _filled(cache_dir, compiled)
    for p in numba_files(py, "nbc"):
        p.unlink()
    (cache_dir / ".funcad_jit_dead.tmp").write_text("a writer was killed here")
    assert len(run(f_sin)) <= 1


# --------------------------------------------------------------------------------------
# An unusable directory: memory only, one warning


def test_unwritable_cache_directory_falls_back_to_memory_with_one_warning(cache_dir, monkeypatch):
    cache_dir.mkdir(parents=True)
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # root ignores permissions: refuse writes
        real = tempfile.mkstemp

        def read_only(*args, dir=None, **kwargs):
            if dir is not None and Path(dir) == cache_dir:
                raise PermissionError(13, "Permission denied (read-only test)", str(dir))
            return real(*args, dir=dir, **kwargs)

        monkeypatch.setattr(tempfile, "mkstemp", read_only)
    else:
        cache_dir.chmod(0o500)
    try:
        before = cache.stats["memory_only"]
        warned = run(f_sin)
        assert len(warned) == 1 and "memory only" in str(warned[0].message)
        assert run(f_cos) == []  # the second program: no second warning
        assert cache.stats["memory_only"] == before + 2
        assert not list(cache_dir.glob("funcad_jit_*.py"))
    finally:
        cache_dir.chmod(0o700)
        cache._unusable.discard(str(cache_dir))


def test_cache_path_that_is_not_a_directory(tmp_path, monkeypatch):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("FUNCAD_CACHE_DIR", str(blocker / "jit"))
    try:
        warned = run(f_sin)
        assert len(warned) == 1 and "cannot be written" in str(warned[0].message)
    finally:
        cache._unusable.discard(str(blocker / "jit"))
        cache._loaded.clear()


# --------------------------------------------------------------------------------------
# Concurrency: 4 processes compile the same function at once


def test_four_processes_compiling_at_once(tmp_path):
    script = textwrap.dedent("""
        import sys, numpy as np
        import funcad as fa, funcad.numpy as fnp
        x = np.linspace(-1.0, 2.0, 5)
        out = fa.jit(lambda x: fnp.sum(fnp.tanh(x) * x ** 2))(x)
        print(repr(float(out)))
    """)
    env = dict(os.environ, FUNCAD_CACHE_DIR=str(tmp_path / "jit"))
    env["PYTHONPATH"] = os.pathsep.join([str(Path(fa.__file__).parent.parent), env.get("PYTHONPATH", "")])
    procs = [subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    outs = [p.communicate(timeout=300) for p in procs]
    x = np.linspace(-1.0, 2.0, 5)
    expected = float(np.sum(np.tanh(x) * x ** 2))
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
        assert float(out.strip()) == pytest.approx(expected, rel=1e-13)
        assert "CacheWarning" not in err
    assert len(list((tmp_path / "jit").glob("funcad_jit_*.py"))) == 1
    assert not list((tmp_path / "jit").glob(".*.tmp"))


# --------------------------------------------------------------------------------------
# Bounded size, least recently used eviction


def _make(k):
    return lambda x: fnp.sum(fnp.sin(x * float(k)))


def test_size_bound_evicts_the_least_recently_used(cache_dir, monkeypatch):
    fs = [_make(k) for k in range(1, 6)]
    paths = []
    for i, f in enumerate(fs[:3]):
        cache._loaded.clear()
        fa.jit(f)(X)
        paths.append(Path(cache_dir) / f"{cache.module_name(fa.jit(f).lower(X).source)}.py")
        for p in [paths[-1], *(paths[-1].parent / "__pycache__").glob(f"{paths[-1].stem}.*")]:
            os.utime(p, (1_000_000 + i, 1_000_000 + i))  # distinct ages, oldest first
    one = cache.info()["bytes"] // 3
    cache._loaded.clear()
    fa.jit(fs[0])(X)  # used again: now the most recent of the three
    order = [py for _, _, py, _ in cache._entries(cache_dir)]
    assert order.index(paths[0]) > order.index(paths[2]) > order.index(paths[1])
    monkeypatch.setenv("FUNCAD_CACHE_MAX_BYTES", str(int(2.5 * one)))
    cache._loaded.clear()
    fa.jit(fs[3])(X)  # a new entry: over the bound, the least recently used (fs[1]) goes
    assert not paths[1].exists() and paths[0].exists()
    assert not list((cache_dir / "__pycache__").glob(f"{paths[1].stem}.*"))
    assert cache.info()["bytes"] <= 2.5 * one + one  # the new entry's Numba files come later
    # evicted programs still run correctly: recompiled
    cache._loaded.clear()
    np.testing.assert_allclose(fa.jit(fs[1])(X), np.sum(np.sin(X * 2.0)), rtol=1e-13)


def _kernel():
    import numba

    from funcad.backend.nbcache import KernelCache

    def twice(x):
        return 2 * x

    return KernelCache.attach(numba.njit(twice))


def test_kernels_count_in_info_clear_and_the_size_bound(cache_dir, monkeypatch):
    # funcad's own Numba kernels (nbcache.KernelCache: nbrandom's, coloring's, optimize's)
    # live in the same __pycache__ as the programs and count like them
    assert _kernel()(3.0) == 6.0
    kernel_files = sorted((cache_dir / "__pycache__").glob("funcad_kernel_test_cache_faults.*"))
    assert {f.suffix for f in kernel_files} == {".nbi", ".nbc", ".sums"}
    i = cache.info()
    assert i["entries"] == 1 and i["bytes"] == sum(f.stat().st_size for f in kernel_files)
    run(f_sin)  # a program, newer than the kernel
    assert cache.info()["entries"] == 2
    monkeypatch.setenv("FUNCAD_CACHE_MAX_BYTES", str(cache.info()["bytes"] - 1))
    assert cache.evict() == 1 and not any(f.exists() for f in kernel_files)  # the older one
    assert _kernel()(4.0) == 8.0  # compiled and cached again
    assert cache.clear() == 2 and not list((cache_dir / "__pycache__").glob("funcad_kernel_*"))


def test_optimizes_kernel_is_cached_in_funcads_cache_directory(cache_dir):
    from funcad import optimize
    from funcad.backend.nbcache import KernelCache

    kernel = optimize._aggregation_kernel()
    assert isinstance(kernel._cache, KernelCache)
    assert kernel._cache.cache_path == str(cache_dir / "__pycache__")


# --------------------------------------------------------------------------------------
# The CLI


def test_cli_cache_info_and_clear(cache_dir, capsys):
    from funcad.__main__ import main

    run(f_sin)
    run(f_cos)
    assert main(["cache", "info"]) == 0
    out = capsys.readouterr().out
    assert str(cache_dir) in out and "entries:   2" in out
    assert main(["cache", "clear"]) == 0
    assert "removed 2 entries" in capsys.readouterr().out
    assert cache.info()["entries"] == 0 and not list((cache_dir / "__pycache__").glob("funcad_jit_*"))
    assert main(["cache", "bogus"]) == 2
    assert run(f_sin) == []  # and it works after a clear


# --------------------------------------------------------------------------------------
# Attacks (the threat model in docs/architecture.md): another user who can write the cache
# directory, or files in an entry that funcad did not write. Running as root, the tests make
# "another user" with os.chown; otherwise they skip.

OTHER = (os.getuid() + 4242) if hasattr(os, "getuid") else None
needs_chown = pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                                 reason="making a file another user's needs root (chown)")


class _Payload:
    """A pickle that, when loaded, creates the file ``marker``: what an attacker would plant."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.mkdir, (self.marker,)


def _plant(path: Path, marker: Path, owner=None):
    import pickle

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(_Payload(marker)))
    if owner is not None:
        os.chown(path, owner, -1)


def _numba_base(d: Path, f) -> str:
    """The name Numba gives ``f``'s program files (predictable: a hash of the source)."""
    py = entry(d, f)
    return f"{py.stem}.program-10.py{sys.version_info[0]}{sys.version_info[1]}"


def test_numba_file_name_is_predicted(cache_dir, compiled):
    py = _filled(cache_dir, compiled)
    assert [p.name for p in numba_files(py, "nbi")] == [_numba_base(cache_dir, f_sin) + ".nbi"]


@needs_chown
@pytest.mark.parametrize("kind", ["nbi", "1.nbc"])
def test_a_pickle_planted_by_another_user_before_the_first_compile_is_never_loaded(cache_dir, tmp_path, kind):
    cache_dir.mkdir(parents=True, mode=0o700)
    marker = tmp_path / "pwned"
    planted = cache_dir / "__pycache__" / f"{_numba_base(cache_dir, f_sin)}.{kind}"
    _plant(planted, marker, owner=OTHER)
    if kind != "nbi":  # a data file is only read through an index: plant one naming it
        _plant(planted.with_name(_numba_base(cache_dir, f_sin) + ".nbi"), marker, owner=OTHER)
    warned = run(f_sin)
    assert not marker.exists()
    assert len(warned) == 1 and "another user" in str(warned[0].message)
    assert planted.stat().st_uid == os.getuid() if planted.exists() else True
    assert run(f_sin) == [] and not marker.exists()


@needs_chown
def test_a_manifest_forged_by_another_user_is_not_trusted(cache_dir, tmp_path):
    """The attacker also writes the digest of their pickle into the entry's manifest."""
    import hashlib
    import json

    cache_dir.mkdir(parents=True, mode=0o700)
    marker = tmp_path / "pwned"
    base = _numba_base(cache_dir, f_sin)
    nbi = cache_dir / "__pycache__" / f"{base}.nbi"
    _plant(nbi, marker, owner=os.getuid())  # even a file the victim owns (a hard link...)
    sums = nbi.parent / f"{base.split('.')[0]}.sums"
    sums.write_text(json.dumps({nbi.name: hashlib.sha256(nbi.read_bytes()).hexdigest()}))
    os.chown(sums, OTHER, -1)
    assert len(run(f_sin)) == 1 and not marker.exists()


@pytest.mark.parametrize("kind", ["nbi", "nbc"])
def test_a_tampered_numba_file_of_a_valid_entry_is_never_unpickled(cache_dir, compiled, tmp_path, kind):
    """Same user, valid module: the Numba file is replaced by a pickle funcad did not write."""
    py = _filled(cache_dir, compiled)
    marker = tmp_path / "pwned"
    for p in numba_files(py, kind):
        _plant(p, marker)
    warned = run(f_sin)
    assert not marker.exists() and len(warned) == 1 and "not funcad's" in str(warned[0].message)
    assert run(f_sin) == [] and not marker.exists()


def test_a_symbolic_link_in_an_entry_is_not_followed(cache_dir, compiled, tmp_path):
    py = _filled(cache_dir, compiled)
    marker = tmp_path / "pwned"
    elsewhere = tmp_path / "elsewhere.nbi"
    _plant(elsewhere, marker)
    (nbi,) = numba_files(py, "nbi")
    nbi.unlink()
    nbi.symlink_to(elsewhere)
    assert len(run(f_sin)) == 1 and not marker.exists()


@pytest.mark.parametrize("how", ["tampered", "garbage"])
def test_bytecode_beside_a_valid_module_is_never_read(cache_dir, compiled, tmp_path, how):
    """A .pyc Python's import would accept (right mtime and size in its header) holding other
    code, or garbage ("bad marshal data"): funcad compiles the module's checked text itself."""
    import importlib.util
    from importlib._bootstrap_external import _code_to_timestamp_pyc

    py = _filled(cache_dir, compiled)
    marker = tmp_path / "pwned"
    pyc = Path(importlib.util.cache_from_source(str(py)))
    st = py.stat()
    code = compile(f"import os; os.mkdir({str(marker)!r})\nprogram = None\n", str(py), "exec")
    pyc.write_bytes(bytes(_code_to_timestamp_pyc(code, st.st_mtime, st.st_size)) if how == "tampered"
                    else b"\x00" * 64)
    assert run(f_sin) == [] and not marker.exists()


def test_a_directory_others_can_write_is_made_private_with_one_warning(cache_dir):
    cache_dir.mkdir(parents=True)
    cache_dir.chmod(0o777)
    cache._dir = None
    warned = run(f_sin)
    assert len(warned) == 1 and "other users" in str(warned[0].message)
    assert cache_dir.stat().st_mode & 0o777 == 0o700
    assert (cache_dir / "__pycache__").stat().st_mode & 0o777 == 0o700
    assert run(f_cos) == []


@needs_chown
def test_a_pycache_planted_by_another_user_is_replaced(cache_dir, tmp_path):
    marker = tmp_path / "pwned"
    cache_dir.mkdir(parents=True, mode=0o700)
    pyc = cache_dir / "__pycache__"
    pyc.mkdir(mode=0o777)
    _plant(pyc / f"{_numba_base(cache_dir, f_sin)}.nbi", marker, owner=OTHER)
    os.chown(pyc, OTHER, -1)
    cache._dir = None
    run(f_sin)
    assert pyc.stat().st_uid == os.getuid() and not marker.exists()


def _tmp_dirs():
    return set(Path(tempfile.gettempdir()).glob("funcad-jit-*"))


@needs_chown
@pytest.mark.parametrize("how", ["owned by another user", "shared sticky"])
def test_a_directory_that_is_not_this_users_is_refused_in_memory_with_one_warning(cache_dir, how):
    cache_dir.mkdir(parents=True)
    if how == "shared sticky":
        cache_dir.chmod(0o1777)
    else:
        os.chown(cache_dir, OTHER, -1)
    cache._dir = None
    before = _tmp_dirs()
    try:
        warned = run(f_sin)
        assert len(warned) == 1 and "memory only" in str(warned[0].message)
        assert run(f_cos) == []
        assert not list(cache_dir.iterdir())  # nothing written into it
        assert _tmp_dirs() == before  # and no private temporary directory left behind
        assert cache_dir.stat().st_mode & 0o1777 == (0o1777 if how == "shared sticky" else 0o755)
    finally:
        cache._unusable.discard(str(cache_dir))


def test_a_directory_of_another_user_by_uid_is_refused(cache_dir, monkeypatch):
    """The same, without root: this process pretends to be another user."""
    cache_dir.mkdir(parents=True, mode=0o700)
    cache._dir = None
    monkeypatch.setattr(os, "getuid", lambda: OTHER)
    try:
        warned = run(f_sin)
        assert len(warned) == 1 and "another user" in str(warned[0].message)
        assert not list(cache_dir.iterdir())
    finally:
        cache._unusable.discard(str(cache_dir))


# --------------------------------------------------------------------------------------
# Faults of the file system, emulated with an audit hook: write-opens (and mkdir, rename,
# chmod, utime, unlink) under chosen directories fail with a chosen errno; every write
# anywhere else under watched directories is recorded.

_fs = {"fail": [], "errno": 0, "watch": [], "writes": []}
_WRITES = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def _audit(event, args):
    if not (_fs["fail"] or _fs["watch"]):
        return
    if event == "open":
        path, mode, flags = args
        if not isinstance(path, (str, bytes, os.PathLike)) or not (
                (isinstance(mode, str) and set(mode) & set("wax+")) or (flags or 0) & _WRITES):
            return
    elif event in ("os.mkdir", "os.rename", "os.chmod", "os.utime", "os.remove", "os.rmdir"):
        path = args[0]
    else:
        return
    if not isinstance(path, (str, os.PathLike)):
        return
    path = os.path.abspath(os.fsdecode(path))
    if any(path.startswith(str(d)) for d in _fs["fail"]):
        raise OSError(_fs["errno"], os.strerror(_fs["errno"]), path)
    if any(path.startswith(str(d)) for d in _fs["watch"]):
        _fs["writes"].append((event, path))


sys.addaudithook(_audit)


@pytest.fixture
def faulty_fs(monkeypatch):
    # The faults are injected into this process's file calls: its programs must be compiled
    # here, not by the compile worker (backend/compile_worker.py), which writes its own files.
    monkeypatch.setenv("FUNCAD_JIT_LOCAL_COMPILES", "-1")
    yield _fs
    _fs.update(fail=[], errno=0, watch=[], writes=[])


def test_read_only_prefilled_cache_and_read_only_home(cache_dir, compiled, tmp_path, monkeypatch, faulty_fs):
    """Before: Numba's locators fall through to ~/.cache/numba, then "no locator available"."""
    import errno

    _filled(cache_dir, compiled)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    numba_dir = os.environ.get("NUMBA_CACHE_DIR") or str(tmp_path / "numba-cache")
    faulty_fs.update(fail=[cache_dir, home], errno=errno.EROFS, watch=[numba_dir, "/tmp/"])
    try:
        assert run(f_sin) == []  # a pre-filled entry still loads
        warned = run(f_cos)  # a new one: compiled in memory, one warning
        assert len(warned) == 1 and "memory only" in str(warned[0].message)
        assert run(f_sin) == []
        assert [w for w in faulty_fs["writes"] if "pytest-of" not in w[1]] == []
    finally:
        cache._unusable.discard(str(cache_dir))
    assert not list(home.iterdir())


def test_a_full_disk_while_numba_saves_warns_once_and_compiles_in_memory(cache_dir, faulty_fs):
    """The module file fits, Numba's machine code does not. Before: a misleading "corrupt"
    warning, then OSError: No space left on device."""
    import errno

    cache_dir.mkdir(parents=True, mode=0o700)
    (cache_dir / "__pycache__").mkdir(mode=0o700)
    faulty_fs.update(fail=[cache_dir / "__pycache__"], errno=errno.ENOSPC)
    try:
        warned = run(f_sin)
        assert len(warned) == 1 and "No space left" in str(warned[0].message)
        assert "corrupt" not in str(warned[0].message)
        assert run(f_cos) == []  # the next program: memory only, quietly
    finally:
        cache._unusable.discard(str(cache_dir))


def test_a_full_disk_for_the_module_warns_once(cache_dir, faulty_fs):
    import errno

    cache_dir.mkdir(parents=True, mode=0o700)
    faulty_fs.update(fail=[cache_dir], errno=errno.ENOSPC)
    try:
        warned = run(f_sin)
        assert len(warned) == 1 and "No space left" in str(warned[0].message)
        assert run(f_cos) == []
    finally:
        cache._unusable.discard(str(cache_dir))


@pytest.mark.parametrize("fault", sorted(MODULE_FAULTS))
def test_a_damaged_manifest_is_rebuilt(cache_dir, compiled, fault):
    py = _filled(cache_dir, compiled)
    (sums,) = (py.parent / "__pycache__").glob(f"{py.stem}.sums")
    MODULE_FAULTS[fault](sums)
    assert len(run(f_sin)) == 1
    assert run(f_sin) == []
