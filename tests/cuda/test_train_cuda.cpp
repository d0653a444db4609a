// train_cifar on CUDA: ResNet-20 on CIFAR-sized synthetic data trains to the CPU's loss curve (TF32
// off) with sgd and proxgen, a killed CUDA run resumes, a training step never waits for the device,
// and pinned batches.
#include "apps/synthetic_data.h"
#include "temp_dir.h"
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/run_dir.h"
#include "common/trainer.h"
#include "cuda/gpu_util.h"
#include "proxima/core/factory.h"
#include "proxima/cuda/cuda.h"
#include "proxima/data/loader.h"

namespace fs = std::filesystem;
using px::apps::TrainConfig;
using px::apps::TrainHooks;
using px::test_support::TempDir;

namespace {

// 10 classes of 3x32x32 images: class k is bright in channel k % 3 inside the row band [3k, 3k + 3),
// plus uniform noise, so ResNet-20 makes visible progress in a few steps.
px::data::Dataset cifar_like(std::int64_t n, std::uint64_t seed) {
  px::Generator gen(seed);
  const std::vector<float> noise = px::rand({n, 3, 32, 32}, {}, &gen).to_vector<float>();
  std::vector<std::uint8_t> pixels(noise.size());
  std::vector<std::int64_t> labels(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t k = (i * 3 + 1) % 10;
    labels[i] = k;
    for (std::int64_t c = 0; c < 3; ++c)
      for (std::int64_t y = 0; y < 32; ++y)
        for (std::int64_t x = 0; x < 32; ++x) {
          const std::int64_t at = ((i * 3 + c) * 32 + y) * 32 + x;
          const bool lit = c == k % 3 && y / 3 == k;
          pixels[at] = static_cast<std::uint8_t>((lit ? 140.0f : 40.0f) + 100.0f * noise[at]);
        }
  }
  px::data::Dataset ds;
  ds.images = px::from_vector(pixels, {n, 3, 32, 32});
  ds.labels = px::from_vector(labels, {n});
  ds.classes = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
  ds.name = "cifar-like";
  ds.source = "memory";
  return ds;
}

TrainHooks cifar_hooks(std::FILE* stream, std::int64_t train = 64) {
  TrainHooks h;
  h.dataset = px::data::DatasetPair{cifar_like(train, 1), cifar_like(32, 2)};
  h.stream = stream;
  return h;
}

// ResNet-20, 3 epochs of `train` / 16 batches, TF32 off (run_training applies --tf32; restored by the caller).
TrainConfig resnet_config(const std::string& optimizer, const std::string& device, const fs::path& out,
                          const std::string& epochs = "3", bool deterministic = false) {
  TrainConfig c;
  std::string msg;
  std::vector<std::string> args = {"--model", "resnet20", "--optimizer", optimizer, "--epochs", epochs,
                                   "--batch-size", "16", "--device", device, "--tf32", "off", "--seed", "3",
                                   "--out", out.string(), "--no-progress"};
  if (deterministic) args.push_back("--deterministic");
  REQUIRE(parse(args, c, msg) == -1);
  return c;
}

// The fixture of the training tests: TF32 restored at the end (run_training applies --tf32), a
// temporary directory and a file that swallows the logs.
struct TrainScratch {
  TrainScratch() = default;
  ~TrainScratch() {
    std::fclose(quiet);
    px::cuda::set_allow_tf32(tf32_before);
  }
  TrainScratch(const TrainScratch&) = delete;
  TrainScratch& operator=(const TrainScratch&) = delete;

  bool tf32_before = px::cuda::allow_tf32();
  TempDir tmp{"px_train_cuda"};
  std::FILE* quiet = std::tmpfile();
};

// ||a - b||^2 and ||a||^2 over two tensors' values, in float64.
std::pair<double, double> l2_sums(const px::Tensor& want, const px::Tensor& got) {
  const std::vector<double> a = want.to(px::Device::cpu()).to(px::DType::float64).to_vector<double>();
  const std::vector<double> b = got.to(px::Device::cpu()).to(px::DType::float64).to_vector<double>();
  double diff = 0, norm = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff += (a[i] - b[i]) * (a[i] - b[i]), norm += a[i] * a[i];
  return {diff, norm};
}

double relative_l2(double diff, double norm) { return std::sqrt(diff) / std::max(std::sqrt(norm), 1e-12); }

// Two checkpoints' models: integer tensors equal, the float tensors (all of them as one vector)
// within `tol` in relative L2. Prints that error and the worst single tensor's.
void check_models_close(const fs::path& a_dir, const fs::path& b_dir, double tol) {
  const auto a = px::apps::load_checkpoint(a_dir.string());
  const auto b = px::apps::load_checkpoint(b_dir.string());
  REQUIRE(a.model.size() == b.model.size());
  double diff = 0, norm = 0, worst = 0;
  std::string worst_name;
  for (std::size_t i = 0; i < a.model.size(); ++i) {
    CAPTURE(a.model[i].first);
    const px::Tensor& x = a.model[i].second;
    const px::Tensor& y = b.model[i].second;
    if (x.dtype() == px::DType::int64) {
      CHECK(x.to_vector<std::int64_t>() == y.to_vector<std::int64_t>());
      continue;
    }
    const auto [d, n] = l2_sums(x, y);
    diff += d, norm += n;
    const double e = relative_l2(d, n);
    if (e > worst) worst = e, worst_name = a.model[i].first;
  }
  const double global = relative_l2(diff, norm);
  MESSAGE("model relative L2 difference " << global << " (tolerance " << tol << "); worst tensor " << worst_name
                                          << " " << worst);
  CHECK(global <= tol);
}

}  // namespace

TEST_CASE("cuda: pinned_empty is a CPU tensor in pinned memory whose copies to the GPU are exact") {
  using namespace px;
  Generator gen(5);
  for (const Shape& shape : {Shape{7}, Shape{3, 5, 33}, Shape{128, 3, 32, 32}}) {
    for (const DType dtype : {DType::float32, DType::int64}) {
      CAPTURE(shape_str(shape));
      const Tensor want = gpu_test::random_cpu(shape, dtype, gen);
      Tensor pinned = cuda::pinned_empty(shape, dtype, gpu_test::gpu());
      CHECK(pinned.device().is_cpu());
      CHECK(cuda::is_pinned(pinned));
      CHECK_FALSE(cuda::is_pinned(want));
      ops::copy_(pinned, want);
      const Tensor on_gpu = pinned.to(gpu_test::gpu());
      pinned = Tensor();  // dropped right after the copy was enqueued: the block waits for it
      for (int k = 0; k < 4; ++k) {  // reuse (or fresh blocks) must not disturb the copy in flight
        Tensor other = cuda::pinned_empty(shape, dtype, gpu_test::gpu());
        ops::fill_(other, 99);
      }
      gpu_test::check_close(want, on_gpu, 0, 0, "pinned copy");
    }
  }
  // The loader fills pinned batches when asked to (train_cifar on CUDA does).
  data::LoaderOptions o{.batch_size = 8};
  o.allocate = [](const Shape& shape, DType dtype) { return cuda::pinned_empty(shape, dtype, gpu_test::gpu()); };
  data::DataLoader loader(cifar_like(20, 4), o);
  loader.start_epoch(0);
  for (data::Batch b; loader.next(b);) {
    CHECK(cuda::is_pinned(b.x));
    CHECK(cuda::is_pinned(b.y));
  }
}

// Tolerances. float32 with other summation orders (cuDNN's algorithms, our reductions) differs by
// ~1e-6 relative per op; 20 layers, batch norm over 16 images and 12 steps at a loss that first
// rises (3.8 > ln 10) amplify that: the differences grow from 2e-5 (epoch 1) to 8e-4 (epoch 3) on
// an H100 (both runs are deterministic). The training loss (batch statistics) is the loss curve:
// 2e-3 relative, while a wrong gradient or update moves it by > 1e-2 in one step. The test loss
// uses the running statistics of only 12 steps, far from the batch statistics (test losses of 5 to
// 34 nats): that badly calibrated network amplifies the weights' differences (1.6% seen), hence
// 5e-2. Accuracies: predictions whose top two logits are within that noise may flip (none seen).
// Weights: relative L2 over all tensors (sgd: 7.3e-3 seen); ProxGen divides by sqrt(v) (a near-zero
// gradient's sign decides a full lr step: batch norm biases differ by up to 10%) and its l1 prox
// puts weights on zero or not, hence its looser tolerance.
TEST_CASE_FIXTURE(TrainScratch,
                  "cuda: train_cifar resnet20 on CUDA follows the CPU's loss curve (TF32 off), sgd and proxgen") {
  for (const auto& [optimizer, weight_tol] : {std::pair<std::string, double>{"sgd", 2e-2}, {"proxgen", 5e-2}}) {
    CAPTURE(optimizer);
    const fs::path cpu_dir = tmp.path() / (optimizer + "-cpu"), gpu_dir = tmp.path() / (optimizer + "-gpu");
    const auto cpu = px::apps::run_training(resnet_config(optimizer, "cpu", cpu_dir), cifar_hooks(quiet));
    const auto gpu = px::apps::run_training(resnet_config(optimizer, "cuda", gpu_dir), cifar_hooks(quiet));
    REQUIRE(cpu.metrics.size() == 3);
    REQUIRE(gpu.metrics.size() == 3);
    for (std::size_t e = 0; e < 3; ++e) {
      CAPTURE(e + 1);
      const auto& a = cpu.metrics[e];
      const auto& b = gpu.metrics[e];
      MESSAGE(optimizer << " epoch " << e + 1 << ": train loss cpu " << a.train_loss << " cuda " << b.train_loss
                        << " acc " << a.train_acc << " " << b.train_acc << "; test loss cpu " << a.test_loss
                        << " cuda " << b.test_loss << " acc " << a.test_acc << " " << b.test_acc);
      CHECK(std::abs(a.train_loss - b.train_loss) <= 2e-3 * std::abs(a.train_loss));
      CHECK(std::abs(a.test_loss - b.test_loss) <= 5e-2 * std::abs(a.test_loss));
      CHECK(std::abs(a.train_acc - b.train_acc) <= 3.0 / 64 + 1e-12);
      CHECK(std::abs(a.test_acc - b.test_acc) <= 3.0 / 32 + 1e-12);
      REQUIRE(a.extra.size() == b.extra.size());
      for (std::size_t k = 0; k < a.extra.size(); ++k) {  // lambda, penalty, sparsity ... (metrics.csv)
        CAPTURE(a.extra[k].first);
        CHECK(a.extra[k].first == b.extra[k].first);
        const double d = std::abs(a.extra[k].second - b.extra[k].second);
        if (d > 0) MESSAGE("  " << a.extra[k].first << ": cpu " << a.extra[k].second << " cuda " << b.extra[k].second);
        CHECK(d <= 5e-2 * std::abs(a.extra[k].second) + 1e-3);
      }
    }
    CHECK(gpu.metrics.back().train_loss < gpu.metrics.front().train_loss);  // it learns
    check_models_close(cpu_dir, gpu_dir, weight_tol);
    const auto run = px::apps::read_json((gpu_dir / "run.json").string());
    CHECK(run.at("device") == "cuda:0");
    CHECK(run.at("config").at("tf32") == "off");
  }
}

TEST_CASE_FIXTURE(TrainScratch,
                  "cuda: a CUDA run killed in epoch 3 and resumed ends where the uninterrupted run ends") {
  for (const std::string optimizer : {"sgd", "proxgen"}) {
    CAPTURE(optimizer);
    const fs::path full = tmp.path() / (optimizer + "-full"), part = tmp.path() / (optimizer + "-part");
    const auto whole =
        px::apps::run_training(resnet_config(optimizer, "cuda", full, "3", true), cifar_hooks(quiet));
    TrainHooks killing = cifar_hooks(quiet);
    killing.after_batch = [](std::int64_t epoch, std::int64_t batch, px::nn::Module&) {
      if (epoch == 3 && batch == 2) throw std::runtime_error("killed");
    };
    CHECK_THROWS_AS(px::apps::run_training(resnet_config(optimizer, "cuda", part, "3", true), killing),
                    std::runtime_error);
    TrainConfig resume;
    std::string msg;
    REQUIRE(parse({"--resume", part.string(), "--no-progress"}, resume, msg) == -1);
    const auto resumed = px::apps::run_training(resume, cifar_hooks(quiet));
    REQUIRE(resumed.metrics.size() == 3);
    // Epochs 1 and 2 ran before the kill, in the same way as in the whole run.
    CHECK(resumed.metrics[0].train_loss == whole.metrics[0].train_loss);
    CHECK(resumed.metrics[1].train_loss == whole.metrics[1].train_loss);
    // --deterministic (kept by the checkpoint): the same deterministic kernels on the same data in
    // the same order, so the resumed run ends bit for bit where the whole run ends.
    CHECK(resumed.metrics[2].train_loss == whole.metrics[2].train_loss);
    check_models_close(full, part, 0.0);
  }
}

TEST_CASE_FIXTURE(TrainScratch, "cuda: a --deterministic CUDA run repeats bit for bit") {
  const auto first = px::apps::run_training(resnet_config("sgd", "cuda", tmp.path() / "a", "2", true), cifar_hooks(quiet));
  const auto second = px::apps::run_training(resnet_config("sgd", "cuda", tmp.path() / "b", "2", true), cifar_hooks(quiet));
  REQUIRE(first.metrics.size() == 2);
  REQUIRE(second.metrics.size() == 2);
  for (std::size_t e = 0; e < 2; ++e) {
    CAPTURE(e);
    CHECK(second.metrics[e].train_loss == first.metrics[e].train_loss);
    CHECK(second.metrics[e].test_loss == first.metrics[e].test_loss);
  }
  check_models_close(tmp.path() / "a", tmp.path() / "b", 0.0);
}

TEST_CASE_FIXTURE(TrainScratch,
                  "cuda: a training step never waits for the device (host syncs only at logging points)") {
  for (const std::string optimizer : {"sgd", "proxgen"}) {
    CAPTURE(optimizer);
    std::vector<std::vector<std::size_t>> syncs(3);  // [epoch][batch]: host_sync_count after the step
    TrainHooks h = cifar_hooks(quiet, 96);           // 6 batches per epoch
    h.after_batch = [&](std::int64_t epoch, std::int64_t, px::nn::Module&) {
      syncs[static_cast<std::size_t>(epoch)].push_back(px::cuda::host_sync_count(0));
    };
    (void)px::apps::run_training(resnet_config(optimizer, "cuda", tmp.path() / optimizer, "2"), h);
    for (std::size_t e = 1; e <= 2; ++e) {
      REQUIRE(syncs[e].size() == 6);
      // Batch 1 follows the previous epoch's evaluation and checkpoint; batch 6 reads the sums back.
      for (std::size_t b = 1; b + 1 < syncs[e].size(); ++b) {
        CAPTURE(e);
        CAPTURE(b + 1);
        CHECK(syncs[e][b] == syncs[e][b - 1]);
      }
    }
  }
}
