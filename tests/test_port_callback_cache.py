"""pure_callback programs are cached on disk like any other: the compiled program calls the
callback through a key that is the same in every process (module, name, code hash and the
call's structure, numbered among the distinct functions of that text in the process), so a
second process loads it, and two different functions never share a key within a process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np

import funcad as fa
from funcad import callback as cb_module


def _scaled(k):
    def f(v):
        return np.cos(v) * k  # same code for every k: told apart by the numbering

    return f


def test_two_closures_with_the_same_code_call_their_own_function_under_jit():
    x = np.array([0.0, 1.0])

    def run(fun):
        return fa.jit(lambda x: fa.pure_callback(fun, np.zeros_like(x), x, vmap_method="sequential"))(x)

    f2, f3 = _scaled(2.0), _scaled(3.0)
    np.testing.assert_allclose(run(f2), 2 * np.cos(x))
    np.testing.assert_allclose(run(f3), 3 * np.cos(x))
    np.testing.assert_allclose(run(f2), 2 * np.cos(x))
    np.testing.assert_allclose(fa.jit(fa.vmap(lambda x: fa.pure_callback(
        f3, np.zeros_like(x), x, vmap_method="sequential")))(np.ones((2, 2))), 3 * np.cos(np.ones((2, 2))))
    k2 = cb_module._stable_key(f2, None, None, [])
    k3 = cb_module._stable_key(f3, None, None, [])
    assert k2 != k3 and k2.split("#")[0] == k3.split("#")[0]
    assert cb_module._stable_key(f2, None, None, []) == k2  # the same function, the same key


def test_autograd_primitives_with_different_constant_arguments_keep_their_own_call():
    from funcad.autograd.extend import primitive

    @primitive
    def scaled(x, k):
        return np.sin(x) * k

    x = np.array([0.5, 1.0])
    both = fa.jit(lambda x: fnp_stack([scaled(x, 2.0), scaled(x, np.array(3.0)), scaled(x, np.array(4.0))]))
    np.testing.assert_allclose(both(x), [2 * np.sin(x), 3 * np.sin(x), 4 * np.sin(x)])


def fnp_stack(xs):
    import funcad.numpy as fnp

    return fnp.stack(xs)


def test_a_second_process_loads_the_callback_program_from_the_disk_cache(tmp_path):
    script = textwrap.dedent("""
        import numpy as np, scipy.special, funcad as fa
        from funcad.autograd.extend import primitive
        j1 = primitive(scipy.special.j1)  # an autograd primitive: the same caching
        f = fa.jit(lambda x: fa.pure_callback(scipy.special.j0, np.zeros_like(x), x) * 2.0 + j1(x))
        print(f(np.array([0.0, 1.0]))[1] - scipy.special.j1(1.0))
    """)
    env = dict(os.environ, FUNCAD_CACHE_DIR=str(tmp_path), FUNCAD_LOG_COMPILES="1")
    runs = [subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                           timeout=300) for _ in range(2)]
    for r in runs:
        assert r.returncode == 0, r.stderr
        assert abs(float(r.stdout.strip()) - 2 * 0.7651976865579666) < 1e-12
    # the table backend (jit's default) runs the callbacks as host steps of its program
    assert "table backend, 1 kernel compiled" in runs[0].stderr, runs[0].stderr
    assert "table backend, 1 kernel loaded from the disk cache" in runs[1].stderr, runs[1].stderr
