// BinaryConnect against reference Adam / SGD loops on the latent weights (straight-through gradient,
// clip, sgn with sgn(0) = +1) written here; binary parameters after construction and every step;
// unbinarised groups equal to plain Adam / AdamW / SGD; state dict round trips; errors.
#include <cmath>
#include <functional>

#include "optim/optim_helpers.h"
#include "optim/prox_test_util.h"
#include "proxima/optim/adam.h"
#include "proxima/optim/prox/binaryconnect.h"
#include "proxima/optim/sgd.h"

using namespace px;
using namespace px::test;
using Vec = std::vector<double>;
using px::optim::prox::BinaryConnect;
using px::optim::prox::BinaryConnectOptions;

namespace {

Vec clipped(Vec w, double c) {
  for (double& x : w) x = std::min(c, std::max(-c, x));
  return w;
}

Vec signs(const Vec& w) {
  Vec out(w.size());
  for (std::size_t i = 0; i < w.size(); ++i) out[i] = w[i] < 0 ? -1.0 : 1.0;
  return out;
}

// Reference latent weights w with the inner optimizer's buffers.
struct Ref {
  Vec w, m, v;
  int step = 0;
};

Ref fresh(const Vec& w) { return {w, Vec(w.size(), 0), Vec(w.size(), 0), 0}; }

// One inner step on r.w with gradient g (Adam with decoupled decay, or SGD with coupled decay).
void ref_inner(Ref& r, const Vec& g0, const BinaryConnectOptions& o) {
  ++r.step;
  for (std::size_t i = 0; i < r.w.size(); ++i) {
    double g = g0[i];
    if (o.inner == "adam") {
      r.w[i] *= 1 - o.lr * o.weight_decay;
      r.m[i] = o.beta1 * r.m[i] + (1 - o.beta1) * g;
      r.v[i] = o.beta2 * r.v[i] + (1 - o.beta2) * g * g;
      const double m_hat = r.m[i] / (1 - std::pow(o.beta1, r.step));
      r.w[i] -= o.lr * m_hat / (std::sqrt(r.v[i] / (1 - std::pow(o.beta2, r.step))) + o.eps);
    } else {
      g += o.weight_decay * r.w[i];
      if (o.momentum != 0) {
        r.m[i] = r.step == 1 ? g : o.momentum * r.m[i] + g;
        g = o.nesterov ? g + o.momentum * r.m[i] : r.m[i];
      }
      r.w[i] -= o.lr * g;
    }
  }
}

bool all_binary(const Tensor& t) {
  for (double x : values(t))
    if (x != 1.0 && x != -1.0) return false;
  return true;
}

// Group 0 (binarised): three shapes, one big enough for the parallel loop; group 1 ("none"): two
// small tensors. 5 steps with random gradients against the reference.
void check_against_reference(const BinaryConnectOptions& o, DType dtype) {
  const std::vector<Shape> shapes = {{3, 5}, {2, 3, 2, 2}, {4, 5000}, {4}, {6}};
  Generator gen(31);
  std::vector<Tensor> params;
  std::vector<Ref> refs;
  for (std::size_t k = 0; k < shapes.size(); ++k) {
    Tensor p = ops::to_dtype(ops::mul(randn(shapes[k], {.dtype = DType::float64}, &gen), 1.5), dtype);
    params.push_back(p);
    const Vec p0 = values(p);
    refs.push_back(fresh(k < 3 ? clipped(p0, o.clip) : p0));
  }
  BinaryConnect opt({{.params = {params[0], params[1], params[2]}},
                     {.params = {params[3], params[4]}, .options = {{"regularizer", std::string("none")}}}},
                    o);
  const bool f64 = dtype == DType::float64;
  const double rtol = f64 ? 1e-12 : 2e-5, atol = f64 ? 1e-14 : 2e-5;
  std::int64_t at_clip = 0;
  for (int step = 1; step <= 5; ++step) {
    for (std::size_t k = 0; k < params.size(); ++k) {
      Tensor g = ops::to_dtype(randn(shapes[k], {.dtype = DType::float64}, &gen), dtype);
      params[k].set_grad(g);
      ref_inner(refs[k], values(g), o);
      if (k < 3) refs[k].w = clipped(refs[k].w, o.clip);
    }
    opt.step();
    for (std::size_t k = 0; k < params.size(); ++k) {
      const std::string what = detail::str(o.inner, " clip ", o.clip, " ", dtype_name(dtype), " shape ",
                                           shape_str(shapes[k]), " step ", step);
      if (k < 3) {
        INFO(what);
        CHECK(all_binary(params[k]));
        check_close(what + " latent", values(opt.latent(0, k)), refs[k].w, rtol, atol);
        // sgn of the implementation's own latent (the reference may sit on the other side of 0 by rounding)
        check_same(what + " param = sgn(latent)", params[k], from_vector(signs(values(opt.latent(0, k))), shapes[k]));
        for (double x : refs[k].w) at_clip += std::fabs(x) == o.clip;
      } else {
        check_close(what + " unbinarised", values(params[k]), refs[k].w, rtol, atol);
        check_same(what + " unbinarised latent", opt.latent(1, k - 3), params[k]);
      }
    }
  }
  CHECK(at_clip > 0);  // the clip was exercised
}

}  // namespace

TEST_CASE("binaryconnect: construction binarises the bin-* groups and keeps the clipped latent weights") {
  Generator gen(3);
  Tensor w = ops::mul(randn({4, 6}, {.dtype = DType::float64}, &gen), 2.0);
  ops::fill_(ops::narrow(ops::narrow(w, 0, 1, 1), 1, 2, 1), 0.0);  // w[1, 2] = 0: sgn(0) = +1
  Tensor b = randn({6}, {.dtype = DType::float64}, &gen);
  const Vec w0 = values(w), b0 = values(b);
  BinaryConnect opt({{.params = {w}}, {.params = {b}, .options = {{"regularizer", std::string("none")}}}}, {.clip = 1.0});
  CHECK(opt.binarized(0));
  CHECK_FALSE(opt.binarized(1));
  CHECK(all_binary(w));
  check_close("param = sgn(initial)", values(w), signs(w0), 0, 0);
  check_close("latent = clip(initial)", values(opt.latent(0, 0)), clipped(w0, 1.0), 0, 0);
  check_close("unbinarised untouched", values(b), b0, 0, 0);
  CHECK(values(w)[8] == 1.0);
  // The state exists before the first step, so the latent weights are in the state dict.
  const auto sd = opt.state_dict();
  bool has_latent = false;
  for (const auto& [key, value] : sd) has_latent |= key == "group0.param0.latent";
  CHECK(has_latent);
  CHECK(opt.name() == "binaryconnect");
}

TEST_CASE("binaryconnect: latent weights follow a reference Adam / SGD with the straight-through gradient") {
  for (DType dtype : {DType::float64, DType::float32}) {
    check_against_reference({.inner = "adam", .lr = 0.05, .beta1 = 0.8, .beta2 = 0.95, .eps = 1e-6}, dtype);
    check_against_reference({.inner = "adam", .lr = 0.02, .weight_decay = 0.1, .clip = 0.5}, dtype);
    check_against_reference({.inner = "sgd", .lr = 0.1, .momentum = 0.9, .weight_decay = 0.01}, dtype);
    check_against_reference({.inner = "sgd", .lr = 0.1, .momentum = 0.9, .nesterov = true, .clip = 0.7}, dtype);
    check_against_reference({.inner = "sgd", .lr = 0.2, .momentum = 0}, dtype);
  }
}

TEST_CASE("binaryconnect: the network's gradient at the binary weights drives the latent weights") {
  // BinaryConnect on the tanh net (weights binarised, bias real) against a reference that sets a
  // second net's weights to sgn(w_ref), takes its loss gradient and runs Adam on w_ref.
  TanhNet a = TanhNet::random(8), b = TanhNet::random(8);
  const BinaryConnectOptions o{.lr = 0.03};
  BinaryConnect opt({{.params = {a.params[0], a.params[2]}},
                     {.params = {a.params[1]}, .options = {{"regularizer", std::string("none")}}}},
                    o);
  std::vector<Ref> refs = {fresh(clipped(values(b.params[0]), 1)), fresh(values(b.params[1])),
                           fresh(clipped(values(b.params[2]), 1))};
  for (int step = 1; step <= 30; ++step) {
    {
      NoGradGuard guard;
      for (std::size_t k = 0; k < 3; ++k)
        ops::copy_(b.params[k], from_vector(k == 1 ? refs[k].w : signs(refs[k].w), b.params[k].shape()));
    }
    for (auto& p : b.params) p.zero_grad();
    backward(b.loss());
    for (std::size_t k = 0; k < 3; ++k) {
      ref_inner(refs[k], values(b.params[k].grad()), o);
      if (k != 1) refs[k].w = clipped(refs[k].w, o.clip);
    }
    a.train_step(opt);
    check_close(detail::str("w1 latent step ", step), values(opt.latent(0, 0)), refs[0].w, 1e-10, 1e-12);
    check_close(detail::str("w2 latent step ", step), values(opt.latent(0, 1)), refs[2].w, 1e-10, 1e-12);
    check_close(detail::str("b1 step ", step), values(a.params[1]), refs[1].w, 1e-10, 1e-12);
    CHECK(all_binary(a.params[0]));
    CHECK(all_binary(a.params[2]));
  }
}

TEST_CASE("binaryconnect: unbinarised groups are exactly Adam / AdamW / SGD") {
  struct Case {
    BinaryConnectOptions bc;
    std::function<std::unique_ptr<optim::Optimizer>(std::vector<Tensor>)> plain;
  };
  const std::vector<Case> cases = {
      {{.inner = "adam", .lr = 0.01},
       [](std::vector<Tensor> ps) { return std::make_unique<optim::Adam>(ps, optim::AdamOptions{.lr = 0.01}); }},
      {{.inner = "adam", .lr = 0.01, .weight_decay = 0.3},
       [](std::vector<Tensor> ps) {
         return std::make_unique<optim::AdamW>(ps, optim::AdamWOptions{.lr = 0.01, .weight_decay = 0.3});
       }},
      {{.inner = "sgd", .lr = 0.05, .momentum = 0.9, .nesterov = true, .weight_decay = 0.01},
       [](std::vector<Tensor> ps) {
         return std::make_unique<optim::SGD>(
             ps, optim::SgdOptions{.lr = 0.05, .momentum = 0.9, .nesterov = true, .weight_decay = 0.01});
       }},
  };
  for (const Case& c : cases) {
    Generator gen(12);
    Tensor w = randn({5, 5}, {.dtype = DType::float64}, &gen);
    Tensor b1 = randn({5}, {.dtype = DType::float64}, &gen), b2 = randn({2, 3}, {.dtype = DType::float64}, &gen);
    Tensor c1 = b1.clone(), c2 = b2.clone();
    BinaryConnect opt({{.params = {w}}, {.params = {b1, b2}, .options = {{"regularizer", std::string("none")}}}},
                      c.bc);
    auto plain = c.plain({c1, c2});
    for (int step = 0; step < 6; ++step) {
      for (auto [p, q] : {std::pair<Tensor, Tensor>{b1, c1}, {b2, c2}}) {
        Tensor g = randn(p.shape(), {.dtype = DType::float64}, &gen);
        p.set_grad(g);
        q.set_grad(g.clone());
      }
      w.set_grad(randn(w.shape(), {.dtype = DType::float64}, &gen));
      opt.step();
      plain->step();
      check_same(c.bc.inner + " bias 1", b1, c1);
      check_same(c.bc.inner + " bias 2", b2, c2);
    }
  }
}

TEST_CASE("binaryconnect: state dicts round-trip the latent weights, before and after steps") {
  for (const std::string inner : {"adam", "sgd"}) {
    const BinaryConnectOptions o{.inner = inner, .lr = 0.05};
    Generator gen(21);
    auto make_params = [&] {
      return std::vector<Tensor>{randn({3, 4}, {.dtype = DType::float64}, &gen), randn({4}, {.dtype = DType::float64}, &gen)};
    };
    auto groups = [](const std::vector<Tensor>& ps) {
      return std::vector<optim::ParamGroup>{{.params = {ps[0]}},
                                            {.params = {ps[1]}, .options = {{"regularizer", std::string("none")}}}};
    };
    // Before any step: a fresh optimizer on other tensors takes the latent weights over.
    std::vector<Tensor> pa = make_params(), pb = make_params();
    BinaryConnect a(groups(pa), o);
    const Vec latent_a0 = values(a.latent(0, 0));
    {
      BinaryConnect fresh_b(groups(make_params()), o);
      fresh_b.load_state_dict(a.state_dict());
      check_close(inner + " latent after load (no step)", values(fresh_b.latent(0, 0)), latent_a0, 0, 0);
    }
    for (int step = 0; step < 3; ++step) {
      for (auto& p : pa) p.set_grad(randn(p.shape(), {.dtype = DType::float64}, &gen));
      a.step();
    }
    // Resume: copies of the current parameters, a new optimizer, the saved state.
    pb = {pa[0].clone(), pa[1].clone()};
    BinaryConnect b(groups(pb), o);
    b.load_state_dict(a.state_dict());
    for (int step = 0; step < 3; ++step) {
      for (std::size_t k = 0; k < pa.size(); ++k) {
        Tensor g = randn(pa[k].shape(), {.dtype = DType::float64}, &gen);
        pa[k].set_grad(g);
        pb[k].set_grad(g.clone());
      }
      a.step();
      b.step();
      for (std::size_t k = 0; k < pa.size(); ++k) check_same(inner + " resumed param", pb[k], pa[k]);
      check_same(inner + " resumed latent", b.latent(0, 0), a.latent(0, 0));
    }
    // A state dict without a parameter's entries clears its state; its next step restarts from clip(param).
    b.load_state_dict({});
    check_same(inner + " cleared latent = clip(param)", b.latent(0, 0), pb[0]);
    pb[0].set_grad(zeros_like(pb[0]));
    b.step();
    CHECK(all_binary(pb[0]));
  }
}

TEST_CASE("binaryconnect: freeze stops the binarised groups, the others keep training") {
  Generator gen(5);
  Tensor w = randn({3, 3}, {.dtype = DType::float64}, &gen), b = randn({3}, {.dtype = DType::float64}, &gen);
  BinaryConnect opt({{.params = {w}}, {.params = {b}, .options = {{"regularizer", std::string("none")}}}}, {});
  opt.freeze_regularized();
  const Vec w0 = values(w), latent0 = values(opt.latent(0, 0)), b0 = values(b);
  w.set_grad(randn({3, 3}, {.dtype = DType::float64}, &gen));
  b.set_grad(randn({3}, {.dtype = DType::float64}, &gen));
  opt.step();
  check_close("frozen param", values(w), w0, 0, 0);
  check_close("frozen latent", values(opt.latent(0, 0)), latent0, 0, 0);
  CHECK(values(b) != b0);
}

TEST_CASE("binaryconnect: which groups are binarised, and option errors") {
  Tensor a = zeros({3, 3}, {.dtype = DType::float64}), b = zeros({3}, {.dtype = DType::float64});
  check_throws<ValueError>(
      [&] { BinaryConnect({{.params = {b}}, {.params = {a}, .options = {{"regularizer", std::string("l1")}}}}, {}); },
      {"binaryconnect", "param group 1", "\"l1\"", "binary"});
  // Every bin-* spec binarises (lambda is ignored and may be 0); "none" stays real.
  for (const std::string spec : {"bin-l1", "bin-l12", "bin-l23", "bin-l0"}) {
    Tensor w = randn({2, 2}, {.dtype = DType::float64});
    BinaryConnect opt({{.params = {w}, .options = {{"regularizer", spec}, {"lambda", 0.0}}}}, {.regularizer = "none"});
    CHECK(opt.binarized(0));
    CHECK(all_binary(w));
  }
  Tensor r = randn({2, 2}, {.dtype = DType::float64});
  const Vec r0 = values(r);
  BinaryConnect none({r}, {.regularizer = "none"});
  CHECK_FALSE(none.binarized(0));
  CHECK(values(r) == r0);
  check_throws<ValueError>([&] { BinaryConnect({a}, {.inner = "rmsprop"}); }, {"inner", "rmsprop"});
  check_throws<ValueError>([&] { BinaryConnect({a}, {.clip = 0}); }, {"clip", "> 0"});
  check_throws<ValueError>([&] { BinaryConnect({a}, {.lr = -1}); }, {"lr", "-1"});
  check_throws<ValueError>([&] { BinaryConnect({a}, {.inner = "sgd", .momentum = 0, .nesterov = true}); },
                           {"nesterov"});
  check_throws<ValueError>([&] { BinaryConnect({a}, {.regularizer = "bin-l3"}); }, {"bin-l3"});
}
