// gpu_determinism: which part of a --deterministic CUDA training run is not bit-reproducible?
// (tests/cuda/test_train_cuda.cpp's two determinism cases failed on an H100 in session 5.)
// TF32 off and deterministic cuDNN algorithms, as those tests. Five sections, cheapest first; every
// line is flushed at once, so a run cut short still answers:
//   A. each op of a ResNet-20 step, on ResNet-20's shapes, run twice on the same inputs: before each
//      run the allocator's free blocks are filled with NaN (released in another order the second
//      time, so outputs and workspaces land at other addresses): reads of memory a kernel never
//      wrote, address-dependent results and atomics show as DIFFERENT;
//   P. every cuDNN algorithm of those convolutions, three runs each: which ones repeat, and whether
//      cuDNN's determinism flag is right about them (section_probe);
//   B. one ResNet-20 forward + backward twice from the same weights: the loss, every gradient;
//   C. 8 SGD steps (momentum 0.9, weight decay 5e-4) twice from the same initialisation, batches
//      copied from ordinary host memory: the first step whose loss differs, the final weights;
//   D. the same through train_cifar's input path (DataLoader filling pinned batches in its thread,
//      asynchronous copies): the batches that reached the device against the same batches made on
//      the host (a pinned-buffer race shows here), then losses and weights against C.
// stderr gets one "px conv-algo:" line per cuDNN algorithm chosen (PX_CUDA_CONV_LOG=1): the key,
// every candidate (algo:ok|no/d|n/math/time/workspace) and the choice. It ends with a checksum
// of C's final weights: two processes that print different checksums are not reproducible across
// processes (bench/gpu_check.sh runs this program twice and compares them).
// Usage: gpu_determinism [--cpu]    Exit status: 0 all equal, 1 something differs, 77 no GPU.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "proxima/cuda/conv_probe.h"
#include "proxima/cuda/cuda.h"
#include "proxima/proxima.h"

namespace {

using px::Tensor;

// The device under test: cuda:0, or the CPU with --cpu (a dry run of this program's logic on a
// machine without a GPU: everything should print equal there).
px::Device g_device = px::Device::cuda(0);
px::Device gpu() { return g_device; }

// Largest |a - b| (NaN when exactly one is NaN), and whether the bits are identical.
struct Diff {
  bool equal = true;
  double max = 0;
};
Diff compare(const Tensor& a, const Tensor& b) {
  const auto x = a.to(px::Device::cpu()).to(px::DType::float64).to_vector<double>();
  const auto y = b.to(px::Device::cpu()).to(px::DType::float64).to_vector<double>();
  Diff d;
  if (x.size() != y.size()) return {false, NAN};
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (std::memcmp(&x[i], &y[i], sizeof(double)) == 0) continue;  // NaN == NaN here (same bits)
    d.equal = false;
    d.max = std::isnan(x[i]) != std::isnan(y[i]) ? NAN : std::max(d.max, std::abs(x[i] - y[i]));
  }
  return d;
}

int report(const std::string& what, const Tensor& a, const Tensor& b) {
  const Diff d = compare(a, b);
  std::printf("%-58s %s", what.c_str(), d.equal ? "equal" : "DIFFERENT");
  if (!d.equal) std::printf(" (max |diff| %.3g)", d.max);
  std::printf("\n");
  std::fflush(stdout);
  return d.equal ? 0 : 1;
}

// Fills the caching allocator's free blocks of every size class from 512 B to 112 MiB with NaN
// (two blocks per class), then releases them, in creation order or (second) reversed: the
// next allocations of the op reuse NaN blocks, at other addresses in the two runs.
void poison(bool reversed) {
  std::vector<Tensor> junk;
  for (std::int64_t octave = 512; octave <= (std::int64_t{1} << 26); octave *= 2)
    for (std::int64_t quarter = 4; quarter < 8; ++quarter)
      for (int copy = 0; copy < 2; ++copy)
        junk.push_back(px::full({octave * quarter / 4 / 4}, NAN, {.device = gpu()}));
  if (reversed) {
    while (!junk.empty()) junk.pop_back();
  }
  px::backend_for(gpu()).synchronize(gpu());
}

// Runs f twice (poisoned in two ways) and reports each tensor it returns, named by `names`.
int twice(const std::string& what, const std::vector<std::string>& names,
          const std::function<std::vector<Tensor>()>& f) {
  poison(false);
  const std::vector<Tensor> first = f();
  poison(true);
  const std::vector<Tensor> second = f();
  int different = 0;
  for (std::size_t i = 0; i < first.size(); ++i)
    different += report(what + (i < names.size() ? " " + names[i] : ""), first[i], second[i]);
  return different;
}

Tensor randn(const px::Shape& s, px::Generator& gen) { return px::randn(s, {.device = gpu()}, &gen); }

// ---- A: the ops of a ResNet-20 step on its shapes ----
struct ConvShape {
  std::int64_t c, k, hw, stride;  // x [N, c, hw, hw], w [k, c, 3, 3], padding 1
};
const ConvShape kResnetConvs[] = {{3, 16, 32, 1}, {16, 16, 32, 1}, {16, 32, 32, 2},
                                  {32, 32, 16, 1}, {32, 64, 16, 2}, {64, 64, 8, 1}};

int section_ops(px::Generator& gen) {
  std::printf("== A. single ops twice (NaN-poisoned free blocks)\n");
  int different = 0;
  for (std::int64_t n : {16, 32}) {  // training batch 16; evaluation batch 32 (forward only)
    for (const ConvShape& s : kResnetConvs) {
      const px::Conv2dParams p{.stride_h = s.stride, .stride_w = s.stride, .pad_h = 1, .pad_w = 1};
      const Tensor x = randn({n, s.c, s.hw, s.hw}, gen), w = randn({s.k, s.c, 3, 3}, gen);
      const Tensor gy = randn({n, s.k, s.hw / s.stride, s.hw / s.stride}, gen);
      const std::string name = "conv N" + std::to_string(n) + " " + std::to_string(s.c) + "->" + std::to_string(s.k) +
                               " " + std::to_string(s.hw) + "px s" + std::to_string(s.stride);
      different += twice(name, {"forward"}, [&] { return std::vector<Tensor>{px::ops::conv2d(x, w, p)}; });
      if (n != 16) continue;
      different += twice(name, {"backward_input"},
                         [&] { return std::vector<Tensor>{px::ops::conv2d_backward_input(gy, w, x.shape(), p)}; });
      different += twice(name, {"backward_weight"},
                         [&] { return std::vector<Tensor>{px::ops::conv2d_backward_weight(gy, x, w.shape(), p)}; });
    }
  }
  // Batch norm + relu (fused node) with running statistics, the residual add, option-A shortcut
  // (strided slice + channel padding), global average pooling, linear and cross-entropy: one
  // autograd graph per shape, every gradient compared.
  for (const ConvShape& s : kResnetConvs) {
    if (s.c == s.k) continue;  // one graph per output shape of a stage (16x32x32, 32x16x16, 64x8x8)
    const Tensor x0 = randn({16, s.k, s.hw / s.stride, s.hw / s.stride}, gen);
    const Tensor g0 = randn({s.k}, gen), b0 = randn({s.k}, gen), r0 = randn({16, s.k / 2, 2 * x0.size(2), 2 * x0.size(3)}, gen);
    const Tensor fc0 = randn({10, s.k}, gen), fb0 = randn({10}, gen);
    const Tensor labels = px::from_vector(std::vector<std::int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5}, {16}, gpu());
    const std::string name = "bn+relu/shortcut/pool/fc/xent " + std::to_string(s.k) + "ch " + std::to_string(x0.size(2)) + "px";
    different += twice(name, {"loss", "running_mean", "running_var", "grad x", "grad gamma", "grad beta", "grad residual", "grad fc.w", "grad fc.b"}, [&] {
      Tensor x = x0.clone().set_requires_grad(), gamma = g0.clone().set_requires_grad(), beta = b0.clone().set_requires_grad();
      Tensor res = r0.clone().set_requires_grad(), fc = fc0.clone().set_requires_grad(), fb = fb0.clone().set_requires_grad();
      Tensor rm = px::zeros({s.k}, {.device = gpu()}), rv = px::ones({s.k}, {.device = gpu()});
      Tensor h = px::batch_norm_relu(x, gamma, beta, rm, rv, true);
      Tensor shortcut = px::pad(px::slice(px::slice(res, 2, 0, res.size(2), 2), 3, 0, res.size(3), 2), {0, 0, 0, 0, s.k / 4, s.k / 4});
      h = px::relu(px::add(h, shortcut));
      Tensor logits = px::linear(px::flatten(px::adaptive_avg_pool2d(h, 1), 1), fc, fb);
      Tensor loss = px::cross_entropy(logits, labels);
      px::backward(loss);
      return std::vector<Tensor>{loss.detach(), rm, rv, x.grad(), gamma.grad(), beta.grad(), res.grad(), fc.grad(), fb.grad()};
    });
  }
  return different;
}

// ---- P: every cuDNN algorithm of ResNet-20's convolutions, three runs each ----
// One line per shape and direction: algo:F:R with F the flag cuDNN's heuristics report (d
// deterministic, n not; "!" when cuDNN's documentation lists it as non-deterministic) and R same |
// DIFFERS | skip (not supported or over the workspace bound). An algorithm flagged deterministic
// whose runs differ is MISLABELLED and counted: choose_algorithm would trust it.
int section_probe(px::Generator& gen) {
  std::printf("== P. every cuDNN algorithm of each ResNet-20 convolution (N 16), 3 runs each\n");
  static const char* const directions[] = {"forward", "backward_input", "backward_weight"};
  int mislabelled = 0;
  for (const ConvShape& s : kResnetConvs) {
    const px::Conv2dParams p{.stride_h = s.stride, .stride_w = s.stride, .pad_h = 1, .pad_w = 1};
    const Tensor x = randn({16, s.c, s.hw, s.hw}, gen), w = randn({s.k, s.c, 3, 3}, gen);
    const Tensor y = randn({16, s.k, s.hw / s.stride, s.hw / s.stride}, gen);
    for (int d = 0; d < 3; ++d) {
      std::string line;
      for (const px::cuda::ConvAlgoProbe& a : px::cuda::probe_conv_algorithms(d, x, w, y, p)) {
        const bool wrong = a.ran && !a.repeatable && a.flagged_deterministic && !a.documented_nondeterministic;
        mislabelled += wrong;
        line += " " + std::to_string(a.algo) + ":" + (a.flagged_deterministic ? "d" : "n") +
                (a.documented_nondeterministic ? "!" : "") + ":" +
                (!a.ran ? "skip" : a.repeatable ? "same" : wrong ? "DIFFERS(MISLABELLED)" : "DIFFERS");
      }
      std::printf("probe %d->%d %dpx s%d %-15s%s\n", static_cast<int>(s.c), static_cast<int>(s.k),
                  static_cast<int>(s.hw), static_cast<int>(s.stride), directions[d], line.c_str());
      std::fflush(stdout);
    }
  }
  std::printf("probe: %d algorithms flagged deterministic gave differing runs\n", mislabelled);
  return mislabelled;
}

// ---- B, C, D: ResNet-20 ----
std::shared_ptr<px::nn::Module> resnet20() {
  px::Generator gen(3);
  auto net = px::nn::make_model("resnet20", {.in_channels = 3, .image_size = 32, .num_classes = 10}, gen);
  net->to(gpu());
  net->train();
  return net;
}

// Every parameter and buffer (running statistics), in the model's order.
std::vector<std::pair<std::string, Tensor>> state_of(const px::nn::Module& net) {
  auto all = net.named_parameters();
  for (auto& b : net.named_buffers()) all.push_back(b);
  return all;
}

int section_backward(px::Generator& gen) {
  std::printf("== B. ResNet-20 forward + backward twice from the same weights\n");
  auto net = resnet20();
  const Tensor xb = randn({16, 3, 32, 32}, gen);
  const Tensor yb = px::from_vector(std::vector<std::int64_t>{3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3}, {16}, gpu());
  std::vector<std::vector<Tensor>> grads(2);
  std::vector<Tensor> losses;
  for (int r = 0; r < 2; ++r) {
    poison(r == 1);
    for (auto& q : net->parameters()) q.zero_grad();
    Tensor loss = px::cross_entropy((*net)(xb), yb);
    px::backward(loss);
    losses.push_back(loss.detach());
    for (auto& q : net->parameters()) grads[r].push_back(q.grad().clone());
  }
  int different = report("resnet20 loss", losses[0], losses[1]), differing_grads = 0;
  const auto named = net->named_parameters();
  for (std::size_t i = 0; i < named.size(); ++i) {
    const Diff d = compare(grads[0][i], grads[1][i]);
    if (!d.equal) std::printf("  grad %-51s DIFFERENT (max |diff| %.3g)\n", named[i].first.c_str(), d.max);
    differing_grads += !d.equal;
  }
  std::printf("resnet20: %d of %zu gradients differ\n", differing_grads, named.size());
  std::fflush(stdout);
  return different + differing_grads;
}

// 64 CIFAR-sized images of 10 classes (uniform noise; the labels need not be learnable).
px::data::Dataset noise_dataset() {
  px::Generator gen(11);
  const std::vector<float> u = px::rand({64, 3, 32, 32}, {}, &gen).to_vector<float>();
  std::vector<std::uint8_t> pixels(u.size());
  for (std::size_t i = 0; i < u.size(); ++i) pixels[i] = static_cast<std::uint8_t>(255.0f * u[i]);
  std::vector<std::int64_t> labels(64);
  for (int i = 0; i < 64; ++i) labels[i] = (i * 7) % 10;
  px::data::Dataset ds;
  ds.images = px::from_vector(pixels, {64, 3, 32, 32});
  ds.labels = px::from_vector(labels, {64});
  ds.classes = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
  ds.name = "noise";
  ds.source = "memory";
  return ds;
}

px::data::LoaderOptions loader_options(bool pinned) {
  px::data::LoaderOptions o{.batch_size = 16, .shuffle = true, .augment = {.crop = true, .flip = true}, .seed = 3};
  if (pinned && gpu().is_cuda())
    o.allocate = [](const px::Shape& s, px::DType t) { return px::cuda::pinned_empty(s, t, gpu()); };
  return o;
}

struct Run {
  std::vector<Tensor> losses;   // per step, on the device until the end
  std::vector<Tensor> inputs;   // the device batches (D only)
  std::vector<std::pair<std::string, Tensor>> state;
};

// 2 epochs of 4 steps. pinned: train_cifar's path (loader thread, pinned batches, no host
// synchronisation inside the loop); else batches made on the host by make_batch and copied from
// ordinary memory.
Run train(const px::data::Dataset& ds, bool pinned) {
  auto net = resnet20();
  px::optim::SGD sgd(net->parameters(), {.lr = 0.05, .momentum = 0.9, .weight_decay = 5e-4});
  px::data::DataLoader loader(ds, loader_options(pinned));
  Run run;
  auto step = [&](const px::data::Batch& batch) {
    const Tensor x = batch.x.to(gpu()), y = batch.y.to(gpu());
    if (pinned) run.inputs.push_back(x.clone());
    sgd.zero_grad();
    Tensor loss = px::cross_entropy((*net)(x), y);
    px::backward(loss);
    sgd.step();
    run.losses.push_back(loss.detach());
  };
  for (std::int64_t epoch = 0; epoch < 2; ++epoch) {
    if (pinned) {
      loader.start_epoch(epoch);
      for (px::data::Batch b; loader.next(b);) step(b);
    } else {
      const auto order = loader.epoch_order(epoch);
      for (std::int64_t b = 0; b < loader.batches_per_epoch(); ++b) step(loader.make_batch(epoch, order, b));
    }
  }
  run.state = state_of(*net);
  return run;
}

int compare_runs(const std::string& what, const Run& a, const Run& b) {
  int different = 0, first = -1;
  for (std::size_t k = 0; k < a.losses.size(); ++k) {
    const Diff d = compare(a.losses[k], b.losses[k]);
    if (d.equal) continue;
    if (first < 0) first = static_cast<int>(k) + 1;
    ++different;
    std::printf("  loss step %-46zu DIFFERENT (max |diff| %.3g)\n", k + 1, d.max);
  }
  if (first > 0) std::printf("%s: %d of %zu losses differ, first at step %d\n", what.c_str(), different, a.losses.size(), first);
  else std::printf("%s: all %zu losses equal\n", what.c_str(), a.losses.size());
  int weights = 0;
  for (std::size_t i = 0; i < a.state.size(); ++i) {
    const Diff d = compare(a.state[i].second, b.state[i].second);
    if (!d.equal && weights++ < 12) std::printf("  %-56s DIFFERENT (max |diff| %.3g)\n", a.state[i].first.c_str(), d.max);
  }
  std::printf("%s: %d of %zu final tensors differ\n", what.c_str(), weights, a.state.size());
  std::fflush(stdout);
  return different + weights;
}

// FNV-1a over the bytes of every final tensor: equal in two processes iff bit-identical.
template <class T>
void hash_values(const Tensor& t, std::uint64_t& h) {
  for (const T& v : t.to_vector<T>()) {
    unsigned char bytes[sizeof(T)];
    std::memcpy(bytes, &v, sizeof(T));
    for (unsigned char byte : bytes) h = (h ^ byte) * 1099511628211ull;
  }
}
std::uint64_t checksum(const Run& run) {
  std::uint64_t h = 1469598103934665603ull;
  for (const auto& entry : run.state) {
    const Tensor t = entry.second.to(px::Device::cpu());
    if (t.dtype() == px::DType::float32) hash_values<float>(t, h);
    else if (t.dtype() == px::DType::float64) hash_values<double>(t, h);
    else if (t.dtype() == px::DType::int64) hash_values<std::int64_t>(t, h);
  }
  return h;
}

int section_training(const px::data::Dataset& ds) {
  std::printf("== C. 8 SGD steps twice, batches from ordinary host memory\n");
  const Run c1 = train(ds, false), c2 = train(ds, false);
  int different = compare_runs("C", c1, c2);
  std::printf("== D. the same through the loader thread and pinned batches (train_cifar's path)\n");
  const Run d1 = train(ds, true), d2 = train(ds, true);
  px::data::DataLoader host(ds, loader_options(false));
  int bad_batches = 0;
  for (std::int64_t epoch = 0, k = 0; epoch < 2; ++epoch) {
    const auto order = host.epoch_order(epoch);
    for (std::int64_t b = 0; b < host.batches_per_epoch(); ++b, ++k) {
      const Tensor want = host.make_batch(epoch, order, b).x;
      bad_batches += !compare(want, d1.inputs[k]).equal || !compare(want, d2.inputs[k]).equal;
    }
  }
  std::printf("D: %d of %zu device batches differ from the host-made batches%s\n", bad_batches, d1.inputs.size(),
              bad_batches ? " (PINNED-BUFFER RACE)" : "");
  different += bad_batches + compare_runs("D", d1, d2) + compare_runs("C vs D", c1, d1);
  std::printf("checksum of C's final weights: %016llx\n", static_cast<unsigned long long>(checksum(c1)));
  return different;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "--cpu") == 0) g_device = px::Device::cpu();
  if (gpu().is_cuda() && !px::cuda_available()) {
    std::printf("gpu_determinism: no CUDA device\n");
    return 77;
  }
  setenv("PX_CUDA_CONV_LOG", "1", 0);  // the algorithm choices, on stderr (an explicit 0 keeps them quiet)
  if (gpu().is_cuda()) {
    px::cuda::set_allow_tf32(false);
    px::cuda::set_deterministic_algorithms(true);
  }
  std::printf("gpu_determinism on %s\n", gpu().str().c_str());
  px::Generator gen(1);
  int different = section_ops(gen);
  if (gpu().is_cuda()) different += section_probe(gen);
  different += section_backward(gen);
  different += section_training(noise_dataset());
  std::printf("gpu_determinism: %d results differ\n", different);
  return different == 0 ? 0 : 1;
}
