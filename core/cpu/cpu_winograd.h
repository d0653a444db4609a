// Private Winograd F(2x2,3x3) convolution of the CPU backend (3x3, stride 1, padding 1): forward and both backwards.
#pragma once

#include <cstdint>

#include "proxima/core/backend.h"
#include "proxima/core/cpu/cpu_im2col.h"

namespace px::cpu {

// Whether conv2d takes the Winograd path for this convolution: 3x3 filters, stride 1, padding 1,
// dilation 1, one group (the output plane is the input plane), and the measured rule on the
// channels and the plane size (cpu_winograd.cpp). The same rule serves the three directions.
bool winograd_applies(const ConvGeometry& g, const Conv2dParams& prm);

// The three directions for a geometry that winograd_applies accepts up to the measured rule
// (3x3, stride 1, padding 1, dilation 1, groups 1; any channel counts and plane sizes >= 1):
//   forward:          out [N, K, H, W] = conv(x [N, C, H, W], w [K, C, 3, 3])
//   backward-input:   grad_x [N, C, H, W] from grad_out [N, K, H, W] and w
//   backward-weight:  grad_w [K, C, 3, 3] (overwritten) from grad_out and x
// Several threads (px::get_num_threads(), outside an OpenMP region) split the batch; the
// backward-weight sums the threads' partial sums in thread order, so results do not depend on timing.
template <class T>
void winograd_forward(const T* x, const T* w, T* out, const ConvGeometry& g);
template <class T>
void winograd_backward_input(const T* grad_out, const T* w, T* grad_x, const ConvGeometry& g);
template <class T>
void winograd_backward_weight(const T* grad_out, const T* x, T* grad_w, const ConvGeometry& g);

}  // namespace px::cpu
