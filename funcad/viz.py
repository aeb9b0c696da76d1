"""funcad.viz: pictures of funcad's IR, the computation graphs of the course.

Any jaxpr (what :func:`funcad.make_jaxpr` returns, derivative programs included) becomes a
graph: inputs, parameters (closed-over constants) and outputs are marked as in the course's
figure of a classifier (x, W, b -> z -> softmax -> loss), each equation is an operation node,
each edge carries the type of the value it holds, and a nested jaxpr (a parameter of ``jit``,
``cond``, ``scan``...) is drawn as a cluster inside its equation.

The DOT text needs nothing; SVG and PNG go through the ``graphviz`` Python package and the
Graphviz ``dot`` program (``pip install "funcad[viz]"`` and, on Debian/Ubuntu,
``apt-get install graphviz``).

>>> import funcad as fa, funcad.numpy as fnp
>>> g = fa.viz.graph(lambda x: fnp.sin(x) * 2.0, fnp.zeros(3))
>>> print(g.source.splitlines()[0])
digraph jaxpr {
>>> 'label="sin"' in g.source
True
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .jaxpr import ClosedJaxpr, Jaxpr, Literal, Var

__all__ = ["Graph", "graph", "to_dot", "render_available", "INSTALL_HINT"]

INSTALL_HINT = (
    "hint: for SVG/PNG install graphviz: pip install 'funcad[viz]' and the Graphviz program "
    "(apt-get install graphviz, or brew install graphviz)"
)

# The course's colours: inputs blue, parameters (constants) yellow, outputs red, ops white.
_STYLE = {
    "input": 'shape=box, style="rounded,filled", fillcolor="#cfe2ff", color="#3d6bb3"',
    "param": 'shape=box, style="rounded,filled", fillcolor="#fff1b8", color="#b38f00"',
    "output": 'shape=box, style="rounded,filled,bold", fillcolor="#ffd1d1", color="#b33d3d"',
    "op": 'shape=ellipse, style=filled, fillcolor="#ffffff"',
    "literal": 'shape=plaintext, fontcolor="#777777", fontsize=10',
    "subinput": 'shape=box, style="rounded,dashed", color="#3d6bb3"',
    "suboutput": 'shape=box, style="rounded,dashed", color="#b33d3d"',
}


# --------------------------------------------------------------------------------------
# The public API


class Graph:
    """A rendered jaxpr: ``.source`` is its DOT text; ``.save(path)`` writes .dot/.svg/.png.

    In Jupyter it displays itself as SVG when graphviz is installed.

    >>> import funcad as fa, funcad.numpy as fnp
    >>> g = fa.viz.graph(fnp.tanh, 0.0)
    >>> str(g) == g.source
    True
    """

    def __init__(self, source: str):
        self.source = source

    def __str__(self) -> str:
        return self.source

    def __repr__(self) -> str:
        return f"<funcad.viz.Graph: {self.source.count(' -> ')} edges>"

    def pipe(self, format: str = "svg") -> bytes:
        """The picture as bytes in ``format`` ('svg', 'png', 'pdf'...); needs graphviz."""
        graphviz = _import_graphviz()
        if graphviz is None:
            raise RuntimeError("funcad.viz: rendering needs the graphviz package. " + INSTALL_HINT)
        try:
            return graphviz.Source(self.source).pipe(format=format)
        except graphviz.ExecutableNotFound as e:
            raise RuntimeError("funcad.viz: the Graphviz 'dot' program is not installed. "
                               + INSTALL_HINT) from e

    def save(self, path: str | os.PathLike, format: str | None = None) -> str:
        """Write the graph to ``path``; the format follows the suffix (.dot, .svg, .png, .pdf).

        Returns the path written. DOT text needs nothing; other formats need graphviz, and
        without it the DOT text is written next to ``path`` (suffix .dot) and that path is
        returned, so a caller can say what happened (see :func:`render_available`).
        """
        path = os.fspath(path)
        fmt = (format or os.path.splitext(path)[1].lstrip(".") or "dot").lower()
        if fmt in ("dot", "gv"):
            _write(path, self.source.encode())
            return path
        if not render_available():
            dot_path = os.path.splitext(path)[0] + ".dot"
            _write(dot_path, self.source.encode())
            return dot_path
        _write(path, self.pipe(fmt))
        return path

    def _repr_svg_(self):  # Jupyter
        return self.pipe("svg").decode() if render_available() else None


def graph(
    fun_or_jaxpr: Callable | ClosedJaxpr | Jaxpr,
    *args,
    arg_names: Sequence[str] | None = None,
    out_names: Sequence[str] | None = None,
    const_names: Sequence[str] | None = None,
    params: Sequence[str | int] = (),
    title: str | None = None,
    types: bool = True,
    rankdir: str = "TB",
    simplify: bool = False,
) -> Graph:
    """The computation graph of a jaxpr, or of ``fun`` traced on ``args``.

    ``fun_or_jaxpr`` is a ClosedJaxpr (from ``make_jaxpr``), a Jaxpr, or a function, which
    is traced with ``make_jaxpr`` on ``args`` (only their shapes and dtypes matter); then the
    inputs take the names of its parameters, the outputs its name, and the closed-over arrays
    the names they have in its closure or module. ``params`` names (or indexes) inputs to
    mark as parameters, as W and b in the course's classifier; ``types=False`` leaves the
    shapes off the edges; ``rankdir="LR"`` lays the graph out left to right;
    ``simplify=True`` draws the program after jit's simplifier (DCE, CSE, constant folding,
    algebraic identities), as it goes to code generation.

    >>> import funcad as fa, funcad.numpy as fnp
    >>> def loss(x, W, b):
    ...     return -fa.nn.log_softmax(x @ W + b)[0]
    >>> g = fa.viz.graph(loss, fnp.ones(3), fnp.ones((3, 4)), fnp.zeros(4), params=("W", "b"))
    >>> [n for n in ("x", "W", "b", "matmul", "exp", "loss") if f'"{n}' in g.source]
    ['x', 'W', 'b', 'matmul', 'exp', 'loss']
    """
    if isinstance(fun_or_jaxpr, (ClosedJaxpr, Jaxpr)):
        if args:
            raise TypeError("funcad.viz.graph: pass arguments only with a function, not a jaxpr")
        closed = fun_or_jaxpr
    elif callable(fun_or_jaxpr):
        from .api import _arg_names, _leaf_paths, make_jaxpr

        fun = fun_or_jaxpr
        closed = make_jaxpr(fun)(*args)
        if arg_names is None:
            arg_names = _leaf_paths(tuple(args), _arg_names(fun, len(args)))
        name = getattr(fun, "__name__", "out")
        name = "out" if name == "<lambda>" else name
        if out_names is None:
            n_out = len(closed.jaxpr.outvars)
            out_names = [name] if n_out == 1 else [f"{name}[{i}]" for i in range(n_out)]
        if const_names is None:
            const_names = _closure_names(inspect.unwrap(fun), closed.consts)
        if title is None:
            title = f"{name}({', '.join(_arg_names(fun, len(args)))})"
    else:
        raise TypeError("funcad.viz.graph: expected a function or a jaxpr, got "
                        f"{type(fun_or_jaxpr).__name__}")
    if simplify:
        closed = _simplified(closed)
    return Graph(to_dot(closed, arg_names=arg_names, out_names=out_names, const_names=const_names,
                        params=params, title=title, types=types, rankdir=rankdir))


def to_dot(
    jaxpr: ClosedJaxpr | Jaxpr,
    *,
    arg_names: Sequence[str] | None = None,
    out_names: Sequence[str] | None = None,
    const_names: Sequence[str] | None = None,
    params: Sequence[str | int] = (),
    title: str | None = None,
    types: bool = True,
    rankdir: str = "TB",
) -> str:
    """The DOT text of ``jaxpr`` (see :func:`graph` for the options); needs no dependency.

    >>> import funcad as fa, funcad.numpy as fnp
    >>> dot = fa.viz.to_dot(fa.make_jaxpr(fnp.sin)(fnp.zeros(3)))
    >>> 'label="sin"' in dot and 'f64[3]' in dot
    True
    """
    closed = jaxpr if isinstance(jaxpr, ClosedJaxpr) else ClosedJaxpr(jaxpr, [])
    w = _DotWriter(types)
    w.line("digraph jaxpr {")
    w.line(f'  rankdir={rankdir}; compound=true; graph [fontname="Helvetica"]; '
           'node [fontname="Helvetica", fontsize=12]; '
           'edge [fontname="Helvetica", fontsize=9, color="#555555"];')
    if title:
        w.line(f'  labelloc=t; label="{_esc(title)}";')
    w.top_level(closed, arg_names, out_names, const_names, params)
    w.line("}")
    return "\n".join(w.lines) + "\n"


def render_available() -> bool:
    """True when SVG/PNG rendering works here (the graphviz package and its ``dot`` program)."""
    graphviz = _import_graphviz()
    if graphviz is None:
        return False
    try:
        graphviz.version()
    except Exception:  # graphviz.ExecutableNotFound, or a broken installation
        return False
    return True


# --------------------------------------------------------------------------------------
# Writing DOT


class _DotWriter:
    """Walks a jaxpr and its nested jaxprs, emitting one node per value source."""

    def __init__(self, types: bool):
        self.types = types
        self.lines: list[str] = []
        self.count = 0

    def line(self, s: str) -> None:
        self.lines.append(s)

    def node(self, kind: str, label: str, indent: str) -> str:
        self.count += 1
        nid = f"n{self.count}"
        self.line(f'{indent}{nid} [label="{_esc(label)}", {_STYLE[kind]}];')
        return nid

    def edge(self, src: str, dst: str, aval, indent: str, extra: str = "") -> None:
        label = f'label="{_esc(aval.str_short())}"' if self.types and aval is not None else ""
        attrs = ", ".join(a for a in (label, extra) if a)
        self.line(f"{indent}{src} -> {dst}{f' [{attrs}]' if attrs else ''};")

    def top_level(self, closed, arg_names, out_names, const_names, params) -> None:
        jaxpr, ind = closed.jaxpr, "  "
        arg_names = _names(arg_names, len(jaxpr.invars), "in")
        const_names = _names(const_names, len(jaxpr.constvars), "const")
        marked = {p if isinstance(p, str) else arg_names[p] for p in params}
        env: dict[Var, str] = {}
        self.line("  { rank=source;")
        for v, n in zip(jaxpr.invars, arg_names):
            env[v] = self.node("param" if n in marked else "input", f"{n}\n{v.aval.str_short()}", ind)
        self.line("  }")
        for v, n, c in zip(jaxpr.constvars, const_names, closed.consts + [None] * len(jaxpr.constvars)):
            env[v] = self.node("param", f"{n}\n{v.aval.str_short()}{_value_hint(c)}", ind)
        self.body(jaxpr, env, ind)
        self.outputs(jaxpr, env, _names(out_names, len(jaxpr.outvars), "out"), "output", ind)

    def body(self, jaxpr: Jaxpr, env: dict, ind: str) -> None:
        for eqn in jaxpr.eqns:
            subs = list(_subjaxprs_named(eqn.params))
            if subs:
                self.count += 1
                self.line(f"{ind}subgraph cluster_{self.count} {{")
                self.line(f'{ind}  label="{_esc(eqn.prim.name)}"; style="rounded,filled"; '
                          f'fillcolor="#f4f4f4"; color="#999999";')
                nid = self.node("op", _op_label(eqn), ind + "  ")
                for pname, sub in subs:
                    self.nested(pname, sub, ind + "  ")
                self.line(f"{ind}}}")
            else:
                nid = self.node("op", _op_label(eqn), ind)
            for a in eqn.inputs:
                src = self.literal(a, ind) if isinstance(a, Literal) else env[a]
                self.edge(src, nid, None if isinstance(a, Literal) else a.aval, ind)
            for v in eqn.outputs:
                env[v] = nid

    def nested(self, pname: str, sub: ClosedJaxpr | Jaxpr, ind: str) -> None:
        closed = sub if isinstance(sub, ClosedJaxpr) else ClosedJaxpr(sub, [])
        jaxpr = closed.jaxpr
        self.count += 1
        self.line(f"{ind}subgraph cluster_{self.count} {{")
        self.line(f'{ind}  label="{_esc(pname)}"; style="rounded,dashed"; color="#777777"; '
                  f'fillcolor="#ffffff";')
        inner = ind + "  "
        env: dict[Var, str] = {}
        for i, v in enumerate(jaxpr.constvars):
            env[v] = self.node("param", f"const {i}\n{v.aval.str_short()}", inner)
        for i, v in enumerate(jaxpr.invars):
            env[v] = self.node("subinput", f"in {i}\n{v.aval.str_short()}", inner)
        self.body(jaxpr, env, inner)
        self.outputs(jaxpr, env, [f"out {i}" for i in range(len(jaxpr.outvars))], "suboutput", inner)
        self.line(f"{ind}}}")

    def outputs(self, jaxpr: Jaxpr, env: dict, names: list[str], kind: str, ind: str) -> None:
        for a, n in zip(jaxpr.outvars, names):
            nid = self.node(kind, f"{n}\n{a.aval.str_short()}", ind)
            src = self.literal(a, ind) if isinstance(a, Literal) else env[a]
            self.edge(src, nid, a.aval if isinstance(a, Var) else None, ind)

    def literal(self, lit: Literal, ind: str) -> str:
        from .jaxpr import _pp_literal

        return self.node("literal", _pp_literal(lit), ind)


def _simplified(closed: ClosedJaxpr | Jaxpr) -> ClosedJaxpr:
    try:
        from .backend.simplify import simplify
    except ImportError as e:
        raise RuntimeError("funcad.viz: simplify=True needs funcad.backend.simplify (jit's "
                           "simplifier), which is not in this build") from e
    if isinstance(closed, Jaxpr):
        closed = ClosedJaxpr(closed, [])
    return ClosedJaxpr(simplify(closed.jaxpr), closed.consts, closed.in_tree, closed.out_tree)


def _op_label(eqn) -> str:
    from .jaxpr import _pp_param

    parts = [eqn.prim.name]
    for k, v in eqn.params.items():
        if isinstance(v, (Jaxpr, ClosedJaxpr)) or (isinstance(v, tuple) and v and
                                                   isinstance(v[0], (Jaxpr, ClosedJaxpr))):
            continue
        text = f"{k}={_pp_param(v)}"
        parts.append(text if len(text) <= 32 else text[:29] + "...")
    return "\n".join(parts)


def _subjaxprs_named(params: dict):
    """(name, sub-jaxpr) pairs of an equation's params, e.g. ('branches[1]', jaxpr)."""
    for k, v in params.items():
        if isinstance(v, (Jaxpr, ClosedJaxpr)):
            yield k, v
        elif isinstance(v, (tuple, list)):
            for i, q in enumerate(v):
                if isinstance(q, (Jaxpr, ClosedJaxpr)):
                    yield f"{k}[{i}]", q


def _value_hint(c) -> str:
    if c is None:
        return ""
    arr = np.asarray(c)
    if arr.size == 1:
        return f"\n= {arr.reshape(()).item():.4g}"
    return ""


def _names(given, n: int, prefix: str) -> list[str]:
    names = list(given or [])
    if not names and n == 1 and prefix == "out":
        return ["out"]
    return names[:n] + [f"{prefix} {i}" for i in range(len(names), n)]


def _closure_names(fun: Callable, consts: Sequence[Any]) -> list[str]:
    """The names ``fun`` knows its closed-over arrays by (closure cells, then its globals)."""
    scope: dict[str, Any] = {}
    try:
        scope.update(inspect.getclosurevars(fun).globals)
        scope.update(inspect.getclosurevars(fun).nonlocals)
    except (TypeError, ValueError):
        pass
    by_id = {id(v): k for k, v in scope.items() if isinstance(v, np.ndarray)}
    return [by_id.get(id(c), f"const {i}") for i, c in enumerate(consts)]


def _esc(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _write(path: str, data: bytes) -> None:
    d = os.path.dirname(path)
    if d:
        os.makedirs(d, exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def _import_graphviz():
    try:
        import graphviz
    except ImportError:
        return None
    return graphviz


# --------------------------------------------------------------------------------------
# The command line: funcad graph module:function --args "f64[3],f64[3,4]" (python -m funcad graph)


def add_graph_arguments(parser) -> None:
    """The arguments of ``funcad graph`` on an ``argparse`` parser (the CLI's subcommand and
    :func:`cli` share them)."""
    parser.description = ("Draw the computation graph (the jaxpr) of FUNCTION traced on arguments "
                          "of the given types.")
    parser.add_argument("target", metavar="MODULE:FUNCTION",
                        help="an importable module (or a path to a .py file) and a function in it")
    parser.add_argument("--args", default="", metavar="SPECS",
                        help="argument types, comma-separated: f64[3],f64[3,4],f32[],i64[5]")
    parser.add_argument("-o", "--output", metavar="OUT",
                        help="write OUT (.png, .svg, .pdf need graphviz; .dot always works); "
                             "without -o the DOT text goes to standard output")
    parser.add_argument("--grad", action="store_true",
                        help="draw the gradient program grad(FUNCTION) instead (w.r.t. --argnums)")
    parser.add_argument("--argnums", default="0", metavar="N",
                        help="which argument(s) --grad differentiates, e.g. 0 or 0,1 (default 0)")
    parser.add_argument("--params", default="", metavar="NAMES",
                        help="comma-separated input names to mark as parameters (as W,b)")
    parser.add_argument("--simplify", action="store_true",
                        help="draw the program after jit's simplifier (DCE, CSE, folding, identities)")
    parser.add_argument("--lr", action="store_true", help="lay out left to right (default: top to bottom)")


def cli(argv: Sequence[str]) -> int:
    """``funcad graph``: write the graph of a function's jaxpr (see ``--help``); the exit code.

    >>> import funcad.viz
    >>> funcad.viz.cli(["funcad.numpy:sin", "--args", "f64[3]"])  # doctest: +ELLIPSIS
    digraph jaxpr {
    ...
    0
    """
    import argparse

    parser = argparse.ArgumentParser(prog="funcad graph")
    add_graph_arguments(parser)
    try:
        ns = parser.parse_args(list(argv))
    except SystemExit as e:  # argparse's usage errors (2) and --help (0)
        return e.code or 0
    return graph_command(ns)


def graph_command(ns) -> int:
    """Run ``funcad graph`` on parsed arguments (see :func:`add_graph_arguments`)."""
    import importlib
    import sys

    def fail(msg):
        print(f"funcad graph: {msg}", file=sys.stderr)
        return 2

    try:
        fun = _load_function(ns.target, importlib)
        args = parse_arg_specs(ns.args)
        nums = tuple(int(n) for n in ns.argnums.split(","))
    except (ValueError, ImportError, AttributeError) as e:
        return fail(e)
    except Exception as e:  # the user's module failed while importing: say so, without our traceback
        return fail(f"importing {ns.target.rpartition(':')[0]!r} raised {type(e).__name__}: {e}")
    title, out_names = None, None
    if ns.grad:
        from .api import _arg_names, grad

        fun = grad(fun, argnums=nums[0] if len(nums) == 1 else nums)
        title = f"grad({ns.target.rsplit(':', 1)[-1]})"
        names = _arg_names(inspect.unwrap(fun), len(args))
        out_names = [f"d/d{names[i]}" if i < len(names) else f"d/darg{i}" for i in nums]
    params = [p for p in ns.params.split(",") if p]
    from .errors import FuncadError

    try:
        g = graph(fun, *args, params=params, title=title, out_names=out_names,
                  rankdir="LR" if ns.lr else "TB", simplify=ns.simplify)
    except (FuncadError, TypeError, ValueError) as e:  # the function does not trace on these --args
        return fail(f"tracing {ns.target} on --args {ns.args!r} failed: {type(e).__name__}: {e}")
    out = ns.output
    if out is None:
        sys.stdout.write(g.source)
        if not render_available():
            print(INSTALL_HINT, file=sys.stderr)
        return 0
    written = g.save(out)
    if written != out:
        print(f"wrote {written} (DOT text): {INSTALL_HINT}", file=sys.stderr)
    else:
        print(f"wrote {written}")
    return 0


def parse_arg_specs(specs: str) -> list[np.ndarray]:
    """Arrays of zeros shaped as ``"f64[3],f64[3,4],i64[]"`` says (for tracing).

    >>> [a.shape for a in parse_arg_specs("f64[3],f32[2,4],f64[]")]
    [(3,), (2, 4), ()]
    """
    from .core import _SHORT_DTYPE

    dtypes = {short: np.dtype(long) for long, short in _SHORT_DTYPE.items()}
    dtypes.update({"float": np.dtype(np.float64), "int": np.dtype(np.int64)})
    out, depth, start = [], 0, 0
    parts = []
    for i, ch in enumerate(specs + ","):
        depth += ch == "["
        depth -= ch == "]"
        if ch == "," and depth == 0:
            if specs[start:i].strip():
                parts.append(specs[start:i].strip())
            start = i + 1
    if depth != 0:
        raise ValueError(f"unbalanced brackets in the argument types {specs!r}")
    for p in parts:
        name, _, dims = p.partition("[")
        if name not in dtypes or (dims and not dims.endswith("]")):
            raise ValueError(f"cannot read the argument type {p!r}; write e.g. f64[3,4], f32[], i64[5]")
        dims = dims[:-1].strip()
        try:
            shape = tuple(int(d) for d in dims.split(",") if d.strip()) if dims else ()
        except ValueError:
            raise ValueError(f"cannot read the shape in {p!r}; write e.g. f64[3,4]") from None
        out.append(np.zeros(shape, dtypes[name]))
    return out


def _load_function(target: str, importlib) -> Callable:
    import sys

    module_name, sep, attr = target.rpartition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"expected MODULE:FUNCTION, got {target!r}")
    if module_name.endswith(".py") or os.sep in module_name:
        spec = importlib.util.spec_from_file_location(
            os.path.splitext(os.path.basename(module_name))[0], module_name)
        if spec is None or not os.path.exists(module_name):
            raise ImportError(f"no such file: {module_name}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    else:
        if "" not in sys.path and os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())
        module = importlib.import_module(module_name)
    fun = module
    for part in attr.split("."):
        fun = getattr(fun, part)
    return fun
