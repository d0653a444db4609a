// pathprox_study: PathProx versus weight-decay SGD on a class-balanced Fashion-MNIST subset with
// the factorised MLP (ALGORITHMS.md §6.3-6.5; docs/pathprox.md). Logs every --log-every
// iterations the full-subset train loss, the weight-decay objective loss + lambda * path norm, the
// literal loss-term objective loss + (lambda/2) sum ||W||^2, the active units (%), and train / test
// accuracy, to <out>/<method>.csv; --method plot writes <out>/objective.svg, objective_late.svg
// (iterations >= 1000) and active_units.svg from both methods' CSVs.
//
//   pathprox_study --method pathprox --out docs/experiments/pathprox_fmnist [--iters 20000]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "common/metrics.h"
#include "common/svg_plot.h"
#include "proxima/autograd/autograd.h"
#include "proxima/autograd/functions.h"
#include "proxima/core/backend.h"
#include "proxima/core/factory.h"
#include "proxima/core/ops.h"
#include "proxima/data/idx.h"
#include "proxima/nn/models/models.h"
#include "proxima/optim/prox/pathprox.h"
#include "proxima/optim/sgd.h"

namespace fs = std::filesystem;
using namespace px;
namespace pp = px::optim::prox;

namespace {

struct Args {
  std::string data = "/usr/share/datasets/fashion-mnist", out = "pathprox_study", method = "pathprox";
  std::string model = "mlp-factorized";
  std::int64_t iters = 20000, log_every = 250, batch = 200, per_class = 100, test_every = 2500;
  double lr = 0.3, lambda = 1e-4;
  std::uint64_t seed = 4242;
  int threads = 1;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--data") a.data = v;
    else if (k == "--out") a.out = v;
    else if (k == "--method") a.method = v;
    else if (k == "--model") a.model = v;
    else if (k == "--iters") a.iters = std::stoll(v);
    else if (k == "--log-every") a.log_every = std::stoll(v);
    else if (k == "--test-every") a.test_every = std::stoll(v);
    else if (k == "--batch") a.batch = std::stoll(v);
    else if (k == "--per-class") a.per_class = std::stoll(v);
    else if (k == "--lr") a.lr = std::stod(v);
    else if (k == "--lambda") a.lambda = std::stod(v);
    else if (k == "--seed") a.seed = std::stoull(v);
    else if (k == "--threads") a.threads = std::stoi(v);
    else throw ValueError("pathprox_study: unknown flag " + k);
  }
  PX_CHECK(a.method == "pathprox" || a.method == "wd" || a.method == "plot", ValueError,
           "pathprox_study: --method must be pathprox, wd or plot, got ", a.method);
  return a;
}

// Images as float32 [N, 1, 28, 28], standardised with the training subset's mean and std.
struct Split {
  Tensor x, y;
};

// The first `per_class` images of each class in a seeded permutation of the training set.
std::vector<std::int64_t> balanced_subset(const data::Dataset& train, std::int64_t per_class, std::uint64_t seed) {
  std::vector<std::int64_t> order(static_cast<std::size_t>(train.size()));
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<std::int64_t>(i);
  std::mt19937_64 rng(seed);
  std::shuffle(order.begin(), order.end(), rng);
  const auto labels = train.labels.to_vector<std::int64_t>();
  std::vector<std::int64_t> count(static_cast<std::size_t>(train.num_classes()), 0), picked;
  for (std::int64_t i : order) {
    auto& c = count[static_cast<std::size_t>(labels[static_cast<std::size_t>(i)])];
    if (c < per_class) picked.push_back(i), ++c;
  }
  return picked;
}

Split to_split(const data::Dataset& ds, const Tensor& index, double mean, double std) {
  Tensor x = ops::to_dtype(ops::index_select(ds.images, 0, index), DType::float32);
  x = ops::mul(ops::sub(ops::mul(x, 1.0 / 255.0), mean), 1.0 / std);
  return {x, ops::index_select(ds.labels, 0, index)};
}

struct Eval {
  double loss = 0, acc = 0;
};
Eval evaluate(nn::Module& model, const Split& s) {
  NoGradGuard no_grad;
  double loss = 0;
  std::int64_t correct = 0;
  for (std::int64_t i = 0; i < s.x.size(0); i += 1000) {
    const std::int64_t n = std::min<std::int64_t>(1000, s.x.size(0) - i);
    const Tensor x = ops::narrow(s.x, 0, i, n), y = ops::narrow(s.y, 0, i, n);
    const Tensor logits = model(x);
    loss += cross_entropy(logits, y, Reduction::sum).item();
    correct += static_cast<std::int64_t>(ops::count_nonzero(ops::eq(ops::argmax(logits, 1), y)).item());
  }
  return {loss / static_cast<double>(s.x.size(0)), static_cast<double>(correct) / static_cast<double>(s.x.size(0))};
}

// SGD on L + (lambda/2) sum ||W||^2 over every conv / linear weight (biases not decayed).
std::unique_ptr<optim::Optimizer> make_wd(nn::Module& model, const Args& a) {
  optim::ParamGroup decayed{.weight_decay = a.lambda}, rest{.weight_decay = 0.0};
  for (const auto& [name, p] : model.named_parameters()) (p.dim() >= 2 ? decayed : rest).params.push_back(p);
  return std::make_unique<optim::SGD>(std::vector<optim::ParamGroup>{decayed, rest}, optim::SgdOptions{.lr = a.lr});
}

void run_method(const Args& a) {
  const data::DatasetPair d = data::load_idx(a.data);
  const auto picked = balanced_subset(d.train, a.per_class, a.seed);
  const Tensor index = from_vector(picked, {static_cast<std::int64_t>(picked.size())});
  const Tensor raw = ops::mul(ops::to_dtype(ops::index_select(d.train.images, 0, index), DType::float64), 1.0 / 255.0);
  const double mean = ops::mean(raw).item(), std = std::sqrt(ops::mean(ops::mul(ops::sub(raw, mean), ops::sub(raw, mean))).item());
  const Split train = to_split(d.train, index, mean, std);
  std::vector<std::int64_t> all_test(static_cast<std::size_t>(d.test.size()));
  for (std::size_t i = 0; i < all_test.size(); ++i) all_test[i] = static_cast<std::int64_t>(i);
  const Split test = to_split(d.test, from_vector(all_test, {d.test.size()}), mean, std);

  Generator gen(a.seed);
  auto model = nn::make_model(a.model, {.in_channels = 1, .image_size = 28, .num_classes = 10}, gen);
  const nn::HomogeneousUnits units = nn::require_homogeneous_units(*model, a.model);
  std::unique_ptr<optim::Optimizer> opt =
      a.method == "pathprox"
          ? std::unique_ptr<optim::Optimizer>(std::make_unique<pp::PathProx>(
                units, model->named_parameters(), pp::PathProxOptions{.lr = a.lr, .lambda = a.lambda}))
          : make_wd(*model, a);

  fs::create_directories(a.out);
  std::ofstream csv(fs::path(a.out) / (a.method + ".csv"));
  csv << "iteration,train_loss,wd_objective,l2_objective,path_norm,active_units,train_acc,test_acc,seconds\n";
  const auto t0 = std::chrono::steady_clock::now();
  auto log = [&](std::int64_t it) {
    const Eval tr = evaluate(*model, train);
    const bool with_test = it % a.test_every == 0 || it == a.iters;
    const double test_acc = with_test ? evaluate(*model, test).acc : NAN;
    const double path = pp::path_norm(units);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    csv << it << "," << apps::format_metric(tr.loss) << "," << apps::format_metric(tr.loss + a.lambda * path) << ","
        << apps::format_metric(tr.loss + 0.5 * a.lambda * pp::all_weights_sq_norm(units)) << ","
        << apps::format_metric(path) << "," << apps::format_metric(pp::active_units(units).percent()) << ","
        << apps::format_metric(tr.acc) << "," << apps::format_metric(test_acc) << "," << secs << "\n";
    csv.flush();
    std::printf("%s it %lld  loss %.5f  wd objective %.5f  active %.1f%%  train acc %.4f  test acc %.4f  %.0f s\n",
                a.method.c_str(), static_cast<long long>(it), tr.loss, tr.loss + a.lambda * path,
                pp::active_units(units).percent(), tr.acc, test_acc, secs);
    std::fflush(stdout);
  };

  std::mt19937_64 rng(a.seed + 1);
  std::vector<std::int64_t> order(picked.size());
  const std::int64_t n = static_cast<std::int64_t>(picked.size());
  std::int64_t pos = n;
  log(0);
  for (std::int64_t it = 1; it <= a.iters; ++it) {
    if (pos + a.batch > n) {  // a new epoch: reshuffle (the last partial batch is dropped)
      for (std::int64_t i = 0; i < n; ++i) order[static_cast<std::size_t>(i)] = i;
      std::shuffle(order.begin(), order.end(), rng);
      pos = 0;
    }
    const Tensor idx = from_vector(std::vector<std::int64_t>(order.begin() + pos, order.begin() + pos + a.batch), {a.batch});
    pos += a.batch;
    opt->zero_grad();
    const Tensor loss = cross_entropy((*model)(ops::index_select(train.x, 0, idx)), ops::index_select(train.y, 0, idx));
    backward(loss);
    opt->step();
    if (it % a.log_every == 0) log(it);
  }
}

std::vector<double> column(const apps::MetricsTable& t, const std::string& name) { return t.column(name); }

void plot(const Args& a) {
  const auto p = apps::read_metrics_csv((fs::path(a.out) / "pathprox.csv").string());
  const auto w = apps::read_metrics_csv((fs::path(a.out) / "wd.csv").string());
  const std::string title = " (" + a.model + ", Fashion-MNIST " + std::to_string(10 * a.per_class) + " images, lr " +
                            apps::format_metric(a.lr) + ", lambda " + apps::format_metric(a.lambda) + ")";
  // Iteration 0 (the untrained network) is left out of the objective plot: its scale hides the rest.
  auto skip_first = [](std::vector<double> v) { return std::vector<double>(v.begin() + 1, v.end()); };
  apps::write_line_plot((fs::path(a.out) / "objective.svg").string(),
                        {{"PathProx", skip_first(column(p, "iteration")), skip_first(column(p, "wd_objective"))},
                         {"weight decay (SGD)", skip_first(column(w, "iteration")), skip_first(column(w, "wd_objective"))}},
                        {.title = "loss + lambda * path norm" + title, .x_label = "iteration", .y_label = "objective"});
  // The same from iteration 1000 on, where the two curves are close.
  auto from = [](const apps::MetricsTable& t, const std::string& name) {
    std::vector<double> out;
    const auto it = t.column("iteration"), v = t.column(name);
    for (std::size_t i = 0; i < it.size(); ++i)
      if (it[i] >= 1000) out.push_back(v[i]);
    return out;
  };
  apps::write_line_plot((fs::path(a.out) / "objective_late.svg").string(),
                        {{"PathProx", from(p, "iteration"), from(p, "wd_objective")},
                         {"weight decay (SGD)", from(w, "iteration"), from(w, "wd_objective")}},
                        {.title = "loss + lambda * path norm, iterations >= 1000" + title, .x_label = "iteration",
                         .y_label = "objective"});
  apps::write_line_plot((fs::path(a.out) / "active_units.svg").string(),
                        {{"PathProx", column(p, "iteration"), column(p, "active_units")},
                         {"weight decay (SGD)", column(w, "iteration"), column(w, "active_units")}},
                        {.title = "active units" + title, .x_label = "iteration", .y_label = "active units (%)"});
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Args a = parse(argc, argv);
    set_num_threads(a.threads);
    if (a.method == "plot") {
      plot(a);
    } else {
      run_method(a);
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pathprox_study: error: %s\n", e.what());
    return 1;
  }
}
