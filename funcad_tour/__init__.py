"""The course that comes with funcad: the tour (``python -m funcad`` or ``funcad tour``), its
sections on the bundled examples, the course's comparisons and the catalogue of user mistakes
that generates docs/errors.md. Not part of the library: ``import funcad`` never imports it."""
