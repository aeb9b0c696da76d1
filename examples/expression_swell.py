"""Expression swell made visible: the program of the nth derivative of tanh.

Each grad differentiates the previous derivative's whole program, so the number of equations
grows geometrically with n; jit's simplifier (dead code, common subexpressions, constant
folding, x*1 and friends) removes the redundant part, not the growth.

    python examples/expression_swell.py [OUTDIR]   (default: funcad-figures/)
"""

import os
import sys

from funcad_tour import comparisons as cmp

out = sys.argv[1] if len(sys.argv) > 1 else "funcad-figures"
data = cmp.derivative_program_sizes(8)      # grad(grad(...grad(tanh))) for n = 1..8
cmp.print_expression_swell(data)
path = cmp.plot_expression_swell(data, os.path.join(out, "expression_swell.png"))
print(f"wrote {path}" if path else cmp.PLOT_HINT)
