// make_model: parses a model name and dispatches to the zoo's builders.
#include <cctype>
#include <sstream>

#include "proxima/nn/models/models.h"

namespace px::nn {

namespace {

void check_spec(const ModelSpec& spec) {
  PX_CHECK(spec.in_channels > 0, ValueError, "make_model: in_channels must be positive, got ", spec.in_channels);
  PX_CHECK(spec.image_size > 0, ValueError, "make_model: image_size must be positive, got ", spec.image_size);
  PX_CHECK(spec.num_classes > 0, ValueError, "make_model: num_classes must be positive, got ", spec.num_classes);
}

std::string known_names() {
  std::string out;
  for (const auto& n : model_names()) out += (out.empty() ? "" : ", ") + n;
  return out + ", mlp:W1,W2,..., mlp-factorized:H";
}

// "512,256" -> {512, 256}; throws on anything but positive integers separated by commas.
std::vector<std::int64_t> parse_widths(const std::string& name, const std::string& text) {
  std::vector<std::int64_t> widths;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    bool digits = !item.empty() && item.size() < 10;
    for (char ch : item) digits = digits && std::isdigit(static_cast<unsigned char>(ch));
    PX_CHECK(digits && std::stoll(item) > 0, ValueError, "make_model: bad hidden width \"", item, "\" in \"", name,
             "\"; expected mlp:W1,W2,... with positive integers");
    widths.push_back(std::stoll(item));
  }
  PX_CHECK(!widths.empty() && text.back() != ',', ValueError, "make_model: \"", name,
           "\" lists no hidden widths; expected mlp:W1,W2,...");
  return widths;
}

}  // namespace

std::vector<std::string> model_names() {
  return {"mlp",      "lenet5",   "vgg11",    "vgg13",     "vgg16",    "vgg19",   "resnet20",
          "resnet32", "resnet44", "resnet56", "resnet110", "resnet18", "resnet34",
          // PathProx's models (ALGORITHMS.md §6.3)
          "mlp-factorized", "vgg11-nobn", "vgg13-nobn", "vgg16-nobn", "vgg19-nobn"};
}

std::shared_ptr<Module> make_model(const std::string& name, const ModelSpec& spec, Generator& gen) {
  check_spec(spec);
  if (name == "mlp") return make_mlp({1000}, spec, gen);
  if (name.rfind("mlp:", 0) == 0) return make_mlp(parse_widths(name, name.substr(4)), spec, gen);
  if (name == "mlp-factorized") return make_mlp_factorized(400, spec, gen);
  if (name.rfind("mlp-factorized:", 0) == 0) {
    const auto widths = parse_widths(name, name.substr(15));
    PX_CHECK(widths.size() == 1, ValueError, "make_model: \"", name, "\" must give one hidden width, mlp-factorized:H");
    return make_mlp_factorized(widths[0], spec, gen);
  }
  if (name == "lenet5") return make_lenet5(spec, gen);
  for (std::int64_t depth : {11, 13, 16, 19})
    if (name == "vgg" + std::to_string(depth) + "-nobn") return make_vgg_nobn(depth, spec, gen);
  for (std::int64_t depth : {11, 13, 16, 19})
    if (name == "vgg" + std::to_string(depth)) return make_vgg(depth, spec, gen);
  for (std::int64_t depth : {20, 32, 44, 56, 110})
    if (name == "resnet" + std::to_string(depth)) return make_cifar_resnet(depth, spec, gen);
  for (std::int64_t depth : {18, 34})
    if (name == "resnet" + std::to_string(depth)) return make_resnet(depth, spec, gen);
  throw ValueError("make_model: unknown model \"" + name + "\"; known models: " + known_names());
}

}  // namespace px::nn
