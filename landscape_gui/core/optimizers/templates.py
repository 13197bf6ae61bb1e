"""Rules to start from (the editor's templates), each written the way its paper or torch.optim does.

The first six reproduce built-ins (the tests hold them to that): typing a rule
starts from something known to be right.
"""

TEMPLATES: dict[str, str] = {
    "SGD": """\
# plain gradient descent: torch.optim.SGD(lr)
hyper lr = 0.001
x = x - lr*g
""",
    "Heavy ball": """\
# Polyak momentum as torch.optim.SGD(lr, momentum) writes it
hyper lr = 0.001, momentum = 0.9
state b = 0
b = momentum*b + g
x = x - lr*b
""",
    "Nesterov": """\
# Nesterov momentum as torch.optim.SGD(..., nesterov=True) writes it: the step looks ahead along b
hyper lr = 0.001, momentum = 0.9
state b = 0
b = momentum*b + g
x = x - lr*(g + momentum*b)
""",
    "Adam": """\
# Kingma & Ba 2015, as torch.optim.Adam
hyper lr = 0.001, beta1 = 0.9, beta2 = 0.999, eps = 1e-8
state m = 0, v = 0
m = beta1*m + (1 - beta1)*g
v = beta2*v + (1 - beta2)*g^2
x = x - lr*(m/(1 - beta1^t)) / (sqrt(v/(1 - beta2^t)) + eps)
""",
    "RMSprop": """\
# Hinton's RMSprop, as torch.optim.RMSprop(lr, alpha, eps)
hyper lr = 0.01, alpha = 0.99, eps = 1e-8
state v = 0
v = alpha*v + (1 - alpha)*g^2
x = x - lr*g/(sqrt(v) + eps)
""",
    "SAM": """\
# sharpness-aware minimisation (Foret et al. 2021) around heavy-ball SGD:
# the gradient is taken where a small ascent step of length rho lands
hyper lr = 0.01, momentum = 0.9, rho = 0.05
state b = 0
gs = grad(x + g*(rho/(norm(g) + 1e-12)))
b = momentum*b + gs
x = x - lr*b
""",
    "sign-SGD": """\
# signSGD (Bernstein et al. 2018): only the sign of each coordinate of the gradient
hyper lr = 0.001
x = x - lr*sign(g)
""",
    "Signum": """\
# sign of momentum (Bernstein et al. 2018): Lion's ancestor
hyper lr = 0.001, beta = 0.9
state m = 0
m = beta*m + (1 - beta)*g
x = x - lr*sign(m)
""",
    "Adam without bias correction": """\
# what Adam does without 1/(1 - beta^t): tiny first steps, since m and v start at 0
hyper lr = 0.001, beta1 = 0.9, beta2 = 0.999, eps = 1e-8
state m = 0, v = 0
m = beta1*m + (1 - beta1)*g
v = beta2*v + (1 - beta2)*g^2
x = x - lr*m/(sqrt(v) + eps)
""",
    "Extragradient": """\
# Korpelevich's extragradient: step with the gradient found one step ahead
hyper lr = 0.001
x = x - lr*grad(x - lr*g)
""",
    "Normalized GD": """\
# steps of fixed length lr along the gradient's direction
hyper lr = 0.01
x = x - lr*g/(norm(g) + 1e-12)
""",
}

#: templates that reproduce a built-in: (template, built-in, its hyperparameters from the rule's)
MATCHES_BUILT_IN = {
    "SGD": ("SGD", lambda h: {"lr": h["lr"]}),
    "Heavy ball": ("SGD", lambda h: {"lr": h["lr"], "momentum": h["momentum"]}),
    "Nesterov": ("SGD", lambda h: {"lr": h["lr"], "momentum": h["momentum"], "nesterov": True}),
    "Adam": ("Adam", lambda h: {"lr": h["lr"], "betas": (h["beta1"], h["beta2"]), "eps": h["eps"]}),
    "RMSprop": ("RMSprop", lambda h: {"lr": h["lr"], "alpha": h["alpha"], "eps": h["eps"]}),
    "SAM": ("SAM", lambda h: {"lr": h["lr"], "momentum": h["momentum"], "rho": h["rho"]}),
}
