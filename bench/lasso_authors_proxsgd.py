#!/usr/bin/env python3
"""Does the ProxGen authors' own Prox-SGD baseline stay at exactly 0 from a zero initialisation?

ProxGen (Yun et al.) section 5, study 1, says Prox-SGD from a zero initialisation keeps every
coordinate at exactly 0 on a Lasso. proxima's `lasso` runs Yang et al.'s ProxSGD and does not see
this (docs/lasso.md). This script runs the variant the ProxGen authors' code calls `proxsgdl1`
(ALGORITHMS.md section 2.3: x_hat = soft(p - m / denom, lambda / denom) with Adam's m and denom and
no learning rate, then p <- p + (lr / (1 - beta1^k)) (x_hat - p)) next to ProxGen-Adam with l1, on
the same kind of problem as `lasso` (n 200, p 500, k 10, noise 0.1, lambda 0.05, 3000 steps, lr 0.01
with the step schedule, batch 20 or full batch), and prints the nonzeros, the true support found
and the exact zeros. NumPy only; it prints, it writes nothing.
Usage: /usr/bin/python3 bench/lasso_authors_proxsgd.py
"""
import numpy as np

N, P, K, NOISE, LAM = 200, 500, 10, 0.1, 0.05


def problem(seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, P))
    truth = np.zeros(P)
    support = rng.choice(P, K, replace=False)
    truth[support] = rng.choice([-1, 1], K) * (0.5 + rng.random(K))
    return X, X @ truth + NOISE * rng.standard_normal(N), set(support.tolist())


def run(X, y, method, init, batch, seed, iters=3000, lr=0.01):
    rng = np.random.default_rng(seed + 2)
    b = np.zeros(P) if init == "zero" else 0.1 * rng.standard_normal(P)
    m, v = np.zeros(P), np.zeros(P)
    b1, b2, eps = 0.9, 0.999, 1e-8
    order, pos = rng.permutation(N), 0
    for t in range(1, iters + 1):
        eta = lr * (1 if 2 * (t - 1) < iters else 0.1 if 4 * (t - 1) < 3 * iters else 0.01)
        if batch == 0:
            idx = np.arange(N)
        else:
            if pos + batch > N:
                order, pos = rng.permutation(N), 0
            idx, pos = order[pos:pos + batch], pos + batch
        g = X[idx].T @ (X[idx] @ b - y[idx]) / len(idx)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        denom = np.sqrt(v) / np.sqrt(1 - b2 ** t) + eps
        if method == "proxgen":  # ProxGen-Adam, l1 (ALGORITHMS.md section 2.2)
            z = b - eta / (1 - b1 ** t) * m / denom
            b = np.sign(z) * np.maximum(np.abs(z) - eta * LAM / denom, 0)
        else:  # the authors' proxsgdl1
            z = b - m / denom
            x_hat = np.sign(z) * np.maximum(np.abs(z) - LAM / denom, 0)
            b = b + eta / (1 - b1 ** t) * (x_hat - b)
    F = 0.5 * np.mean((X @ b - y) ** 2) + LAM * np.abs(b).sum()
    return F, b


def main():
    print(f"{'seed':>4} {'method':>10} {'init':>6} {'batch':>5} {'objective':>12} {'nonzeros':>8} "
          f"{'true found':>10} {'exact zeros':>11}")
    for seed in (0, 1, 2):
        X, y, support = problem(seed)
        for method in ("proxgen", "proxsgdl1"):
            for init in ("zero", "random"):
                for batch in (20, 0):
                    F, b = run(X, y, method, init, batch, seed)
                    nz = set(np.flatnonzero(b).tolist())
                    print(f"{seed:>4} {method:>10} {init:>6} {batch:>5} {F:>12.8f} {len(nz):>8} "
                          f"{len(nz & support):>10} {int((b == 0).sum()):>11}")


if __name__ == "__main__":
    main()
