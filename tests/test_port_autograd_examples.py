"""Ports of autograd's examples (examples/*.py in its repository), written from their
documented behaviour at small sizes, with the imports changed from ``autograd`` to
``funcad.autograd`` and nothing else. Each computes the example's objective and its gradient
at fixed inputs; the reference values were computed by running this very code with
autograd's imports (``python tests/test_port_autograd_examples.py`` under /work/venv-bench
prints them; funcad never imports autograd). Each example is also checked against finite
differences, and against jit or vmap where the example lends itself to it."""

from __future__ import annotations

import sys

if __name__ == "__main__" and "--autograd" in sys.argv:  # the reference run: autograd's imports
    import autograd.numpy as np
    import autograd.numpy.random as npr
    import autograd.scipy.stats.multivariate_normal as mvn
    import autograd.scipy.stats.norm as norm
    from autograd import grad
    from autograd.misc import flatten
    from autograd.scipy.signal import convolve
    from autograd.scipy.special import logsumexp
else:
    import funcad.autograd.numpy as np
    import funcad.autograd.numpy.random as npr
    import funcad.autograd.scipy.stats.multivariate_normal as mvn
    import funcad.autograd.scipy.stats.norm as norm
    from funcad.autograd import grad
    from funcad.autograd.misc import flatten
    from funcad.autograd.scipy.signal import convolve
    from funcad.autograd.scipy.special import logsumexp

# ======================================================================================
# The examples (autograd code; only the imports above differ)


def init_random_params(scale, layer_sizes, rs):
    return [(scale * rs.randn(m, n), scale * rs.randn(n))
            for m, n in zip(layer_sizes[:-1], layer_sizes[1:])]


def neural_net_predict(params, inputs):
    for W, b in params:
        outputs = np.dot(inputs, W) + b
        inputs = np.tanh(outputs)
    return outputs - logsumexp(outputs, axis=1, keepdims=True)


# --- gaussian_process.py: the log marginal likelihood of a GP with an RBF kernel
def make_gp_funs(cov_func, num_cov_params):
    def unpack_kernel_params(params):
        mean = params[0]
        cov_params = params[2:]
        noise_scale = np.exp(params[1]) + 0.0001
        return mean, cov_params, noise_scale

    def log_marginal_likelihood(params, x, y):
        mean, cov_params, noise_scale = unpack_kernel_params(params)
        cov_y_y = cov_func(cov_params, x, x) + noise_scale * np.eye(len(y))
        prior_mean = mean * np.ones(len(y))
        return mvn.logpdf(y, prior_mean, cov_y_y)

    return num_cov_params + 2, log_marginal_likelihood


def rbf_covariance(kernel_params, x, xp):
    output_scale = np.exp(kernel_params[0])
    lengthscales = np.exp(kernel_params[1:])
    diffs = np.expand_dims(x / lengthscales, 1) - np.expand_dims(xp / lengthscales, 0)
    return output_scale * np.exp(-0.5 * np.sum(diffs ** 2, axis=2))


def gaussian_process():
    rs = npr.RandomState(0)
    x = np.linspace(-3, 3, 8).reshape((8, 1))
    y = np.cos(x[:, 0]) + rs.randn(8) * 0.1
    num_params, lml = make_gp_funs(rbf_covariance, num_cov_params=2)
    params = 0.1 * rs.randn(num_params)
    objective = lambda params: -lml(params, x, y)  # noqa: E731
    return objective, params


# --- black_box_svi.py: the ELBO of a diagonal Gaussian, reparameterised
def black_box_variational_inference(logprob, D, num_samples):
    def unpack_params(params):
        mean, log_std = params[:D], params[D:]
        return mean, log_std

    def gaussian_entropy(log_std):
        return 0.5 * D * (1.0 + np.log(2 * np.pi)) + np.sum(log_std)

    rs = npr.RandomState(0)

    def variational_objective(params, t):
        mean, log_std = unpack_params(params)
        samples = rs.randn(num_samples, D) * np.exp(log_std) + mean
        lower_bound = gaussian_entropy(log_std) + np.mean(logprob(samples, t))
        return -lower_bound

    gradient = grad(variational_objective)
    return variational_objective, gradient, unpack_params


def black_box_svi():
    def log_density(x, t):
        mu, log_sigma = x[:, 0], x[:, 1]
        sigma_density = norm.logpdf(log_sigma, 0, 1.35)
        mu_density = norm.logpdf(mu, 0, np.exp(log_sigma))
        return sigma_density + mu_density

    objective, gradient, _ = black_box_variational_inference(log_density, 2, num_samples=20)
    params = np.array([-1.0, -1.0, -5.0, -5.0])
    return (lambda p: objective(p, 0)), params, (lambda p: gradient(p, 0))


# --- mixture_model.py: the log likelihood of a Gaussian mixture
def init_gmm_params(num_components, D, scale, rs=npr.RandomState(0)):  # noqa: B008
    return {"log proportions": rs.randn(num_components) * scale,
            "means": rs.randn(num_components, D) * scale,
            "lower triangles": np.zeros((num_components, D, D)) + np.eye(D)}


def log_normalize(x):
    return x - logsumexp(x)


def unpack_gmm_params(params):
    normalized_log_proportions = log_normalize(params["log proportions"])
    return normalized_log_proportions, params["means"], params["lower triangles"]


def gmm_log_likelihood(params, data):
    cluster_lls = []
    for log_proportion, mean, cov_sqrt in zip(*unpack_gmm_params(params)):
        cov = np.dot(cov_sqrt.T, cov_sqrt)
        cluster_lls.append(log_proportion + mvn.logpdf(data, mean, cov))
    return np.sum(logsumexp(np.vstack(cluster_lls), axis=0))


def mixture_model():
    rs = npr.RandomState(1)
    data = np.concatenate([rs.randn(6, 2) + 2.0, rs.randn(6, 2) - 1.0])
    init = init_gmm_params(num_components=3, D=2, scale=0.5, rs=npr.RandomState(0))
    flat, unflatten = flatten(init)
    objective = lambda flat: -gmm_log_likelihood(unflatten(flat), data)  # noqa: E731
    return objective, flat


# --- rnn.py: a character-level recurrent network (log likelihood of a sequence)
def sigmoid(x):
    return 0.5 * (np.tanh(x) + 1.0)


def concat_and_multiply(weights, *args):
    cat_state = np.hstack(args + (np.ones((args[0].shape[0], 1)),))
    return np.dot(cat_state, weights)


def create_rnn_params(input_size, state_size, output_size, param_scale=0.01, rs=npr.RandomState(0)):  # noqa: B008
    return {"init hiddens": rs.randn(1, state_size) * param_scale,
            "change": rs.randn(input_size + state_size + 1, state_size) * param_scale,
            "predict": rs.randn(state_size + 1, output_size) * param_scale}


def rnn_predict(params, inputs):
    def update_rnn(input, hiddens):
        return np.tanh(concat_and_multiply(params["change"], input, hiddens))

    def hiddens_to_output_probs(hiddens):
        output = concat_and_multiply(params["predict"], hiddens)
        return output - logsumexp(output, axis=1, keepdims=True)

    num_sequences = inputs.shape[1]
    hiddens = np.repeat(params["init hiddens"], num_sequences, axis=0)
    output = [hiddens_to_output_probs(hiddens)]
    for input in inputs:
        hiddens = update_rnn(input, hiddens)
        output.append(hiddens_to_output_probs(hiddens))
    return output


def rnn_log_likelihood(params, inputs, targets, predict=rnn_predict):
    logprobs = predict(params, inputs)
    loglik = 0.0
    num_time_steps, num_examples, _ = inputs.shape
    for t in range(num_time_steps):
        loglik += np.sum(logprobs[t] * targets[t])
    return loglik / (num_time_steps * num_examples)


def one_hot_sequences(rs, T, N, V):
    idx = rs.randint(0, V, size=(T, N))
    return np.array(idx[:, :, None] == np.arange(V), dtype=float)


def rnn():
    rs = npr.RandomState(2)
    seqs = one_hot_sequences(rs, T=5, N=3, V=4)
    params = create_rnn_params(input_size=4, state_size=6, output_size=4, param_scale=0.3)
    flat, unflatten = flatten(params)
    objective = lambda flat: -rnn_log_likelihood(unflatten(flat), seqs, seqs)  # noqa: E731
    return objective, flat


# --- lstm.py: the same with an LSTM cell
def create_lstm_params(input_size, state_size, output_size, param_scale=0.01, rs=npr.RandomState(0)):  # noqa: B008
    def rp(*shape):
        return rs.randn(*shape) * param_scale

    return {"init cells": rp(1, state_size), "init hiddens": rp(1, state_size),
            "change": rp(input_size + state_size + 1, state_size),
            "forget": rp(input_size + state_size + 1, state_size),
            "ingate": rp(input_size + state_size + 1, state_size),
            "outgate": rp(input_size + state_size + 1, state_size),
            "predict": rp(state_size + 1, output_size)}


def lstm_predict(params, inputs):
    def update_lstm(input, hiddens, cells):
        change = np.tanh(concat_and_multiply(params["change"], input, hiddens))
        forget = sigmoid(concat_and_multiply(params["forget"], input, hiddens))
        ingate = sigmoid(concat_and_multiply(params["ingate"], input, hiddens))
        outgate = sigmoid(concat_and_multiply(params["outgate"], input, hiddens))
        cells = cells * forget + ingate * change
        hiddens = outgate * np.tanh(cells)
        return hiddens, cells

    def hiddens_to_output_probs(hiddens):
        output = concat_and_multiply(params["predict"], hiddens)
        return output - logsumexp(output, axis=1, keepdims=True)

    num_sequences = inputs.shape[1]
    hiddens = np.repeat(params["init hiddens"], num_sequences, axis=0)
    cells = np.repeat(params["init cells"], num_sequences, axis=0)
    output = [hiddens_to_output_probs(hiddens)]
    for input in inputs:
        hiddens, cells = update_lstm(input, hiddens, cells)
        output.append(hiddens_to_output_probs(hiddens))
    return output


def lstm():
    rs = npr.RandomState(3)
    seqs = one_hot_sequences(rs, T=4, N=2, V=3)
    params = create_lstm_params(input_size=3, state_size=4, output_size=3, param_scale=0.3)
    flat, unflatten = flatten(params)
    objective = lambda flat: -rnn_log_likelihood(unflatten(flat), seqs, seqs, lstm_predict)  # noqa: E731
    return objective, flat


# --- hmm_em.py: the log partition of an HMM (its gradient gives EM's expected statistics)
def log_partition_function(natural_params, data):
    if isinstance(data, list):
        return sum(map(lambda x: log_partition_function(natural_params, x), data))
    log_pi, log_A, log_B = natural_params
    log_alpha = log_pi
    for y in data:
        log_alpha = logsumexp(log_alpha[:, None] + log_A, axis=0) + log_B[:, y]
    return logsumexp(log_alpha)


def hmm_em():
    rs = npr.RandomState(4)
    N, V = 3, 4
    natural = (np.log(rs.dirichlet(np.ones(N))), np.log(rs.dirichlet(np.ones(N), size=N)),
               np.log(rs.dirichlet(np.ones(V), size=N)))
    data = [rs.randint(0, V, size=6), rs.randint(0, V, size=4)]
    flat, unflatten = flatten(natural)
    objective = lambda flat: log_partition_function(unflatten(flat), data)  # noqa: E731
    return objective, flat


# --- variational_autoencoder.py: the ELBO of a VAE on binary data
def relu(x):
    return np.maximum(0, x)


def nn_predict(params, inputs, nonlinearity=relu):
    for W, b in params:
        outputs = np.dot(inputs, W) + b
        inputs = nonlinearity(outputs)
    return outputs


def diag_gaussian_log_density(x, mu, log_std):
    return np.sum(norm.logpdf(x, mu, np.exp(log_std)), axis=-1)


def unpack_gaussian_params(params):
    D = np.shape(params)[-1] // 2
    return params[:, :D], params[:, D:]


def sample_diag_gaussian(mean, log_std, rs):
    return rs.randn(*mean.shape) * np.exp(log_std) + mean


def bernoulli_log_density(targets, unnormalized_logprobs):
    label_probabilities = -np.logaddexp(0, -unnormalized_logprobs * (2 * targets - 1))
    return np.sum(label_probabilities, axis=-1)


def vae_lower_bound(gen_params, rec_params, data, rs):
    q_means, q_log_stds = unpack_gaussian_params(nn_predict(rec_params, data))
    latents = sample_diag_gaussian(q_means, q_log_stds, rs)
    q_latents = diag_gaussian_log_density(latents, q_means, q_log_stds)
    p_latents = diag_gaussian_log_density(latents, 0, 0)
    logits = nn_predict(gen_params, latents)
    likelihood = bernoulli_log_density(data, logits)
    return np.mean(p_latents + likelihood - q_latents)


def variational_autoencoder():
    rs = npr.RandomState(5)
    data = np.round(rs.rand(4, 6))
    params = (init_random_params(0.3, [2, 5, 6], rs), init_random_params(0.3, [6, 5, 4], rs))
    flat, unflatten = flatten(params)

    def objective(flat):
        gen, rec = unflatten(flat)
        return -vae_lower_bound(gen, rec, data, npr.RandomState(0))

    return objective, flat


# --- bayesian_neural_net.py: the variational objective of a Bayesian network
def make_nn_funs(layer_sizes, L2_reg, noise_variance, nonlinearity=np.tanh):
    shapes = list(zip(layer_sizes[:-1], layer_sizes[1:]))
    num_weights = sum((m + 1) * n for m, n in shapes)

    def unpack_layers(weights):
        num_weight_sets = len(weights)
        for m, n in shapes:
            yield weights[:, :m * n].reshape((num_weight_sets, m, n)), \
                weights[:, m * n:m * n + n].reshape((num_weight_sets, 1, n))
            weights = weights[:, (m + 1) * n:]

    def predictions(weights, inputs):
        inputs = np.expand_dims(inputs, 0)
        for W, b in unpack_layers(weights):
            outputs = np.einsum("mnd,mdo->mno", inputs, W) + b
            inputs = nonlinearity(outputs)
        return outputs

    def logprob(weights, inputs, targets):
        log_prior = -L2_reg * np.sum(weights ** 2, axis=1)
        preds = predictions(weights, inputs)
        log_lik = -np.sum((preds - targets) ** 2, axis=1)[:, 0] / noise_variance
        return log_prior + log_lik

    return num_weights, predictions, logprob


def bayesian_neural_net():
    rs = npr.RandomState(6)
    inputs = np.linspace(-2, 2, 6).reshape((6, 1))
    targets = np.cos(inputs) + rs.randn(6, 1) * 0.1
    num_weights, predictions, logprob = make_nn_funs([1, 4, 1], L2_reg=0.1, noise_variance=0.01)
    log_posterior = lambda weights, t: logprob(weights, inputs, targets)  # noqa: E731
    objective, gradient, _ = black_box_variational_inference(log_posterior, num_weights, 5)
    params = np.concatenate([0.1 * rs.randn(num_weights), -3 * np.ones(num_weights)])
    return (lambda p: objective(p, 0)), params, (lambda p: gradient(p, 0))


# --- convnet.py: a convolutional layer (autograd's convolve), max pooling, a dense layer
def conv_layer_forward(inputs, filters, biases):
    conv = convolve(inputs, filters, axes=([2, 3], [2, 3]), dot_axes=([1], [0]), mode="valid")
    return conv + biases


def maxpool_layer(conv, pool_shape):
    new_shape = conv.shape[:2]
    for pool_dim, conv_dim in zip(pool_shape, conv.shape[2:]):
        new_shape += (conv_dim // pool_dim, pool_dim)
    result = conv.reshape(new_shape)
    return np.max(np.max(result, axis=3), axis=4)


def convnet():
    rs = npr.RandomState(7)
    images = rs.randn(3, 1, 6, 6)
    labels = np.eye(2)[rs.randint(0, 2, size=3)]
    params = {"filters": rs.randn(1, 2, 3, 3) * 0.5, "biases": rs.randn(1, 2, 1, 1) * 0.1,
              "W": rs.randn(8, 2) * 0.5, "b": rs.randn(2) * 0.1}
    flat, unflatten = flatten(params)

    def objective(flat):
        p = unflatten(flat)
        h = np.tanh(conv_layer_forward(images, p["filters"], p["biases"]))
        h = maxpool_layer(h, (2, 2)).reshape((3, -1))
        logits = np.dot(h, p["W"]) + p["b"]
        logp = logits - logsumexp(logits, axis=1, keepdims=True)
        return -np.sum(logp * labels)

    return objective, flat


# --- fluidsim.py: smoke advected by a velocity field; the gradient of the final density
def project(vx, vy):
    """Project the velocity field to be approximately mass-conserving (a few Jacobi steps)."""
    p = np.zeros(vx.shape)
    h = 1.0 / vx.shape[0]
    div = -0.5 * h * (np.roll(vx, -1, axis=0) - np.roll(vx, 1, axis=0)
                      + np.roll(vy, -1, axis=1) - np.roll(vy, 1, axis=1))
    for k in range(5):  # noqa: B007
        p = (div + np.roll(p, 1, axis=0) + np.roll(p, -1, axis=0)
             + np.roll(p, 1, axis=1) + np.roll(p, -1, axis=1)) / 4.0
    vx = vx - 0.5 * (np.roll(p, -1, axis=0) - np.roll(p, 1, axis=0)) / h
    vy = vy - 0.5 * (np.roll(p, -1, axis=1) - np.roll(p, 1, axis=1)) / h
    return vx, vy


def advect(f, vx, vy):
    """Move field f according to x and y velocities (u and v) using an implicit Euler
    integrator."""
    rows, cols = f.shape
    cell_ys, cell_xs = np.meshgrid(np.arange(rows), np.arange(cols))
    center_xs = (cell_xs - vx).ravel()
    center_ys = (cell_ys - vy).ravel()
    left_ix = np.floor(center_xs).astype(int)
    top_ix = np.floor(center_ys).astype(int)
    rw = center_xs - left_ix
    bw = center_ys - top_ix
    left_ix = np.mod(left_ix, rows)
    right_ix = np.mod(left_ix + 1, rows)
    top_ix = np.mod(top_ix, cols)
    bot_ix = np.mod(top_ix + 1, cols)
    flat_f = (1 - rw) * ((1 - bw) * f[left_ix, top_ix] + bw * f[left_ix, bot_ix]) \
        + rw * ((1 - bw) * f[right_ix, top_ix] + bw * f[right_ix, bot_ix])
    return np.reshape(flat_f, (rows, cols))


def simulate(vx, vy, smoke, num_time_steps):
    for t in range(num_time_steps):  # noqa: B007
        vx_updated = advect(vx, vx, vy)
        vy_updated = advect(vy, vx, vy)
        vx, vy = project(vx_updated, vy_updated)
        smoke = advect(smoke, vx, vy)
    return smoke


def fluidsim():
    rs = npr.RandomState(8)
    n = 6
    smoke = rs.rand(n, n)
    target = rs.rand(n, n)
    init_v = rs.randn(2 * n * n) * 0.3

    def distance_from_target_image(smoke):
        return np.mean((target - smoke) ** 2)

    def objective(params):
        init_vx = np.reshape(params[: n * n], (n, n))
        init_vy = np.reshape(params[n * n:], (n, n))
        final_smoke = simulate(init_vx, init_vy, smoke, 3)
        return distance_from_target_image(final_smoke)

    return objective, init_v


# --- neural_net.py: the log posterior of a classifier (neural_net_predict above)
def neural_net():
    rs = npr.RandomState(9)
    inputs = rs.randn(5, 3)
    targets = np.eye(2)[rs.randint(0, 2, size=5)]
    params = init_random_params(0.5, [3, 4, 2], rs)
    flat, unflatten = flatten(params)

    def objective(flat):
        p = unflatten(flat)
        log_prior = -0.1 * sum(np.sum(W ** 2) + np.sum(b ** 2) for W, b in p)
        return -(log_prior + np.sum(neural_net_predict(p, inputs) * targets))

    return objective, flat


EXAMPLES = {
    "neural_net": neural_net, "convnet": convnet, "rnn": rnn, "lstm": lstm,
    "gaussian_process": gaussian_process, "bayesian_neural_net": bayesian_neural_net,
    "black_box_svi": black_box_svi, "mixture_model": mixture_model, "fluidsim": fluidsim,
    "hmm_em": hmm_em, "variational_autoencoder": variational_autoencoder,
}


def _value_and_gradient(name):
    made = EXAMPLES[name]()
    objective, params = made[0], made[1]
    gradient = made[2] if len(made) > 2 else grad(objective)
    return objective, params, float(objective(params)), np.asarray(gradient(params))


if __name__ == "__main__":  # print the reference values (run with --autograd in venv-bench)
    import numpy as onp

    for name in EXAMPLES:
        _, _, value, g = _value_and_gradient(name)
        print(f"    {name!r}: ({value!r}, {onp.round(onp.asarray(g)[:6], 12).tolist()!r},"
              f" {float(onp.sum(onp.abs(g)))!r}),")
    sys.exit(0)

# ======================================================================================
# The tests

import numpy as onp  # noqa: E402
import pytest  # noqa: E402

import funcad as fa  # noqa: E402
from funcad.test_util import check_grads  # noqa: E402

# name: (objective, first six gradient entries, sum of |gradient|), computed by autograd
REFERENCE: dict = {
    'neural_net': (5.459186120658589, [0.221575708225, -0.040836605038, 0.21908583656, 0.13633017498, 0.029428322973, -0.156304995947], 19.649655919028955),  # noqa: E501
    'convnet': (1.0790907429592071, [0.686333608264, -0.686333608264, 0.655084202015, -0.655084202015, 0.784299332424, -0.784299332424], 15.773084414924),  # noqa: E501
    'rnn': (1.377526284862269, [-0.029947087481, 0.01167668142, -0.01815533635, 0.002937935395, 0.033856432552, 0.01416385692], 2.756642380646554),  # noqa: E501
    'lstm': (1.2233403848627773, [0.004597181731, 0.021960516422, 0.023642778369, 0.026463145324, -0.002379058876, 0.007218921965], 1.8747354675382484),  # noqa: E501
    'gaussian_process': (10.641577582812955, [0.220822789373, 2.205283003213, 0.853385915031, -0.46874333557], 3.748235043186939),  # noqa: E501
    'bayesian_neural_net': (213.67960101195436, [-0.010030608807, 0.715284538777, 1.207419315732, 0.481692455773, -0.443713144984, -9.416594151705], 357.25285709479016),  # noqa: E501
    'black_box_svi': (12.238776099806689, [-7.436770858457, -7.013551728424, -0.972665460296, -0.990084578067], 16.413072625242954),  # noqa: E501
    'mixture_model': (52.35566558934763, [-0.481804745269, 0.700437920361, -0.218633175091, -17.541268017512, 0.473364056462, 0.473364056462], 57.10788888464148),  # noqa: E501
    'fluidsim': (0.12034841518921074, [-0.00530366738, -0.009999491952, 0.000529642439, 0.000838151707, 0.006478577971, 0.002052513747], 0.34452043464355997),  # noqa: E501
    'hmm_em': (-18.388365736143378, [0.929856201967, 0.319613208708, 0.750530589325, 2.692209678102, 1.809958061673, 0.902737632124], 21.999999999999986),  # noqa: E501
    'variational_autoencoder': (4.985380093558531, [0.043860374259, 0.010889136492, -0.005143098216, 0.074128722644, 0.00149318346, -0.049381630218], 17.516919993721608),  # noqa: E501
}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_autograd_example_matches_autograd(name):
    objective, params, value, g = _value_and_gradient(name)
    ref_value, ref_head, ref_l1 = REFERENCE[name]
    onp.testing.assert_allclose(value, ref_value, rtol=1e-9)
    onp.testing.assert_allclose(g[:6], ref_head, rtol=1e-7, atol=1e-11)
    onp.testing.assert_allclose(onp.abs(g).sum(), ref_l1, rtol=1e-8)


@pytest.mark.parametrize("name", ["neural_net", "gaussian_process", "mixture_model", "hmm_em",
                                  "convnet", "rnn"])
def test_autograd_example_gradient_by_finite_differences_and_jit(name):
    made = EXAMPLES[name]()
    objective, params = made[0], onp.asarray(made[1], dtype=float)
    check_grads(objective, (params,), order=1, modes=("rev",))
    onp.testing.assert_allclose(fa.jit(objective)(params), objective(params), rtol=1e-10)


def test_autograd_example_objective_vmaps():
    objective, params = gaussian_process()
    batch = onp.stack([params, params + 0.1, params - 0.2])
    onp.testing.assert_allclose(fa.vmap(objective)(batch), [objective(p) for p in batch], rtol=1e-12)
