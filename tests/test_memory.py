"""Memory: the programs jit holds are bounded (FUNCAD_JIT_CACHE_SIZE bounds dispatch's memo
of executables), and what a process keeps per distinct program stays small (the table
backend's code is freed with the last program running it: table_engine._Code).

Measured in child processes (resident set size from /proc): one fills a disk cache with
programs, a second loads them all, as a long-running process making distinct programs would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import funcad as fa
import funcad.numpy as fnp
from funcad.backend import cache, dispatch

pytestmark = pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs /proc")

CHILD = textwrap.dedent("""
    import gc, json, os, sys
    import numpy as np, funcad as fa, funcad.numpy as fnp
    from funcad.backend import dispatch, table

    def rss():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def make(i):
        return lambda x: fnp.sum(fnp.sin(x) * float(i) + x)

    x = np.linspace(0.0, 1.0, 8)
    n, warmup = int(sys.argv[1]), int(sys.argv[2])
    marks = {}
    for i in range(n):
        if i == warmup:
            gc.collect()
            marks["start"] = rss()
        f = fa.jit(make(i))
        assert abs(f(x) - np.sum(np.sin(x) * i + x)) < 1e-9
    gc.collect()
    marks["end"] = rss()
    print(json.dumps({"per_program": (marks["end"] - marks["start"]) / (n - warmup),
                      "executables": len(dispatch._executables),
                      "kinds": sorted({type(e).__name__ for e in dispatch._executables.values()}),
                      **table.stats}))
""")


def _child(cache_dir, n, warmup, size):
    env = dict(os.environ, FUNCAD_CACHE_DIR=str(cache_dir), FUNCAD_JIT_CACHE_SIZE=str(size))
    env["PYTHONPATH"] = os.pathsep.join([str(Path(fa.__file__).parent.parent), env.get("PYTHONPATH", "")])
    r = subprocess.run([sys.executable, "-c", CHILD, str(n), str(warmup)], env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_distinct_programs_loaded_from_disk_keep_under_100_mb_per_thousand(tmp_path):
    """32 distinct programs compiled (and cached on disk) by one process, loaded by another
    that keeps 8 in dispatch's memo: the memo stays bounded, and what stays per program
    extrapolates to well under 100 MB for 1,000 programs (measured: 6-12 kB each). (Before the
    bound: ~1.8 MB per program, all kept: +537 MB after 300.)"""
    n, warmup, size = 32, 8, 8
    _child(tmp_path, n, 0, size)  # fills the disk cache
    out = _child(tmp_path, n, warmup, size)
    assert out["kinds"] == ["TableProgram"] and (out["loaded"], out["compiled"]) == (n, 0)
    assert out["executables"] <= 2 * size
    print(f"retained per program: {out['per_program'] / 1e3:.0f} kB")
    assert out["per_program"] * 1000 < 100e6, f"{out['per_program'] / 1e3:.0f} kB per program"


def test_a_thousand_fresh_programs_grow_the_process_by_under_150_mb(tmp_path):
    """Programs compiled afresh (empty disk cache), in this process. Measured here over 28
    programs after 12 (92-97 kB each on this machine, llvmlite 0.50: ~95 MB for 1,000; the
    Numba path, which sent programs past its 16th to a worker process, was held under 100 MB)."""
    n, warmup = 40, 12
    out = _child(tmp_path, n, warmup, size=8)
    assert (out["compiled"], out["loaded"]) == (n, 0) and out["executables"] <= 16
    print(f"retained per compiled program: {out['per_program'] / 1e3:.0f} kB")
    assert out["per_program"] * 1000 < 150e6, f"{out['per_program'] / 1e3:.0f} kB per program"


def test_config_sets_the_memory_bounds(monkeypatch):
    monkeypatch.setenv("FUNCAD_JIT_CACHE_SIZE", "512")
    fa.config.update("jit_cache_size", 7)
    assert cache.max_programs() == 7 and fa.config.jit_cache_size == 7
    with pytest.raises(fa.errors.ArgumentError, match="jit_cache_size takes an integer"):
        fa.config.update("jit_cache_size", "many")


def test_programs_past_the_bound_still_run_right(monkeypatch, tmp_path):
    monkeypatch.setenv("FUNCAD_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("FUNCAD_JIT_CACHE_SIZE", "2")
    dispatch._executables.clear()
    x = np.linspace(0.0, 1.0, 5)
    fs = [fa.jit(lambda x, k=k: fnp.sum(fnp.cos(x) * (k + 0.5))) for k in range(6)]
    for f in fs:
        f(x)
    assert len(dispatch._executables) <= 4
    for k, f in enumerate(fs):  # the first ones left dispatch's memo: right all the same
        np.testing.assert_allclose(f(x), np.sum(np.cos(x) * (k + 0.5)), rtol=1e-13)
    assert len(dispatch._executables) <= 4


def test_the_memos_are_bounded(monkeypatch):
    monkeypatch.setenv("FUNCAD_JIT_CACHE_SIZE", "3")
    saved = dict(dispatch._executables)
    try:
        for i in range(10):
            dispatch._remember(object(), i)
        assert len(dispatch._executables) == 6
    finally:
        dispatch._executables.clear()
        dispatch._executables.update(saved)
