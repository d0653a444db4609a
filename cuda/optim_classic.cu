// CUDA entry points of optim/device_loop.h for the classic rules (SGD, Adam/AdamW/AMSGrad,
// AdaGrad, RMSprop), with the subgradient baselines' augmented gradient and BinaryConnect's
// latent-weight binarisation fused into the SGD and Adam kernels.
#include "proxima/cuda/multi_tensor.cuh"
#include "proxima/optim/prox/smoothed_subgradient.h"

namespace px::cuda::multi_tensor {

std::atomic<std::int64_t>& launches() {
  static std::atomic<std::int64_t> count{0};
  return count;
}

}  // namespace px::cuda::multi_tensor

namespace px::optim::device {
namespace {

using cuda::multi_tensor::launch;

// g, or g + lambda * smoothed dr(p) (subgradient baselines), as the CPU loop computes it.
template <class T>
__device__ T augmented(T g, T p, const SubgradientTerm& term) {
  return term.active ? g + T(term.lambda * prox::smoothed_subgradient(term.r, double(p), term.smoothing)) : g;
}

// latent <- clip(latent), param <- sgn(latent) with sgn(0) = +1 (BinaryConnect).
template <class T>
__device__ void binarize(T& latent, T& param, const BinarizeStep& bin) {
  const T hi = T(bin.clip), lo = T(-bin.clip);
  latent = latent > hi ? hi : (latent < lo ? lo : latent);
  param = latent < T(0) ? T(-1) : T(1);
}

template <class T>
struct SgdOp {
  rules::SgdCoefficients<T> c;
  SubgradientTerm term;
  BinarizeStep bin;
  __device__ void operator()(T* const* s, std::int64_t i) const {
    T unused = 0;
    T p = s[0][i];
    rules::sgd_update(p, augmented(s[1][i], p, term), s[2] ? s[2][i] : unused, c);
    if (bin.binarize) binarize(p, s[4][i], bin);
    s[0][i] = p;
  }
};

template <class T>
struct AdamOp {
  rules::AdamCoefficients<T> c;
  SubgradientTerm term;
  BinarizeStep bin;
  __device__ void operator()(T* const* s, std::int64_t i) const {
    T unused = 0;
    T p = s[0][i];
    rules::adam_update(p, augmented(s[1][i], p, term), s[2][i], s[3][i], c.amsgrad ? s[4][i] : unused, c);
    if (bin.binarize) binarize(p, s[4][i], bin);
    s[0][i] = p;
  }
};

template <class T>
struct AdagradOp {
  rules::AdagradCoefficients<T> c;
  __device__ void operator()(T* const* s, std::int64_t i) const { rules::adagrad_update(s[0][i], s[1][i], s[2][i], c); }
};

template <class T>
struct RmspropOp {
  rules::RmspropCoefficients<T> c;
  __device__ void operator()(T* const* s, std::int64_t i) const {
    T unused_ga = 0, unused_buf = 0;
    rules::rmsprop_update(s[0][i], s[1][i], s[2][i], s[3] ? s[3][i] : unused_ga, s[4] ? s[4][i] : unused_buf, c);
  }
};

}  // namespace

template <class T>
void sgd(const TensorList& list, const rules::SgdCoefficients<T>& c, const SubgradientTerm& term,
         const BinarizeStep& bin) {
  launch<T>(list, SgdOp<T>{c, term, bin});
}

template <class T>
void adam(const TensorList& list, const rules::AdamCoefficients<T>& c, const SubgradientTerm& term,
          const BinarizeStep& bin) {
  PX_CHECK(!(c.amsgrad && bin.binarize), ValueError, "adam kernel: amsgrad and binarize share slot 4");
  launch<T>(list, AdamOp<T>{c, term, bin});
}

template <class T>
void adagrad(const TensorList& list, const rules::AdagradCoefficients<T>& c) {
  launch<T>(list, AdagradOp<T>{c});
}

template <class T>
void rmsprop(const TensorList& list, const rules::RmspropCoefficients<T>& c) {
  launch<T>(list, RmspropOp<T>{c});
}

std::int64_t launch_count() { return cuda::multi_tensor::launches().load(); }

PX_INSTANTIATE_CLASSIC_STEPS(float)
PX_INSTANTIATE_CLASSIC_STEPS(double)

}  // namespace px::optim::device
