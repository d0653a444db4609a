// lasso: the ProxGen paper's section 5 study 1 (ALGORITHMS.md §2.7 pitfall 8, §11 B oracles 15-16) and
// a teaching program for proxima's proximal optimizers.
//
// A synthetic sparse regression: X (n x p) Gaussian, a k-sparse beta* (random support, values
// +-U[0.5, 1.5]), y = X beta* + noise N(0, sigma^2), and the lasso objective
//     F(beta) = 1/(2n) ||X beta - y||^2 + lambda ||beta||_1,
// solved by FISTA (step 1/L, the deterministic reference), ProxGen-Adam with l1, ProxSGD with l1
// and a subgradient-Adam baseline, the stochastic ones on minibatches from a zero and a random
// initialisation. Prints the objective gap over the iterations and, per method and init, the
// final objective, F - F*, the error relative to FISTA's optimum, the KKT violation, the support
// (exact nonzeros) with its precision and recall against the truth, and the exact-zero count.
//
//   ./lasso                                          # the defaults (docs/lasso.md has their numbers)
//   ./lasso --out runs/lasso                         # + paths_<method>_<init>.svg, objective.svg, lasso.json
//   ./lasso --methods proxgen,proxsgd --inits zero --iters 5000 --lambda 0.1 --json r.json
//   ./lasso --batch 0                                # full-batch gradients for every method
//   ./lasso --help
//
// Exit codes: 0 done, 2 bad flags or values or an unusable --out/--json (one line naming the flag,
// checked before the study runs), 3 a method diverged (F(beta) not finite; one line per run, the
// other runs' results and the plots are still written), 1 internal error.
#include <iostream>

#include "common/lasso_cli.h"

int main(int argc, char** argv) { return px::apps::lasso_main(argc, argv, std::cout, std::cerr); }
