// Public switches of the CUDA backend (this header includes no CUDA header).
#pragma once

namespace px::cuda {

// TF32 tensor cores for float32 matmul (on by default, as cuBLAS allows on Ampere+):
// ~10 bits of mantissa in the products, much faster. Turn off for full float32 precision.
void set_allow_tf32(bool allow);
bool allow_tf32();

// Returns every cached (free) block of the caching allocator of device `index` to the
// driver. Memory held by live tensors is not touched.
void empty_cache(int index = 0);

}  // namespace px::cuda
