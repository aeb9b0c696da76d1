"""The ``funcad`` command (also ``python -m funcad``): the tour of funcad and a few tools.

    funcad                         run the tour (the same as ``funcad tour``)
    funcad tour [--list] [--only 1,3]
    funcad graph MODULE:FUNCTION --args "f64[3],f64[3,4]" [-o out.png] [--grad]
    funcad cache [info|clear]      show or empty the jit's disk cache (FUNCAD_CACHE_DIR)
    funcad --version

Exit codes: 0 done, 2 a usage mistake (an unknown flag or action, a module that does not
import); a mistake is reported in one line, never with a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys

from ._version import __version__


def _tour(ns) -> int:
    try:
        from funcad_tour.tour import main
    except ImportError:  # funcad installed without its course (a vendored copy of funcad/ alone)
        print("funcad tour: the funcad_tour package is not installed (pip install funcad installs it)",
              file=sys.stderr)
        return 2
    return main(list_only=ns.list, only=ns.only)


def _graph(ns) -> int:
    from .viz import graph_command

    return graph_command(ns)


def _cache(ns) -> int:
    from .backend import cache

    if ns.action == "info":
        i = cache.info()
        print(f"directory: {i['directory']}\nentries:   {i['entries']}\n"
              f"size:      {i['bytes'] / 1e6:.1f} MB of {i['max_bytes'] / 1e6:.0f} MB "
              "(FUNCAD_CACHE_MAX_BYTES; least recently used entries are evicted)\n"
              f"llvmlite:  {i['llvmlite']} (programs compiled by another version are not loaded)")
    else:
        print(f"removed {cache.clear()} entries from {cache.cache_dir()}")
    return 0


def _section_numbers(text: str) -> list[int]:
    try:
        return [int(n) for n in text.split(",") if n.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected section numbers like 1,3, got {text!r}") from None


def parser(prog: str = "funcad") -> argparse.ArgumentParser:
    """The command line's parser: one subcommand per tool, each with its own ``--help``."""
    from .viz import add_graph_arguments

    p = argparse.ArgumentParser(prog=prog, description="funcad: the tour of funcad, and its tools. "
                                "Without a command, runs the tour.")
    p.add_argument("--version", action="version", version=f"funcad {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    tour = sub.add_parser("tour", help="run the tour of funcad on its bundled examples",
                          description="Run the tour of funcad on the course's examples and bundled data.")
    tour.add_argument("--list", action="store_true", help="list the sections and exit")
    tour.add_argument("--only", type=_section_numbers, metavar="N[,N...]",
                      help="run only these sections (numbers from --list)")
    tour.set_defaults(run=_tour)
    graph = sub.add_parser("graph", help="draw the computation graph of a function")
    add_graph_arguments(graph)
    graph.set_defaults(run=_graph)
    cache = sub.add_parser("cache", help="show or empty the jit's disk cache",
                           description="Show (info) or empty (clear) the jit's disk cache, "
                                       "the directory FUNCAD_CACHE_DIR names.")
    cache.add_argument("action", nargs="?", choices=["info", "clear"], default="info",
                       help="info (the default) or clear")
    cache.set_defaults(run=_cache)
    return p


def main(argv=None, prog: str | None = None) -> int:
    """Run the command line on ``argv`` (default ``sys.argv[1:]``); the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if prog is None:
        prog = "python -m funcad" if sys.argv and sys.argv[0].endswith("__main__.py") else "funcad"
    p = parser(prog)
    try:
        ns = p.parse_args(argv or ["tour"])
    except SystemExit as e:  # --help and --version (0), usage mistakes (2, after argparse's message)
        return e.code if isinstance(e.code, int) else 2
    if ns.command is None:  # options only, no command: nothing to run
        p.print_usage(sys.stderr)
        return 2
    try:
        code = ns.run(ns) or 0
        sys.stdout.flush()  # inside the try: a closed pipe surfaces here, not at exit
        return code
    except BrokenPipeError:  # `funcad | head` closed the pipe: stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # (Python's docs, "signal")
        return 0


if __name__ == "__main__":
    sys.exit(main())
