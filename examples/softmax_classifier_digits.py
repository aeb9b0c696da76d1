"""A softmax classifier trained by minibatch SGD on the digits; dL/dz = softmax(z) - onehot(y)."""

import numpy as np
import scipy.special as sc

import funcad as fa
import funcad.numpy as fnp
from funcad.datasets import load_digits


def loss(params, X, y):
    z = X @ params["W"] + params["b"]
    return -fnp.mean(fnp.sum(fa.nn.log_softmax(z) * fa.nn.one_hot(y, 10), axis=-1))


# the gradient with respect to the logits is softmax(z) - onehot(y), divided by n for a mean
z, y0 = np.array([[2.0, 1.0, 0.1]]), np.array([0])
dz = fa.grad(lambda z: -fnp.sum(fa.nn.log_softmax(z) * fa.nn.one_hot(y0, 3)))(z)
print("dL/dz =", dz, " softmax(z) - onehot(y) =", sc.softmax(z) - np.eye(3)[y0])

X, y = load_digits()
rng = np.random.default_rng(0)
perm = rng.permutation(len(y))
test, train = perm[:450], perm[450:]
mu, sd = X[train].mean(0), X[train].std(0) + 1e-8
X = (X - mu) / sd
params = {"W": np.zeros((64, 10)), "b": np.zeros(10)}
value_and_grad = fa.value_and_grad(loss)
for epoch in range(10):
    for idx in np.array_split(rng.permutation(train), len(train) // 64):
        value, g = value_and_grad(params, X[idx], y[idx])
        params = {k: params[k] - 0.5 * g[k] for k in params}
    print(f"epoch {epoch}: training loss {loss(params, X[train], y[train]):.4f}")
accuracy = np.mean(np.argmax(X[test] @ params["W"] + params["b"], axis=1) == y[test])
print(f"test accuracy: {accuracy:.3f}")
