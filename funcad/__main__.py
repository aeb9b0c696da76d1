"""``python -m funcad``: the tour of funcad on its bundled examples, and a few tools.

    python -m funcad                 run the tour
    python -m funcad tour            the same
    python -m funcad graph mod:fn --args "f64[3],f64[3,4]" [-o out.png] [--grad]
                                     draw the computation graph of mod.fn
    python -m funcad cache info|clear  show or empty the jit's disk cache
"""

from __future__ import annotations

import sys


def _tour(argv):
    from .tour import main

    return main(argv)


def _graph(argv):
    from .viz import cli

    return cli(argv)


# name -> handler(argv); each tool registers itself here.
COMMANDS = {"tour": _tour}
COMMANDS["graph"] = _graph  # python -m funcad graph module:function --args "f64[3]" [-o out.png]


def _cache(argv):
    """python -m funcad cache info|clear: the jit's disk cache (FUNCAD_CACHE_DIR)."""
    from .backend import cache

    what = argv[0] if argv else "info"
    if what == "info":
        i = cache.info()
        print(f"directory: {i['directory']}\nentries:   {i['entries']}\n"
              f"size:      {i['bytes'] / 1e6:.1f} MB of {i['max_bytes'] / 1e6:.0f} MB "
              "(FUNCAD_CACHE_MAX_BYTES; least recently used entries are evicted)")
        return 0
    if what == "clear":
        print(f"removed {cache.clear()} entries from {cache.cache_dir()}")
        return 0
    print(f"python -m funcad cache: unknown action {what!r}; use info or clear", file=sys.stderr)
    return 2


COMMANDS["cache"] = _cache  # python -m funcad cache info|clear


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__)
        print("commands:", ", ".join(sorted(COMMANDS)))
        return 0
    name = argv.pop(0) if argv and not argv[0].startswith("-") else "tour"
    if name not in COMMANDS:
        print(f"python -m funcad: unknown command {name!r}; commands: {', '.join(sorted(COMMANDS))}",
              file=sys.stderr)
        return 2
    return COMMANDS[name](argv) or 0


if __name__ == "__main__":
    sys.exit(main())
