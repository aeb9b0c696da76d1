"""The jit's disk cache under attack: the table backend's object code
(``$FUNCAD_CACHE_DIR/table/<digest>.o``, its SHA-256 in the entry's ``.sums`` manifest) that is
truncated, corrupt, replaced, planted by another user or reached through a link is never
loaded: it is rebuilt with one warning (never a crash, never a wrong result); an unusable
directory leaves programs in memory; 4 processes compiling the same function at once all get
the right answer and leave one entry; the size is bounded with least-recently-used eviction;
and ``python -m funcad cache info|clear``.

``run(f)`` calls a fresh jit of ``f`` as a new process would (nothing of it in memory: its object
code is loaded from disk or compiled) and checks the result: a file that is not funcad's, if
it were loaded, would run another program's code (a wrong result) or none (a crash).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
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
from funcad.backend import cache, table

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
    yield d
    cache._unusable.discard(str(d))
    cache._unwritable.discard(str(d))


def run(f):
    """``(how, warnings)``: a fresh jit of ``f`` called as a new process would ("loaded" from
    disk or "compiled"), with the cache's warnings' messages; the result is checked."""
    table._loaded.clear()
    before = dict(table.stats)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fa.jit(f)(X)
    np.testing.assert_allclose(out, EXPECTED[f], rtol=1e-13)  # never a wrong result
    how = "loaded" if table.stats["loaded"] > before["loaded"] else "compiled"
    return how, [str(w.message) for w in caught if issubclass(w.category, cache.CacheWarning)]


def entry(d: Path, f) -> Path:
    """The object file of ``f``'s program (named by the digest its program's name starts)."""
    name = re.search(r"funcad_table_([0-9a-f]{16})", fa.jit(f).lower(X).source).group(1)
    (obj,) = (d / "table").glob(f"{name}*.o")
    return obj


def sums(obj: Path) -> Path:
    return obj.with_suffix(".sums")


@pytest.fixture
def filled(cache_dir):
    """f_sin's entry in the cache, loaded from it once."""
    assert run(f_sin) == ("compiled", [])
    assert run(f_sin) == ("loaded", [])
    return entry(cache_dir, f_sin)


# --------------------------------------------------------------------------------------
# Faults injected into an entry: each is detected, rebuilt, reported once, and correct


def _truncate(p: Path):
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])


def _garbage(p: Path):
    p.write_bytes(os.urandom(max(64, p.stat().st_size)))


def _empty(p: Path):
    p.write_bytes(b"")


FAULTS = {"truncated": _truncate, "garbage": _garbage, "empty": _empty}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_damaged_object_file_is_rebuilt_with_one_warning(filled, fault):
    code = filled.read_bytes()
    FAULTS[fault](filled)
    how, warned = run(f_sin)
    assert how == "compiled" and len(warned) == 1 and "corrupt or not funcad's" in warned[0]
    assert filled.read_bytes() == code  # rebuilt
    assert run(f_sin) == ("loaded", [])  # and healthy again


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_damaged_manifest_is_rebuilt_with_one_warning(filled, fault):
    FAULTS[fault](sums(filled))
    how, warned = run(f_sin)
    assert how == "compiled" and len(warned) == 1
    assert run(f_sin) == ("loaded", [])


@pytest.mark.parametrize("with_manifest", [False, True])
def test_another_programs_object_code_in_the_entry_is_not_run(cache_dir, filled, with_manifest):
    """f_sin's file holds f_cos's (valid, compiled) code; with its manifest too, the digest
    recorded is under f_cos's file name: neither is f_sin's."""
    run(f_cos)
    cos = entry(cache_dir, f_cos)
    filled.write_bytes(cos.read_bytes())
    if with_manifest:
        sums(filled).write_bytes(sums(cos).read_bytes())
    how, warned = run(f_sin)  # asserts the sin result, not the cos one
    assert how == "compiled" and len(warned) == 1 and "not funcad's" in warned[0]
    assert run(f_sin) == ("loaded", [])


def test_a_deleted_object_file_and_leftover_temporaries(cache_dir, filled):
    filled.unlink()
    tmp = filled.parent / f".{filled.name}.dead.tmp"
    tmp.write_text("a writer was killed here")
    assert run(f_sin) == ("compiled", [])
    assert cache.clear() >= 1 and not tmp.exists()


def test_a_symbolic_link_in_an_entry_is_not_followed(filled, tmp_path):
    """Even to a copy of the right code: what is read is checked, not what a link points to."""
    elsewhere = tmp_path / "elsewhere.o"
    elsewhere.write_bytes(filled.read_bytes())
    filled.unlink()
    filled.symlink_to(elsewhere)
    how, warned = run(f_sin)
    assert how == "compiled" and len(warned) == 1 and "plain file" in warned[0]
    assert run(f_sin) == ("loaded", [])


# --------------------------------------------------------------------------------------
# Attacks (the threat model in docs/architecture.md): another user who can write the cache
# directory, or files in an entry that funcad did not write. Running as root, the tests make
# "another user" with os.chown; otherwise they skip.

OTHER = (os.getuid() + 4242) if hasattr(os, "getuid") else None
needs_chown = pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                                 reason="making a file another user's needs root (chown)")


def _plant(cache_dir, f, code: bytes, owner=None, manifest_owner=None) -> Path:
    """``code`` at ``f``'s object file, with a manifest recording its digest (by ``owner`` and
    ``manifest_owner``): what an attacker who predicts the file name would write."""
    obj = entry(cache_dir, f)
    obj.write_bytes(code)
    sums(obj).write_text(json.dumps({obj.name: hashlib.sha256(code).hexdigest()}))
    for p, uid in ((obj, owner), (sums(obj), manifest_owner)):
        if uid is not None:
            os.chown(p, uid, -1)
    return obj


@needs_chown
@pytest.mark.parametrize("who", ["object file", "manifest"])
def test_files_of_another_user_are_never_loaded(cache_dir, who):
    """f_cos's code at f_sin's object file, its digest in the manifest: the object file or
    the manifest is another user's."""
    run(f_cos)
    run(f_sin)
    cos = entry(cache_dir, f_cos).read_bytes()
    obj = _plant(cache_dir, f_sin, cos, **{"owner" if who == "object file" else "manifest_owner": OTHER})
    how, warned = run(f_sin)
    assert how == "compiled" and len(warned) == 1, warned
    assert ("another user" if who == "object file" else "not this user's") in warned[0]
    # rebuilt: the object file and the manifest are now this user's (the other one's manifest
    # replaced atomically, never written through), and load in the next process
    assert obj.stat().st_uid == sums(obj).stat().st_uid == os.getuid()
    assert sums(obj).stat().st_mode & 0o777 == 0o600
    assert run(f_sin) == ("loaded", [])


def test_a_manifest_that_is_a_link_is_replaced_not_written_through(cache_dir, filled, tmp_path):
    target = tmp_path / "elsewhere.sums"
    target.write_text("{}")
    sums(filled).unlink()
    sums(filled).symlink_to(target)
    assert run(f_sin)[0] == "compiled"
    assert target.read_text() == "{}" and not sums(filled).is_symlink()
    assert run(f_sin) == ("loaded", [])


@needs_chown
def test_a_table_directory_planted_by_another_user_gives_it_no_way_in(cache_dir):
    """``table/`` made by another user (world-writable) before the first compile, holding
    their object code for f_sin under its predicted name: never loaded."""
    run(f_cos)
    run(f_sin)
    cos = entry(cache_dir, f_cos).read_bytes()
    obj = _plant(cache_dir, f_sin, cos, owner=OTHER, manifest_owner=OTHER)
    os.chown(obj.parent, OTHER, -1)
    obj.parent.chmod(0o777)
    how, warned = run(f_sin)
    assert how == "compiled" and len(warned) == 1


def test_a_directory_others_can_write_is_made_private_with_one_warning(cache_dir):
    cache_dir.mkdir(parents=True)
    cache_dir.chmod(0o777)
    cache._dir = None
    how, warned = run(f_sin)
    assert len(warned) == 1 and "other users" in warned[0]
    assert cache_dir.stat().st_mode & 0o777 == 0o700
    assert run(f_cos) == ("compiled", [])


@needs_chown
def test_a_table_directory_of_another_user_before_the_first_use_is_made_again(cache_dir):
    cache_dir.mkdir(parents=True, mode=0o700)
    (cache_dir / "table").mkdir(mode=0o777)
    os.chown(cache_dir / "table", OTHER, -1)
    cache._dir = None
    assert run(f_sin) == ("compiled", [])
    assert (cache_dir / "table").stat().st_uid == os.getuid()
    assert run(f_sin) == ("loaded", [])


# --------------------------------------------------------------------------------------
# An unusable directory: one warning ("memory only"), programs compiled in memory.


def test_cache_path_that_is_not_a_directory(tmp_path, monkeypatch):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("FUNCAD_CACHE_DIR", str(blocker / "jit"))
    try:
        how, warned = run(f_sin)
        assert len(warned) == 1 and "cannot be written" in warned[0]
        assert run(f_cos) == ("compiled", [])
    finally:
        cache._unusable.discard(str(blocker / "jit"))


@needs_chown
@pytest.mark.parametrize("how", ["owned by another user", "shared sticky"])
def test_a_directory_that_is_not_this_users_is_refused_in_memory_with_one_warning(cache_dir, how):
    cache_dir.mkdir(parents=True)
    if how == "shared sticky":
        cache_dir.chmod(0o1777)
    else:
        os.chown(cache_dir, OTHER, -1)
    cache._dir = None
    _, warned = run(f_sin)
    assert len(warned) == 1 and "memory only" in warned[0]
    assert run(f_cos) == ("compiled", [])
    assert not list(cache_dir.iterdir())  # nothing written into it


def test_a_directory_of_another_user_by_uid_is_refused(cache_dir, monkeypatch):
    """The same, without root: this process pretends to be another user."""
    cache_dir.mkdir(parents=True, mode=0o700)
    cache._dir = None
    monkeypatch.setattr(os, "getuid", lambda: OTHER)
    _, warned = run(f_sin)
    assert len(warned) == 1 and "another user" in warned[0]
    assert not list(cache_dir.iterdir())


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
def faulty_fs():
    yield _fs
    _fs.update(fail=[], errno=0, watch=[], writes=[])


@pytest.mark.parametrize("where", ["the cache directory", "its table directory"])
def test_a_full_disk_compiles_in_memory(cache_dir, faulty_fs, where):
    """No space for the object code: right results, nothing left behind, the next program too."""
    cache_dir.mkdir(parents=True, mode=0o700)
    (cache_dir / "table").mkdir(mode=0o700)
    faulty_fs.update(fail=[cache_dir if where == "the cache directory" else cache_dir / "table"],
                     errno=errno.ENOSPC)
    how, warned = run(f_sin)
    assert how == "compiled" and len(warned) == 1, warned  # said once per process
    assert "cannot be written" in warned[0] and "No space left" in warned[0]
    assert run(f_cos) == ("compiled", [])
    assert run(f_sin) == ("compiled", [])
    assert not [p for p in (cache_dir / "table").iterdir() if not p.name.startswith("runtime-")]


def test_a_manifest_that_cannot_be_written_leaves_no_entry_behind(filled, monkeypatch):
    """The object file is rebuilt but its digest cannot be recorded (the disk fills up
    meanwhile): the file is removed, not left to be refused with a warning in the next process."""
    _garbage(filled)

    def full(fd, mode):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(cache.os, "fchmod", full)
    how, warned = run(f_sin)
    assert how == "compiled" and len(warned) == 2, warned
    assert "corrupt or not funcad's" in warned[0] and "cannot be written" in warned[1]
    assert not filled.exists()
    assert run(f_sin) == ("compiled", [])


def test_unwritable_cache_directory_compiles_in_memory(cache_dir, monkeypatch):
    """A directory this user cannot write (root ignores permissions: writes refused)."""
    cache_dir.mkdir(parents=True, mode=0o700)
    real = tempfile.mkstemp

    def read_only(*args, dir=None, **kwargs):
        if dir is not None and str(dir).startswith(str(cache_dir)):
            raise PermissionError(13, "Permission denied (read-only test)", str(dir))
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    how, warned = run(f_sin)
    assert how == "compiled" and len(warned) == 1 and "cannot be written" in warned[0]
    assert run(f_cos) == ("compiled", [])
    assert not list(cache_dir.rglob("*.o"))


def test_read_only_prefilled_cache_and_read_only_home(cache_dir, filled, tmp_path, monkeypatch, faulty_fs):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    faulty_fs.update(fail=[cache_dir, home], errno=errno.EROFS, watch=["/tmp/"])
    how, warned = run(f_cos)  # a new program: in memory, said once
    assert how == "compiled" and len(warned) == 1 and "Read-only" in warned[0]
    assert [w for w in faulty_fs["writes"] if "pytest-of" not in w[1]] == []
    assert not list(home.iterdir())
    assert run(f_sin) == ("loaded", [])  # a pre-filled entry still loads


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
    objs = list((tmp_path / "jit" / "table").glob("*.o"))
    assert len([o for o in objs if not o.name.startswith("runtime-")]) == 1, objs
    assert not list((tmp_path / "jit").rglob(".*.tmp"))


# --------------------------------------------------------------------------------------
# Bounded size, least recently used eviction


def _make(k):
    return lambda x: fnp.sum(fnp.sin(x * float(k)))


def test_size_bound_evicts_the_least_recently_used(cache_dir, monkeypatch):
    fs = [_make(k) for k in range(1, 6)]
    paths = []
    for i, f in enumerate(fs[:3]):
        table._loaded.clear()
        fa.jit(f)(X)
        paths.append(entry(cache_dir, f))
        for p in (paths[-1], sums(paths[-1])):
            os.utime(p, (2_000_000 + i, 2_000_000 + i))  # distinct ages, oldest first
    for p in (cache_dir / "table").glob("runtime-*"):  # (if this process wrote it here)
        os.utime(p, (3_000_000, 3_000_000))
    one = paths[0].stat().st_size + sums(paths[0]).stat().st_size
    table._loaded.clear()
    fa.jit(fs[0])(X)  # loaded again: now the most recent of the three
    order = [e[-1][0] for e in cache._entries(cache_dir)]  # (each entry's files last, oldest first)
    assert order.index(paths[0]) > order.index(paths[2]) > order.index(paths[1])
    monkeypatch.setenv("FUNCAD_CACHE_MAX_BYTES", str(cache.info()["bytes"] + one // 2))
    cache._scans.clear()  # (evict's last scan is recent: it would trust its count)
    table._loaded.clear()
    fa.jit(fs[3])(X)  # a new entry: over the bound, the least recently used ones go
    assert not paths[1].exists() and not sums(paths[1]).exists() and paths[0].exists()
    assert cache.info()["bytes"] <= cache.max_bytes()
    # evicted programs still run correctly: recompiled
    table._loaded.clear()
    np.testing.assert_allclose(fa.jit(fs[1])(X), np.sum(np.sin(X * 2.0)), rtol=1e-13)


# --------------------------------------------------------------------------------------
# The CLI


def test_cli_cache_info_and_clear(cache_dir, capsys):
    from funcad.__main__ import main

    run(f_sin)
    run(f_cos)
    entries = cache.info()["entries"]
    assert entries >= 2  # two programs (and the runtime every program calls through, if written here)
    assert main(["cache", "info"]) == 0
    out = capsys.readouterr().out
    assert str(cache_dir) in out and f"entries:   {entries}" in out
    assert main(["cache", "clear"]) == 0
    assert f"removed {entries} entries" in capsys.readouterr().out
    assert cache.info()["entries"] == 0 and not list((cache_dir / "table").iterdir())
    assert main(["cache", "bogus"]) == 2
    assert run(f_sin) == ("compiled", [])  # and it works after a clear
