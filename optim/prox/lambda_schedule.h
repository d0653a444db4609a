// LambdaSchedule: the factor a proximal optimizer's lambda is multiplied by, per epoch and step
// (ProxOptimizer::set_lambda_scale), parsed from a string spec.
//
// With e the 0-based epoch index and f in [0, 1] the fraction of epoch e already done:
//   "constant"    scale = 1
//   "warmup:E"    scale = min(1, (e + f) / E), E > 0 epochs: lambda rises linearly (per step) from
//                 0 at the start of training to its full value after E epochs.
//   "homotopy"    scale = e, constant within an epoch (ProxQuant, Bai, Wang & Liberty, ICLR 2019;
//                 ALGORITHMS.md §3.2): lambda_e = lambda * e, so the optimizer's lambda plays
//                 ProxQuant's reg_rate and epoch 0 applies no prox.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace px::optim::prox {

class LambdaSchedule {
 public:
  enum class Kind : unsigned char { constant, warmup, homotopy };

  // "constant".
  LambdaSchedule() = default;
  // ValueError listing the known forms for an unknown spec or a bad E.
  static LambdaSchedule parse(const std::string& spec);
  static LambdaSchedule constant() { return {}; }
  static LambdaSchedule warmup(double epochs);  // epochs > 0 and finite
  static LambdaSchedule homotopy();

  // The scale for epoch `epoch` (>= 0) at `fraction_of_epoch` (in [0, 1]); ValueError otherwise.
  double scale(std::int64_t epoch, double fraction_of_epoch = 0) const;

  Kind kind() const { return kind_; }
  double warmup_epochs() const { return warmup_epochs_; }
  // The canonical spec ("constant", "warmup:5", "homotopy").
  std::string spec() const;
  // The forms parse() accepts, for messages and --help: {"constant", "warmup:E", "homotopy"}.
  static std::vector<std::string> known_forms();

 private:
  Kind kind_ = Kind::constant;
  double warmup_epochs_ = 0;
};

}  // namespace px::optim::prox
