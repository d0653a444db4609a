// HomogeneousUnits: a model's declaration of its positively homogeneous units (PathProx's groups).
//
// A homogeneous unit k of a group is a ReLU neuron (or conv channel) with input weights w_k and
// output weights v_k (ALGORITHMS.md §6.1, §6.3):
//   linear:  W [N, in],           w_k = W[k, :]        V [out, N],          v_k = V[:, k]
//   conv:    W [N, C, kh, kw],    w_k = W[k, :, :, :]  V [out, N, kh, kw],  v_k = V[:, k, :, :]
// Rescaling (w_k, b_k, v_k) -> (c w_k, c b_k, v_k / c), c > 0, leaves the network unchanged.
// The groups form a chain in forward order: W(1) -> act -> V(1) -> [act, pool, other layers] ->
// W(2) -> ... with positively homogeneous activations and pooling (ReLU, max/avg pool), no
// BatchNorm and no skip connection. "Other" layers are the conv/linear layers in no group; each
// records how many groups precede it, so a layer-wise balance knows which biases lie between
// V(g) and V(g+1) (they are scaled with V(g)'s outputs).
//
// A model declares its units with Module::homogeneous_units(); require_homogeneous_units also
// derives them for a Sequential of Flatten / Linear / ReLU (the zoo's MLPs), and otherwise throws
// px::ValueError naming the model and why it cannot be grouped.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "proxima/core/tensor.h"

namespace px::nn {

class Module;

// One conv or linear layer by parameter name: weight [out, in(, kh, kw)], optional bias [out].
struct UnitLayer {
  std::string weight_name{};
  Tensor weight{};
  std::string bias_name{};  // "" when the layer has no bias
  Tensor bias{};            // undefined when the layer has no bias
  bool has_bias() const { return bias.defined(); }
};

// The units of one group: W's outputs (rows, filters) are V's inputs (columns, channels).
struct HomogeneousGroup {
  UnitLayer w{};  // input weights of the units (and their biases b_k)
  UnitLayer v{};  // output weights of the units
  std::int64_t units() const { return w.weight.size(0); }
};

struct OtherLayer {
  UnitLayer layer{};
  std::int64_t groups_before = 0;  // groups whose V precedes this layer in forward order
};

struct HomogeneousUnits {
  std::string model{};                     // for messages, e.g. "mlp-factorized"
  std::vector<HomogeneousGroup> groups{};  // forward order
  std::vector<OtherLayer> others{};        // forward order
  std::int64_t total_units() const;
};

// Checks the shapes: W has 2 or 4 dims, V the same number, V.size(1) == W.size(0), biases [out];
// others sorted by groups_before in [0, groups.size()]. ValueError naming the layer otherwise.
void check_homogeneous_units(const HomogeneousUnits& units);

// The model's units: its homogeneous_units() override, or the derivation for a Sequential of
// Flatten / Linear / ReLU / Identity / Dropout (consecutive Linear pairs form the groups, an
// unpaired last Linear is an "other" layer). Throws ValueError "<label>: cannot be grouped into
// homogeneous units (PathProx): <why>" naming BatchNorm layers, residual blocks or a layer that
// is not positively homogeneous. `label` names the model in messages (default: model.name()).
HomogeneousUnits require_homogeneous_units(Module& model, const std::string& label = "");

}  // namespace px::nn
