"""The course's comparisons, computed with funcad: each returns the numbers and can plot them.

* :func:`finite_difference_errors`: the error of forward (and central) differences against the
  exact derivative as the step h shrinks: truncation error falls like h, round-off grows like
  eps/h, and the log-log curve is a V with its bottom near sqrt(eps) ~ 1e-8; funcad's
  gradient is exact to rounding (~1e-16) at no choice of h.
* :func:`derivative_program_sizes`: the number of equations in the program of the nth
  derivative of tanh, before and after funcad's simplifier (expression swell made visible).
* :func:`mode_costs`: forward versus reverse mode for f: R^n -> R (one VJP against n JVPs)
  and for f: R -> R^n (one JVP against n VJPs): why backpropagation.

The ``plot_*`` functions draw each as a PNG with matplotlib (``pip install "funcad[plot]"``);
:func:`pyplot` returns None when matplotlib is missing, and callers print the numbers instead.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence

import numpy as np

from funcad import numpy as fnp
from funcad.api import grad, jvp, make_jaxpr, vjp
from funcad.jaxpr import ClosedJaxpr, Jaxpr, _subjaxprs

PLOT_HINT = "hint: install matplotlib for the pictures (pip install 'funcad[plot]')"


# --------------------------------------------------------------------------------------
# 1. Numerical differentiation: truncation versus round-off


def _course_f(x):
    return fnp.exp(x) * fnp.sin(x)


def _course_df(x):
    return np.exp(x) * (np.sin(x) + np.cos(x))


def finite_difference_errors(
    f: Callable = _course_f,
    df: Callable = _course_df,
    x: float = 1.0,
    hs: Sequence[float] | None = None,
) -> dict:
    """Relative errors of forward and central differences and of funcad's grad at ``x``.

    ``f`` is written with funcad.numpy (so funcad can differentiate it) and ``df`` is its
    derivative in closed form, the reference. The default is f(x) = exp(x) sin(x) at x = 1.
    Returns a dict: ``h`` (the steps), ``forward`` and ``central`` (relative errors per step),
    ``funcad`` (the relative error of ``grad(f)(x)``), ``best_h`` (the step of the smallest
    forward-difference error).

    >>> d = finite_difference_errors()
    >>> 1e-9 < d["best_h"] < 1e-7, d["funcad"] < 1e-15
    (True, True)
    """
    hs = np.logspace(-16, 0, 65) if hs is None else np.asarray(hs, dtype=np.float64)
    exact = float(df(x))
    fx = float(f(x))
    fwd = np.array([(float(f(x + h)) - fx) / h for h in hs])
    cen = np.array([(float(f(x + h)) - float(f(x - h))) / (2 * h) for h in hs])
    ad = float(grad(f)(x))
    rel = lambda v: np.abs(v - exact) / abs(exact)  # noqa: E731
    forward = rel(fwd)
    return {"h": hs, "forward": forward, "central": rel(cen), "funcad": float(rel(ad)),
            "best_h": float(hs[np.argmin(forward)]), "x": x, "exact": exact}


def plot_finite_differences(data: dict, path: str) -> str | None:
    """The V-shaped curve of forward differences on log-log axes, next to funcad's error."""
    plt = pyplot()
    if plt is None:
        return None
    eps = np.finfo(np.float64).eps
    floor = eps / 4  # where an error of exactly 0 is drawn (log axes have no 0)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    h = data["h"]
    ax.loglog(h, np.maximum(data["forward"], floor), "o-", ms=3, label="forward difference (f(x+h)-f(x))/h")
    ax.loglog(h, np.maximum(data["central"], floor), "s-", ms=3, alpha=0.6,
              label="central difference (f(x+h)-f(x-h))/2h")
    ad = max(data["funcad"], floor)
    ax.axhline(ad, color="C2", lw=2.5,
               label=f"funcad grad (exact): {data['funcad']:.1e}"
               + (" (exactly 0)" if data["funcad"] == 0 else ""))
    ax.loglog(h, np.clip(h, floor, None) / 2, ":", color="gray", lw=1)
    ax.loglog(h, np.clip(eps / h, floor, 10), "--", color="gray", lw=1)
    ax.text(1e-5, 3e-8, "truncation ~ h", color="gray", rotation=28)
    ax.text(1e-14, 3e-3, "round-off ~ eps/h", color="gray", rotation=-28)
    ax.axvline(data["best_h"], color="C0", lw=0.8, ls=":")
    ax.set_xlabel("step h")
    ax.set_ylabel("relative error of the derivative")
    ax.set_ylim(floor / 2, 10)
    ax.set_title(f"Numerical vs automatic differentiation: f(x) = exp(x) sin(x), x = {data['x']:g}\n"
                 f"best forward step h = {data['best_h']:.0e} (about sqrt(eps) = {np.sqrt(eps):.0e})",
                 fontsize=10)
    ax.legend(fontsize=8, loc="lower left")
    return _save(fig, plt, path)


def print_finite_differences(data: dict, every: int = 4) -> None:
    """The table of relative errors (every ``every``-th step) and the summary."""
    print(f"d/dx exp(x) sin(x) at x = {data['x']:g}: exact {data['exact']:.17g}")
    print(f"{'h':>8}  {'forward rel. error':>18}  {'central rel. error':>18}")
    for h, e1, e2 in zip(data["h"][::every], data["forward"][::every], data["central"][::every]):
        print(f"{h:8.0e}  {e1:18.2e}  {e2:18.2e}")
    i = int(np.argmin(data["forward"]))
    print(f"smallest forward-difference error {data['forward'][i]:.1e} at h = {data['best_h']:.0e} "
          f"(truncation ~ h meets round-off ~ eps/h near sqrt(eps) = {np.sqrt(np.finfo(float).eps):.1e})")
    print(f"funcad's grad: relative error {data['funcad']:.1e}, with no step to choose")


# --------------------------------------------------------------------------------------
# 2. Expression swell: the nth derivative of tanh


def count_eqns(jaxpr: ClosedJaxpr | Jaxpr) -> int:
    """The number of equations in a jaxpr, counting those of nested jaxprs.

    >>> import funcad as fa, funcad.numpy as fnp
    >>> count_eqns(fa.make_jaxpr(lambda x: fnp.sin(x) * 2.0)(1.0))
    2
    """
    jaxpr = jaxpr.jaxpr if isinstance(jaxpr, ClosedJaxpr) else jaxpr
    return sum(1 + sum(count_eqns(s) for s in _subjaxprs(e.params)) for e in jaxpr.eqns)


def nth_derivative(f: Callable, n: int) -> Callable:
    """``grad(grad(...grad(f)))``, n times."""
    for _ in range(n):
        f = grad(f)
    return f


def simplifier() -> Callable | None:
    """funcad's jaxpr simplifier (funcad.backend.simplify: DCE, CSE, constant folding and
    algebraic identities) as ``ClosedJaxpr | Jaxpr -> Jaxpr``, or None where it is missing."""
    try:
        from funcad.backend.simplify import simplify
    except ImportError:
        return None
    return lambda j: simplify(j.jaxpr if isinstance(j, ClosedJaxpr) else j)


def derivative_program_sizes(n_max: int = 8, f: Callable = fnp.tanh, x: float = 1.0) -> dict:
    """Equations in the program of the nth derivative of ``f`` (tanh), n = 1..n_max.

    ``before`` counts the program as the transformations emit it, ``after`` as funcad's
    simplifier leaves it (None when the simplifier is not available), ``values`` holds the
    derivatives at ``x`` (so the programs are checked to compute the right thing).

    >>> d = derivative_program_sizes(4)
    >>> d["n"], d["before"][0] < d["before"][-1]
    ([1, 2, 3, 4], True)
    """
    simplify = simplifier()
    ns, before, after, values = list(range(1, n_max + 1)), [], [], []
    for n in ns:
        fn = nth_derivative(f, n)
        closed = make_jaxpr(fn)(x)
        before.append(count_eqns(closed))
        values.append(float(fn(x)))
        if simplify is not None:
            after.append(count_eqns(simplify(closed)))
    return {"n": ns, "before": before, "after": after if simplify else None, "values": values}


def plot_expression_swell(data: dict, path: str) -> str | None:
    """Program size against derivative order, before and after simplification, log scale."""
    plt = pyplot()
    if plt is None:
        return None
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.semilogy(data["n"], data["before"], "o-", label="before simplification (as transformed)")
    for n, s in zip(data["n"], data["before"]):
        ax.annotate(str(s), (n, s), textcoords="offset points", xytext=(-4, 6), fontsize=8, color="C0")
    if data["after"]:
        ax.semilogy(data["n"], data["after"], "s-", label="after funcad's simplifier (DCE, CSE, folding)")
        for n, s in zip(data["n"], data["after"]):
            ax.annotate(str(s), (n, s), textcoords="offset points", xytext=(-4, -12), fontsize=8, color="C1")
    else:
        ax.text(0.02, 0.02, "after simplification: simplifier not available", transform=ax.transAxes,
                fontsize=8, color="gray")
    ax.set_xlabel("derivative order n  (grad applied n times to tanh)")
    ax.set_ylabel("equations in the program")
    ax.set_title("Expression swell: the program of the nth derivative of tanh", fontsize=10)
    ax.set_xticks(data["n"])
    ax.legend(fontsize=8, loc="upper left")
    return _save(fig, plt, path)


def print_expression_swell(data: dict) -> None:
    after = data["after"] or [None] * len(data["n"])
    print(f"{'n':>3}  {'equations before':>16}  {'after simplify':>14}  {'d^n tanh/dx^n at 1':>20}")
    for n, b, a, v in zip(data["n"], data["before"], after, data["values"]):
        print(f"{n:>3}  {b:>16}  {'-' if a is None else a:>14}  {v:>20.12g}")
    growth = data["before"][-1] / data["before"][-2]
    print(f"each further derivative multiplies the program by about {growth:.1f}", end="")
    if data["after"]:
        print(f" ({data['after'][-1] / data['after'][-2]:.1f} after simplification: the swell is "
              "in the derivative rules' structure, not only in redundant terms)")
    else:
        print()
    if data["after"] is None:
        print("(the simplifier, funcad/backend/simplify.py, is not available: 'after' not shown)")


# --------------------------------------------------------------------------------------
# 3. Forward versus reverse mode


def _many_to_one(x):
    return fnp.sum(fnp.tanh(x) ** 2)


def _one_to_many(t, a):
    return fnp.sin(t * a) * fnp.exp(-t * a)


def gradient_forward(f: Callable, x: np.ndarray) -> tuple[np.ndarray, int]:
    """The gradient of f: R^n -> R by forward mode: one JVP per input; returns (grad, passes)."""
    g, passes = np.empty(x.size), 0
    for i in range(x.size):
        e = np.zeros(x.size)
        e[i] = 1.0
        g[i] = jvp(f, (x,), (e,))[1]
        passes += 1
    return g, passes


def gradient_reverse(f: Callable, x: np.ndarray) -> tuple[np.ndarray, int]:
    """The gradient of f: R^n -> R by reverse mode: one VJP; returns (grad, passes)."""
    _, f_vjp = vjp(f, x)
    return f_vjp(1.0)[0], 1


def jacobian_forward(g: Callable, t: float) -> tuple[np.ndarray, int]:
    """The derivative of g: R -> R^n by forward mode: one JVP; returns (dg/dt, passes)."""
    return jvp(g, (t,), (1.0,))[1], 1


def jacobian_reverse(g: Callable, t: float, n: int) -> tuple[np.ndarray, int]:
    """The derivative of g: R -> R^n by reverse mode: one VJP per output; (dg/dt, passes)."""
    _, g_vjp = vjp(g, t)
    out = np.empty(n)
    for i in range(n):
        e = np.zeros(n)
        e[i] = 1.0
        out[i] = g_vjp(e)[0]
    return out, n


def _best_time(fn: Callable, repeat: int) -> float:
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def mode_costs(ns: Sequence[int] = (1, 4, 16, 64, 256), repeat: int = 3) -> dict:
    """Passes and seconds of forward and reverse mode as the dimension n grows.

    For f(x) = sum(tanh(x)^2), R^n -> R, the full gradient takes n JVPs or 1 VJP; for
    g(t) = sin(t a) exp(-t a), R -> R^n, the full derivative takes 1 JVP or n VJPs. Times
    are the best of ``repeat`` runs; ``max_error`` is the largest difference of each result
    from its closed form.

    >>> d = mode_costs((2, 8), repeat=1)
    >>> d["R^n->R"]["forward_passes"], d["R^n->R"]["reverse_passes"]
    ([2, 8], [1, 1])
    >>> d["R->R^n"]["forward_passes"], d["R->R^n"]["reverse_passes"]
    ([1, 1], [2, 8])
    """
    many = {k: [] for k in ("forward_passes", "reverse_passes", "forward_s", "reverse_s")}
    one = {k: [] for k in ("forward_passes", "reverse_passes", "forward_s", "reverse_s")}
    err = 0.0
    t = 0.7
    for n in ns:
        x = np.linspace(-2.0, 2.0, n)
        exact = 2 * np.tanh(x) * (1 - np.tanh(x) ** 2)
        gf, pf = gradient_forward(_many_to_one, x)
        gr, pr = gradient_reverse(_many_to_one, x)
        err = max(err, np.max(np.abs(gf - exact)), np.max(np.abs(gr - exact)))
        many["forward_passes"].append(pf)
        many["reverse_passes"].append(pr)
        many["forward_s"].append(_best_time(lambda: gradient_forward(_many_to_one, x), repeat))
        many["reverse_s"].append(_best_time(lambda: gradient_reverse(_many_to_one, x), repeat))

        a = np.linspace(0.1, 2.0, n)
        g = lambda t, a=a: _one_to_many(t, a)  # noqa: E731
        exact = a * np.exp(-t * a) * (np.cos(t * a) - np.sin(t * a))
        jf, pf = jacobian_forward(g, t)
        jr, pr = jacobian_reverse(g, t, n)
        err = max(err, np.max(np.abs(jf - exact)), np.max(np.abs(jr - exact)))
        one["forward_passes"].append(pf)
        one["reverse_passes"].append(pr)
        one["forward_s"].append(_best_time(lambda: jacobian_forward(g, t), repeat))
        one["reverse_s"].append(_best_time(lambda: jacobian_reverse(g, t, n), repeat))
    return {"n": list(ns), "R^n->R": many, "R->R^n": one, "max_error": float(err)}


def plot_mode_costs(data: dict, path: str) -> str | None:
    """Two panels: seconds against n for forward and reverse mode, for R^n->R and R->R^n."""
    plt = pyplot()
    if plt is None:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), sharey=True)
    titles = {"R^n->R": "f: R^n -> R (a loss): the gradient",
              "R->R^n": "g: R -> R^n (a trajectory): the derivative"}
    n = data["n"]
    for ax, key in zip(axes, ("R^n->R", "R->R^n")):
        d = data[key]
        ax.loglog(n, np.array(d["forward_s"]) * 1e3, "o-", label="forward mode (JVPs)")
        ax.loglog(n, np.array(d["reverse_s"]) * 1e3, "s-", label="reverse mode (VJPs)")
        for m, pf, pr, tf, tr in zip(n, d["forward_passes"], d["reverse_passes"], d["forward_s"],
                                     d["reverse_s"]):
            ax.annotate(str(pf), (m, tf * 1e3), textcoords="offset points", xytext=(3, 4),
                        fontsize=7, color="C0")
            ax.annotate(str(pr), (m, tr * 1e3), textcoords="offset points", xytext=(3, -10),
                        fontsize=7, color="C1")
        ax.set_title(titles[key], fontsize=10)
        ax.set_xlabel("n")
        ax.legend(fontsize=8, loc="upper left")
    axes[0].set_ylabel("milliseconds (labels: number of passes)")
    fig.suptitle("Forward vs reverse mode: one reverse pass gives a whole gradient (why backpropagation)",
                 fontsize=10)
    return _save(fig, plt, path)


def print_mode_costs(data: dict) -> None:
    for key, what in (("R^n->R", "gradient of f: R^n -> R"), ("R->R^n", "derivative of g: R -> R^n")):
        d = data[key]
        print(f"{what}:")
        print(f"{'n':>6}  {'forward passes':>14}  {'forward ms':>10}  "
              f"{'reverse passes':>14}  {'reverse ms':>10}")
        for row in zip(data["n"], d["forward_passes"], d["forward_s"], d["reverse_passes"], d["reverse_s"]):
            m, pf, tf, pr, tr = row
            print(f"{m:>6}  {pf:>14}  {tf * 1e3:>10.2f}  {pr:>14}  {tr * 1e3:>10.2f}")
    print(f"(every result matches its closed form to {data['max_error']:.0e})")


# --------------------------------------------------------------------------------------
# Plot plumbing


def pyplot():
    """matplotlib.pyplot with a file-only backend, or None when matplotlib is not installed."""
    try:
        import matplotlib
    except ImportError:
        return None
    if matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline"):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, plt, path: str) -> str:
    d = os.path.dirname(path)
    if d:
        os.makedirs(d, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
