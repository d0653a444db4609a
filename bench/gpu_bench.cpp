// gpu_bench: proxima's GPU training-step throughput (one JSON line per workload; the PyTorch side
// is bench/torch_gpu_bench.py with the same flags and output, bench/gpu_vs_torch.py compares them).
//
// A workload "MODEL:BATCH" (e.g. resnet20:128, vgg16:128) times the training step
//   zero_grad; loss = cross_entropy(model(x), y); backward(loss); SGD step
// (lr 0.01, momentum 0.9, weight decay 5e-4) in float32 on one fixed device batch: x ~ N(0, 1)
// [BATCH, 3, 32, 32], labels i mod 10. --warmup untimed steps first (cuDNN's algorithm search
// happens there), then --steps timed steps with ONE device synchronisation at the end. The loss
// is read back only after the timing. Reported: images/s, ms/step, the device's peak memory in
// use by tensors from just before the model was built (model, optimizer state, activations:
// memory_stats().peak_bytes, the counterpart of torch.cuda.max_memory_allocated), and the host
// synchronisations per timed step (0 expected).
//
// Usage: gpu_bench [--workloads resnet20:128,resnet20:512,vgg16:128] [--steps 50] [--warmup 10]
//                  [--tf32 1] [--device cuda:0] [--seed 0]
// --device cpu runs the same code on the CPU (a smoke test of this program on a machine
// without a GPU; the timing then means nothing).
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "proxima/cuda/cuda.h"
#include "proxima/proxima.h"

namespace {

struct Flags {
  std::vector<std::string> workloads = {"resnet20:128", "resnet20:512", "vgg16:128"};
  int steps = 50, warmup = 10;
  bool tf32 = true;
  std::string device = "cuda:0";
  std::uint64_t seed = 0;
};

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, sep);)
    if (!part.empty()) parts.push_back(part);
  return parts;
}

int to_int(const std::string& flag, const std::string& value, int lo) {
  char* end = nullptr;
  long v = std::strtol(value.c_str(), &end, 10);
  PX_CHECK(end && *end == '\0' && v >= lo && v <= 1000000, px::ValueError, flag, ": expected an integer >= ", lo,
           ", got '", value, "'");
  return static_cast<int>(v);
}

Flags parse(int argc, char** argv) {
  Flags f;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::printf("usage: gpu_bench [--workloads M:B,...] [--steps N] [--warmup N] [--tf32 0|1] [--device D] "
                  "[--seed S]\n");
      std::exit(0);
    }
    PX_CHECK(i + 1 < argc, px::ValueError, flag, ": missing its value");
    std::string value = argv[++i];
    if (flag == "--workloads") f.workloads = split(value, ',');
    else if (flag == "--steps") f.steps = to_int(flag, value, 1);
    else if (flag == "--warmup") f.warmup = to_int(flag, value, 0);
    else if (flag == "--tf32") f.tf32 = to_int(flag, value, 0) != 0;
    else if (flag == "--device") f.device = value;
    else if (flag == "--seed") f.seed = static_cast<std::uint64_t>(to_int(flag, value, 0));
    else PX_CHECK(false, px::ValueError, "unknown flag '", flag, "' (see --help)");
  }
  return f;
}

struct Result {
  std::string workload, model, error, optimizer = "optim::SGD";
  std::int64_t batch = 0;
  double seconds = 0, loss = NAN;
  std::size_t peak_bytes = 0, syncs = 0;
};

Result run_workload(const Flags& f, const std::string& workload, px::Device device) {
  Result r;
  r.workload = workload;
  auto parts = split(workload, ':');
  PX_CHECK(parts.size() == 2, px::ValueError, "--workloads: expected MODEL:BATCH, got '", workload, "'");
  r.model = parts[0];
  r.batch = to_int("--workloads batch", parts[1], 1);
  const bool cuda = device.is_cuda();
  if (cuda) {
    px::cuda::empty_cache(device.index);
    px::cuda::reset_peak_memory_stats(device.index);
  }
  px::Generator gen(f.seed);
  auto model = px::nn::make_model(r.model, {.in_channels = 3, .image_size = 32, .num_classes = 10}, gen);
  model->to(device);
  model->train();
  px::Tensor x = px::randn({r.batch, 3, 32, 32}, {.device = device}, &gen);
  std::vector<std::int64_t> labels(static_cast<std::size_t>(r.batch));
  for (std::int64_t i = 0; i < r.batch; ++i) labels[static_cast<std::size_t>(i)] = i % 10;
  px::Tensor y = px::from_vector(labels, {r.batch}, device);
  px::optim::SGD sgd(model->parameters(), px::optim::SgdOptions{.lr = 0.01, .momentum = 0.9, .weight_decay = 5e-4});
  px::Tensor loss;
  auto step = [&] {
    sgd.zero_grad();
    loss = px::cross_entropy((*model)(x), y);
    px::backward(loss);
    sgd.step();
  };
  px::Backend& backend = px::backend_for(device);
  for (int i = 0; i < f.warmup; ++i) step();
  backend.synchronize(device);
  const std::size_t syncs_before = cuda ? px::cuda::host_sync_count(device.index) : 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < f.steps; ++i) step();
  backend.synchronize(device);
  const auto t1 = std::chrono::steady_clock::now();
  // The final synchronize is one host sync; anything more happened inside the steps.
  r.syncs = cuda ? px::cuda::host_sync_count(device.index) - syncs_before - 1 : 0;
  r.seconds = std::chrono::duration<double>(t1 - t0).count();
  r.loss = loss.item();
  r.peak_bytes = backend.memory_stats(device).peak_bytes;
  return r;
}

std::string json(const Flags& f, const Result& r) {
  std::ostringstream out;
  out.precision(6);
  const double per_step = r.seconds / f.steps;
  out << "{\"impl\": \"proxima\", \"workload\": \"" << r.workload << "\", \"model\": \"" << r.model
      << "\", \"batch\": " << r.batch << ", \"device\": \"" << f.device << "\", \"tf32\": " << (f.tf32 ? "true" : "false")
      << ", \"steps\": " << f.steps << ", \"warmup\": " << f.warmup;
  if (!r.error.empty()) {
    std::string e = r.error;
    for (char& c : e)
      if (c == '"' || c == '\\' || c == '\n') c = '\'';
    out << ", \"error\": \"" << e << "\"}";
    return out.str();
  }
  out << ", \"seconds\": " << r.seconds << ", \"ms_per_step\": " << per_step * 1e3
      << ", \"img_per_s\": " << (per_step > 0 ? static_cast<double>(r.batch) / per_step : 0.0)
      << ", \"peak_bytes\": " << r.peak_bytes << ", \"host_syncs_per_step\": "
      << static_cast<double>(r.syncs) / f.steps << ", \"loss\": " << r.loss << ", \"optimizer\": \"" << r.optimizer
      << "\"}";
  return out.str();
}

}  // namespace

int main(int argc, char** argv) {
  Flags f;
  px::Device device = px::Device::cpu();
  try {
    f = parse(argc, argv);
    device = px::Device::parse(f.device);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gpu_bench: %s\n", e.what());
    return 2;
  }
  px::cuda::set_allow_tf32(f.tf32);
  int failures = 0;
  for (const std::string& w : f.workloads) {
    Result r;
    try {
      r = run_workload(f, w, device);
    } catch (const std::exception& e) {
      r.workload = w;
      r.error = e.what();
      ++failures;
    }
    std::printf("%s\n", json(f, r).c_str());
    std::fflush(stdout);
  }
  return failures ? 1 : 0;
}
