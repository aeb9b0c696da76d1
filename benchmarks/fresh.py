"""Measurements that need a fresh process: first-call latency and peak memory.

The parent runs ``python -m benchmarks.fresh SYSTEM WORKLOAD SIZE CALLS`` with the caches of every
system pointed at a directory of its choosing (see :func:`cache_env`); the child imports the
system, builds the workload, calls it ``CALLS`` times and prints one JSON line:

- ``import_s``: importing the system; ``first_call_s``: build + trace + compile + first run;
- ``rss_base_mb``: resident memory after imports and inputs, before the workload is built;
- ``peak_first_mb``: peak resident memory (VmHWM) up to the end of the first call, so it
  includes compilation;
- ``peak_steady_mb``: the peak over the later calls alone, minus the resident memory just before
  them: what one call needs on top of what is held. The kernel's peak counter is reset between
  the two by writing 5 to /proc/self/clear_refs (Linux >= 4.0); without that file it is null.

Memory is read from /proc/self/status (VmRSS, VmHWM), i.e. resident set size as the OS sees it,
which counts every allocator (NumPy, XLA, PyTorch, LLVM); tracemalloc would see only Python's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path


def cache_env(root: Path) -> dict:
    """Environment variables that put every system's on-disk cache under ``root``."""
    return {
        "FUNCAD_CACHE_DIR": str(root / "funcad"),
        "NUMBA_CACHE_DIR": str(root / "numba"),
        "PYTENSOR_FLAGS": f"base_compiledir={root / 'pytensor'}",
        "JAX_COMPILATION_CACHE_DIR": str(root / "jax"),
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
        "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0",
    }


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024.0
    raise KeyError(field)


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def child(system_key: str, workload_key: str, size: int, calls: int) -> dict:
    """Run one workload in this (fresh) process and return the measurements."""
    from .measure import build_call
    from .systems import load_system, system_by_key
    from .workloads import workload_by_key

    start, cpu = time.perf_counter(), time.process_time()
    loaded = load_system(system_by_key(system_key))
    if loaded.adapter is None:
        return {"status": "skipped", "reason": loaded.reason}
    import_s, import_cpu_s = time.perf_counter() - start, time.process_time() - cpu
    workload = workload_by_key(workload_key)
    inputs = workload.make_inputs(size)
    base = _status_mb("VmRSS")
    start, cpu = time.perf_counter(), time.process_time()
    call = build_call(loaded, workload, inputs)
    call()
    first_call_s, first_call_cpu_s = time.perf_counter() - start, time.process_time() - cpu
    peak_first = _status_mb("VmHWM")
    steady = None
    if calls > 1 and _reset_peak():
        before = _status_mb("VmRSS")
        for _ in range(calls - 1):
            call()
        steady = _status_mb("VmHWM") - before
    return {
        "status": "ok",
        "import_s": import_s,
        "first_call_s": first_call_s,
        "import_cpu_s": import_cpu_s,  # CPU time of the process (all its threads)
        "first_call_cpu_s": first_call_cpu_s,
        "rss_base_mb": base,
        "peak_first_mb": peak_first,
        "peak_steady_mb": steady,
    }


_BYTECODE_READY = False


def _compile_funcad_bytecode(root: Path) -> None:
    """Write funcad's ``.pyc`` files beside its sources, as installing it does (pip compiles
    them), so that a child's ``import funcad`` reads bytecode as the peers' imports do from
    site-packages. Without this, under ``PYTHONDONTWRITEBYTECODE=1`` (set in the sandboxes this
    project runs in), every fresh process compiled funcad's ~40k lines from source: ~0.2 s of
    CPU in ``import funcad`` and ~15 ms more in the modules a first call imports."""
    global _BYTECODE_READY
    if not _BYTECODE_READY:
        import compileall

        for package in ("funcad", "benchmarks"):
            compileall.compile_dir(str(root / package), quiet=2)
        _BYTECODE_READY = True


def run_fresh(
    system_key: str, workload_key: str, size: int, calls: int, cache_root: Path, timeout_s: float = 600.0
) -> dict:
    """Run :func:`child` in a new interpreter with caches under ``cache_root`` (and funcad's
    bytecode compiled first, as an installed package has it)."""
    env = {**os.environ, **cache_env(cache_root)}
    cmd = [sys.executable, "-m", "benchmarks.fresh", system_key, workload_key, str(size), str(calls)]
    root = Path(__file__).resolve().parent.parent
    _compile_funcad_bytecode(root)
    try:
        proc = subprocess.run(cmd, env=env, cwd=root, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {"status": "failed", "reason": f"timed out after {timeout_s:.0f} s"}
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"status": "failed", "reason": f"exit {proc.returncode}: {tail}"}
    return json.loads(lines[-1])


def main(argv: list[str]) -> None:
    system_key, workload_key, size, calls = argv
    try:
        result = child(system_key, workload_key, int(size), int(calls))
    except Exception as exc:  # noqa: BLE001 - reported to the parent as a failed cell
        result = {"status": "failed", "reason": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
