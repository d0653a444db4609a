// bench_cpu_workloads: times ONE CPU workload per invocation and prints one JSON line (proxima side
// of bench/cpu_vs_torch.py; bench/torch_workloads.py is the PyTorch side, same flags, same output).
//
// Workloads (--workload):
//   train    one SGD-momentum training step of --model (resnet20, vgg16, mlp) at --batch: zero_grad,
//            forward, cross-entropy (mean), loss.item(), backward, step. Random N(0,1) inputs, fixed
//            labels (i mod 10); SGD lr 0.01, momentum 0.9, weight decay 5e-4.
//   eval     one forward of --model at --batch in eval mode without gradient recording.
//   conv     one ResNet-20 convolution (--conv C,K,HW,S: 3x3, padding 1, no bias) in --direction
//            fwd, bwd-data or bwd-weight.
//   proxgen  one ProxGen-Adam l1/2 step (lr 1e-3, lambda 1e-4) over --params: "resnet20" (the
//            model's parameter shapes; ndim-2/4 weights regularised, the rest plain Adam) or a
//            count N (one regularised [N/1000, 1000] tensor). Parameters N(0, 0.05^2), fixed
//            gradients N(0, 0.01^2).
// Each workload runs --warmup untimed times, then --reps timed times. The JSON line holds every
// timed step in ms, their median and minimum, and this process's peak RSS (getrusage).
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "proxima/proxima.h"
#include "proxima/optim/prox/proxgen.h"

namespace {

struct Flags {
  std::string workload = "train", model = "resnet20", direction = "fwd", params = "resnet20";
  std::vector<std::int64_t> conv = {16, 16, 32, 1};
  std::int64_t batch = 128;
  int threads = 2, reps = 5, warmup = 2;
  std::uint64_t seed = 0;
};

// The step to time, and the objects it keeps alive.
struct Bench {
  std::string name;
  std::function<void()> step;
};

px::nn::ModelSpec spec_of(const std::string& model) {
  if (model == "mlp") return {.in_channels = 1, .image_size = 28, .num_classes = 10};
  return {.in_channels = 3, .image_size = 32, .num_classes = 10};
}

// Random inputs of the model's image shape and labels i mod 10.
std::pair<px::Tensor, px::Tensor> make_batch(const std::string& model, std::int64_t batch, px::Generator& gen) {
  const px::nn::ModelSpec s = spec_of(model);
  px::Tensor x = px::randn({batch, s.in_channels, s.image_size, s.image_size}, {}, &gen);
  std::vector<std::int64_t> labels(static_cast<std::size_t>(batch));
  for (std::int64_t i = 0; i < batch; ++i) labels[static_cast<std::size_t>(i)] = i % s.num_classes;
  return {x, px::from_vector(labels, {batch})};
}

Bench train_bench(const Flags& f, px::Generator& gen) {
  auto model = px::nn::make_model(f.model, spec_of(f.model), gen);
  model->train();
  auto opt = std::make_shared<px::optim::SGD>(model->parameters(),
                                              px::optim::SgdOptions{.lr = 0.01, .momentum = 0.9, .weight_decay = 5e-4});
  auto [x, y] = make_batch(f.model, f.batch, gen);
  auto step = [model, opt, x = x, y = y] {
    opt->zero_grad();
    const px::Tensor loss = px::cross_entropy((*model)(x), y);
    PX_CHECK(std::isfinite(loss.item()), px::ValueError, "training loss is not finite");
    px::backward(loss);
    opt->step();
  };
  return {"train " + f.model + " b" + std::to_string(f.batch), step};
}

Bench eval_bench(const Flags& f, px::Generator& gen) {
  auto model = px::nn::make_model(f.model, spec_of(f.model), gen);
  model->eval();
  auto x = make_batch(f.model, f.batch, gen).first;
  auto step = [model, x] {
    px::NoGradGuard no_grad;
    const px::Tensor logits = (*model)(x);
    (void)logits.data_ptr();
  };
  return {"eval " + f.model + " b" + std::to_string(f.batch), step};
}

Bench conv_bench(const Flags& f, px::Generator& gen) {
  PX_CHECK(f.conv.size() == 4, px::ValueError,
           "--conv takes C,K,HW,S (4 values), got ", f.conv.size(), " values");
  const std::int64_t c = f.conv[0], k = f.conv[1], hw = f.conv[2], stride = f.conv[3];
  px::Conv2dParams p;
  p.stride_h = p.stride_w = stride;
  p.pad_h = p.pad_w = 1;
  const std::int64_t out_hw = (hw + 2 - 3) / stride + 1;
  const px::Shape x_shape{f.batch, c, hw, hw}, w_shape{k, c, 3, 3};
  const px::Tensor x = px::randn(x_shape, {}, &gen), w = px::randn(w_shape, {}, &gen);
  const px::Tensor dy = px::randn({f.batch, k, out_hw, out_hw}, {}, &gen);
  std::ostringstream name;
  name << "conv " << c << "->" << k << " " << hw << "x" << hw << " s" << stride << " " << f.direction << " b"
       << f.batch;
  std::function<void()> step;
  if (f.direction == "fwd")
    step = [=] { (void)px::ops::conv2d(x, w, p); };
  else if (f.direction == "bwd-data")
    step = [=] { (void)px::ops::conv2d_backward_input(dy, w, x_shape, p); };
  else if (f.direction == "bwd-weight")
    step = [=] { (void)px::ops::conv2d_backward_weight(dy, x, w_shape, p); };
  else
    PX_CHECK(false, px::ValueError,
             "--direction: got '", f.direction, "', expected fwd, bwd-data or bwd-weight");
  return {name.str(), step};
}

// Parameter shapes of the ProxGen workload.
std::vector<px::Shape> proxgen_shapes(const std::string& params) {
  if (params == "resnet20") {
    px::Generator g(0);
    std::vector<px::Shape> shapes;
    for (const auto& p : px::nn::make_model("resnet20", {}, g)->parameters()) shapes.push_back(p.shape());
    return shapes;
  }
  std::int64_t n = 0;
  try {
    n = std::stoll(params);
  } catch (const std::exception&) {
    n = 0;
  }
  PX_CHECK(n >= 1000 && n % 1000 == 0, px::ValueError,
           "--params: got '", params, "', expected resnet20 or a positive multiple of 1000");
  return {{n / 1000, 1000}};
}

Bench proxgen_bench(const Flags& f, px::Generator& gen) {
  px::optim::ParamGroup reg, rest;
  for (const px::Shape& shape : proxgen_shapes(f.params)) {
    px::Tensor p = px::ops::mul(px::randn(shape, {}, &gen), 0.05);
    p.set_grad(px::ops::mul(px::randn(shape, {}, &gen), 0.01));
    (shape.size() == 2 || shape.size() == 4 ? reg : rest).params.push_back(p);
  }
  reg.options["regularizer"] = std::string("l12");
  std::vector<px::optim::ParamGroup> groups{std::move(reg)};
  if (!rest.params.empty()) groups.push_back(std::move(rest));
  px::optim::prox::ProxGenOptions o;
  o.lr = 1e-3;
  o.lambda = 1e-4;
  auto opt = std::make_shared<px::optim::prox::ProxGen>(std::move(groups), o);
  return {"proxgen-adam l12 " + f.params, [opt] { opt->step(); }};
}

Bench make_bench(const Flags& f) {
  px::Generator gen(f.seed);
  if (f.workload == "train") return train_bench(f, gen);
  if (f.workload == "eval") return eval_bench(f, gen);
  if (f.workload == "conv") return conv_bench(f, gen);
  if (f.workload == "proxgen") return proxgen_bench(f, gen);
  PX_CHECK(false, px::ValueError,
           "--workload: got '", f.workload, "', expected train, eval, conv or proxgen");
  return {};
}

std::string json_line(const Flags& f, const std::string& name, const std::vector<double>& ms) {
  std::vector<double> sorted = ms;
  std::sort(sorted.begin(), sorted.end());
  const std::size_t n = sorted.size();
  const double median = n % 2 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  std::ostringstream out;
  out.precision(6);
  out << "{\"impl\": \"proxima\", \"name\": \"" << name << "\", \"threads\": " << px::get_num_threads()
      << ", \"batch\": " << f.batch << ", \"reps\": " << f.reps << ", \"warmup\": " << f.warmup
      << ", \"ms_median\": " << median << ", \"ms_min\": " << sorted.front() << ", \"ms\": [";
  for (std::size_t i = 0; i < ms.size(); ++i) out << (i ? ", " : "") << ms[i];
  out << "], \"maxrss_kb\": " << usage.ru_maxrss << "}";
  return out.str();
}

}  // namespace

int main(int argc, char** argv) {
  Flags f;
  CLI::App app{"proxima: one CPU workload, timed (JSON line); see bench/cpu_vs_torch.py"};
  app.add_option("--workload", f.workload, "train, eval, conv or proxgen");
  app.add_option("--model", f.model, "train/eval: resnet20, vgg16, mlp (any make_model name)");
  app.add_option("--batch", f.batch, "batch size")->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 20));
  app.add_option("--conv", f.conv, "conv: C,K,HW,S (3x3, padding 1)")->delimiter(',');
  app.add_option("--direction", f.direction, "conv: fwd, bwd-data or bwd-weight");
  app.add_option("--params", f.params, "proxgen: resnet20 or a parameter count (multiple of 1000)");
  app.add_option("--threads", f.threads, "CPU threads")->check(CLI::Range(1, 4096));
  app.add_option("--reps", f.reps, "timed repetitions")->check(CLI::Range(1, 100000));
  app.add_option("--warmup", f.warmup, "untimed repetitions first")->check(CLI::Range(0, 100000));
  app.add_option("--seed", f.seed, "seed of the model and inputs");
  CLI11_PARSE(app, argc, argv);
  try {
    px::set_num_threads(f.threads);
    const Bench bench = make_bench(f);
    for (int i = 0; i < f.warmup; ++i) bench.step();
    std::vector<double> ms;
    for (int i = 0; i < f.reps; ++i) {
      const auto start = std::chrono::steady_clock::now();
      bench.step();
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    }
    std::printf("%s\n", json_line(f, bench.name, ms).c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_cpu_workloads: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
