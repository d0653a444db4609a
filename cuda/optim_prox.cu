// CUDA entry points of optim/device_loop.h for the proximal methods: ProxGen (every
// preconditioner, every separable prox, ProxQuant's clip) and ProxSGD, fused in one pass.
//
// The gradient half is proxgen_gradient_half_k (the form the CPU loops run); the prox is
// SeparableProx's closed form (scalar_prox.h: l1/2 and l2/3 in double), instantiated directly for
// l1, l0, l1/2 and l2/3 and through SeparableProx::apply for the others.
#include <limits>

#include "proxima/cuda/multi_tensor.cuh"

namespace px::optim::device {
namespace {

using cuda::multi_tensor::launch;
using prox::PreconditionerKind;
using prox::SeparableKind;

struct Identity {
  template <class T> __device__ T operator()(T z, T) const { return z; }
};
struct L1 {
  template <class T> __device__ T operator()(T z, T t) const { return prox::prox_l1(z, t); }
};
struct L0 {
  bool keep_at_tie;
  template <class T> __device__ T operator()(T z, T t) const { return prox::prox_l0(z, t, keep_at_tie); }
};
struct L12 {
  bool keep_at_tie;
  template <class T> __device__ T operator()(T z, T t) const { return prox::prox_l12(z, t, keep_at_tie); }
};
struct L23 {
  bool keep_at_tie;
  template <class T> __device__ T operator()(T z, T t) const { return prox::prox_l23(z, t, keep_at_tie); }
};
struct Generic {
  prox::SeparableProx r;
  template <class T> __device__ T operator()(T z, T t) const { return r.apply(z, t); }
};

template <PreconditionerKind K, class T, class Prox>
struct ProxGenOp {
  prox::ProxGenCoefficients<T> c;
  Prox prox;
  T clip;  // +inf: none
  __device__ void operator()(T* const* s, std::int64_t i) const {
    T p = s[0][i], m = s[2][i], v = T(0);
    if constexpr (K != PreconditionerKind::none) v = s[3][i];
    const T inv_d = prox::proxgen_gradient_half_k<K>(p, s[1][i], m, v, c);
    const T t = c.metric_prox ? c.lr_lambda * inv_d : c.lr_lambda;
    p = prox(p, t);
    s[0][i] = p > clip ? clip : (p < -clip ? -clip : p);
    s[2][i] = m;
    if constexpr (K != PreconditionerKind::none) s[3][i] = v;
  }
};

template <class T, class Prox>
void proxgen_k(const TensorList& list, const prox::ProxGenCoefficients<T>& c, const Prox& p, T clip) {
  switch (c.kind) {
    case PreconditionerKind::none: return launch<T>(list, ProxGenOp<PreconditionerKind::none, T, Prox>{c, p, clip});
    case PreconditionerKind::adam: return launch<T>(list, ProxGenOp<PreconditionerKind::adam, T, Prox>{c, p, clip});
    case PreconditionerKind::adagrad:
      return launch<T>(list, ProxGenOp<PreconditionerKind::adagrad, T, Prox>{c, p, clip});
    case PreconditionerKind::rmsprop:
      return launch<T>(list, ProxGenOp<PreconditionerKind::rmsprop, T, Prox>{c, p, clip});
  }
}

template <class T>
struct ProxSgdOp {
  prox::ProxSGDCoefficients<T> c;
  bool apply_prox;
  prox::SeparableProx r;
  __device__ void operator()(T* const* s, std::int64_t i) const {
    T p = s[0][i], threshold;
    T x_hat = prox::proxsgd_direction(p, s[1][i], s[2][i], s[3][i], c, threshold);
    if (apply_prox) x_hat = r.apply(x_hat, threshold);
    prox::proxsgd_combine(p, prox::proxsgd_clip(x_hat, c), c);
    s[0][i] = p;
  }
};

}  // namespace

template <class T>
void proxgen(const TensorList& list, const prox::ProxGenCoefficients<T>& c, const prox::SeparableProx* r,
             double clip) {
  const T bound = clip > 0 ? T(clip) : std::numeric_limits<T>::infinity();
  if (!r) return proxgen_k(list, c, Identity{}, bound);
  switch (r->kind) {
    case SeparableKind::l1: return proxgen_k(list, c, L1{}, bound);
    case SeparableKind::l0: return proxgen_k(list, c, L0{r->keep_at_tie}, bound);
    case SeparableKind::l12: return proxgen_k(list, c, L12{r->keep_at_tie}, bound);
    case SeparableKind::l23: return proxgen_k(list, c, L23{r->keep_at_tie}, bound);
    default: return proxgen_k(list, c, Generic{*r}, bound);
  }
}

template <class T>
void proxsgd(const TensorList& list, const prox::ProxSGDCoefficients<T>& c, const prox::SeparableProx* r) {
  launch<T>(list, ProxSgdOp<T>{c, r != nullptr, r ? *r : prox::SeparableProx{}});
}

PX_INSTANTIATE_PROX_STEPS(float)
PX_INSTANTIATE_PROX_STEPS(double)

}  // namespace px::optim::device
