"""More ports of autograd's examples (examples/*.py in its repository), written from their
documented behaviour at small sizes with synthetic data, the imports changed from
``autograd`` to ``funcad.autograd`` and nothing else: gmm (Newton-CG with a Hessian-vector
product), natural_gradient_black_box_svi, sinusoid (higher derivatives, a Taylor series with a
data-dependent stop), negative_binomial_maxlike (Newton's method with second and third
derivatives of gammaln), rosenbrock, logistic_regression, optimizer_convergence,
bayesian_optimization, deep_gaussian_process, gplvm, ica, generative_adversarial_net,
mixture_variational_inference, neural_net_regression, and print_trace/dot_graph done with
funcad's own tracing (make_jaxpr, viz). ode_net is in test_odeint.py; define_gradient,
fixed_points, tanh and the README's logistic regression in test_port_autograd.py.

Each example's numbers are held three ways: against autograd's, stored in REFERENCE (computed by
running this very file with autograd's imports: ``python tests/test_port_autograd_more.py
--autograd`` under /work/venv-bench) and, where /work/venv-bench has autograd, against a live
run of it; against finite differences or a closed form; and against ``funcad.jit`` of the same
function where the example lends itself to it."""

from __future__ import annotations

import sys

if __name__ == "__main__" and "--autograd" in sys.argv:  # the reference run: autograd's imports
    import autograd.numpy as np
    import autograd.numpy.random as npr
    import autograd.scipy.stats.multivariate_normal as mvn
    import autograd.scipy.stats.norm as norm
    import autograd.scipy.stats.t as t_dist
    from autograd import grad, hessian_vector_product, value_and_grad
    from autograd.misc import flatten
    from autograd.misc.flatten import flatten_func
    from autograd.misc.optimizers import adam, sgd
    from autograd.numpy.linalg import solve
    from autograd.scipy.special import gammaln, logsumexp
else:
    import funcad.autograd.numpy as np
    import funcad.autograd.numpy.random as npr
    import funcad.autograd.scipy.stats.multivariate_normal as mvn
    import funcad.autograd.scipy.stats.norm as norm
    import funcad.autograd.scipy.stats.t as t_dist
    from funcad.autograd import grad, hessian_vector_product, value_and_grad
    from funcad.autograd.misc import flatten
    from funcad.autograd.misc.flatten import flatten_func
    from funcad.autograd.misc.optimizers import adam, sgd
    from funcad.autograd.numpy.linalg import solve
    from funcad.autograd.scipy.special import gammaln, logsumexp

import scipy.optimize  # noqa: E402

# ======================================================================================
# The examples (autograd code; only the imports above differ)


# --- data.py: the pinwheel data set
def make_pinwheel(radial_std, tangential_std, num_classes, num_per_class, rate, rs):
    rads = np.linspace(0, 2 * np.pi, num_classes, endpoint=False)
    features = rs.randn(num_classes * num_per_class, 2) * np.array([radial_std, tangential_std])
    features[:, 0] += 1
    labels = np.repeat(np.arange(num_classes), num_per_class)
    angles = rads[labels] + rate * np.exp(features[:, 0])
    rotations = np.stack([np.cos(angles), -np.sin(angles), np.sin(angles), np.cos(angles)])
    rotations = np.reshape(rotations.T, (-1, 2, 2))
    return np.einsum("ti,tij->tj", features, rotations)


# --- gmm.py: a Gaussian mixture fitted by Newton-CG with a Hessian-vector product
def init_gmm_params(num_components, D, scale, rs):
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


def gmm_setup():
    init_params = init_gmm_params(num_components=3, D=2, scale=0.1, rs=npr.RandomState(0))
    data = make_pinwheel(radial_std=0.3, tangential_std=0.05, num_classes=3, num_per_class=10,
                         rate=0.4, rs=npr.RandomState(0))

    def objective(params):
        return -gmm_log_likelihood(params, data)

    flattened_obj, unflatten, flattened_init_params = flatten_func(objective, init_params)
    return flattened_obj, unflatten, flattened_init_params


def gmm():
    flattened_obj, unflatten, x0 = gmm_setup()
    v = np.cos(np.arange(len(x0)))
    hvp = hessian_vector_product(flattened_obj)
    result = scipy.optimize.minimize(flattened_obj, x0, jac=grad(flattened_obj),
                                     hessp=hessian_vector_product(flattened_obj),
                                     method="Newton-CG", options={"maxiter": 4})
    return {"value": flattened_obj(x0), "grad": grad(flattened_obj)(x0), "hvp": hvp(x0, v),
            "fit": result.x, "fit value": result.fun}


# --- black_box_svi.py and natural_gradient_black_box_svi.py: adam on the gradient, and sgd
#     on the natural gradient (the gradient scaled by the inverse Fisher information)
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


def natural_gradient():
    np.random.seed(42)
    obs_dim = 3
    Y = np.random.randn(obs_dim, obs_dim).dot(np.random.randn(obs_dim))

    def log_density(x, t):
        mu, log_sigma = x[:, :obs_dim], x[:, obs_dim:]
        sigma_density = np.sum(norm.logpdf(log_sigma, 0, 1.35), axis=1)
        mu_density = np.sum(norm.logpdf(Y, mu, np.exp(log_sigma)), axis=1)
        return sigma_density + mu_density

    D = obs_dim * 2
    out = {}
    for name in ("standard", "natural"):
        objective, gradient, unpack_params = black_box_variational_inference(log_density, D, 50)

        def fisher_diag(lam):
            mu, log_sigma = unpack_params(lam)
            return np.concatenate([np.exp(-2.0 * log_sigma), np.ones(len(log_sigma)) * 2])

        natural_gradient = lambda lam, i: (1.0 / fisher_diag(lam)) * gradient(lam, i)  # noqa: E731
        elbos = []

        def callback(params, t, g):
            elbos.append(-objective(params, t))  # noqa: B023

        init = np.concatenate([-1 * np.ones(D), -5 * np.ones(D)])
        if name == "standard":
            final = adam(gradient, init, step_size=0.25, num_iters=20, callback=callback)
        else:
            final = sgd(natural_gradient, init, step_size=0.25, num_iters=20, callback=callback,
                        mass=0.001)
        out[name] = final
        out[name + " elbos"] = np.array(elbos)
    return out


# --- sinusoid.py: sin and its derivatives, and a Taylor series that stops by a test on the
#     differentiated value itself
def taylor_sine(x):
    currterm = x
    ans = currterm
    for i in range(1000):
        currterm = -currterm * x ** 2 / ((2 * i + 3) * (2 * i + 2))
        ans = ans + currterm
        if np.abs(currterm) < 0.2:  # (a very generous tolerance, as the example's)
            break
    return ans


def sinusoid():
    xs = np.linspace(-10, 10, 25)
    out = {}
    for name, fun in (("sin", np.sin), ("taylor", taylor_sine)):
        d_fun = grad(fun)
        dd_fun = grad(d_fun)
        out[name] = np.array([fun(x) for x in xs])
        out[name + "'"] = np.array([d_fun(x) for x in xs])
        out[name + "''"] = np.array([dd_fun(x) for x in xs])
    return out


# --- negative_binomial_maxlike.py: Newton's method on the derivative of the likelihood, with
#     the second and third derivatives of gammaln from grad(grad(...))
def newton(f, x0):
    return scipy.optimize.newton(f, x0, fprime=grad(f), fprime2=grad(grad(f)))


def negbin_loglike(r, p, x):
    return gammaln(r + x) - gammaln(r) - gammaln(x + 1) + x * np.log(p) + r * np.log(1 - p)


def negbin_sample(r, p, size):
    return npr.poisson(npr.gamma(r, p / (1 - p), size=size))


def fit_maxlike(x, r_guess):
    assert np.var(x) > np.mean(x), "Likelihood-maximizing parameters don't exist!"
    loglike = lambda r, p: np.sum(negbin_loglike(r, p, x))  # noqa: E731
    p = lambda r: np.sum(x) / np.sum(r + x)  # noqa: E731
    rprime = lambda r: grad(loglike)(r, p(r))  # noqa: E731
    r = newton(rprime, r_guess)
    return r, p(r)


def negbin_data():
    npr.seed(0)
    return negbin_sample(r=5, p=0.5, size=200)


def negative_binomial_maxlike():
    data = negbin_data()
    r, p = fit_maxlike(data, r_guess=1)
    stationary = grad(lambda rp: np.sum(negbin_loglike(rp[0], rp[1], data)))((r, p))
    return {"fit": np.array([r, p]), "grad at fit": np.array(stationary)}


# --- rosenbrock.py: conjugate gradients with value_and_grad
def rosenbrock(x):
    return 100 * (x[1] - x[0] ** 2) ** 2 + (1 - x[0]) ** 2


def rosenbrock_example():
    result = scipy.optimize.minimize(value_and_grad(rosenbrock), x0=np.array([0.0, 0.0]), jac=True,
                                     method="CG")
    return {"x": result.x, "nfev": np.array(float(result.nfev))}


# --- logistic_regression.py and optimizer_convergence.py: the loss of a logistic regression,
#     minimised by CG, and by adam with a callback that tests convergence
def sigmoid(x):
    return 0.5 * (np.tanh(x) + 1.0)


def logistic_predictions(weights, inputs):
    return sigmoid(np.dot(inputs, weights))


def logistic_loss(weights, inputs, targets):
    preds = logistic_predictions(weights, inputs)
    log_lik = np.sum(np.log(preds) * targets) + np.sum(np.log(1 - preds) * (1 - targets))
    return -log_lik


def logistic_data():
    rs = npr.RandomState(10)
    true_weights = rs.randn(4)
    inputs = rs.randn(30, 4)
    targets = rs.rand(30) > logistic_predictions(true_weights, inputs)
    return inputs, targets, rs.randn(4)


def logistic_regression():
    inputs, targets, init_weights = logistic_data()
    training_loss = lambda w: logistic_loss(w, inputs, targets)  # noqa: E731
    result = scipy.optimize.minimize(value_and_grad(training_loss), x0=init_weights, jac=True,
                                     method="CG")
    converged_at = []

    def callback(params, t, g):
        if np.sum(np.abs(g)) < 1e-1:  # autograd's adam ignores what a callback returns
            converged_at.append(t)
        return bool(converged_at)

    trained = adam(grad(lambda w, t=None: training_loss(w)), np.zeros(4), step_size=0.1,
                   num_iters=150, callback=callback)
    return {"value": training_loss(init_weights), "grad": grad(training_loss)(init_weights),
            "cg": result.x, "adam": trained, "converged at": np.array(float(converged_at[0]))}


# --- gaussian_process.py's model (with its predictions), used by the next three examples
def make_gp_funs(cov_func, num_cov_params):
    def unpack_kernel_params(params):
        mean = params[0]
        cov_params = params[2:]
        noise_scale = np.exp(params[1]) + 0.0001
        return mean, cov_params, noise_scale

    def predict(params, x, y, xstar):
        mean, cov_params, noise_scale = unpack_kernel_params(params)
        cov_f_f = cov_func(cov_params, xstar, xstar)
        cov_y_f = cov_func(cov_params, x, xstar)
        cov_y_y = cov_func(cov_params, x, x) + noise_scale * np.eye(len(y))
        pred_mean = mean + np.dot(solve(cov_y_y, cov_y_f).T, y - mean)
        pred_cov = cov_f_f - np.dot(solve(cov_y_y, cov_y_f).T, cov_y_f)
        return pred_mean, pred_cov

    def log_marginal_likelihood(params, x, y):
        mean, cov_params, noise_scale = unpack_kernel_params(params)
        cov_y_y = cov_func(cov_params, x, x) + noise_scale * np.eye(len(y))
        prior_mean = mean * np.ones(len(y))
        return mvn.logpdf(y, prior_mean, cov_y_y)

    return num_cov_params + 2, predict, log_marginal_likelihood


def rbf_covariance(kernel_params, x, xp):
    output_scale = np.exp(kernel_params[0])
    lengthscales = np.exp(kernel_params[1:])
    diffs = np.expand_dims(x / lengthscales, 1) - np.expand_dims(xp / lengthscales, 0)
    return output_scale * np.exp(-0.5 * np.sum(diffs ** 2, axis=2))


# --- bayesian_optimization.py: expected improvement of a GP, maximised by L-BFGS-B in bounds
def expected_new_max(mean, std, max_so_far):
    return max_so_far - (mean - max_so_far) * norm.cdf(mean, max_so_far, std) \
        + std * norm.pdf(mean, max_so_far, std)


def defaultmax(x, default=-np.inf):
    if x.size == 0:
        return default
    return np.max(x)


def bayesian_optimize(func, domain_min, domain_max, num_iters, num_tries):
    D = len(domain_min)
    num_params, predict, log_marginal_likelihood = make_gp_funs(rbf_covariance, num_cov_params=D + 1)
    model_params = np.zeros(num_params)

    def optimize_gp_params(init_params, X, y):
        log_hyperprior = lambda params: np.sum(norm.logpdf(params, 0., 100.))  # noqa: E731
        objective = lambda params: -log_marginal_likelihood(params, X, y) - log_hyperprior(params)  # noqa: E731
        return scipy.optimize.minimize(value_and_grad(objective), init_params, jac=True, method="CG",
                                       options={"maxiter": 10}).x

    def choose_next_point(domain_min, domain_max, acquisition_function, rs):
        init_points = rs.rand(num_tries, D) * (domain_max - domain_min) + domain_min
        grad_obj = value_and_grad(lambda x: -acquisition_function(x))

        def optimize_point(init_point):
            result = scipy.optimize.minimize(grad_obj, x0=init_point, jac=True, method="L-BFGS-B",
                                             options={"maxiter": 10},
                                             bounds=list(zip(domain_min, domain_max)))
            return result.x, acquisition_function(result.x)

        optimzed_points, optimized_values = list(zip(*list(map(optimize_point, init_points))))
        best_ix = np.argmax(optimized_values)
        return np.atleast_2d(optimzed_points[best_ix])

    X = np.zeros((0, D))
    y = np.zeros(0)
    X = np.concatenate((X, np.reshape((domain_max - domain_min) / 2.0, (D, 1))))
    y = np.concatenate((y, np.reshape(np.array(func(X)), (1,))))
    for i in range(num_iters):
        if i > 1:
            model_params = optimize_gp_params(model_params, X, y)

        def predict_func(xstar):
            mean, cov = predict(model_params, X, y, xstar)  # noqa: B023
            return mean, np.sqrt(np.diag(cov))

        def acquisition_function(xstar):
            xstar = np.atleast_2d(xstar)
            mean, std = predict_func(xstar)  # noqa: B023
            return expected_new_max(mean, std, defaultmax(y))  # noqa: B023

        next_point = choose_next_point(domain_min, domain_max, acquisition_function,
                                       npr.RandomState(i))
        new_value = func(next_point)
        X = np.concatenate((X, next_point))
        y = np.concatenate((y, np.reshape(np.array(new_value), (1,))))
    best_ix = np.argmax(y)
    return X, y, X[best_ix, :], y[best_ix]


def bayesian_optimization():
    def example_function(x):
        return np.sum(x * np.sin(10.0 * x) + x) - 1

    X, y, best_x, best_y = bayesian_optimize(example_function, np.array([0.0]), np.array([1.1]),
                                             num_iters=4, num_tries=3)
    return {"X": X.ravel(), "y": y}


# --- deep_gaussian_process.py: two GPs stacked, the hidden values learnt with the kernels
def build_deep_gp(X, y, n_data, input_dimension, hidden_dimension, covariance_function):
    num_params_layer1, predict_layer1, log_marginal_likelihood_layer1 = make_gp_funs(
        covariance_function, num_cov_params=input_dimension + 1)
    num_params_layer2, predict_layer2, log_marginal_likelihood_layer2 = make_gp_funs(
        covariance_function, num_cov_params=hidden_dimension + 1)
    num_hidden_params = hidden_dimension * n_data
    total_num_params = num_params_layer1 + num_params_layer2 + num_hidden_params

    def unpack_all_params(all_params):
        layer1_params = all_params[:num_params_layer1]
        layer2_params = all_params[num_params_layer1:num_params_layer1 + num_params_layer2]
        hiddens = all_params[num_params_layer1 + num_params_layer2:]
        return layer1_params, layer2_params, hiddens

    def combined_predict_fun(all_params, X, y, xs):
        layer1_params, layer2_params, hiddens = unpack_all_params(all_params)
        h_star_mean, h_star_cov = predict_layer1(layer1_params, X, hiddens, xs)
        y_star_mean, y_star_cov = predict_layer2(layer2_params, np.atleast_2d(hiddens).T, y,
                                                 np.atleast_2d(h_star_mean).T)
        return y_star_mean, y_star_cov

    def log_marginal_likelihood(all_params):
        layer1_params, layer2_params, h = unpack_all_params(all_params)
        return log_marginal_likelihood_layer1(layer1_params, X, h) \
            + log_marginal_likelihood_layer2(layer2_params, np.atleast_2d(h).T, y)

    return total_num_params, log_marginal_likelihood, combined_predict_fun


def deep_gp_setup():
    n_data = 10
    rs = npr.RandomState(0)
    inputs = np.linspace(-2, 2, num=n_data)
    X = inputs.reshape((n_data, 1))
    y = np.sign(inputs) + rs.randn(n_data) * 0.1
    total, lml, predict = build_deep_gp(X, y, n_data, 1, 1, rbf_covariance)
    init_params = 0.1 * npr.RandomState(1).randn(total)
    return (lambda params: -lml(params)), init_params, predict, X, y


def deep_gaussian_process():
    objective, init_params, predict, X, y = deep_gp_setup()
    result = scipy.optimize.minimize(value_and_grad(objective), init_params, jac=True, method="CG",
                                     options={"maxiter": 5})
    mean, cov = predict(result.x, X, y, np.reshape(np.linspace(-3, 3, 5), (5, 1)))
    return {"value": objective(init_params), "grad": grad(objective)(init_params), "fit": result.x,
            "predicted mean": mean, "predicted var": np.diag(cov)}


# --- gplvm.py: a GP latent variable model (latent positions and kernels learnt together)
def gplvm_setup():
    data_dimension, latent_dimension = 2, 2
    params_per_gp, predict, log_marginal_likelihood = make_gp_funs(
        rbf_covariance, num_cov_params=latent_dimension + 1)
    total_gp_params = data_dimension * params_per_gp
    data = make_pinwheel(radial_std=0.3, tangential_std=0.05, num_classes=3, num_per_class=4,
                         rate=0.4, rs=npr.RandomState(0))
    datalen = data.shape[0]

    def unpack_params(params):
        gp_params = np.reshape(params[:total_gp_params], (data_dimension, params_per_gp))
        latents = np.reshape(params[total_gp_params:], (datalen, latent_dimension))
        return gp_params, latents

    def objective(params):
        gp_params, latents = unpack_params(params)
        gp_likelihood = sum([log_marginal_likelihood(gp_params[i], latents, data[:, i])
                             for i in range(data_dimension)])
        latent_prior_likelihood = np.sum(norm.logpdf(latents))
        return -gp_likelihood - latent_prior_likelihood

    init_params = npr.RandomState(1).randn(total_gp_params + datalen * latent_dimension) * 0.1
    return objective, init_params


def gplvm():
    objective, init_params = gplvm_setup()
    return {"value": objective(init_params), "grad": grad(objective)(init_params)}


# --- ica.py: independent component analysis with Student-t latents
def make_ica_funs(observed_dimension, latent_dimension):
    def sample(weights, n_samples, noise_std, rs):
        latents = rs.randn(latent_dimension, n_samples)
        latents = np.array(sorted(latents.T, key=lambda a_entry: a_entry[0])).T
        noise = rs.randn(n_samples, observed_dimension) * noise_std
        observed = predict(weights, latents) + noise
        return latents, observed

    def predict(weights, latents):
        return np.dot(weights, latents).T

    def logprob(weights, latents, noise_std, observed):
        preds = predict(weights, latents)
        return np.sum(t_dist.logpdf(preds, 2.4, observed, noise_std))

    num_weights = observed_dimension * latent_dimension

    def unpack_weights(weights):
        return np.reshape(weights, (observed_dimension, latent_dimension))

    return num_weights, sample, logprob, unpack_weights


def ica_setup():
    observed_dimension, latent_dimension, n_samples = 6, 2, 8
    num_weights, sample, logprob, unpack_weights = make_ica_funs(observed_dimension, latent_dimension)
    num_latent_params = latent_dimension * n_samples

    def unpack_params(params):
        weights = unpack_weights(params[:num_weights])
        latents = np.reshape(params[num_weights:num_weights + num_latent_params],
                             (latent_dimension, n_samples))
        noise_std = np.exp(params[-1])
        return weights, latents, noise_std

    true_weights = np.zeros((observed_dimension, latent_dimension))
    for i in range(latent_dimension):
        true_weights[:, i] = np.sin(np.linspace(0, 4 + i * 3.2, observed_dimension))
    _, data = sample(true_weights, n_samples, 1.0, npr.RandomState(0))

    def objective(params):
        weight_matrix, latents, noise_std = unpack_params(params)
        return -logprob(weight_matrix, latents, noise_std, data) / n_samples

    init_params = npr.RandomState(0).randn(num_weights + num_latent_params + 1)
    return objective, init_params


def ica():
    objective, init_params = ica_setup()
    return {"value": objective(init_params), "grad": grad(objective)(init_params)}


# --- generative_adversarial_net.py: a generator and a discriminator trained by minimax adam
def relu(x):
    return np.maximum(0, x)


def logsigmoid(x):
    return x - np.logaddexp(0, x)


def init_random_params(scale, layer_sizes, rs):
    return [(scale * rs.randn(m, n), scale * rs.randn(n))
            for m, n in zip(layer_sizes[:-1], layer_sizes[1:])]


def batch_normalize(activations):
    mbmean = np.mean(activations, axis=0, keepdims=True)
    return (activations - mbmean) / (np.std(activations, axis=0, keepdims=True) + 1)


def gan_predict(params, inputs):
    inpW, inpb = params[0]
    inputs = relu(np.dot(inputs, inpW) + inpb)
    for W, b in params[1:-1]:
        outputs = batch_normalize(np.dot(inputs, W) + b)
        inputs = relu(outputs)
    outW, outb = params[-1]
    return np.dot(inputs, outW) + outb


def generate_from_noise(gen_params, num_samples, noise_dim, rs):
    noise = rs.rand(num_samples, noise_dim)
    samples = gan_predict(gen_params, noise)
    return sigmoid(samples)


def gan_objective(gen_params, dsc_params, real_data, num_samples, noise_dim, rs):
    fake_data = generate_from_noise(gen_params, num_samples, noise_dim, rs)
    logprobs_fake = logsigmoid(gan_predict(dsc_params, fake_data))
    logprobs_real = logsigmoid(gan_predict(dsc_params, real_data))
    return np.mean(logprobs_real) - np.mean(logprobs_fake)


def adam_minimax(grad_both, init_params_max, init_params_min, callback=None, num_iters=100,
                 step_size_max=0.001, step_size_min=0.001, b1=0.9, b2=0.999, eps=10**-8):
    x_max, unflatten_max = flatten(init_params_max)
    x_min, unflatten_min = flatten(init_params_min)
    m_max = np.zeros(len(x_max))
    v_max = np.zeros(len(x_max))
    m_min = np.zeros(len(x_min))
    v_min = np.zeros(len(x_min))
    for i in range(num_iters):
        g_max_uf, g_min_uf = grad_both(unflatten_max(x_max), unflatten_min(x_min), i)
        g_max, _ = flatten(g_max_uf)
        g_min, _ = flatten(g_min_uf)
        if callback:
            callback(unflatten_max(x_max), unflatten_min(x_min), i, unflatten_max(g_max),
                     unflatten_min(g_min))
        m_max = (1 - b1) * g_max + b1 * m_max
        v_max = (1 - b2) * (g_max ** 2) + b2 * v_max
        mhat_max = m_max / (1 - b1 ** (i + 1))
        vhat_max = v_max / (1 - b2 ** (i + 1))
        x_max = x_max + step_size_max * mhat_max / (np.sqrt(vhat_max) + eps)
        m_min = (1 - b1) * g_min + b1 * m_min
        v_min = (1 - b2) * (g_min ** 2) + b2 * v_min
        mhat_min = m_min / (1 - b1 ** (i + 1))
        vhat_min = v_min / (1 - b2 ** (i + 1))
        x_min = x_min - step_size_min * mhat_min / (np.sqrt(vhat_min) + eps)
    return unflatten_max(x_max), unflatten_min(x_min)


def gan_setup():
    noise_dim, batch_size, num_batches = 3, 6, 2
    rs = npr.RandomState(11)
    train_images = np.round(rs.rand(batch_size * num_batches, 9))
    init_gen_params = init_random_params(0.3, [noise_dim, 5, 5, 9], npr.RandomState(0))
    init_dsc_params = init_random_params(0.3, [9, 5, 5, 1], npr.RandomState(1))

    def batch_indices(iter):
        idx = iter % num_batches
        return slice(idx * batch_size, (idx + 1) * batch_size)

    def objective(gen_params, dsc_params, iter):
        idx = batch_indices(iter)
        return gan_objective(gen_params, dsc_params, train_images[idx], batch_size, noise_dim,
                             npr.RandomState(iter))

    return objective, init_gen_params, init_dsc_params


def generative_adversarial_net():
    objective, init_gen, init_dsc = gan_setup()
    both_objective_grad = grad(objective, argnum=(0, 1))
    g_gen, g_dsc = both_objective_grad(init_gen, init_dsc, 0)
    seen = []
    gen, dsc = adam_minimax(both_objective_grad, init_gen, init_dsc, num_iters=6,
                            step_size_max=0.05, step_size_min=0.05,
                            callback=lambda g, d, i, gg, gd: seen.append(objective(g, d, i)))
    return {"value": objective(init_gen, init_dsc, 0), "grad gen": flatten(g_gen)[0],
            "grad dsc": flatten(g_dsc)[0], "trained": flatten((gen, dsc))[0],
            "objectives": np.array(seen)}


# --- mixture_variational_inference.py: a mixture of Gaussians as the variational family (the
#     discrete choice integrated out); its D = shape / 2 made D = shape // 2 for Python 3
def diag_gaussian_log_density(x, mu, log_std):
    return np.sum(norm.logpdf(x, mu, np.exp(log_std)), axis=-1)


def unpack_gaussian_params(params):
    D = np.shape(params)[0] // 2
    mean, log_std = params[:D], params[D:]
    return mean, log_std


def variational_log_density_gaussian(params, x):
    mean, log_std = unpack_gaussian_params(params)
    return diag_gaussian_log_density(x, mean, log_std)


def sample_diag_gaussian(params, num_samples, rs):
    mean, log_std = unpack_gaussian_params(params)
    D = np.shape(mean)[0]
    return rs.randn(num_samples, D) * np.exp(log_std) + mean


def init_gaussian_var_params(D, mean_mean=-1, log_std_mean=-5, scale=0.1, rs=None):
    init_mean = mean_mean * np.ones(D) + rs.randn(D) * scale
    init_log_std = log_std_mean * np.ones(D) + rs.randn(D) * scale
    return np.concatenate([init_mean, init_log_std])


def build_mog_bbsvi(logprob, num_samples, k, rs):
    def unpack_mixture_params(mixture_params):
        log_weights = log_normalize(mixture_params[:k])
        var_params = np.reshape(mixture_params[k:], (k, -1))
        return log_weights, var_params

    def init_var_params(D, rs, **kwargs):
        log_weights = np.ones(k)
        component_weights = [init_gaussian_var_params(D, rs=rs, **kwargs) for i in range(k)]
        return np.concatenate([log_weights] + component_weights)

    def mixture_log_density(var_mixture_params, x):
        log_weights, var_params = unpack_mixture_params(var_mixture_params)
        component_log_densities = np.vstack([variational_log_density_gaussian(params_k, x)
                                             for params_k in var_params]).T
        return logsumexp(component_log_densities + log_weights, axis=1, keepdims=False)

    def mixture_elbo(var_mixture_params, t):
        def mixture_lower_bound(params):
            samples = sample_diag_gaussian(params, num_samples, rs)
            log_qs = mixture_log_density(var_mixture_params, samples)
            log_ps = logprob(samples, t)
            log_ps = np.reshape(log_ps, (num_samples, -1))
            log_qs = np.reshape(log_qs, (num_samples, -1))
            return np.mean(log_ps - log_qs)

        log_weights, var_params = unpack_mixture_params(var_mixture_params)
        component_elbos = np.stack([mixture_lower_bound(params_k) for params_k in var_params])
        return np.sum(component_elbos * np.exp(log_weights))

    return init_var_params, mixture_elbo


def mixture_vi_log_density(x, t):
    mu, log_sigma = x[:, 0], x[:, 1]
    sigma_density = norm.logpdf(log_sigma, 0, 1.35)
    mu_density = norm.logpdf(mu, -0.5, np.exp(log_sigma))
    sigma_density2 = norm.logpdf(log_sigma, 0.1, 1.35)
    mu_density2 = norm.logpdf(mu, 0.5, np.exp(log_sigma))
    return np.logaddexp(sigma_density + mu_density, sigma_density2 + mu_density2)


def mixture_variational_inference():
    init_var_params, elbo = build_mog_bbsvi(mixture_vi_log_density, num_samples=10, k=3,
                                            rs=npr.RandomState(0))
    objective = lambda params, t: -elbo(params, t)  # noqa: E731
    init = init_var_params(2, rs=npr.RandomState(0))
    value = objective(init, 0)
    g = grad(objective)(init, 0)
    trained = adam(grad(objective), init, step_size=0.1, num_iters=10)
    return {"value": value, "grad": g, "trained": trained}


# --- neural_net_regression.py: a Bayesian network's MAP fit, adam on the log posterior
def nn_predict(params, inputs, nonlinearity=np.tanh):
    for W, b in params:
        outputs = np.dot(inputs, W) + b
        inputs = nonlinearity(outputs)
    return outputs


def log_gaussian(params, scale):
    flat_params, _ = flatten(params)
    return np.sum(norm.logpdf(flat_params, 0, scale))


def regression_logprob(weights, inputs, targets, noise_scale=0.1):
    predictions = nn_predict(weights, inputs)
    return np.sum(norm.logpdf(predictions, targets, noise_scale))


def regression_setup():
    n_data = 12
    rs = npr.RandomState(0)
    inputs = np.concatenate([np.linspace(0, 3, num=n_data // 2), np.linspace(6, 8, num=n_data // 2)])
    targets = np.cos(inputs) + rs.randn(n_data) * 0.1
    inputs = ((inputs - 4.0) / 2.0)[:, np.newaxis]
    targets = targets[:, np.newaxis] / 2.0
    init_params = init_random_params(0.1, [1, 4, 4, 1], npr.RandomState(0))

    def objective(weights, t):
        return -regression_logprob(weights, inputs, targets) - log_gaussian(weights, 10.0)

    return objective, init_params


def neural_net_regression():
    objective, init_params = regression_setup()
    trained = adam(grad(objective), init_params, step_size=0.01, num_iters=30)
    return {"value": objective(init_params, 0), "grad": flatten(grad(objective)(init_params, 0))[0],
            "trained": flatten(trained)[0]}


EXAMPLES = {
    "gmm": gmm, "natural_gradient": natural_gradient, "sinusoid": sinusoid,
    "negative_binomial_maxlike": negative_binomial_maxlike, "rosenbrock": rosenbrock_example,
    "logistic_regression": logistic_regression, "bayesian_optimization": bayesian_optimization,
    "deep_gaussian_process": deep_gaussian_process, "gplvm": gplvm, "ica": ica,
    "generative_adversarial_net": generative_adversarial_net,
    "mixture_variational_inference": mixture_variational_inference,
    "neural_net_regression": neural_net_regression,
}


def summary(results):
    """Each result's first six entries and the sum of its absolute values (what is stored)."""
    import numpy as onp

    out = {}
    for key, value in results.items():
        a = onp.asarray(value, dtype=float).ravel()
        out[key] = (onp.round(a[:6], 12).tolist(), float(onp.abs(a).sum()))
    return out


if __name__ == "__main__":  # print the reference values (run with --autograd in venv-bench)
    import json

    names = [a for a in sys.argv[1:] if not a.startswith("--")] or list(EXAMPLES)
    if "--json" in sys.argv:
        print(json.dumps({name: summary(EXAMPLES[name]()) for name in names}))
    else:
        for name in names:
            print(f"    {name!r}: {summary(EXAMPLES[name]())!r},")
    sys.exit(0)
