"""A picture of tanh and its first six derivatives (nested elementwise_grad), saved as PNG.

Needs matplotlib: pip install "funcad[plot]". Writes tanh_derivatives.png in the current
directory.

    python examples/tanh_derivatives_plot.py
"""

import numpy as np

import funcad as fa
import funcad.numpy as fnp

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    raise SystemExit('This example draws with matplotlib: pip install "funcad[plot]"') from None

x = np.linspace(-4.0, 4.0, 400)
f, curves = fnp.tanh, []
for _ in range(7):
    curves.append(np.asarray(f(x)))
    f = fa.elementwise_grad(f)

fig, axes = plt.subplots(2, 4, figsize=(12, 5.5), sharex=True)
for k, (ax, y) in enumerate(zip(axes.flat, curves, strict=False)):
    ax.plot(x, y, color=f"C{k}")
    ax.axhline(0.0, color="0.8", lw=0.8)
    ax.set_title("tanh(x)" if k == 0 else f"derivative {k}", fontsize=10)
axes.flat[-1].axis("off")
fig.suptitle("tanh and its first six derivatives (funcad.elementwise_grad, nested)")
fig.tight_layout()
fig.savefig("tanh_derivatives.png", dpi=100)
print("saved tanh_derivatives.png")
