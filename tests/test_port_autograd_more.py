"""More ports of autograd's examples (examples/*.py in its repository), written from their
documented behaviour at small sizes with synthetic data, the imports changed from
``autograd`` to ``funcad.autograd`` and nothing else: gmm (Newton-CG with a Hessian-vector
product), natural_gradient_black_box_svi, sinusoid (higher derivatives, a Taylor series with a
data-dependent stop), negative_binomial_maxlike (Newton's method with second and third
derivatives of gammaln), rosenbrock, logistic_regression, optimizer_convergence,
bayesian_optimization, deep_gaussian_process, gplvm, ica, generative_adversarial_net,
mixture_variational_inference, neural_net_regression, kfac_pre (its statistics, with
``getval``), fluidsim/wing, gradients through the optimizers (optimizers.py's note on
meta-optimisation), and print_trace/dot_graph done with funcad's own tracing (make_jaxpr,
viz). ode_net is in test_odeint.py; define_gradient, fixed_points, tanh and the README's
logistic regression in test_port_autograd.py.

Each example's numbers are held three ways: against autograd's, stored in REFERENCE (computed by
running this very file with autograd's imports: ``python tests/test_port_autograd_more.py
--autograd`` under a Python with autograd) and, when FUNCAD_AUTOGRAD_PYTHON names one, against a
live run of it; against finite differences or a closed form; and against ``funcad.jit`` of the same
function where the example lends itself to it."""

from __future__ import annotations

import sys

if __name__ == "__main__" and "--autograd" in sys.argv:  # the reference run: autograd's imports
    import autograd.numpy as np
    import autograd.numpy.random as npr
    import autograd.scipy.stats.multivariate_normal as mvn
    import autograd.scipy.stats.norm as norm
    import autograd.scipy.stats.t as t_dist
    from autograd import grad, grad_and_aux, hessian, hessian_vector_product, jacobian, value_and_grad
    from autograd.misc import flatten
    from autograd.misc.flatten import flatten_func
    from autograd.misc.optimizers import adam, rmsprop, sgd
    from autograd.numpy.linalg import solve
    from autograd.scipy.special import gammaln, logsumexp
    from autograd.tracer import getval
else:
    import funcad.autograd.numpy as np
    import funcad.autograd.numpy.random as npr
    import funcad.autograd.scipy.stats.multivariate_normal as mvn
    import funcad.autograd.scipy.stats.norm as norm
    import funcad.autograd.scipy.stats.t as t_dist
    from funcad.autograd import grad, grad_and_aux, hessian, hessian_vector_product, jacobian, value_and_grad
    from funcad.autograd.misc import flatten
    from funcad.autograd.misc.flatten import flatten_func
    from funcad.autograd.misc.optimizers import adam, rmsprop, sgd
    from funcad.autograd.numpy.linalg import solve
    from funcad.autograd.scipy.special import gammaln, logsumexp
    from funcad.autograd.tracer import getval

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


# --- optimizers.py's note: "you could take gradients of these functions too if you want to do
#     meta-optimization": the gradient of the loss after training with respect to the step size
def optimizers_hypergradient():
    def loss(w, i):
        return np.sum((w - 2.0) ** 2) + 0.1 * np.sum(w ** 4)

    def loss_after_training(step_size, optimizer):
        w = optimizer(grad(loss), np.array([0.5, -1.0]), step_size=step_size, num_iters=10)
        return loss(w, 0)

    return {opt.__name__: np.array([loss_after_training(0.1, opt),
                                    grad(loss_after_training)(0.1, opt)])
            for opt in (sgd, rmsprop, adam)}


# --- kfac_pre.py: the statistics of K-FAC (activations, and per-example gradients of a
#     likelihood under targets sampled from the model, got as gradients with respect to extra
#     zero biases, with the sampling behind getval), and the exact Fisher it approximates
def mlp(params, inputs):
    for W, b in params:
        outputs = np.dot(inputs, W) + b
        inputs = np.tanh(outputs)
    return outputs


def sample_discrete_from_log(logprobs):
    probs = np.exp(logprobs)
    cumvals = np.cumsum(probs, axis=1)
    indices = np.sum(npr.rand(logprobs.shape[0], 1) > cumvals, axis=1)
    return np.eye(logprobs.shape[1])[indices]


def neural_net_predict_and_activations(extra_biases, params, inputs):
    all_activations = [inputs]
    for (W, b), extra_bias in zip(params, extra_biases):
        s = np.dot(all_activations[-1], W) + b + extra_bias
        all_activations.append(np.tanh(s))
    logprobs = s - logsumexp(s, axis=1, keepdims=True)
    return logprobs, all_activations[:-1]


def model_predictive_log_likelihood(extra_biases, params, inputs):
    logprobs, activations = neural_net_predict_and_activations(extra_biases, params, inputs)
    model_sampled_targets = sample_discrete_from_log(getval(logprobs))
    return np.sum(logprobs * model_sampled_targets), activations


def collect_activations_and_grad_samples(params, inputs, num_samples):
    inputs = inputs[npr.choice(inputs.shape[0], size=num_samples)]
    extra_biases = [np.zeros((inputs.shape[0], b.shape[0])) for W, b in params]
    gradfun = grad_and_aux(model_predictive_log_likelihood)
    g_samples, a_samples = gradfun(extra_biases, params, inputs)
    return a_samples, g_samples


def append_homog_coord(x):
    return np.hstack((x, np.ones((x.shape[0], 1))))


def estimate_block_factors(all_samples, append_homog=False):
    num_samples = sum(samples.shape[0] for samples in all_samples[0])
    homog = append_homog_coord if append_homog else (lambda x: x)
    sumsq = lambda samples: np.dot(samples.T, samples)  # noqa: E731
    return [sum(map(sumsq, map(homog, layer_samples))) / num_samples for layer_samples in all_samples]


def exact_fisher(num_layers, params, inputs):
    flat_params, unflatten = flatten(params[-num_layers:])
    flat_mlp = lambda flat_params, inputs: mlp(params[:-num_layers] + unflatten(flat_params), inputs)  # noqa: E731
    F = np.zeros(2 * (flat_params.shape[0],))
    for x, z in zip(inputs, mlp(params, inputs)):
        J_f = jacobian(flat_mlp)(flat_params, x)
        F_R = hessian(logsumexp)(z)
        F += np.dot(J_f.T, np.dot(F_R, J_f))
    return F / inputs.shape[0]


def kfac_setup():
    npr.seed(0)
    layer_sizes = [3, 4, 3]
    params = init_random_params(0.5, layer_sizes, npr.RandomState(1))
    inputs = npr.RandomState(2).randn(10, 3)
    return params, inputs


def kfac():
    params, inputs = kfac_setup()
    a_samples, g_samples = collect_activations_and_grad_samples(params, inputs, num_samples=6)
    As = estimate_block_factors([[a] for a in a_samples], append_homog=True)
    Gs = estimate_block_factors([[g] for g in g_samples])
    return {"g last": g_samples[-1], "g first": g_samples[0], "A first": As[0], "G last": Gs[-1],
            "fisher": exact_fisher(1, params, inputs)}


# --- fluidsim/wing.py: the shape of an obstacle optimised for lift over drag in a fluid
#     simulation (occlusion, Gauss-Seidel projection, semi-Lagrangian advection), small
def make_wing_objective(rows, cols, simulation_timesteps, project_iters):
    def occlude(f, occlusion):
        return f * (1 - occlusion)

    def project(vx, vy, occlusion):
        p = np.zeros(vx.shape)
        div = -0.5 * (np.roll(vx, -1, axis=1) - np.roll(vx, 1, axis=1)
                      + np.roll(vy, -1, axis=0) - np.roll(vy, 1, axis=0))
        div = make_continuous(div, occlusion)
        for k in range(project_iters):  # noqa: B007
            p = (div + np.roll(p, 1, axis=1) + np.roll(p, -1, axis=1)
                 + np.roll(p, 1, axis=0) + np.roll(p, -1, axis=0)) / 4.0
            p = make_continuous(p, occlusion)
        vx = vx - 0.5 * (np.roll(p, -1, axis=1) - np.roll(p, 1, axis=1))
        vy = vy - 0.5 * (np.roll(p, -1, axis=0) - np.roll(p, 1, axis=0))
        return occlude(vx, occlusion), occlude(vy, occlusion)

    def advect(f, vx, vy):
        rows, cols = f.shape
        cell_xs, cell_ys = np.meshgrid(np.arange(cols), np.arange(rows))
        center_xs = (cell_xs - vx).ravel()
        center_ys = (cell_ys - vy).ravel()
        left_ix = np.floor(center_ys).astype(int)
        top_ix = np.floor(center_xs).astype(int)
        rw = center_ys - left_ix
        bw = center_xs - top_ix
        left_ix = np.mod(left_ix, rows)
        right_ix = np.mod(left_ix + 1, rows)
        top_ix = np.mod(top_ix, cols)
        bot_ix = np.mod(top_ix + 1, cols)
        flat_f = (1 - rw) * ((1 - bw) * f[left_ix, top_ix] + bw * f[left_ix, bot_ix]) \
            + rw * ((1 - bw) * f[right_ix, top_ix] + bw * f[right_ix, bot_ix])
        return np.reshape(flat_f, (rows, cols))

    def make_continuous(f, occlusion):
        non_occluded = 1 - occlusion
        num = np.roll(f, 1, axis=0) * np.roll(non_occluded, 1, axis=0) \
            + np.roll(f, -1, axis=0) * np.roll(non_occluded, -1, axis=0) \
            + np.roll(f, 1, axis=1) * np.roll(non_occluded, 1, axis=1) \
            + np.roll(f, -1, axis=1) * np.roll(non_occluded, -1, axis=1)
        den = np.roll(non_occluded, 1, axis=0) + np.roll(non_occluded, -1, axis=0) \
            + np.roll(non_occluded, 1, axis=1) + np.roll(non_occluded, -1, axis=1)
        return f * non_occluded + (1 - non_occluded) * num / (den + 0.001)

    def simulate(vx, vy, num_time_steps, occlusion):
        occlusion = sigmoid(occlusion)
        mask = np.zeros((rows, cols))
        mask[rows // 4:3 * rows // 4, cols // 6:cols // 2] = 1.0
        occlusion = occlusion * mask
        red_smoke = np.zeros((rows, cols))
        red_smoke[rows // 4:rows // 2] = 1
        vx, vy = project(vx, vy, occlusion)
        for t in range(num_time_steps):  # noqa: B007
            vx_updated = advect(vx, vx, vy)
            vy_updated = advect(vy, vx, vy)
            vx, vy = project(vx_updated, vy_updated, occlusion)
            red_smoke = occlude(advect(red_smoke, vx, vy), occlusion)
        return vx, vy

    init_vx = np.ones((rows, cols))
    init_vy = np.zeros((rows, cols))
    init_occlusion = -np.ones((rows, cols))
    init_occlusion[3 * rows // 8:5 * rows // 8, cols // 4:3 * cols // 8] = 0.0
    init_occlusion = init_occlusion.ravel()

    def drag(vx):
        return np.mean(init_vx - vx)

    def lift(vy):
        return np.mean(vy - init_vy)

    def objective(params):
        cur_occlusion = np.reshape(params, (rows, cols))
        final_vx, final_vy = simulate(init_vx, init_vy, simulation_timesteps, cur_occlusion)
        return -lift(final_vy) / drag(final_vx)

    return objective, init_occlusion


def wing():
    objective, init_occlusion = make_wing_objective(12, 16, 3, 10)
    value, g = value_and_grad(objective)(init_occlusion + 0.5 * np.cos(np.arange(init_occlusion.size)))
    return {"value": value, "grad": g}


EXAMPLES = {
    "gmm": gmm, "natural_gradient": natural_gradient, "sinusoid": sinusoid,
    "negative_binomial_maxlike": negative_binomial_maxlike, "rosenbrock": rosenbrock_example,
    "logistic_regression": logistic_regression, "bayesian_optimization": bayesian_optimization,
    "deep_gaussian_process": deep_gaussian_process, "gplvm": gplvm, "ica": ica,
    "generative_adversarial_net": generative_adversarial_net,
    "mixture_variational_inference": mixture_variational_inference,
    "neural_net_regression": neural_net_regression,
    "optimizers_hypergradient": optimizers_hypergradient, "kfac": kfac, "wing": wing,
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

# ======================================================================================
# The tests

import functools  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as onp  # noqa: E402
import pytest  # noqa: E402
import scipy.special  # noqa: E402

import funcad as fa  # noqa: E402
from funcad.errors import ConcretizationError  # noqa: E402
from funcad.test_util import check_grads  # noqa: E402

# each example's results, summarised as (first six entries, sum of |entries|), from autograd
REFERENCE: dict = {
    'gmm': {
        'value': ([73.382393837635], 73.38239383763523),
        'grad': ([0.602179036435, -0.282803085593, -0.319375950842, 5.553922211747, -0.028346455807, -0.028346455807], 38.661454456684055),  # noqa: E501
        'hvp': ([-6.98767635708, 2.681514149443, 4.306162207637, 11.75082703605, -0.072731729393, 2.755916570309], 77.24287521969906),  # noqa: E501
        'fit': ([0.126028221148, 0.063206952889, 0.125059579807, 0.538630520254, 0.015245469877, 0.032717885527], 5.859630022261216),  # noqa: E501
        'fit value': ([65.122693652628], 65.12269365262807),
    },
    'natural_gradient': {
        'standard': ([0.405786749914, 1.34860861653, 1.245350871111, -0.235109668417, 0.714132435876, 0.480930486785], 5.061796532830486),  # noqa: E501
        'standard elbos': ([-56.117718058081, -37.967344284062, -29.620312127156, -25.318621891248, -22.762543994017, -20.942603770497], 344.0290837201212),  # noqa: E501
        'natural': ([-0.959133537157, -0.928403148721, -0.933815314193, -0.961217073841, -0.857618704032, -0.89619588403], 20.94287543343514),  # noqa: E501
        'natural elbos': ([-56.117718058081, -55.116293179608, -54.503320874033, -53.753047880809, -53.00398422238, -52.082672990749], 948.8346860126153),  # noqa: E501
    },
    'sinusoid': {
        'sin': ([0.544021110889, -0.255254867997, -0.887294108095, -0.937999976775, -0.374151230571, 0.434832239625], 15.543710667561678),  # noqa: E501
        "sin'": ([-0.839071529076, -0.966873803743, -0.461204039163, 0.346635317835, 0.927367703051, 0.900511478762], 16.590630189668058),  # noqa: E501
        "sin''": ([-0.544021110889, 0.255254867997, 0.887294108095, 0.937999976775, 0.374151230571, -0.434832239625], 15.543710667561678),  # noqa: E501
        'taylor': ([0.554221114851, -0.263188235461, -0.881151393951, -0.942726203368, -0.370547807535, 0.432121673568], 15.516440259056578),  # noqa: E501
        "taylor'": ([-0.868449109923, -0.94367245206, -0.479496354455, 0.361018444884, 0.916106358098, 0.909268788205], 16.782842107794057),  # noqa: E501
        "taylor''": ([-0.462384216213, 0.189966452648, 0.939541183836, 0.896173745083, 0.407630516844, -0.461600961044], 15.906700127096876),  # noqa: E501
    },
    'negative_binomial_maxlike': {
        'fit': ([5.760352512678, 0.471544382993], 6.2318968956711505),
        'grad at fit': ([-0.0, 0.0], 1.7053025658242404e-13),
    },
    'rosenbrock': {
        'x': ([0.999992054719, 0.999984086792], 1.9999761415106998),
        'nfev': ([42.0], 42.0),
    },
    'logistic_regression': {
        'value': ([40.69742720456], 40.69742720455959),
        'grad': ([21.881662274157, 23.225492499062, -15.756541526278, 3.325715485663], 64.1894117851604),
        'cg': ([-1.850418686502, -0.414136421126, 2.056115567541, -0.138067785094], 4.45873846026234),
        'adam': ([-1.851236251113, -0.4141866552, 2.057166358909, -0.138247521885], 4.460836787107747),
        'converged at': ([56.0], 56.0),
    },
    'bayesian_optimization': {
        'X': ([0.55, 0.550000229875, 0.55000011535, 0.401591126889, 0.605877692832], 2.657469164946074),
        'y': ([-0.838047179064, -0.838046215392, -0.8380466955, -0.906472060438, -0.528948036478], 3.9495601868709143),  # noqa: E501
    },
    'deep_gaussian_process': {
        'value': ([26.329399816352], 26.32939981635214),
        'grad': ([0.389381187317, 3.532214897181, 1.384888912332, -0.862160391378, 0.029595528174, -0.987360479393], 9.801472547783993),  # noqa: E501
        'fit': ([-0.191589748903, -6.179678585478, -2.51266440464, 1.581123064959, 0.042525653496, 0.838143211995], 13.115690661804727),  # noqa: E501
        'predicted mean': ([0.042274492414, 0.048130835333, 0.061513279258, 0.079126926338, 0.095615451687], 0.32666098503112195),  # noqa: E501
        'predicted var': ([0.161652113908, 0.158829501058, 0.155867719053, 0.159448363546, 0.171125415433], 0.8069231129975947),  # noqa: E501
    },
    'gplvm': {
        'value': ([55.414812267031], 55.41481226703053),
        'grad': ([0.337040245023, 1.264099852121, 0.400895603248, 0.032769498474, -0.003549084557, -0.005615681066], 9.537981679264004),  # noqa: E501
    },
    'ica': {
        'value': ([16.304652685724], 16.30465268572364),
        'grad': ([0.041668527263, 0.074423347434, 0.046862307884, 0.205060617822, 0.042343022513, -0.064093154894], 5.8108291490613775),  # noqa: E501
    },
    'generative_adversarial_net': {
        'value': ([0.00382612347], 0.0038261234699490387),
        'grad gen': ([-6.5302202e-05, 0.000176131914, -0.000225654792, -7.9386045e-05, 0.000231726002, 7.1268441e-05], 0.006528450316001466),  # noqa: E501
        'grad dsc': ([0.0, -0.001359524153, 0.000278775526, 0.003499321557, -0.000921434131, 0.0], 0.19413194939074851),  # noqa: E501
        'trained': ([0.659386758377, 0.400305131022, 0.030650338701, 0.532781842815, 0.848173561342, -0.246531316957], 55.509952397694775),  # noqa: E501
        'objectives': ([0.00382612347, -0.001313064118, -0.010112686164, -0.013257461582, -0.034544053524, -0.038644419358], 0.10169780821527763),  # noqa: E501
    },
    'mixture_variational_inference': {
        'value': ([7.718325751407], 7.718325751406502),
        'grad': ([0.03816020477, -0.00201556922, -0.036144635549, -0.753183238887, -0.098163140819, -0.331720652071], 5.588745143555361),  # noqa: E501
        'trained': ([1.179975992804, 1.133467367345, 0.780934272978, -0.099560000778, -0.70819467103, -3.898482540441], 29.83478038900899),  # noqa: E501
    },
    'neural_net_regression': {
        'value': ([199.781682091959], 199.78168209195897),
        'grad': ([-0.427624318352, -1.614246878992, -1.536288785173, 3.496588407361, -2.864462171507, -4.716310276625], 634.9575905849197),  # noqa: E501
        'trained': ([0.122180347402, 0.110960051851, 0.152581503291, 0.088739836087, 0.262602204902, 0.083260404322], 4.251390232557067),  # noqa: E501
    },
    'optimizers_hypergradient': {
        'sgd': ([1.673119686184, -18.858350612241], 20.53147029842541),
        'rmsprop': ([3.144953506777, -37.55793327652], 40.7028867832971),
        'adam': ([4.815867352983, -38.65867138739], 43.4745387403728),
    },
    'kfac': {
        'g last': ([-0.323331859618, 0.592338353612, -0.269006493994, -0.247905981945, 0.425438210391, -0.177532228446], 6.485180872287313),  # noqa: E501
        'g first': ([-0.192768068319, -0.563947587057, -0.01890234082, 0.040755800366, -0.08654902071, -0.380310011081], 3.1131627734864944),  # noqa: E501
        'A first': ([0.602762961912, 0.113336879379, -0.606751559106, -0.695829872306, 0.113336879379, 0.449570310377], 9.529228427441373),  # noqa: E501
        'G last': ([0.154306080908, -0.183152807064, 0.028846726157, -0.183152807064, 0.261523759365, -0.0783709523], 1.0460950374584632),  # noqa: E501
        'fisher': ([0.063867746167, -0.040652505173, -0.023215240995, -0.031903274422, 0.018331080569, 0.013572193853], 8.647858102221996),  # noqa: E501
    },
    'wing': {
        'value': ([-0.004238259687], 0.004238259686508254),
        'grad': ([-0.0, -0.0, 0.0, 0.0, 0.0, 0.0], 0.07310052219648304),
    },
}

# results of an iterative optimiser (scipy's CG/Newton/L-BFGS-B, adam) agree less closely than a
# single evaluation: rounding differences of 1e-16 move the line searches a little
_ITERATED = {"fit", "cg", "X", "y", "trained", "grad at fit", "predicted mean", "predicted var"}


@functools.cache
def _results(name):
    return summary(EXAMPLES[name]())


def _assert_summary_close(name, got, expected):
    assert set(got) == set(expected), name
    for key, (head, l1) in expected.items():
        rtol, atol = (1e-8, 1e-9) if key in _ITERATED else (1e-9, 1e-11)
        onp.testing.assert_allclose(got[key][0], head, rtol=rtol, atol=atol, err_msg=f"{name}: {key}")
        onp.testing.assert_allclose(got[key][1], l1, rtol=rtol, atol=atol, err_msg=f"{name}: {key}")


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_matches_autograd(name):
    _assert_summary_close(name, _results(name), REFERENCE[name])


_BENCH_PYTHON = os.environ.get("FUNCAD_AUTOGRAD_PYTHON", "")


def test_examples_match_a_live_autograd_run():
    """The same file run with autograd's imports by the Python that FUNCAD_AUTOGRAD_PYTHON
    names (opt-in); without it the test relies on REFERENCE."""
    if not _BENCH_PYTHON or not Path(_BENCH_PYTHON).exists():
        pytest.skip("no Python with autograd named by FUNCAD_AUTOGRAD_PYTHON")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    probe = subprocess.run([str(_BENCH_PYTHON), "-c", "import autograd"], env=env, capture_output=True)
    if probe.returncode:
        pytest.skip(f"{_BENCH_PYTHON} has no autograd")
    out = subprocess.run([str(_BENCH_PYTHON), __file__, "--autograd", "--json"], env=env,
                         capture_output=True, text=True, check=True, timeout=300)
    live = json.loads(out.stdout)
    assert set(live) == set(EXAMPLES)
    for name, expected in live.items():
        _assert_summary_close(name, _results(name), {k: tuple(v) for k, v in expected.items()})


# --- gmm: the Hessian-vector product that Newton-CG uses, eager and jitted


def test_gmm_hessian_vector_product_under_jit():
    flattened_obj, _, x0 = gmm_setup()
    v = onp.cos(onp.arange(len(x0)))
    hvp = hessian_vector_product(flattened_obj)
    expected = hvp(x0, v)
    eps = 1e-5  # central differences of the gradient along v
    g = grad(flattened_obj)
    onp.testing.assert_allclose(expected, (g(x0 + eps * v) - g(x0 - eps * v)) / (2 * eps),
                                rtol=1e-6, atol=1e-6)
    onp.testing.assert_allclose(fa.hessian(lambda x: flattened_obj(x)[0])(x0) @ v, expected,
                                rtol=1e-10, atol=1e-10)
    onp.testing.assert_allclose(fa.jit(hvp)(x0, v), expected, rtol=1e-10, atol=1e-10)
    # Newton-CG with the jitted derivatives takes the eager run's steps
    result = scipy.optimize.minimize(fa.jit(flattened_obj), x0, jac=fa.jit(g), hessp=fa.jit(hvp),
                                     method="Newton-CG", options={"maxiter": 4})
    fit = REFERENCE["gmm"]["fit"]
    onp.testing.assert_allclose(result.x[:6], fit[0], rtol=1e-8, atol=1e-9)
    onp.testing.assert_allclose(result.fun, REFERENCE["gmm"]["fit value"][1], rtol=1e-10)


# --- black-box variational inference: the reparameterised gradient against finite differences


def test_bbsvi_gradient_by_finite_differences():
    Y = onp.array([0.3, -1.2, 2.0])

    def log_density(x, t):
        mu, log_sigma = x[:, :3], x[:, 3:]
        return np.sum(norm.logpdf(log_sigma, 0, 1.35), axis=1) \
            + np.sum(norm.logpdf(Y, mu, np.exp(log_sigma)), axis=1)

    def fresh_objective(params):  # a new RandomState each call: the same samples every time
        return black_box_variational_inference(log_density, 6, 20)[0](params, 0)

    params = onp.concatenate([onp.linspace(-1, 1, 6) * 0.3, -onp.ones(6)])
    check_grads(fresh_objective, (params,), order=1, modes=("rev",))
    onp.testing.assert_allclose(fa.jit(grad(fresh_objective))(params), grad(fresh_objective)(params),
                                rtol=1e-12)
    elbos = natural_gradient_elbos = _natural_gradient_elbos()
    assert elbos[-1] > elbos[0] + 3.0  # the natural gradient climbs
    assert onp.all(onp.isfinite(natural_gradient_elbos))


def _natural_gradient_elbos():
    return onp.asarray(natural_gradient()["natural elbos"])


# --- sinusoid: closed forms; the Taylor series' stop on a traced value is eager-only


def test_sinusoid_derivatives():
    xs = onp.linspace(-10, 10, 25)
    res = sinusoid()
    onp.testing.assert_allclose(res["sin'"], onp.cos(xs), atol=1e-15)
    onp.testing.assert_allclose(res["sin''"], -onp.sin(xs), atol=1e-15)
    eps = 1e-6
    fd = (onp.array([taylor_sine(x + eps) for x in xs]) - onp.array([taylor_sine(x - eps) for x in xs]))
    onp.testing.assert_allclose(res["taylor'"], fd / (2 * eps), rtol=1e-6, atol=1e-6)
    dd = grad(grad(np.sin))
    onp.testing.assert_allclose(fa.jit(dd)(0.7), -onp.sin(0.7), rtol=1e-15)
    onp.testing.assert_allclose(fa.vmap(dd)(xs), -onp.sin(xs), atol=1e-15)
    with pytest.raises(ConcretizationError, match="lax.while_loop|numpy.where"):
        fa.jit(grad(taylor_sine))(0.7)


# --- negative binomial: Newton's derivatives against digamma and polygamma


def test_negative_binomial_derivatives_closed_form():
    x = negbin_data()
    n, S = len(x), x.sum()
    loglike = lambda r, p: np.sum(negbin_loglike(r, p, x))  # noqa: E731
    p = lambda r: np.sum(x) / np.sum(r + x)  # noqa: E731
    rprime = lambda r: grad(loglike)(r, p(r))  # noqa: E731
    pg = scipy.special.polygamma
    r = 3.0
    onp.testing.assert_allclose(
        rprime(r), (pg(0, r + x) - pg(0, r)).sum() + n * onp.log(n * r / (n * r + S)), rtol=1e-12)
    onp.testing.assert_allclose(
        grad(rprime)(r), (pg(1, r + x) - pg(1, r)).sum() + n * (1 / r - n / (n * r + S)), rtol=1e-12)
    third = (pg(2, r + x) - pg(2, r)).sum() + n * (-1 / r ** 2 + n ** 2 / (n * r + S) ** 2)
    onp.testing.assert_allclose(grad(grad(rprime))(r), third, rtol=1e-10)
    onp.testing.assert_allclose(fa.jit(grad(grad(rprime)))(r), third, rtol=1e-10)


# --- rosenbrock and logistic regression: closed-form gradients, the jitted path identical


def test_rosenbrock_and_logistic_regression_jitted():
    x = onp.array([-0.3, 0.8])
    closed = [-400 * x[0] * (x[1] - x[0] ** 2) - 2 * (1 - x[0]), 200 * (x[1] - x[0] ** 2)]
    onp.testing.assert_allclose(grad(rosenbrock)(x), closed, rtol=1e-14)
    result = scipy.optimize.minimize(fa.jit(value_and_grad(rosenbrock)), x0=onp.zeros(2), jac=True,
                                     method="CG")
    assert result.nfev == REFERENCE["rosenbrock"]["nfev"][1]
    onp.testing.assert_allclose(result.x, REFERENCE["rosenbrock"]["x"][0], rtol=1e-9)

    inputs, targets, w = logistic_data()
    loss = lambda w: logistic_loss(w, inputs, targets)  # noqa: E731
    z = 2 * inputs @ w  # sigmoid(t) = (tanh(t) + 1) / 2 is the logistic function of 2t
    closed = 2 * inputs.T @ (1 / (1 + onp.exp(-z)) - targets)
    onp.testing.assert_allclose(grad(loss)(w), closed, rtol=1e-12)
    onp.testing.assert_allclose(fa.jit(grad(loss))(w), closed, rtol=1e-12)


# --- the Gaussian-process family: finite differences, jit, vmap


@pytest.mark.parametrize("setup", [deep_gp_setup, gplvm_setup, ica_setup])
def test_gp_family_gradients(setup):
    objective, params = setup()[:2]
    check_grads(objective, (params,), order=1, modes=("rev",))
    value, g = value_and_grad(objective)(params)
    jvalue, jg = fa.jit(value_and_grad(objective))(params)
    onp.testing.assert_allclose(jvalue, value, rtol=1e-12)
    onp.testing.assert_allclose(jg, g, rtol=1e-10, atol=1e-12)


def test_bayesian_optimization_acquisition():
    _, predict, _ = make_gp_funs(rbf_covariance, 2)
    X, y = onp.array([[0.1], [0.5], [0.9]]), onp.array([0.2, -0.3, 0.4])
    params = onp.array([0.1, -1.0, 0.2, -0.5])

    def acquisition_function(xstar):
        xstar = np.atleast_2d(xstar)
        mean, cov = predict(params, X, y, xstar)
        return expected_new_max(mean, np.sqrt(np.diag(cov)), defaultmax(y))

    vg = value_and_grad(lambda x: -acquisition_function(x))
    check_grads(lambda x: -acquisition_function(x), (onp.array([0.3]),), order=2)
    for x in (onp.array([0.3]), onp.array([0.75])):
        jv, jgr = fa.jit(vg)(x)
        v, gr = vg(x)
        onp.testing.assert_allclose(jv, v, rtol=1e-12)
        onp.testing.assert_allclose(jgr, gr, rtol=1e-10)
    points = onp.array([[0.2], [0.45], [1.0]])
    onp.testing.assert_allclose(fa.vmap(acquisition_function)(points),
                                [acquisition_function(p) for p in points], rtol=1e-12)


# --- the GAN: both gradients against finite differences; jit with the step number static


def test_gan_gradients():
    objective, gen, dsc = gan_setup()
    flat, unflatten = flatten((gen, dsc))
    check_grads(lambda f: objective(*unflatten(f), 1), (flat,), order=1, modes=("rev",))
    both = grad(objective, argnum=(0, 1))
    eager = flatten(both(gen, dsc, 1))[0]
    onp.testing.assert_allclose(flatten(fa.jit(both, static_argnums=2)(gen, dsc, 1))[0], eager,
                                rtol=1e-10, atol=1e-15)


# --- mixture VI, neural network regression, meta-optimisation: finite differences


def test_mixture_vi_and_regression_and_hypergradient():
    init_var_params, elbo = build_mog_bbsvi(mixture_vi_log_density, num_samples=5, k=2,
                                            rs=npr.RandomState(0))
    params = init_var_params(2, rs=npr.RandomState(1))

    def fresh(p):  # a new sampler each call, so the function is deterministic
        return -build_mog_bbsvi(mixture_vi_log_density, 5, 2, npr.RandomState(0))[1](p, 0)

    check_grads(fresh, (params,), order=1, modes=("rev",))

    objective, init_params = regression_setup()
    flat, unflatten = flatten(init_params)
    check_grads(lambda f: objective(unflatten(f), 0), (flat,), order=1, modes=("rev",))
    onp.testing.assert_allclose(fa.jit(grad(objective))(init_params, 0)[1][0],
                                grad(objective)(init_params, 0)[1][0], rtol=1e-11)

    loss = lambda w, i: np.sum((w - 2.0) ** 2) + 0.1 * np.sum(w ** 4)  # noqa: E731
    for opt in (sgd, rmsprop, adam):
        check_grads(lambda s: loss(opt(grad(loss), np.array([0.5, -1.0]), step_size=s,  # noqa: B023
                                       num_iters=10), 0), (0.1,), order=1, modes=("rev",))


# --- print_trace.py and dot_graph.py: autograd prints its own trace (autograd.tracer's Node
#     subclasses); in funcad the trace is a jaxpr and its picture funcad.viz


def test_print_trace_and_dot_graph_as_jaxprs():
    def avg(x, y):
        return (x + y) / 2

    def fun(x):
        y = np.sin(x + x)
        return avg(y, y)

    jaxpr = fa.make_jaxpr(fun)(1.23)
    assert [e.prim.name for e in jaxpr.eqns] == ["add", "sin", "add", "div"]
    onp.testing.assert_allclose(jaxpr(1.23), onp.sin(2.46), rtol=1e-15)
    traced = fa.make_jaxpr(grad(fun))(1.0)
    assert "cos" in [e.prim.name for e in traced.eqns]
    onp.testing.assert_allclose(traced(1.0), 2 * onp.cos(2.0), rtol=1e-15)

    def fun2(x):
        y = np.sin(x)
        return (y + np.exp(x) - 0.5) * y

    dot = fa.viz.to_dot(fa.make_jaxpr(fun2)(1.0))
    for op in ("sin", "exp", "add", "sub", "mul"):
        assert f'label="{op}"' in dot


# --- kfac_pre: the per-example gradients and the exact Fisher in closed form; getval


def test_kfac_statistics_closed_form():
    params, inputs = kfac_setup()
    (W1, b1), (W2, b2) = params
    res = kfac()
    rs = onp.random.RandomState(0)  # the draws the example makes after npr.seed(0)
    x = inputs[rs.choice(10, size=6)]
    u = rs.rand(6, 1)
    h = onp.tanh(x @ W1 + b1)
    s = h @ W2 + b2
    p = onp.exp(s - scipy.special.logsumexp(s, axis=1, keepdims=True))
    targets = onp.eye(3)[onp.sum(u > onp.cumsum(p, axis=1), axis=1)]
    g_last = targets - p
    onp.testing.assert_allclose(res["g last"], g_last, rtol=1e-12, atol=1e-15)
    onp.testing.assert_allclose(res["g first"], (g_last @ W2.T) * (1 - h ** 2), rtol=1e-12, atol=1e-15)
    # the last layer's exact Fisher: J = [a kron I, I] for logits z = a W + b
    F = onp.zeros((15, 15))
    for a, z in zip(onp.tanh(inputs @ W1 + b1), onp.tanh(inputs @ W1 + b1) @ W2 + b2):
        q = onp.exp(z - scipy.special.logsumexp(z))
        J = onp.hstack([onp.kron(a[None, :], onp.eye(3)), onp.eye(3)])
        F += J.T @ (onp.diag(q) - onp.outer(q, q)) @ J
    onp.testing.assert_allclose(res["fisher"], F / 10, rtol=1e-12, atol=1e-15)
    # jitted, the draw is made once at trace time (as in JAX): the same seed, the same gradients
    extra = [onp.zeros((6, 4)), onp.zeros((6, 3))]
    gradfun = grad_and_aux(model_predictive_log_likelihood)
    npr.seed(5)
    eager = gradfun(extra, params, x)
    npr.seed(5)
    with pytest.warns(UserWarning, match="drew from numpy.random"):
        jitted = fa.jit(gradfun)(extra, params, x)
    for e, j in zip(flatten(eager)[0], flatten(jitted)[0]):
        onp.testing.assert_allclose(j, e, rtol=1e-12, atol=1e-15)


def test_getval_drops_the_derivative_and_is_concrete_outside_jit():
    from funcad.autograd.tracer import isbox

    seen = []

    def f(x):
        v = getval(x)
        seen.append((isbox(x), type(v)))
        return np.sum(x * v) + float(np.sum(v))  # float() of a getval: allowed, as in autograd

    x = onp.array([1.0, -2.0])
    onp.testing.assert_allclose(grad(f)(x), x)  # d/dx (x . c) = c, not 2x
    assert seen[-1][0] and issubclass(seen[-1][1], onp.ndarray)
    onp.testing.assert_allclose(fa.jit(grad(lambda x: np.sum(x * getval(x))))(x), x)
    onp.testing.assert_allclose(fa.vmap(grad(lambda x: np.sum(x ** 2 * getval(x))))(onp.stack([x, 2 * x])),
                                [2 * x * x, 8 * x * x])
    assert not isbox(x) and getval(3.0) == 3.0


# --- wing: finite differences and jit on a smaller grid (the full example, 40 x 60 with 20
#     steps of 50 projection sweeps, unrolls to 240,000 operations: jit refuses it with
#     ProgramTooLargeError and a pointer to lax.fori_loop; eagerly it runs as in autograd)


def test_wing_gradient_and_jit():
    objective, occlusion = make_wing_objective(8, 12, 2, 3)
    occlusion = occlusion + 0.5 * onp.cos(onp.arange(occlusion.size))  # no symmetry: lift != 0
    check_grads(objective, (occlusion,), order=1, modes=("rev",))
    value, g = value_and_grad(objective)(occlusion)
    jvalue, jg = fa.jit(value_and_grad(objective))(occlusion)
    onp.testing.assert_allclose(jvalue, value, rtol=1e-12)
    onp.testing.assert_allclose(jg, g, rtol=1e-9, atol=1e-16)
    assert onp.abs(g).sum() > 1e-3  # the obstacle's shape matters


# --- a difference met while porting: autograd's cholesky gradient is symmetrised (as JAX's);
#     funcad's reads the lower triangle, as NumPy's cholesky does. The same along any symmetric
#     direction, so the same for a matrix built symmetric (gmm's cov_sqrt.T @ cov_sqrt).


def test_cholesky_gradient_is_lower_triangular_where_autograd_symmetrises():
    a = onp.array([[2.0, 1.0], [1.0, 3.0]])
    f = lambda x: np.sum(np.linalg.cholesky(x))  # noqa: E731
    g = grad(f)(a)
    eps = 1e-6
    fd = onp.zeros((2, 2))
    for i, j in onp.ndindex(2, 2):  # NumPy's cholesky, entry by entry: the upper entry is unread
        e = onp.zeros((2, 2))
        e[i, j] = eps
        fd[i, j] = (onp.linalg.cholesky(a + e).sum() - onp.linalg.cholesky(a - e).sum()) / (2 * eps)
    onp.testing.assert_allclose(g, fd, rtol=1e-7, atol=1e-9)
    assert g[0, 1] == 0.0
    autograds = onp.array([[0.2558336368, 0.1954395076], [0.1954395076, 0.316227766]])  # its value
    onp.testing.assert_allclose((g + g.T) / 2, autograds, rtol=1e-9)
    sym = onp.array([[0.3, -0.7], [-0.7, 1.1]])
    onp.testing.assert_allclose(onp.sum(g * sym), onp.sum(autograds * sym), rtol=1e-9)
