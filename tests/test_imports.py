"""No import circle in funcad/: the graph of which module imports which, read from the AST of
every module (imports inside functions count as much as those at the top), has no cycle
beyond a package and its own ``__init__`` (a module importing a name its package's
``__init__`` defines, while the ``__init__`` imports the module)."""

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent / "funcad"

# Edges that still close a circle, each with why it is there and what would remove it. The
# test fails when one of them is gone (remove it here) and on any cycle not listed.
KNOWN = {
    # lax/jax_api.py (jax.lax's names) lives in funcad.lax but builds on funcad.numpy, funcad.api
    # and funcad.scipy.special, all of which sit above lax; funcad.numpy calls back into it
    # for x[i:i + k] with a traced i. Moving its dynamic slices (dynamic_slice_in_dim,
    # traced_slice_size and their helpers) into funcad.numpy and jax_api above both would
    # break it.
    ("funcad.lax.jax_api", "funcad.numpy"),
    ("funcad.lax.jax_api", "funcad.api"),
    ("funcad.lax.jax_api", "funcad.scipy.special"),
}


def _modules() -> dict[str, tuple[pathlib.Path, bool]]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        is_pkg = parts[-1] == "__init__"
        out[".".join(parts[:-1] if is_pkg else parts)] = (path, is_pkg)
    return out


def import_graph() -> dict[str, dict[str, int]]:
    """module -> {module it imports: line}, funcad's modules only."""
    mods = _modules()
    graph = {}
    for name, (path, is_pkg) in mods.items():
        package = name if is_pkg else name.rpartition(".")[0]
        edges: dict[str, int] = {}
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(up + ([node.module] if node.module else []))
                # `from pkg import sub` imports the module pkg.sub; `from mod import name` imports mod
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]
            else:
                continue
            for t in targets:
                if t in mods and t != name:
                    edges.setdefault(t, node.lineno)
        if not is_pkg:  # a module importing from its own package's __init__: allowed
            edges.pop(package, None)
        graph[name] = edges
    return graph


def cycles(graph) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_graph_sees_lazy_and_relative_imports():
    g = import_graph()
    assert "funcad.core" in g["funcad.ad"]  # from . import core (top level)
    assert "funcad.lax.shapes" in g["funcad.lax.reductions"]  # from .shapes import ...
    assert "funcad.backend.dispatch" in g["funcad.jit"]
    assert "funcad.batching" in g["funcad.partial_eval"]  # an import inside a function
    assert len(g) > 40
    assert cycles({"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}, "d": {"a": 1}}) == [["a", "b", "c"]]


def test_no_import_cycle_in_funcad():
    g = import_graph()
    missing = [e for e in KNOWN if e[1] not in g[e[0]]]
    assert not missing, f"these known edges are gone: remove them from KNOWN: {missing}"
    for a, b in KNOWN:
        del g[a][b]
    found = cycles(g)
    lines = [f"{' <-> '.join(c)}\n" + "\n".join(f"    {m} imports {t} (line {n})" for m in c
                                                for t, n in sorted(g[m].items()) if t in c)
             for c in found]
    assert not found, "import cycles in funcad/:\n" + "\n".join(lines)
