// Homogeneous units: shape checks, the Sequential-MLP derivation and the refusal messages.
#include "proxima/nn/homogeneous.h"

#include "proxima/core/error.h"
#include "proxima/nn/layers.h"
#include "proxima/nn/layers_simple.h"
#include "proxima/nn/module.h"
#include "proxima/nn/sequential.h"

namespace px::nn {

std::int64_t HomogeneousUnits::total_units() const {
  std::int64_t n = 0;
  for (const auto& g : groups) n += g.units();
  return n;
}

namespace {

void check_layer(const std::string& model, const UnitLayer& l) {
  PX_CHECK(l.weight.defined() && (l.weight.dim() == 2 || l.weight.dim() == 4), ValueError, model,
           ": homogeneous layer ", l.weight_name, " must have a 2-D or 4-D weight, got ",
           l.weight.defined() ? shape_str(l.weight.shape()) : std::string("none"));
  if (l.has_bias()) {
    PX_CHECK(l.bias.dim() == 1 && l.bias.size(0) == l.weight.size(0), ValueError, model, ": bias ", l.bias_name,
             " has shape ", shape_str(l.bias.shape()), ", expected [", l.weight.size(0), "] (", l.weight_name, ")");
  }
}

}  // namespace

void check_homogeneous_units(const HomogeneousUnits& u) {
  for (const auto& g : u.groups) {
    check_layer(u.model, g.w);
    check_layer(u.model, g.v);
    PX_CHECK(g.w.weight.dim() == g.v.weight.dim() && g.v.weight.size(1) == g.w.weight.size(0), ValueError, u.model,
             ": group (", g.w.weight_name, ", ", g.v.weight_name, "): V's input units must be W's outputs, got W ",
             shape_str(g.w.weight.shape()), " and V ", shape_str(g.v.weight.shape()));
  }
  std::int64_t previous = 0;
  for (const auto& o : u.others) {
    check_layer(u.model, o.layer);
    PX_CHECK(o.groups_before >= previous && o.groups_before <= static_cast<std::int64_t>(u.groups.size()),
             ValueError, u.model, ": other layer ", o.layer.weight_name, " has groups_before ", o.groups_before,
             ", expected non-decreasing values in [0, ", u.groups.size(), "]");
    previous = o.groups_before;
  }
}

namespace {

UnitLayer linear_layer(const std::string& prefix, Linear& fc) {
  UnitLayer l{.weight_name = prefix + "weight", .weight = fc.weight};
  if (fc.bias.defined()) {
    l.bias_name = prefix + "bias";
    l.bias = fc.bias;
  }
  return l;
}

bool homogeneous_layer(Module& m) {
  return dynamic_cast<ReLU*>(&m) || dynamic_cast<Flatten*>(&m) || dynamic_cast<Identity*>(&m) ||
         dynamic_cast<Dropout*>(&m);
}

// Why a model cannot be grouped: every BatchNorm / residual finding (the first layer of each), a
// Sequential layer the MLP derivation does not take, or "declares no units".
std::string refusal_reason(Module& model) {
  std::string bn, residual;
  for (const auto& [name, m] : model.named_modules()) {
    const std::string where = (name.empty() ? std::string("the model") : "layer \"" + name + "\"") + ", " + m->name();
    const std::string type = m->name();
    if (bn.empty() && dynamic_cast<BatchNorm*>(m)) bn = where;
    if (residual.empty() && (type == "BasicBlock" || type == "PadShortcut")) residual = where;
  }
  std::string why;
  if (!residual.empty()) why = "it has residual connections (" + residual + "): a skip path bypasses the units";
  if (!bn.empty()) {
    why += (why.empty() ? "" : "; ") + std::string("it has BatchNorm (") + bn +
           "): rescaling a unit changes the batch statistics, so balancing is not function-preserving";
  }
  if (!why.empty()) return why;
  if (auto* seq = dynamic_cast<Sequential*>(&model)) {
    for (std::int64_t i = 0; i < seq->size(); ++i) {
      Module& m = *seq->at(i);
      if (!dynamic_cast<Linear*>(&m) && !homogeneous_layer(m)) {
        return "layer \"" + std::to_string(i) + "\" (" + m.name() + ") is not a layer of a homogeneous MLP (a "
               "Sequential may hold only Linear and the positively homogeneous ReLU, Flatten, Identity, Dropout)";
      }
    }
    return "a Sequential needs at least two Linear layers to form a group";
  }
  return model.name() + " declares no homogeneous units (models with units: mlp, mlp:W..., mlp-factorized, "
         "vgg11-nobn ... vgg19-nobn)";
}

// Flatten / Linear / ReLU ... Sequential: Linear pairs (1, 2), (3, 4), ...; an unpaired last one is "other".
std::optional<HomogeneousUnits> sequential_units(Sequential& seq, const std::string& label) {
  std::vector<UnitLayer> linears;
  for (std::int64_t i = 0; i < seq.size(); ++i) {
    Module& m = *seq.at(i);
    if (auto* fc = dynamic_cast<Linear*>(&m)) {
      linears.push_back(linear_layer(std::to_string(i) + ".", *fc));
    } else if (!homogeneous_layer(m)) {
      return std::nullopt;
    }
  }
  if (linears.size() < 2) return std::nullopt;
  HomogeneousUnits u{.model = label};
  for (std::size_t i = 0; i + 1 < linears.size(); i += 2) u.groups.push_back({linears[i], linears[i + 1]});
  if (linears.size() % 2 == 1) {
    u.others.push_back({linears.back(), static_cast<std::int64_t>(u.groups.size())});
  }
  return u;
}

}  // namespace

HomogeneousUnits require_homogeneous_units(Module& model, const std::string& label) {
  const std::string who = label.empty() ? model.name() : label;
  std::optional<HomogeneousUnits> units = model.homogeneous_units();
  if (!units) {
    if (auto* seq = dynamic_cast<Sequential*>(&model)) units = sequential_units(*seq, who);
  }
  PX_CHECK(units.has_value(), ValueError, who, ": cannot be grouped into homogeneous units (PathProx): ",
           refusal_reason(model));
  PX_CHECK(!units->groups.empty(), ValueError, who, ": cannot be grouped into homogeneous units (PathProx): ",
           "it declares no group");
  if (units->model.empty()) units->model = who;
  check_homogeneous_units(*units);
  return *units;
}

}  // namespace px::nn
