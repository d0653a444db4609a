// Group lasso over a declared grouping of a tensor: R(theta) = sum_g ||theta_g||_2 and its block
// soft threshold, on CPU and CUDA tensors (CUDA: the per-group kernels of group_device.h).
//
// Block soft threshold (Yuan & Lin, JRSS-B 2006; PathProx, Yang et al. arXiv 2210.03069;
// ALGORITHMS.md §1.9), uniform threshold t on a block v:
//     P(v) = 0 if ||v|| <= t,   v (1 - t / ||v||) otherwise.
// Per-coordinate thresholds t_i (ProxGen's t_i = alpha lambda / d_i, a diagonal metric) have no
// closed form; the exact metric prox  argmin_x ||x|| + sum_i (x_i - v_i)^2 / (2 t_i)  is
//     x = 0 iff ||(v_i / t_i)_i|| <= 1,  else  x_i = v_i r / (r + t_i)
// with r = ||x|| > 0 the unique root of ||(v_i / (r + t_i))_i|| = 1 (decreasing in r; safeguarded
// Newton steps, group_root.h: 2-6 sums over the block). It reduces to the formula above when every t_i = t.
// Norms are computed with scaling (no overflow or underflow); a block containing +-inf is kept.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "proxima/core/tensor.h"

namespace px::optim::prox {

// Which slices of a weight tensor form the groups.
//   rows, filters:     theta[k, ...] (dim 0: output units of a linear layer, conv filters)
//   columns, channels: theta[:, k, ...] (dim 1: input units, input channels; PathProx's grouping)
//   whole:             the tensor is one group (any dim)
enum class Grouping : unsigned char { whole, rows, columns, filters, channels };

// "whole", "rows", "columns", "filters", "channels"; ValueError listing them otherwise.
Grouping parse_grouping(const std::string& name);
const char* grouping_name(Grouping grouping);

// The layout of the groups of a tensor of this shape: element (o, g, j) of group g lies at
// o * groups * inner + g * inner + j. ShapeError when the grouping needs more dims.
struct GroupLayout {
  std::int64_t outer = 1, groups = 1, inner = 1;
};
GroupLayout group_layout(const Shape& shape, Grouping grouping);

// Block prox of one group of n values gathered in z (in place), thresholds t (n values, or
// t == nullptr for the uniform threshold t_uniform). Double precision.
void block_prox(double* z, const double* t, double t_uniform, std::int64_t n);
// ||v||_2 with scaling.
double block_norm(const double* v, std::int64_t n);

// Tensor level, CPU or CUDA, float32/float64, contiguous theta (in place); t null = t_uniform everywhere,
// else same shape and dtype as theta.
void group_prox_(const Tensor& theta, const Tensor* t, double t_uniform, Grouping grouping);
double group_value(const Tensor& theta, Grouping grouping);
// ||theta_g|| of every group, in group order (any device: a CUDA theta is read from a host copy).
std::vector<double> group_norms(const Tensor& theta, Grouping grouping);
// CPU theta, in place: theta_g <- theta_g / ||theta_g|| (a zero or non-finite norm: unchanged);
// returns the factors 1 / ||theta_g|| (1 where unchanged), in group order.
std::vector<double> group_normalize_(const Tensor& theta, Grouping grouping);
// theta_g / ||theta_g|| for nonzero groups, 0 for zero groups (the minimum-norm subgradient).
Tensor group_subgradient(const Tensor& theta, Grouping grouping);

}  // namespace px::optim::prox
