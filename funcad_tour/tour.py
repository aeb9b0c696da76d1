"""The tour: ``python -m funcad`` runs funcad on the course's examples and its bundled data.

Each section is a function that prints what it shows; the sections live in the modules of
the features they show and are listed in ``SECTIONS`` in the order of the course.
"""

from __future__ import annotations

import time
from typing import Callable

# (title, function) pairs; a function takes no arguments and prints its section.
SECTIONS: list[tuple[str, Callable[[], None]]] = []


def section(title: str):
    """Register a tour section (a decorator)."""

    def register(fn):
        SECTIONS.append((title, fn))
        return fn

    return register


def _load_sections() -> None:
    from . import examples_tour  # noqa: F401  (registers the course's sections)
    from . import optimize_tour  # noqa: F401  (Newton's method, SciPy, the tanh picture)
    from . import viz_tour  # noqa: F401  (See inside: graphs, generated code, the course's comparisons)
    from . import control_tour  # noqa: F401  (derivatives through lax.while_loop, cond, scan)


def main(argv=None) -> int:
    _load_sections()
    start = time.perf_counter()
    for i, (title, fn) in enumerate(SECTIONS, 1):
        print(f"\n{'=' * 78}\n{i}. {title}\n{'=' * 78}")
        fn()
    print(f"\nThe tour took {time.perf_counter() - start:.1f} s.")
    return 0
