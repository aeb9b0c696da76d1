"""What ``jit(f).lower(*args).source`` shows of a table program (backend/table_source.py):
each equation of the simplified jaxpr (as ``print(lower(...).jaxpr)`` prints it) above the
entries computing it, buffers named by variables and argument paths, kernels shown once with
their sizes as named constants, and the text built only when ``.source`` is read."""

from __future__ import annotations

import re

import numpy as np
import pytest

import funcad as fa
import funcad.numpy as fnp
from funcad.backend import dispatch, table, table_source

pytestmark = pytest.mark.usefixtures("table_backend")  # (tests/conftest.py: each test's programs only)


def _mlp_loss(params, x, y):
    w1, b1, w2, b2 = params
    hidden = fa.nn.relu(x @ w1 + b1)
    return -fnp.sum(y * fa.nn.log_softmax(hidden @ w2 + b2)) / x.shape[0]


def _mlp_args():
    rng = np.random.default_rng(0)
    params = (rng.normal(size=(5, 4)), rng.normal(size=4), rng.normal(size=(4, 3)), rng.normal(size=3))
    return params, rng.normal(size=(8, 5)), np.eye(3)[rng.integers(0, 3, 8)]


def _lowered(f, *args):
    """``jit(f).lower(*args)``, after checking that the program runs on the table backend."""
    fa.jit(f)(*args)
    assert {type(e) for e in dispatch._executables.values()} == {table.TableProgram}
    return fa.jit(f).lower(*args)


def _comments(source: str) -> list:
    """The equations the source shows, without their notes on where values live."""
    return [re.sub(r"  \(.*\)$", "", ln[2:]) for ln in source.splitlines() if re.match(r"# \w+:\S+ = ", ln)]


def test_every_equation_of_the_jaxpr_is_shown_once_in_order():
    low = _lowered(fa.value_and_grad(_mlp_loss), *_mlp_args())
    eqns = [ln.strip() for ln in str(low.jaxpr).splitlines()[1:-1]]  # print's own lines, names
    shown = _comments(low.source)
    assert sorted(shown) == sorted(eqns)
    # in an order the program can run in (fusion's): each after the equations it reads
    defined = set(re.findall(r"\b(\w+):", str(low.jaxpr).splitlines()[0]))
    for e in shown:
        out, _, rhs = e.partition(" = ")
        assert set(re.findall(r"\b[a-z]+\b", rhs.split("]")[-1])) - {rhs.split()[0]} <= defined, e
        defined.add(out.split(":")[0])


def test_the_arguments_and_results_are_named():
    low = _lowered(fa.value_and_grad(_mlp_loss), *_mlp_args())
    src = low.source
    assert "a:f64[5,4] = params[0], b:f64[4] = params[1]" in src
    assert "e:f64[8,5] = x, f:f64[8,3] = y" in src.replace("\n#     ", " ")
    outs = str(low.jaxpr).splitlines()[-1].strip()  # "in (bb, bt, br, bn, bl) }"
    assert f"# results: {outs[4:-3]}" in src


def test_calls_sit_under_their_equations_and_name_what_they_touch():
    low = _lowered(fa.value_and_grad(_mlp_loss), *_mlp_args())
    lines = low.source.splitlines()
    names = set(re.findall(r"\b([a-z]+):", str(low.jaxpr)))
    calls = [k for k, ln in enumerate(lines) if re.match(r"k\d+\(", ln)]
    assert f"# table program {low.source.split()[3]} {len(calls)} entries" in low.source
    gemms = 0
    for k in calls:
        args = re.match(r"k\d+\((.*)\)$", lines[k]).group(1).split(", ")
        assert all(a in names or re.fullmatch(r"t\d+|\w+\+\d+", a) for a in args), lines[k]
        above = k - 1
        while re.match(r"def |    |k\d+\(|# k\d+: ", lines[above]):  # its kernel, earlier calls
            above -= 1
        assert re.match(r"# \w+:\S+ = ", lines[above]), (lines[k], lines[above])
        if lines[k - 1].startswith(f"# {lines[k].split('(')[0]}: C = A @ B"):
            gemms += 1
            out = args[2]  # C = A @ B: its output's equation is a matmul of the other two
            eqn = next(ln for ln in lines[:k] if ln.startswith(f"# {out}:"))
            assert re.search(rf"= matmul {args[0]} {args[1]}\b", eqn), eqn
    assert gemms == 5  # the forward's two products, the backward's three


def test_loop_kernels_are_defs_with_their_sizes_as_named_constants():
    low = _lowered(fa.value_and_grad(_mlp_loss), *_mlp_args())
    kernels = re.findall(r"^def k\d+\(.*\):.*\n((?:    .*\n)+)", low.source, re.M)
    assert len(kernels) >= 4
    for body in kernels:
        used = set(re.findall(r"range\((n\d+)\)", body))
        declared = re.search(r"^    (n\d+(?:, n\d+)*) = (\d+(?:, \d+)*)$", body, re.M)
        if not used:
            continue
        assert declared and used <= set(declared.group(1).split(", ")), body
        assert set(map(int, declared.group(2).split(", "))) <= {8, 5, 4, 3}  # the MLP's sizes
    # the fused hidden layer (add, gt, select over 8 x 4)
    k = re.search(r"^# j:f64\[8,4\] = select i h 0.0.*\n(def k\d+.*\n(?:    .*\n)+)", low.source, re.M)
    assert k and "    n0, n1 = 8, 4\n" in k.group(1)
    assert "S[" not in low.source


def test_a_kernel_shared_by_several_calls_is_shown_once_with_where_it_is_used():
    def f(x, w):
        for _ in range(4):  # unrolled: four steps of one structure share their kernels
            x = fnp.tanh(x @ w) + x
        return x

    x, w = np.random.default_rng(1).normal(size=(6, 5)), np.random.default_rng(2).normal(size=(5, 5))
    src = _lowered(f, x, w).source
    defs = re.findall(r"^def (k\d+)\(.*\):  # (\d+) calls, for (.*)$", src, re.M)
    assert defs, src
    for k, n, where in defs:
        assert len(re.findall(rf"^{k}\(", src, re.M)) == int(n) == 4
        assert len(set(where.split(", "))) == 4  # the items (by their first result) calling it
        assert src.count(f"def {k}(") == 1
    gemm = re.search(r"^# (k\d+): C = A @ B, 6 x 5 @ 5 x 5 \(\?gemm, float64\); 4 calls", src, re.M)
    assert gemm and len(re.findall(rf"^{gemm.group(1)}\(", src, re.M)) == 4


def test_where_values_live():
    def f(x, w):
        h = fnp.tanh(x @ w)
        return h.T, fnp.sum(h * h)

    x, w = np.ones((6, 5)), np.ones((5, 4))
    low = _lowered(f, x, w)
    src = low.source
    program = table.build(low.jaxpr)
    eqn = {ln.split(":")[0][2:]: ln for ln in src.splitlines() if re.match(r"# \w+:\S+ = ", ln)}
    assert eqn["c"].endswith("(arena+0)")  # the product, read by the next loops
    offsets = [int(m) for m in re.findall(r"\(arena\+(\d+)\)", src)]
    assert all(o % 64 == 0 and o < program.arena_bytes for o in offsets)
    assert re.search(r"= transpose\[permutation=\(1, 0\)\] \w+  \(a view of \w+\)$", src, re.M)
    assert re.search(r"= reduce_sum\[axes=\(0, 1\)\] \w+  \(result 1\)$", src, re.M)


def test_the_text_is_built_only_when_read(monkeypatch):
    calls = []
    real = table.DESCRIBE
    assert real is table_source.source
    monkeypatch.setattr(table, "DESCRIBE", lambda *a: calls.append(1) or real(*a))
    x = np.arange(6.0)
    f = fa.jit(lambda x: fnp.sin(x) * 2.0)
    np.testing.assert_allclose(f(x), np.sin(x) * 2.0)
    (exe,) = dispatch._executables.values()
    assert isinstance(exe, table.TableProgram) and calls == []
    assert exe.source.startswith("# table program ") and calls == [1]


def _entries(source: str) -> list:
    """The table's entries in order (kernel calls, jumps, host steps), without indentation."""
    return [ln.strip() for ln in source.splitlines()
            if re.match(r"\s*(k\d+\(|goto |if .* goto |step: |host\[)", ln)]


def test_a_while_loop_shows_its_bodies_and_numbered_jumps():
    def halve_until_small(x):
        return fa.lax.while_loop(lambda x: fnp.max(fnp.abs(x)) > 1.0, lambda x: 0.5 * x, x)

    x = 8.0 * np.random.default_rng(3).normal(size=6)
    low = _lowered(halve_until_small, x)
    src, jaxpr = low.source, str(low.jaxpr)
    np.testing.assert_allclose(fa.jit(halve_until_small)(x), halve_until_small(x))
    entries = _entries(src)
    assert f"{len(entries)} entries" in src.splitlines()[0]
    # every jump's target is the number of the entry it labels (or the end)
    lines = src.splitlines()
    targets = [int(t) for t in re.findall(r"goto (\d+)", src)]
    assert len(targets) == 2
    for t in targets:
        at = lines.index(f"{t}:" if t < len(entries) else f"{t}:  # the end")
        following = _entries("\n".join(lines[at:]))
        assert following == entries[t:]
    # the cond and the body, each under its lambda (as print(jaxpr) shows them), indented
    lambdas = re.findall(r"^    # \{ lambda ; (\w+):f64\[6\]\. let  \(\1 is (\w+)\)$", src, re.M)
    out = re.search(r"(\w+):f64\[6\] = while", jaxpr).group(1)
    assert [c for _, c in lambdas] == [out, out]  # the carry lives in the loop's result
    for name, _ in lambdas:
        assert f"{{ lambda ; {name}:f64[6]. let" in jaxpr
    assert re.search(r"^    # in \(\w+,\) \}$", src, re.M)
    for ln in _comments(src):
        assert ln in jaxpr


def test_a_scan_reads_and_writes_its_slices():
    def f(xs, w):
        def body(h, x):
            h = fnp.tanh(w @ h + x)
            return h, 2.0 * h
        return fa.lax.scan(body, fnp.zeros(3), xs)

    xs, w = np.random.default_rng(4).normal(size=(5, 3)), 0.5 * np.eye(3)
    low = _lowered(f, xs, w)
    src = low.source
    got, want = fa.jit(f)(xs, w), f(xs, w)
    np.testing.assert_allclose(got[1], want[1])
    a, b = re.search(r"(\w+):f64\[5,3\] = xs, (\w+):f64\[3,3\] = w", src).groups()
    assert re.search(rf"\(\w+ is {b}, \w+ is \w+, \w+ is {a}\[i\]\)$", src, re.M)
    assert re.search(rf"^    k\d+\(.*\b{a}\[i\].*\)$", src, re.M)  # the body reads xs[i]
    ys = re.search(r"(\w+):f64\[5,3\] = scan", src).group(1)
    assert re.search(rf"^k\d+\({ys}\[i\], \w+\)$", src, re.M)  # ys[i] written after the body
    assert re.search(r"^step: loop 0, 5 iterations, back to (\d+)$", src, re.M)


def test_arguments_are_named_with_statics_keywords_and_constants():
    c = np.arange(3.0)  # closed over: a constant input of the program

    def f(x, n, *, scale):
        return fnp.sin(x) * scale["s"] * n + c

    x, s = np.ones(3), {"s": np.float64(2.0)}
    jf = fa.jit(f, static_argnums=1)
    np.testing.assert_allclose(jf(x, 3, scale=s), np.sin(x) * 2.0 * 3 + c)
    assert {type(e) for e in dispatch._executables.values()} == {table.TableProgram}
    head = jf.lower(x, 3, scale=s).source.split("\n# results")[0].replace("\n#     ", " ")
    assert re.search(r"# arguments: \w+:f64\[3\] = a constant, \w+:f64\[3\] = x, \w+:f64\[\] = scale\['s'\]$",
                     head), head


def test_a_lapack_kernel_is_one_line_and_its_status_word_named():
    def f(a, b):
        return fnp.linalg.solve(a @ a.T, b) * 2.0

    a, b = np.random.default_rng(5).normal(size=(4, 4)) + 4 * np.eye(4), np.ones(4)
    src = _lowered(f, a, b).source
    np.testing.assert_allclose(fa.jit(f)(a, b), np.linalg.solve(a @ a.T, b) * 2.0, rtol=1e-12)
    k = re.search(r"^# (k\d+): \?gesv\(\) on 1 matrices, n = 4, k = 1 \(float64\)$", src, re.M)
    assert k and re.search(rf"^{k.group(1)}\(t\d+, \w+, t\d+, status0\)$", src, re.M)
    assert re.search(r"# \w+:f64\[4,1\] = solve \w+ \w+  \(arena\+\d+\)", src)


def test_a_host_step_shows_the_primitive_it_calls_under_its_equation():
    def f(x):
        return fnp.sort(fnp.sin(x)) * 2.0

    x = np.random.default_rng(6).normal(size=6)
    src = _lowered(f, x).source
    np.testing.assert_allclose(fa.jit(f)(x), np.sort(np.sin(x)) * 2.0)
    step = re.search(r"^# (\w+):f64\[6\] = sort\[axis=0\] (\w+)  \(arena\+\d+\)\n"
                     r"host\[sort\]\((\w+), (\w+)\)$", src, re.M)
    assert step and step.group(3, 4) == step.group(2, 1)
