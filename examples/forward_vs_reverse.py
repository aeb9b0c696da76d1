"""Forward versus reverse mode, or why backpropagation.

A JVP (forward mode) gives one column of the Jacobian per pass, a VJP (reverse mode) one row.
The gradient of a loss f: R^n -> R is one row: one reverse pass, or n forward passes. The
derivative of a trajectory g: R -> R^n is one column: one forward pass, or n reverse passes.

    python examples/forward_vs_reverse.py [OUTDIR]   (default: funcad-figures/)
"""

import os
import sys

from funcad_tour import comparisons as cmp

out = sys.argv[1] if len(sys.argv) > 1 else "funcad-figures"
data = cmp.mode_costs((1, 4, 16, 64, 256))
cmp.print_mode_costs(data)
path = cmp.plot_mode_costs(data, os.path.join(out, "forward_vs_reverse.png"))
print(f"wrote {path}" if path else cmp.PLOT_HINT)
