#!/usr/bin/python3
"""Writes tests/optim/prox_golden.txt: trajectories of ProxGen-Adam (l1, l0, l1/2, l2/3) and of
ProxSGD (l1), computed in float64 with NumPy from the formulas of /work/shared/ALGORITHMS.md, for
tests/optim/test_prox_golden.cpp.

Nothing here comes from proxima: the scalar proxes are the closed forms of ALGORITHMS.md §1.1-1.4
in their papers' own parametrisation (Xu et al.'s arccos form with 1 + cos for l1/2, Cao et al.'s
arccosh/cosh form for l2/3), the optimizers are §2.2 (ProxGen-Adam, per coordinate) and §5.2
(ProxSGD, with the bias correction 1 - beta^t at step t, not PyTorch's off-by-one t + 1).

Problem: multi-output least squares with a linear layer, weight w (4 x 8, regularised) and bias
b (4, never regularised):  pred = x w^T + b,  loss = 1/(2N) sum_n ||pred_n - y_n||^2,  so
dloss/dw = (pred - y)^T x / N and dloss/db = sum_n (pred_n - y_n) / N. The targets come from a
sparse true weight plus noise, so that the regularised solutions have exact zeros and survivors.
Each configuration takes STEPS full-batch steps from the same initial values; all parameter
values after the saved steps are stored, plus the number of exact zeros in w.

The script checks that the golden values are not chaotic: every trajectory is rerun from an
initial point perturbed by 1e-13 (relative), and the saved values must move by less than 1e-11;
and at every step every coordinate's prox input must lie at least MIN_MARGIN (relative) away from
its threshold, so rounding differences of 1e-15 cannot flip a zero decision.

Format ('#' lines are comments):
    config <name> <optimizer> <key>=<value> ...
    tensor <name> <ndim> <d0> <d1> ...
    <values in row-major order, 17 significant digits>
    zeros <config>/step<k> <count>          (exact zeros in w after step k)
Tensor names: data/x, data/y, init/w, init/b, <config>/step<k>/<w|b>.
Run: /usr/bin/python3 tests/golden/make_prox_golden.py
"""
import math
import os

import numpy as np

STEPS = 50
SAVED_STEPS = (1, 10, 25, 50)
MIN_MARGIN = 1e-7

# (name, optimizer, settings). proxgen: lr, beta1, beta2, delta, regularizer, lambda (weight group
# only). proxsgd: epsilon0, epsilon_decay, rho0, rho_decay, step_offset, beta, delta, regularizer,
# lambda (weight group only).
CONFIGS = [
    ("proxgen_l1", "proxgen", {"lr": 0.05, "beta1": 0.9, "beta2": 0.999, "delta": 1e-8,
                               "regularizer": "l1", "lambda": 0.3}),
    ("proxgen_l0", "proxgen", {"lr": 0.05, "beta1": 0.9, "beta2": 0.999, "delta": 1e-8,
                               "regularizer": "l0", "lambda": 0.05}),
    ("proxgen_l12", "proxgen", {"lr": 0.05, "beta1": 0.9, "beta2": 0.999, "delta": 1e-8,
                                "regularizer": "l12", "lambda": 0.1}),
    ("proxgen_l23", "proxgen", {"lr": 0.05, "beta1": 0.9, "beta2": 0.999, "delta": 1e-8,
                                "regularizer": "l23", "lambda": 0.12}),
    ("proxsgd_l1", "proxsgd", {"epsilon0": 0.5, "epsilon_decay": 0.5, "rho0": 0.9, "rho_decay": 0.5,
                               "step_offset": 4, "beta": 0.999, "delta": 1e-8,
                               "regularizer": "l1", "lambda": 0.3}),
]


# ---- scalar proxes P(z; t) = argmin_x t r(x) + (x - z)^2 / 2, elementwise, with the distance
# of each z to its threshold (for the margin check) ----

def prox_l1(z, t):  # §1.1
    return np.sign(z) * np.maximum(np.abs(z) - t, 0.0), np.abs(np.abs(z) - t) / np.maximum(t, 1e-300)


def prox_l0(z, t):  # §1.2: keep iff |z| > sqrt(2t)
    tau = np.sqrt(2.0 * t)
    return np.where(np.abs(z) > tau, z, 0.0), np.abs(np.abs(z) - tau) / tau


def prox_l12(z, t):  # §1.3, Xu et al. with mu = 2t
    mu = 2.0 * t
    tau = (54.0 ** (1.0 / 3.0) / 4.0) * mu ** (2.0 / 3.0)
    a = np.abs(z)
    out = np.zeros_like(z)
    on = a > tau
    phi = np.arccos((mu[on] / 8.0) * (a[on] / 3.0) ** -1.5)
    out[on] = (2.0 / 3.0) * z[on] * (1.0 + np.cos(2.0 * math.pi / 3.0 - (2.0 / 3.0) * phi))
    return out, np.abs(a - tau) / tau


def prox_l23(z, t):  # §1.4, Cao et al. with mu = 2t
    mu = 2.0 * t
    tau = (2.0 / 3.0) * (3.0 * mu ** 3) ** 0.25
    a = np.abs(z)
    out = np.zeros_like(z)
    on = a > tau
    psi = np.arccosh(27.0 * z[on] ** 2 / (16.0 * mu[on] ** 1.5))
    A = (2.0 / math.sqrt(3.0)) * mu[on] ** 0.25 * np.sqrt(np.cosh(psi / 3.0))
    out[on] = np.sign(z[on]) * ((A + np.sqrt(2.0 * a[on] / A - A * A)) / 2.0) ** 3
    return out, np.abs(a - tau) / tau


PROX = {"l1": prox_l1, "l0": prox_l0, "l12": prox_l12, "l23": prox_l23}


# ---- the problem ----

def make_problem():
    rng = np.random.default_rng(20261122)
    n, d_in, d_out = 24, 8, 4
    x = rng.standard_normal((n, d_in))
    w_true = rng.standard_normal((d_out, d_in)) * (rng.random((d_out, d_in)) < 0.35)
    y = x @ w_true.T + 0.3 + 0.2 * rng.standard_normal((n, d_out))
    init = {"w": 0.5 * rng.standard_normal((d_out, d_in)), "b": 0.1 * rng.standard_normal(d_out)}
    for i, j in ((0, 1), (1, 5), (2, 3), (3, 6)):  # exact zeros at the start (ProxSGD keeps those
        init["w"][i, j] = 0.0                       # whose x_hat stays 0, §2.7.8; (1, 5) does not)
    return x, y, init


def gradients(x, y, w, b):
    r = x @ w.T + b - y
    return r.T @ x / x.shape[0], r.sum(axis=0) / x.shape[0]


# ---- the optimizers (one step on each tensor; only w is regularised) ----

class ProxGenAdam:  # §2.2, per coordinate, ProxGen's official order
    def __init__(self, cfg, shapes):
        self.cfg = cfg
        self.k = 0
        self.m = {k: np.zeros(s) for k, s in shapes.items()}
        self.v = {k: np.zeros(s) for k, s in shapes.items()}

    def step(self, params, grads, margins):
        c = self.cfg
        self.k += 1
        b1, b2, lr = c["beta1"], c["beta2"], c["lr"]
        for key in params:
            g = grads[key]
            self.m[key] = b1 * self.m[key] + (1.0 - b1) * g
            self.v[key] = b2 * self.v[key] + (1.0 - b2) * g * g
            denom = np.sqrt(self.v[key]) / math.sqrt(1.0 - b2 ** self.k) + c["delta"]
            z = params[key] - lr / (1.0 - b1 ** self.k) * self.m[key] / denom
            if key == "w":
                t = lr * c["lambda"] / denom
                z, margin = PROX[c["regularizer"]](z, t)
                margins.append(margin.min())
            params[key] = z


class ProxSGD:  # §5.2 with the bias correction 1 - beta^t (t' = t)
    def __init__(self, cfg, shapes):
        self.cfg = cfg
        self.k = 0
        self.v = {k: np.zeros(s) for k, s in shapes.items()}
        self.r = {k: np.zeros(s) for k, s in shapes.items()}

    def step(self, params, grads, margins):
        c = self.cfg
        self.k += 1
        eps = c["epsilon0"] / (self.k + c["step_offset"]) ** c["epsilon_decay"]
        rho = c["rho0"] / (self.k + c["step_offset"]) ** c["rho_decay"]
        beta = c["beta"]
        for key in params:
            g = grads[key]
            self.v[key] = (1.0 - rho) * self.v[key] + rho * g
            self.r[key] = beta * self.r[key] + (1.0 - beta) * g * g
            tau = np.sqrt(self.r[key] / (1.0 - beta ** self.k)) + c["delta"]
            x_hat = params[key] - self.v[key] / tau
            if key == "w":
                x_hat, margin = PROX[c["regularizer"]](x_hat, c["lambda"] / tau)
                margins.append(margin.min())
            params[key] = params[key] + eps * (x_hat - params[key])


def trajectory(kind, cfg, x, y, init):
    params = {k: v.copy() for k, v in init.items()}
    opt = (ProxGenAdam if kind == "proxgen" else ProxSGD)(cfg, {k: v.shape for k, v in init.items()})
    saved, margins = {}, []
    for step in range(1, STEPS + 1):
        gw, gb = gradients(x, y, params["w"], params["b"])
        opt.step(params, {"w": gw, "b": gb}, margins)
        if step in SAVED_STEPS:
            saved[step] = {k: v.copy() for k, v in params.items()}
    return saved, min(margins)


def check_stable(name, kind, cfg, x, y, init, saved, margin):
    """Raises unless the trajectory is insensitive to 1e-13 perturbations (see the docstring)."""
    if margin < MIN_MARGIN:
        raise SystemExit("%s: a prox input came within %.3g (relative) of its threshold" % (name, margin))
    rng = np.random.default_rng(7)
    shaken = {k: v * (1.0 + 1e-13 * rng.standard_normal(v.shape)) for k, v in init.items()}
    again, _ = trajectory(kind, cfg, x, y, shaken)
    worst = max(np.abs(again[s][k] - saved[s][k]).max() for s in SAVED_STEPS for k in saved[s])
    if worst > 1e-11:
        raise SystemExit("%s: chaotic, a 1e-13 perturbation moved a saved value by %.3g" % (name, worst))
    return worst


def format_tensor(name, t):
    t = np.asarray(t)
    dims = " ".join(str(d) for d in t.shape)
    values = " ".join("%.17g" % v for v in t.reshape(-1).tolist())
    return "tensor %s %d %s\n%s\n" % (name, t.ndim, dims, values)


def main():
    x, y, init = make_problem()
    out = ["# generated by make_prox_golden.py with NumPy %s; do not edit\n" % np.__version__]
    out.append(format_tensor("data/x", x))
    out.append(format_tensor("data/y", y))
    for k in ("w", "b"):
        out.append(format_tensor("init/" + k, init[k]))
    for name, kind, cfg in CONFIGS:
        out.append("config %s %s %s\n" % (name, kind, " ".join("%s=%s" % (k, v) for k, v in cfg.items())))
        saved, margin = trajectory(kind, cfg, x, y, init)
        worst = check_stable(name, kind, cfg, x, y, init, saved, margin)
        for step in SAVED_STEPS:
            for k in ("w", "b"):
                out.append(format_tensor("%s/step%d/%s" % (name, step, k), saved[step][k]))
            out.append("zeros %s/step%d %d\n" % (name, step, int(np.count_nonzero(saved[step]["w"] == 0.0))))
        zeros = [int(np.count_nonzero(saved[s]["w"] == 0.0)) for s in SAVED_STEPS]
        print("%-12s zeros in w (of %d) at steps %s: %s; min threshold margin %.3g; perturbation moved %.3g"
              % (name, init["w"].size, SAVED_STEPS, zeros, margin, worst))
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "optim", "prox_golden.txt")
    with open(path, "w") as f:
        f.write("".join(out))
    print("wrote", os.path.normpath(path))


if __name__ == "__main__":
    main()
