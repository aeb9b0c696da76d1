"""The table backend (``FUNCAD_JIT_BACKEND=table``, backend/table.py) beside today's jit and JAX.

    python -m benchmarks.table_backend --rounds 2 --calls 200 --out table.json
    (JAX from /work/venv-bench: --jax-python /work/venv-bench/bin/python)

Per program (the MLP step of benchmarks/workloads.py at batch 128, the LSTM-20 gradient of
benchmarks/compile_programs.py) and round, fresh processes one after the other: today's jit
cold (empty cache) and warm (the cache that run filled), the table backend cold and warm,
JAX (no persistent cache). *first* is the first call after the imports (tracing and
compiling included; funcad's includes ``import numba`` where the path needs it, JAX's
excludes ``import jax``), wall and this process's CPU time; *per call* the median of the
next calls. The outputs of each funcad run are compared with today's jit's cold run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def _program(system: str, key: str):
    from benchmarks import compile_programs as cp
    from benchmarks import workloads as wl

    S = cp.adapter(system)
    if key == "mlp":
        if system == "funcad":
            import funcad.nn as nn
        else:
            import jax.nn as nn
        S.relu, S.log_softmax = nn.relu, nn.log_softmax
        return S.jit(wl.mlp_program(S)), wl.mlp_inputs(128)
    build, inputs = cp.PROGRAMS[key]
    return S.jit(build(S)), inputs()


def child(system: str, key: str, calls: int, save: str | None) -> dict:
    from benchmarks.compile_programs import _block

    c0, t0 = time.process_time(), time.perf_counter()
    f, args = _program(system, key)
    imports = time.process_time() - c0
    c0, t0 = time.process_time(), time.perf_counter()
    out = f(*args)
    _block(out)
    first, first_cpu = time.perf_counter() - t0, time.process_time() - c0
    times, cpu = [], []
    for _ in range(calls):
        c0, t0 = time.process_time(), time.perf_counter()
        _block(f(*args))
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    result = {"system": system, "program": key, "first": first, "first_cpu": first_cpu,
              "per_call": float(np.median(times)), "per_call_cpu": float(np.median(cpu)),
              "import_cpu": imports, "numba_imported": "numba" in sys.modules, "load": os.getloadavg()[0]}
    if system == "funcad":
        from funcad.backend import dispatch, table
        from funcad.tree_util import tree_leaves

        result["backend"] = sorted({type(e).__name__ for e in dispatch._executables.values()})
        result["table"] = dict(table.stats)
        leaves = [np.asarray(x) for x in tree_leaves(out)]
        if save:
            np.savez(save, *leaves)
    return result


def _run(python, system, key, calls, env, save=None) -> dict:
    cmd = [python, "-m", "benchmarks.table_backend", "--child", system, key, str(calls), save or ""]
    p = subprocess.run(cmd, env=dict(os.environ, PYTHONPATH=str(ROOT), **env), cwd=ROOT,
                       capture_output=True, text=True)
    if p.returncode:
        return {"system": system, "program": key, "error": p.stderr.strip().splitlines()[-1:]}
    return json.loads(p.stdout.strip().splitlines()[-1])


def compare(a: str, b: str) -> float:
    """The largest difference between two saved outputs, relative to each leaf's largest value."""
    x, y = np.load(a), np.load(b)
    return max(float(np.max(np.abs(x[k] - y[k])) / max(np.max(np.abs(x[k])), 1e-300)) if x[k].size else 0.0
               for k in x)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--programs", default="mlp,lstm20")
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--calls", type=int, default=200)
    p.add_argument("--jax-python", default="/work/venv-bench/bin/python")
    p.add_argument("--out")
    p.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        system, key, calls, save = a.child
        print(json.dumps(child(system, key, int(calls), save or None)))
        return 0
    results = []
    for r in range(a.rounds):
        for key in a.programs.split(","):
            with tempfile.TemporaryDirectory(prefix="funcad-table-") as tmp:
                ref = f"{tmp}/ref.npz"
                for label, env in (("jit", {}), ("table", {"FUNCAD_JIT_BACKEND": "table"})):
                    env = dict(env, FUNCAD_CACHE_DIR=f"{tmp}/{label}")
                    for cache in ("cold", "warm"):
                        save = ref if (label, cache) == ("jit", "cold") else f"{tmp}/out.npz"
                        res = _run(sys.executable, "funcad", key, a.calls, env, save)
                        res.update(label=f"{label} {cache}", round=r)
                        if "error" not in res and save != ref:
                            res["max_rel_diff"] = compare(ref, save)
                        results.append(res)
                        print(json.dumps(res), file=sys.stderr)
                res = _run(a.jax_python, "jax", key, a.calls, {})
                res.update(label="jax", round=r)
                results.append(res)
                print(json.dumps(res), file=sys.stderr)
    if a.out:
        Path(a.out).write_text(json.dumps(results, indent=1))
    print("| program | round | run | first call | CPU | per call | CPU | numba imported | max rel. diff "
          "| load |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for x in results:
        if "error" in x:
            print(f"| {x['program']} | {x['round']} | {x['label']} | error: {x['error']} |")
            continue
        print(f"| {x['program']} | {x['round']} | {x['label']} | {x['first']:.3g} s | "
              f"{x['first_cpu']:.3g} s | {x['per_call'] * 1e3:.3g} ms | {x['per_call_cpu'] * 1e3:.3g} ms | "
              f"{x.get('numba_imported', '-')} | "
              f"{x.get('max_rel_diff', '-')} | {x['load']:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
