"""Large arrays on the table backend (written beside the former Numba backend, removed in issue 16).

    python -m benchmarks.table_parallel --rounds 5 --calls 20
    python -m benchmarks.table_parallel --lstm --before /path/to/an/older/checkout
    python -m benchmarks.table_parallel --launch --rounds 7 --calls 1000

Programs (benchmarks/workloads.py): the value and gradient of the 1e6-element elementwise
chain (one parallel kernel), logistic regression's gradient and the Newton step at d=1000
(n=1000), timed in blocks of ``--calls`` calls: per call, the median over blocks of wall and
CPU time (CPU: this process's, every thread's). ``--lstm`` times the LSTM-20 gradient of
benchmarks/compile_programs.py on the table backend in fresh processes, this checkout and
``--before`` alternating (each importing its own funcad), with the arena's size.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def programs():
    from benchmarks import workloads as wl
    from benchmarks.systems import _load_funcad

    S = _load_funcad(True)
    w, x, y = wl.newton_inputs(1000)

    def loss(w, x, y):
        return S.np.mean(S.softplus(-y * (x @ w))) + 0.5 * wl.NEWTON_L2 * (w @ w)

    return {"chain 1e6": (wl.elementwise_program(S), wl.elementwise_inputs(10 ** 6)),
            "logistic gradient d=1000": (S.grad(loss), (w, x, y)),
            "Newton step d=1000": (wl.newton_program(S), (w, x, y))}


def _block(f, args, calls):
    c0, t0 = time.process_time(), time.perf_counter()
    for _ in range(calls):
        f(*args)
    return (time.perf_counter() - t0) / calls, (time.process_time() - c0) / calls


def compare(rounds: int, calls: int) -> list[dict]:
    import funcad as fa

    rows = []
    for name, (fn, args) in programs().items():
        f = fa.jit(fn)
        f(*args)
        t = [_block(f, args, calls) for _ in range(rounds)]
        row = {"program": name, "wall ms": float(np.median([w for w, _ in t])) * 1e3,
               "cpu ms": float(np.median([c for _, c in t])) * 1e3, "load": os.getloadavg()[0]}
        rows.append(row)
        print(json.dumps(row), file=sys.stderr)
    return rows


def launch(rounds: int, calls: int) -> None:
    """The cost of a parallel launch: a 256-element kernel made parallel (PARALLEL_MIN_SIZE
    patched to 64), on 1 and 2 threads."""
    import funcad as fa
    from funcad.backend import codegen, table_parallel

    codegen.PARALLEL_MIN_SIZE = 64
    x = np.random.default_rng(0).normal(size=256)
    f = fa.jit(lambda x: x * 2.0 + 1.0)
    f(x)
    print(f"load {os.getloadavg()[0]:.1f}")
    for threads in (1, 2):
        table_parallel.set_threads(threads)
        t = [_block(f, (x,), calls) for _ in range(rounds)]
        wall, cpu = (np.median([x[j] for x in t]) * 1e6 for j in (0, 1))
        print(f"{threads} thread(s): per call wall {wall:.1f} us, CPU {cpu:.1f} us")


def lstm_child(calls: int) -> dict:
    import funcad as fa
    from benchmarks import compile_programs as cp
    from funcad.backend import dispatch, table

    build, inputs = cp.PROGRAMS["lstm20"]
    args = inputs()
    f = fa.jit(build(cp.adapter("funcad")))
    f(*args)
    (exe,) = [e for e in dispatch._executables.values() if isinstance(e, table.TableProgram)]
    times = [_block(f, args, calls) for _ in range(15)]
    return {"arena bytes": exe.arena_bytes, "calls": len(exe.fns),
            "wall ms": float(np.median([w for w, _ in times])) * 1e3,
            "cpu ms": float(np.median([c for _, c in times])) * 1e3, "load": os.getloadavg()[0]}


def lstm(before: str, rounds: int, calls: int) -> list[dict]:
    rows = []
    for r in range(rounds):
        for label, tree in (("after", ROOT), ("before", Path(before))):
            env = dict(os.environ, PYTHONPATH=str(tree), FUNCAD_CACHE_DIR=f"/tmp/fc-table-parallel-{label}")
            code = (f"import json, os, time\nimport numpy as np\n{inspect.getsource(_block)}\n"
                    f"{inspect.getsource(lstm_child)}\nprint(json.dumps(lstm_child({calls})))")
            p = subprocess.run([sys.executable, "-c", code], env=env, cwd=tree, capture_output=True,
                               text=True)
            if p.returncode:
                raise RuntimeError(p.stderr)
            row = dict(json.loads(p.stdout.strip().splitlines()[-1]), label=label, round=r)
            rows.append(row)
            print(json.dumps(row), file=sys.stderr)
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--calls", type=int, default=20)
    p.add_argument("--lstm", action="store_true")
    p.add_argument("--before", help="a checkout to compare the LSTM-20 gradient with")
    p.add_argument("--launch", action="store_true", help="the cost of a parallel launch")
    a = p.parse_args(argv)
    if a.launch:
        launch(a.rounds, a.calls)
        return 0
    if a.lstm:
        rows = lstm(a.before, a.rounds, a.calls)
        print("| run | round | arena | kernel calls | per call wall | CPU | load |")
        print("|---|---|---|---|---|---|---|")
        for x in rows:
            print(f"| {x['label']} | {x['round']} | {x['arena bytes']:,} B | {x['calls']} | "
                  f"{x['wall ms']:.3f} ms | {x['cpu ms']:.3f} ms | {x['load']:.1f} |")
        return 0
    rows = compare(a.rounds, a.calls)
    print("| program | wall | CPU | load |\n|---|---|---|---|")
    for x in rows:
        print(f"| {x['program']} | {x['wall ms']:.2f} ms | {x['cpu ms']:.2f} ms | {x['load']:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
