"""The two small real datasets funcad ships for its examples (see funcad/data/README.md)."""

from __future__ import annotations

import gzip
from importlib import resources

import numpy as np


def _data_path(name: str):
    return resources.files("funcad").joinpath("data", name)


def load_breast_cancer() -> tuple[np.ndarray, np.ndarray]:
    """Breast Cancer Wisconsin (Diagnostic), UCI, CC BY 4.0: X (569, 30) float64, y (569,) in {0, 1}.

    >>> X, y = load_breast_cancer()
    >>> X.shape, y.shape, sorted(set(y.tolist()))
    ((569, 30), (569,), [0, 1])
    """
    with _data_path("breast_cancer.csv").open("r") as f:
        next(f)
        table = np.loadtxt(f, delimiter=",")
    return table[:, :-1], table[:, -1].astype(np.int64)


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """Optical Recognition of Handwritten Digits, UCI, CC BY 4.0: X (1797, 64) in 0..16, y in 0..9.

    >>> X, y = load_digits()
    >>> X.shape, int(y.max())
    ((1797, 64), 9)
    """
    with _data_path("digits.csv.gz").open("rb") as raw, gzip.open(raw, "rt") as f:
        table = np.loadtxt(f, delimiter=",")
    return table[:, :-1], table[:, -1].astype(np.int64)
