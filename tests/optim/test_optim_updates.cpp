// Each optimizer's update against a plain reference loop (written here from the formulas) on
// random parameters and gradients of several shapes, in float64 and float32, including a tensor
// big enough for the parallel loop.
#include <cmath>
#include <functional>

#include "optim/optim_helpers.h"
#include "proxima/optim/adagrad.h"
#include "proxima/optim/adam.h"
#include "proxima/optim/rmsprop.h"
#include "proxima/optim/sgd.h"

using namespace px;
using namespace px::test;
using Vec = std::vector<double>;

namespace {

// Reference state of one parameter: up to three buffers and a step count.
struct Ref {
  Vec a, b, c;
  int step = 0;
};

// One reference update of all coordinates (p and g as doubles).
using RefUpdate = std::function<void(Vec& p, const Vec& g, Ref& s)>;

Ref fresh(std::size_t n, double fill = 0) { return {Vec(n, fill), Vec(n, 0), Vec(n, 0), 0}; }

RefUpdate ref_sgd(double lr, double momentum, double dampening, bool nesterov, double wd) {
  return [=](Vec& p, const Vec& g, Ref& s) {
    ++s.step;
    for (std::size_t i = 0; i < p.size(); ++i) {
      double d = g[i] + wd * p[i];
      if (momentum != 0) {
        s.a[i] = s.step == 1 ? d : momentum * s.a[i] + (1 - dampening) * d;
        d = nesterov ? d + momentum * s.a[i] : s.a[i];
      }
      p[i] -= lr * d;
    }
  };
}

RefUpdate ref_adam(double lr, double b1, double b2, double eps, double wd, bool decoupled, bool amsgrad) {
  return [=](Vec& p, const Vec& g0, Ref& s) {
    ++s.step;
    for (std::size_t i = 0; i < p.size(); ++i) {
      double g = g0[i];
      if (decoupled) p[i] *= 1 - lr * wd;
      else g += wd * p[i];
      s.a[i] = b1 * s.a[i] + (1 - b1) * g;
      s.b[i] = b2 * s.b[i] + (1 - b2) * g * g;
      s.c[i] = std::max(s.c[i], s.b[i]);
      const double second = amsgrad ? s.c[i] : s.b[i];
      const double m_hat = s.a[i] / (1 - std::pow(b1, s.step));
      p[i] -= lr * m_hat / (std::sqrt(second / (1 - std::pow(b2, s.step))) + eps);
    }
  };
}

RefUpdate ref_adagrad(double lr, double lr_decay, double wd, double eps) {
  return [=](Vec& p, const Vec& g0, Ref& s) {
    ++s.step;
    const double clr = lr / (1 + (s.step - 1) * lr_decay);
    for (std::size_t i = 0; i < p.size(); ++i) {
      const double g = g0[i] + wd * p[i];
      s.a[i] += g * g;
      p[i] -= clr * g / (std::sqrt(s.a[i]) + eps);
    }
  };
}

RefUpdate ref_rmsprop(double lr, double alpha, double eps, double wd, double momentum, bool centered) {
  return [=](Vec& p, const Vec& g0, Ref& s) {
    for (std::size_t i = 0; i < p.size(); ++i) {
      const double g = g0[i] + wd * p[i];
      s.a[i] = alpha * s.a[i] + (1 - alpha) * g * g;
      s.b[i] = alpha * s.b[i] + (1 - alpha) * g;
      const double var = centered ? s.a[i] - s.b[i] * s.b[i] : s.a[i];
      const double avg = std::sqrt(var) + eps;
      if (momentum > 0) {
        s.c[i] = momentum * s.c[i] + g / avg;
        p[i] -= lr * s.c[i];
      } else {
        p[i] -= lr * g / avg;
      }
    }
  };
}

using MakeOpt = std::function<std::unique_ptr<optim::Optimizer>(std::vector<Tensor>)>;

// Runs 4 steps with random gradients on tensors of several shapes and both float dtypes,
// comparing with the reference (float64: 1e-12 relative; float32: 2e-5, since the
// optimizer then computes in float32 as PyTorch does).
void check_against_reference(const char* what, const MakeOpt& make, const RefUpdate& ref,
                             double initial_accumulator = 0) {
  const std::vector<Shape> shapes = {{7}, {3, 5}, {2, 3, 2, 2}, {70000}};
  for (DType dtype : {DType::float64, DType::float32}) {
    Generator gen(1234);
    std::vector<Tensor> params;
    std::vector<Vec> ref_p;
    std::vector<Ref> ref_s;
    for (const Shape& s : shapes) {
      params.push_back(ops::to_dtype(randn(s, {.dtype = DType::float64}, &gen), dtype));
      ref_p.push_back(values(params.back()));
      ref_s.push_back(fresh(ref_p.back().size(), initial_accumulator));
    }
    auto opt = make(params);
    for (int step = 1; step <= 4; ++step) {
      for (std::size_t k = 0; k < params.size(); ++k) {
        Tensor g = ops::to_dtype(randn(shapes[k], {.dtype = DType::float64}, &gen), dtype);
        params[k].set_grad(g);
        ref(ref_p[k], values(g), ref_s[k]);
      }
      opt->step();
      for (std::size_t k = 0; k < params.size(); ++k) {
        const double rtol = dtype == DType::float64 ? 1e-12 : 2e-5;
        const double atol = dtype == DType::float64 ? 1e-14 : 2e-5;
        check_close(detail::str(what, " ", dtype_name(dtype), " shape ", shape_str(shapes[k]), " step ", step),
                    values(params[k]), ref_p[k], rtol, atol);
      }
    }
  }
}

}  // namespace

TEST_CASE("updates: SGD variants equal the reference loop") {
  struct Case {
    double lr, momentum, dampening;
    bool nesterov;
    double wd;
  };
  for (Case c : {Case{0.1, 0, 0, false, 0}, Case{0.05, 0.9, 0, false, 0}, Case{0.05, 0.8, 0.25, false, 1e-2},
                 Case{0.02, 0.9, 0, true, 5e-3}}) {
    check_against_reference(
        "sgd",
        [&](std::vector<Tensor> ps) {
          return std::make_unique<optim::SGD>(ps, optim::SgdOptions{.lr = c.lr, .momentum = c.momentum,
                                                                    .dampening = c.dampening,
                                                                    .nesterov = c.nesterov, .weight_decay = c.wd});
        },
        ref_sgd(c.lr, c.momentum, c.dampening, c.nesterov, c.wd));
  }
}

TEST_CASE("updates: Adam and AdamW variants equal the reference loop") {
  for (bool amsgrad : {false, true}) {
    check_against_reference(
        "adam",
        [&](std::vector<Tensor> ps) {
          return std::make_unique<optim::Adam>(
              ps, optim::AdamOptions{.lr = 0.01, .beta1 = 0.8, .beta2 = 0.95, .eps = 1e-6, .weight_decay = 0.1,
                                     .amsgrad = amsgrad});
        },
        ref_adam(0.01, 0.8, 0.95, 1e-6, 0.1, false, amsgrad));
    check_against_reference(
        "adamw",
        [&](std::vector<Tensor> ps) {
          return std::make_unique<optim::AdamW>(ps, optim::AdamWOptions{.lr = 0.02, .weight_decay = 0.3,
                                                                        .amsgrad = amsgrad});
        },
        ref_adam(0.02, 0.9, 0.999, 1e-8, 0.3, true, amsgrad));
  }
}

TEST_CASE("updates: AdaGrad equals the reference loop (lr_decay, initial accumulator, weight decay)") {
  check_against_reference(
      "adagrad",
      [](std::vector<Tensor> ps) {
        return std::make_unique<optim::Adagrad>(
            ps, optim::AdagradOptions{.lr = 0.1, .lr_decay = 0.05, .weight_decay = 0.02,
                                      .initial_accumulator_value = 0.3, .eps = 1e-10});
      },
      ref_adagrad(0.1, 0.05, 0.02, 1e-10), 0.3);
}

TEST_CASE("updates: RMSprop variants equal the reference loop (alpha, centered, momentum)") {
  for (bool centered : {false, true})
    for (double momentum : {0.0, 0.7}) {
      check_against_reference(
          "rmsprop",
          [&](std::vector<Tensor> ps) {
            return std::make_unique<optim::RMSprop>(
                ps, optim::RmspropOptions{.lr = 0.01, .alpha = 0.9, .eps = 1e-6, .weight_decay = 0.01,
                                          .momentum = momentum, .centered = centered});
          },
          ref_rmsprop(0.01, 0.9, 1e-6, 0.01, momentum, centered));
    }
}
