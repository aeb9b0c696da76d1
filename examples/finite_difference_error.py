"""Numerical differentiation's two errors, and why autodiff has neither.

The forward difference (f(x+h) - f(x)) / h has a truncation error ~ h f''/2 that shrinks with h
and a round-off error ~ eps |f| / h that grows as h shrinks: on log-log axes the error is a V
whose bottom sits near h = sqrt(eps) ~ 1e-8, where about half the digits are lost. funcad's
gradient is exact to rounding, with no step to choose.

    python examples/finite_difference_error.py [OUTDIR]   (default: funcad-figures/)
"""

import os
import sys

from funcad_tour import comparisons as cmp

out = sys.argv[1] if len(sys.argv) > 1 else "funcad-figures"
data = cmp.finite_difference_errors()       # f(x) = exp(x) sin(x) at x = 1 against its closed form
cmp.print_finite_differences(data)
path = cmp.plot_finite_differences(data, os.path.join(out, "finite_differences.png"))
print(f"wrote {path}" if path else cmp.PLOT_HINT)
