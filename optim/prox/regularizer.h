// Regularizer: the policy a proximal optimizer applies to a tensor, value R(theta), prox with a
// per-coordinate threshold t, and a subgradient where one exists, plus make_regularizer(spec).
//
// In the objective F(theta) = loss + lambda * R(theta) (ALGORITHMS.md conventions 1-2), a
// proximal step computes, per coordinate,
//     theta_i <- P_r(z_i; t_i) = argmin_x  t_i r(x) + 1/2 (x - z_i)^2,   t_i = alpha lambda / (C_i + delta)
// (ensmallen's FBS penalties: value(x) and prox(x, step)). Scalar formulas and citations:
// scalar_prox.h (l1, l0, l1/2, l2/3, lq, squared l2), scalar_prox_penalties.h (MCP, SCAD,
// binary), group_prox.h (group lasso). CPU tensors, float32/float64; other devices throw
// DeviceError "... not implemented yet".
//
// Specs and their params (make_regularizer):
//   "l1" "l0" "l12" "l23" "lq:Q" (0 < Q < 1) "l2"          keys: keep_at_tie (bool, default false)
//   "mcp"   r = MCP_{lambda,gamma} / lambda                 keys: lambda (required, > 0: the
//           optimizer's lambda), gamma (default 3, Zhang 2010), keep_at_tie
//   "scad"  r = SCAD_{lambda,a} / lambda                    keys: lambda (required, > 0), a (default
//           3.7, Fan & Li 2001, must be > 2), keep_at_tie
//   "group" sum of block l2 norms                           keys: grouping (whole|rows|columns|
//           filters|channels, default filters: dim 0, units pruned whole)
//   "bin-l1" "bin-l12" "bin-l23" "bin-l0"  min(|x-1|,|x+1|)^q, q = 1, 1/2, 2/3, 0
//           keys: binary_zero (plus_one default | keep_zero, ProxQuant-code compatible | literal),
//           keep_at_tie
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "proxima/core/tensor.h"
#include "proxima/optim/optimizer.h"
#include "proxima/optim/prox/group_prox.h"
#include "proxima/optim/prox/separable_prox.h"

namespace px::optim::prox {

using RegularizerParams = std::map<std::string, GroupOption>;

class Regularizer {
 public:
  virtual ~Regularizer() = default;

  // The canonical spec ("l1", "lq:0.3", "mcp", ...).
  virtual std::string name() const = 0;
  // R(theta), accumulated in double.
  virtual double value(const Tensor& theta) const = 0;
  // theta <- prox in place (theta contiguous); t has theta's shape and dtype, entries >= 0.
  virtual void prox_(const Tensor& theta, const Tensor& t) const = 0;
  // The same with one threshold t >= 0 for every coordinate.
  virtual void prox_(const Tensor& theta, double t) const = 0;
  // Out-of-place forms (a contiguous copy of z, then prox_).
  Tensor prox(const Tensor& z, const Tensor& t) const;
  Tensor prox(const Tensor& z, double t) const;

  virtual bool has_subgradient() const = 0;
  // An element of the subdifferential of R at theta (see each family); ValueError when
  // has_subgradient() is false (l0, bin-l0).
  virtual Tensor subgradient(const Tensor& theta) const = 0;
};

// A coordinate-wise regulariser: the per-coordinate math is scalar() (usable in fused loops).
class SeparableRegularizer final : public Regularizer {
 public:
  SeparableRegularizer(std::string name, const SeparableProx& scalar);
  std::string name() const override { return name_; }
  const SeparableProx& scalar() const { return scalar_; }
  double value(const Tensor& theta) const override;
  void prox_(const Tensor& theta, const Tensor& t) const override;
  void prox_(const Tensor& theta, double t) const override;
  bool has_subgradient() const override { return scalar_.has_subgradient(); }
  Tensor subgradient(const Tensor& theta) const override;

 private:
  std::string name_;
  SeparableProx scalar_;
};

// Group lasso over a declared grouping (group_prox.h).
class GroupLassoRegularizer final : public Regularizer {
 public:
  explicit GroupLassoRegularizer(Grouping grouping) : grouping_(grouping) {}
  std::string name() const override { return "group"; }
  Grouping grouping() const { return grouping_; }
  double value(const Tensor& theta) const override { return group_value(theta, grouping_); }
  void prox_(const Tensor& theta, const Tensor& t) const override;
  void prox_(const Tensor& theta, double t) const override { group_prox_(theta, nullptr, t, grouping_); }
  bool has_subgradient() const override { return true; }
  Tensor subgradient(const Tensor& theta) const override { return group_subgradient(theta, grouping_); }

 private:
  Grouping grouping_;
};

// The spec names make_regularizer knows ("lq:Q" written as such).
std::vector<std::string> regularizer_names();

// Builds a regulariser from its spec (see the list above). ValueError for an unknown spec
// (listing the known ones), an unknown or mistyped key (listing the keys that spec reads), or a
// parameter out of range.
std::unique_ptr<Regularizer> make_regularizer(const std::string& spec, const RegularizerParams& params = {});

}  // namespace px::optim::prox
