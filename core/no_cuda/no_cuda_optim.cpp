// The CUDA optimizer kernels of a build without CUDA (optim/device_loop.h): every entry point throws.
#include "proxima/optim/device_loop.h"
#include "proxima/optim/prox/group_device.h"

namespace px::optim::device {
namespace {

[[noreturn]] void unavailable(const Device& device) {
  throw CudaUnavailableError(detail::str(
      "proxima was built without CUDA (PX_CUDA=OFF or CUDA not found): cannot run an optimizer step on ",
      device.str(), "; rebuild with -DPX_CUDA=ON or use Device::cpu()"));
}
[[noreturn]] void unavailable(const TensorList& list) { unavailable(list.device); }

}  // namespace

template <class T>
void sgd(const TensorList& list, const rules::SgdCoefficients<T>&, const SubgradientTerm&, const BinarizeStep&) {
  unavailable(list);
}
template <class T>
void adam(const TensorList& list, const rules::AdamCoefficients<T>&, const SubgradientTerm&, const BinarizeStep&) {
  unavailable(list);
}
template <class T>
void adagrad(const TensorList& list, const rules::AdagradCoefficients<T>&) { unavailable(list); }
template <class T>
void rmsprop(const TensorList& list, const rules::RmspropCoefficients<T>&) { unavailable(list); }
template <class T>
void proxgen(const TensorList& list, const prox::ProxGenCoefficients<T>&, const prox::SeparableProx*, double) {
  unavailable(list);
}
template <class T>
void proxsgd(const TensorList& list, const prox::ProxSGDCoefficients<T>&, const prox::SeparableProx*) {
  unavailable(list);
}

std::int64_t launch_count() { return 0; }

// group_device.h
void group_prox(const Tensor& theta, const Tensor*, double, const prox::GroupLayout&) { unavailable(theta.device()); }
void group_subgradient(const Tensor& theta, const Tensor&, const prox::GroupLayout&) { unavailable(theta.device()); }
void group_norms(const Tensor& theta, const Tensor&, const prox::GroupLayout&) { unavailable(theta.device()); }
void group_normalize(const Tensor& theta, const Tensor&, const prox::GroupLayout&) { unavailable(theta.device()); }
void scale_by(const Tensor& x, const Tensor&) { unavailable(x.device()); }
void scale(const Tensor& x, double) { unavailable(x.device()); }
template <class T>
void proxgen_thresholds(const TensorList& list, const prox::ProxGenCoefficients<T>&) { unavailable(list); }
template <class T>
void clip(const TensorList& list, double) { unavailable(list); }
template <class T>
void proxsgd_direction(const TensorList& list, const prox::ProxSGDCoefficients<T>&) { unavailable(list); }
template <class T>
void proxsgd_thresholds(const TensorList& list, const prox::ProxSGDCoefficients<T>&) { unavailable(list); }
template <class T>
void proxsgd_combine(const TensorList& list, const prox::ProxSGDCoefficients<T>&) { unavailable(list); }
template <class T>
void sr2_trial(const TensorList& list, const SR2TrialSettings&, const Tensor&) { unavailable(list); }
template <class T>
void sr2_andrei_sums(const TensorList& list, const Tensor&) { unavailable(list); }
template <class T>
void sr2_andrei_update(const TensorList& list, double) { unavailable(list); }

PX_INSTANTIATE_CLASSIC_STEPS(float)
PX_INSTANTIATE_CLASSIC_STEPS(double)
PX_INSTANTIATE_PROX_STEPS(float)
PX_INSTANTIATE_PROX_STEPS(double)
PX_INSTANTIATE_GROUP_PIECES(float)
PX_INSTANTIATE_GROUP_PIECES(double)
PX_INSTANTIATE_SR2_PIECES(float)
PX_INSTANTIATE_SR2_PIECES(double)

}  // namespace px::optim::device
