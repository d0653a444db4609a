// Internal: the fused multi-tensor CUDA updates of the optimizers, declared without CUDA headers.
//
// CONVENTION: one call updates many tensors of one device, dtype and step in as few kernel
// launches as fit (one for up to ~70 tensors): a TensorList holds, per tensor, its data pointers
// in a fixed slot order (slot 0 the parameter, slot 1 its gradient, then the rule's state; a slot
// the rule does not use is null) and its element count. The per-step coefficients are the host
// structs of update_rules.h / preconditioner.h / proxsgd_rule.h, passed to the kernel by value;
// the per-coordinate math is the same PX_HD rule the CPU loops run. Kernels live in
// cuda/optim_*.cu (multi_tensor.cuh: the generic loop); a build without CUDA defines every entry
// point as a DeviceError (core/no_cuda/no_cuda_optim.cpp).
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <utility>
#include <vector>

#include "proxima/core/tensor.h"
#include "proxima/optim/prox/preconditioner.h"
#include "proxima/optim/prox/proxsgd_rule.h"
#include "proxima/optim/prox/separable_prox.h"
#include "proxima/optim/update_rules.h"

namespace px::optim::device {

inline constexpr int kMaxSlots = 5;

struct TensorList {
  Device device = Device::cpu();
  std::vector<std::array<void*, kMaxSlots>> ptrs;
  std::vector<std::int64_t> numel;

  // Appends one tensor: its slots in order (nullptr or an undefined tensor: an unused slot).
  void add(std::initializer_list<const Tensor*> slots) {
    std::array<void*, kMaxSlots> row{};
    int s = 0;
    for (const Tensor* t : slots) {
      if (t && t->defined()) row[static_cast<std::size_t>(s)] = t->data_ptr();
      ++s;
    }
    device = slots.begin()[0]->device();
    ptrs.push_back(row);
    numel.push_back(slots.begin()[0]->numel());
  }
  bool empty() const { return ptrs.empty(); }
};

// A separable regulariser's term in a subgradient step: g + lambda * smoothed dr(p) when active.
struct SubgradientTerm {
  bool active = false;
  prox::SeparableProx r{};
  double lambda = 0, smoothing = 0;
};

// The box and sign steps of BinaryConnect's latent weights (slot 4: the binarised parameter).
struct BinarizeStep {
  bool binarize = false;  // latent <- clip(latent, -clip, clip), param <- sgn(latent), sgn(0) = +1
  double clip = 1;
};

// ---- entry points (T = float or double), slots in brackets ----
// [p, g, momentum_buffer]
template <class T> void sgd(const TensorList& list, const rules::SgdCoefficients<T>& c, const SubgradientTerm& term = {},
                            const BinarizeStep& bin = {});
// [p, g, exp_avg, exp_avg_sq, max_exp_avg_sq]; with bin.binarize slot 4 is the binarised parameter.
template <class T> void adam(const TensorList& list, const rules::AdamCoefficients<T>& c, const SubgradientTerm& term = {},
                             const BinarizeStep& bin = {});
// [p, g, sum]
template <class T> void adagrad(const TensorList& list, const rules::AdagradCoefficients<T>& c);
// [p, g, square_avg, grad_avg, momentum_buffer]
template <class T> void rmsprop(const TensorList& list, const rules::RmspropCoefficients<T>& c);

// ProxGen [p, g, exp_avg, exp_avg_sq]: the gradient half, then P_r(z; t) (r null: identity),
// then clip to [-clip, clip] (clip <= 0: none).
template <class T> void proxgen(const TensorList& list, const prox::ProxGenCoefficients<T>& c,
                                const prox::SeparableProx* r, double clip);
// ProxSGD [p, g, v, r]: direction, P_r (r null: none), clip to the box, convex combination.
template <class T> void proxsgd(const TensorList& list, const prox::ProxSGDCoefficients<T>& c,
                                const prox::SeparableProx* r);

// Kernel launches made by the entry points above since the program started (for tests).
std::int64_t launch_count();

// The explicit instantiations of the entry points above for one T, listed once for the files that
// define them: cuda/optim_classic.cu (classic steps), cuda/optim_prox.cu (prox steps) and, as
// throws, core/no_cuda/no_cuda_optim.cpp (both).
#define PX_INSTANTIATE_CLASSIC_STEPS(T)                                                               \
  template void sgd<T>(const TensorList&, const rules::SgdCoefficients<T>&, const SubgradientTerm&,   \
                       const BinarizeStep&);                                                          \
  template void adam<T>(const TensorList&, const rules::AdamCoefficients<T>&, const SubgradientTerm&, \
                        const BinarizeStep&);                                                         \
  template void adagrad<T>(const TensorList&, const rules::AdagradCoefficients<T>&);                  \
  template void rmsprop<T>(const TensorList&, const rules::RmspropCoefficients<T>&);
#define PX_INSTANTIATE_PROX_STEPS(T)                                                                           \
  template void proxgen<T>(const TensorList&, const prox::ProxGenCoefficients<T>&, const prox::SeparableProx*, \
                           double);                                                                            \
  template void proxsgd<T>(const TensorList&, const prox::ProxSGDCoefficients<T>&, const prox::SeparableProx*);

// Calls body(dtype, key, members) once per distinct (parameter dtype, key(x)) over xs (each x
// has a .param), members in input order: a fused launch needs one dtype, and the optimizers also
// split a group's tensors by step count (their coefficients differ) or first step.
template <class X, class Key, class Body>
void for_each_bucket(std::vector<X>& xs, Key&& key, Body&& body) {
  using K = decltype(key(xs.front()));
  std::map<std::pair<DType, K>, std::vector<X*>> buckets;
  for (X& x : xs) buckets[{x.param.dtype(), key(x)}].push_back(&x);
  for (auto& [k, members] : buckets) body(k.first, k.second, members);
}

}  // namespace px::optim::device
