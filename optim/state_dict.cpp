// Optimizer::state_dict / load_state_dict: the per-parameter state as ordered named tensors.
#include <algorithm>
#include <charconv>
#include <map>

#include "proxima/core/ops.h"
#include "proxima/optim/optimizer.h"

namespace px::optim {
namespace {

struct StateKey {
  std::size_t group = 0, index = 0;
  std::string entry;
};

// Parses "group<g>.param<i>.<entry>"; false when the key has another form.
bool parse_key(const std::string& key, StateKey& out) {
  auto read_number = [&](std::size_t& pos, const char* prefix, std::size_t& value) {
    const std::string p(prefix);
    if (key.compare(pos, p.size(), p) != 0) return false;
    pos += p.size();
    const char* begin = key.data() + pos;
    const char* end = key.data() + key.size();
    auto [ptr, ec] = std::from_chars(begin, end, value);
    if (ec != std::errc() || ptr == begin || ptr == end || *ptr != '.') return false;
    pos = static_cast<std::size_t>(ptr - key.data()) + 1;
    return true;
  };
  std::size_t pos = 0;
  if (!read_number(pos, "group", out.group) || !read_number(pos, "param", out.index)) return false;
  out.entry = key.substr(pos);
  return !out.entry.empty();
}

}  // namespace

NamedTensors Optimizer::state_dict() const {
  NamedTensors out;
  for (std::size_t g = 0; g < state_.size(); ++g)
    for (std::size_t i = 0; i < state_[g].size(); ++i)
      for (const auto& [entry, value] : state_[g][i].entries())
        out.emplace_back(detail::str("group", g, ".param", i, ".", entry), value.clone());
  return out;
}

void Optimizer::load_state_dict(const NamedTensors& state) {
  const std::string who = name() + ": load_state_dict";
  const auto spec = state_spec();
  // Check everything first, so a bad dict leaves the optimizer unchanged.
  std::vector<std::vector<std::map<std::string, Tensor>>> loaded(state_.size());
  for (std::size_t g = 0; g < state_.size(); ++g) loaded[g].resize(state_[g].size());
  for (const auto& [key, value] : state) {
    StateKey k;
    PX_CHECK(parse_key(key, k), ValueError, who, ": key '", key,
             "' is not of the form group<g>.param<i>.<entry>");
    PX_CHECK(k.group < state_.size() && k.index < state_[k.group].size(), ValueError, who, ": key '",
             key, "' names a parameter this optimizer does not have (", state_.size(), " groups)");
    auto s = std::find_if(spec.begin(), spec.end(), [&](const auto& e) { return e.name == k.entry; });
    PX_CHECK(s != spec.end(), ValueError, who, ": key '", key, "': ", name(),
             " with these options has no state entry '", k.entry, "'");
    PX_CHECK(value.defined(), ValueError, who, ": key '", key, "' holds an undefined tensor");
    const Tensor& p = groups_[k.group].params[k.index];
    const bool per_coordinate = s->kind == StateKind::per_coordinate;
    const Shape want_shape = per_coordinate ? p.shape() : Shape{};
    const DType want_dtype = per_coordinate ? p.dtype()
                             : s->kind == StateKind::count ? DType::int64
                                                           : DType::float64;
    PX_CHECK(value.shape() == want_shape, ShapeError, who, ": '", key, "' has shape ",
             shape_str(value.shape()), ", expected ", shape_str(want_shape), " for ",
             param_label(k.group, k.index));
    PX_CHECK(value.dtype() == want_dtype, DTypeError, who, ": '", key, "' has dtype ",
             dtype_name(value.dtype()), ", expected ", dtype_name(want_dtype));
    PX_CHECK(loaded[k.group][k.index].emplace(k.entry, value).second, ValueError, who, ": key '", key,
             "' appears twice");
  }
  for (std::size_t g = 0; g < loaded.size(); ++g)
    for (std::size_t i = 0; i < loaded[g].size(); ++i) {
      if (loaded[g][i].empty()) continue;
      for (const auto& e : spec)
        PX_CHECK(loaded[g][i].count(e.name), ValueError, who, ": missing 'group", g, ".param", i, ".",
                 e.name, "' (", param_label(g, i), " has other state entries, so it needs all of them)");
    }
  // Commit: fresh copies, per-coordinate entries on the parameter's device, scalars on the CPU.
  for (std::size_t g = 0; g < loaded.size(); ++g)
    for (std::size_t i = 0; i < loaded[g].size(); ++i) {
      ParamState& target = state_[g][i];
      target.clear();
      if (loaded[g][i].empty()) continue;
      for (const auto& e : spec) {
        const Tensor& src = loaded[g][i].at(e.name);
        const Device device =
            e.kind == StateKind::per_coordinate ? groups_[g].params[i].device() : Device::cpu();
        Tensor copy = src.device() == device ? src.clone() : src.to(device).contiguous();
        if (copy.is_same(src)) copy = src.clone();
        target.set(e.name, copy);
      }
    }
}

}  // namespace px::optim
