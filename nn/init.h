// Initialisers that fill existing tensors in place from a Generator (PyTorch's torch.nn.init).
#pragma once

#include <cstdint>
#include <string_view>

#include "proxima/core/generator.h"
#include "proxima/core/tensor.h"

namespace px::nn::init {

enum class FanMode { fan_in, fan_out };

// fan_in = size(1) * receptive field, fan_out = size(0) * receptive field, where the receptive
// field is the product of dims 2.. (as torch.nn.init._calculate_fan_in_and_fan_out); needs dim >= 2.
std::int64_t fan(const Tensor& t, FanMode mode);
// Gain of a non-linearity: "linear"/"conv2d"/"sigmoid" 1, "tanh" 5/3, "relu" sqrt(2),
// "leaky_relu" sqrt(2 / (1 + a^2)) (torch.nn.init.calculate_gain).
double calculate_gain(std::string_view nonlinearity, double a = 0.0);

// All of these run outside autograd and overwrite t's values; t keeps its handle.
void uniform_(const Tensor& t, double lo, double hi, Generator& gen);
void normal_(const Tensor& t, double mean, double std, Generator& gen);
void zeros_(const Tensor& t);
void ones_(const Tensor& t);
void constant_(const Tensor& t, double value);
// U(-b, b) with b = gain * sqrt(3 / fan), gain = calculate_gain(nonlinearity, a).
void kaiming_uniform_(const Tensor& t, Generator& gen, double a = 0.0, FanMode mode = FanMode::fan_in,
                      std::string_view nonlinearity = "leaky_relu");
// N(0, std^2) with std = gain / sqrt(fan).
void kaiming_normal_(const Tensor& t, Generator& gen, double a = 0.0, FanMode mode = FanMode::fan_in,
                     std::string_view nonlinearity = "leaky_relu");

}  // namespace px::nn::init
