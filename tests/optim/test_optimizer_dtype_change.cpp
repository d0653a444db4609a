// Parameters that change dtype after the optimizer stepped (nn::Module::to): every optimizer
// converts its per-coordinate state to the parameters' new dtype at the next step
// (Optimizer::align_state) and continues as a fresh run started from the converted state.
#include <functional>
#include <memory>

#include "optim/optim_helpers.h"
#include "proxima/nn/layers.h"
#include "proxima/optim/adam.h"
#include "proxima/optim/prox/proxgen.h"
#include "proxima/optim/prox/sr2.h"
#include "proxima/optim/sgd.h"

using namespace px;
using namespace px::test;

namespace {

using Factory = std::function<std::unique_ptr<optim::Optimizer>(std::vector<Tensor>)>;

struct Case {
  const char* name;
  Factory make;
};

std::vector<Case> cases() {
  return {
      {"adam", [](std::vector<Tensor> p) { return std::make_unique<optim::Adam>(std::move(p), optim::AdamOptions{.lr = 0.01}); }},
      {"sgd momentum",
       [](std::vector<Tensor> p) {
         return std::make_unique<optim::SGD>(std::move(p), optim::SgdOptions{.lr = 0.1, .momentum = 0.9});
       }},
      {"proxgen l1",
       [](std::vector<Tensor> p) {
         return std::make_unique<optim::prox::ProxGen>(
             std::move(p), optim::prox::ProxGenOptions{.lr = 0.01, .regularizer = "l1", .lambda = 1e-3});
       }},
  };
}

std::shared_ptr<nn::Linear> linear(std::uint64_t seed) {
  manual_seed(seed);
  return std::make_shared<nn::Linear>(nn::LinearOptions{.in_features = 8, .out_features = 3});
}

struct Batch {
  Tensor x, y;
};

Batch batch(DType dtype) {
  Generator gen(7);
  Tensor x = randn({16, 8}, {.dtype = DType::float64}, &gen);
  std::vector<std::int64_t> labels;
  for (int i = 0; i < 16; ++i) labels.push_back(i % 3);
  return {x.to(dtype), from_vector(labels, {16})};
}

double loss_of(nn::Linear& m, const Batch& b) { return cross_entropy(m(b.x), b.y).item(); }

void train_step(optim::Optimizer& opt, nn::Linear& m, const Batch& b) {
  opt.zero_grad();
  backward(cross_entropy(m(b.x), b.y));
  opt.step();
}

// The optimizer's state dict with every float entry converted to `dtype` (what a user would load
// into an optimizer created on the converted parameters).
optim::NamedTensors state_as(const optim::Optimizer& opt, DType dtype) {
  optim::NamedTensors out = opt.state_dict();
  for (auto& [key, value] : out)
    if (value.dtype() != DType::int64 && value.dim() > 0) value = value.to(dtype);
  return out;
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  const std::vector<double> x = values(a), y = values(b);
  REQUIRE(x.size() == y.size());
  double worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::abs(x[i] - y[i]));
  return worst;
}

// Steps `make` twice in `from`, converts the model to `to`, steps 3 more times; a fresh optimizer
// on a converted copy of the model, loaded with the converted state, takes the same 3 steps.
void check_continues(const Case& c, DType from, DType to, double tol) {
  INFO(c.name, ": ", dtype_name(from), " -> ", dtype_name(to));
  auto a = linear(3);
  a->to(from);
  auto opt_a = c.make(a->parameters());
  const Batch in_from = batch(from), in_to = batch(to);
  for (int s = 0; s < 2; ++s) train_step(*opt_a, *a, in_from);

  a->to(to);  // the optimizer still holds the (converted) parameter handles
  auto b = linear(99);
  b->to(to);
  b->load_state_dict(a->state_dict());
  auto opt_b = c.make(b->parameters());
  opt_b->load_state_dict(state_as(*opt_a, to));

  for (int s = 0; s < 3; ++s) {
    REQUIRE_NOTHROW(train_step(*opt_a, *a, in_to));
    train_step(*opt_b, *b, in_to);
  }
  for (const auto& [key, value] : opt_a->state_dict())
    if (value.dim() > 0) CHECK_MESSAGE(value.dtype() == to, key);
  const auto pa = a->parameters(), pb = b->parameters();
  for (std::size_t i = 0; i < pa.size(); ++i) {
    CHECK(pa[i].dtype() == to);
    CHECK(max_abs_diff(pa[i], pb[i]) <= tol);
  }
  CHECK(std::isfinite(loss_of(*a, in_to)));
}

}  // namespace

TEST_CASE("dtype change: adam, sgd momentum and proxgen continue after Module::to(float64) as a fresh float64 run") {
  for (const Case& c : cases()) check_continues(c, DType::float32, DType::float64, 1e-6);
}

TEST_CASE("dtype change: float64 -> float32 rounds the state and continues as a fresh float32 run") {
  for (const Case& c : cases()) check_continues(c, DType::float64, DType::float32, 1e-6);
}

TEST_CASE("dtype change: sr2's step(closure) converts its state too") {
  const optim::prox::SR2Options o{.preconditioner = "adam", .regularizer = "l1", .lambda = 1e-3};
  auto a = linear(5);
  optim::prox::SR2 opt_a(a->parameters(), o);
  auto closure_for = [](nn::Linear& m, optim::Optimizer& opt, const Batch& in) {
    return [&m, &opt, in](bool with_grad) {
      if (!with_grad) {
        NoGradGuard guard;
        return loss_of(m, in);
      }
      opt.zero_grad();
      Tensor loss = cross_entropy(m(in.x), in.y);
      backward(loss);
      return loss.item();
    };
  };
  const Batch in32 = batch(DType::float32), in64 = batch(DType::float64);
  for (int s = 0; s < 2; ++s) opt_a.step(closure_for(*a, opt_a, in32));
  a->to(DType::float64);
  auto b = linear(99);
  b->to(DType::float64);
  b->load_state_dict(a->state_dict());
  optim::prox::SR2 opt_b(b->parameters(), o);
  opt_b.load_state_dict(state_as(opt_a, DType::float64));
  for (int s = 0; s < 3; ++s) {
    optim::prox::SR2StepResult ra, rb;
    REQUIRE_NOTHROW(ra = opt_a.step(closure_for(*a, opt_a, in64)));
    rb = opt_b.step(closure_for(*b, opt_b, in64));
    CHECK(ra.accepted == rb.accepted);
    CHECK(ra.sigma == rb.sigma);
  }
  CHECK(opt_a.state(0, 0).at("v").dtype() == DType::float64);
  CHECK(opt_a.state(0, 0).at("e").dtype() == DType::float64);
  const auto pa = a->parameters(), pb = b->parameters();
  for (std::size_t i = 0; i < pa.size(); ++i) CHECK(max_abs_diff(pa[i], pb[i]) <= 1e-6);
}
