"""The tour: ``python -m funcad`` (or ``funcad tour``) runs funcad on the course's examples and
its bundled data.

Each section is a function that prints what it shows; the sections live in the modules of
the features they show and are listed in ``SECTIONS`` in the order of the course.
"""

from __future__ import annotations

import time
from collections.abc import Callable

# (title, function) pairs; a function takes no arguments and prints its section.
SECTIONS: list[tuple[str, Callable[[], None]]] = []


def section(title: str):
    """Register a tour section (a decorator)."""

    def register(fn):
        SECTIONS.append((title, fn))
        return fn

    return register


# The modules that register sections, in the order of the course: the examples, Newton's method
# and SciPy, what is inside (graphs, generated code, comparisons), derivatives through control flow.
COURSE = ["examples", "optimize", "viz", "control"]


def _load_sections() -> None:
    import importlib

    for name in COURSE:
        importlib.import_module(f"{__package__}.{name}")


def main(list_only: bool = False, only=None) -> int:
    """Run the tour (every section, or the numbers in ``only``); ``list_only`` prints the titles."""
    _load_sections()
    if list_only:
        for i, (title, _) in enumerate(SECTIONS, 1):
            print(f"{i:2d}. {title}")
        return 0
    if only and not all(1 <= n <= len(SECTIONS) for n in only):
        import sys

        print(f"funcad tour: no section {[n for n in only if not 1 <= n <= len(SECTIONS)]}; "
              f"there are {len(SECTIONS)} (funcad tour --list)", file=sys.stderr)
        return 2
    start = time.perf_counter()
    for i, (title, fn) in enumerate(SECTIONS, 1):
        if only and i not in only:
            continue
        print(f"\n{'=' * 78}\n{i}. {title}\n{'=' * 78}")
        fn()
    print(f"\nThe tour took {time.perf_counter() - start:.1f} s.")
    return 0
