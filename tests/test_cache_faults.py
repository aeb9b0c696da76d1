"""The jit's disk cache under attack: truncated, corrupt and replaced entries are detected and
rebuilt with one warning (never a crash, never a wrong result); an unwritable directory falls
back to memory with one warning; 4 processes compiling the same function at once all get the
right answer and leave one entry; the size is bounded with least-recently-used eviction; and
``python -m funcad cache info|clear``."""

from __future__ import annotations

import os
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


def _filled(d):
    assert run(f_sin) == []
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
def test_a_damaged_module_file_is_rebuilt_with_one_warning(cache_dir, fault):
    py = _filled(cache_dir)
    source = py.read_text()
    MODULE_FAULTS[fault](py)
    warned = run(f_sin)
    assert len(warned) == 1 and "corrupt or truncated" in str(warned[0].message)
    assert py.read_text() == source  # rebuilt
    assert run(f_sin) == []  # and healthy again


def test_a_module_replaced_by_another_program_is_not_run(cache_dir):
    """The file of f_sin's program holds f_cos's (valid, compiled) code: it must not be used."""
    py_sin = _filled(cache_dir)
    run(f_cos)
    py_sin.write_text(entry(cache_dir, f_cos).read_text())
    warned = run(f_sin)  # asserts the sin result, not the cos one
    assert len(warned) == 1


@pytest.mark.parametrize("kind", ["nbi", "nbc"])
@pytest.mark.parametrize("fault", sorted(MODULE_FAULTS))
def test_damaged_numba_cache_files_are_rebuilt_with_one_warning(cache_dir, kind, fault):
    py = _filled(cache_dir)
    for p in numba_files(py, kind):
        MODULE_FAULTS[fault](p)
    warned = run(f_sin)
    assert len(warned) <= 1  # Numba itself may already discard some damage silently
    assert run(f_sin) == []


def test_numba_files_swapped_with_another_programs(cache_dir):
    """f_sin's compiled code replaced by f_cos's (same signature): detected, not run."""
    py_sin = _filled(cache_dir)
    run(f_cos)
    py_cos = entry(cache_dir, f_cos)
    for kind in ("nbc", "nbi"):
        (src,), (dst,) = numba_files(py_cos, kind), numba_files(py_sin, kind)
        dst.write_bytes(src.read_bytes())
        assert len(run(f_sin)) <= 1
    assert run(f_sin) == []


def test_deleted_numba_files_and_leftover_temporaries(cache_dir):
    py = _filled(cache_dir)
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
