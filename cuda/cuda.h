// Public switches of the CUDA backend (this header includes no CUDA header).
#pragma once

#include <cstddef>

#include "proxima/core/tensor.h"

namespace px::cuda {

// TF32 tensor cores for float32 matmul and convolution (on by default, as cuBLAS allows on Ampere+):
// ~10 bits of mantissa in the products, much faster. Turn off for full float32 precision.
void set_allow_tf32(bool allow);
bool allow_tf32();

// Returns every cached (free) block of the caching allocator of device `index` to the
// driver. Memory held by live tensors is not touched.
void empty_cache(int index = 0);

// Sets the peak of memory_stats(cuda:index) to the bytes in use now, so that the next reading
// of peak_bytes is the high-water mark since this call.
void reset_peak_memory_stats(int index = 0);

// cuDNN convolutions pick their algorithm per shape on first use and cache it: by a timed search
// (the fastest, like PyTorch's cudnn.benchmark), or, when set_deterministic_algorithms(true)
// (default false, as PyTorch's cudnn.deterministic), by cuDNN's heuristics restricted to
// deterministic algorithms, so that every process picks the same algorithm for a shape (a timed
// choice can differ between a run and its resumed or repeated run); DeviceError when a shape has
// no deterministic algorithm. PX_CUDA_CONV_LOG=1 prints each choice to stderr. The workspace an
// algorithm may use is at most min(this limit, a quarter of the free device memory);
// default 1 GiB. Changing it affects shapes searched afterwards only.
void set_conv_workspace_limit(std::size_t bytes);
std::size_t conv_workspace_limit();
// Number of entries (device, direction, dtype, TF32, shapes, parameters) in that cache.
std::size_t conv_algorithm_cache_size();
void set_deterministic_algorithms(bool on);
bool deterministic_algorithms();

// ---- pinned host memory (cuda/host_memory.cpp; stubs in core/no_cuda/no_cuda_switches.cpp) ----
// CONVENTION (lifetime): pinned_empty returns an ordinary CPU tensor (every CPU op works on it)
// whose storage is page-locked, so that `.to(cuda:N)` from it is a cudaMemcpyAsync on cuda:N's
// stream that returns at once and runs later, in stream order. Its bytes must not change until
// that copy has run: fill a pinned tensor, enqueue its copies, drop it, and never write into it
// again. Dropping it is always safe: its block goes back to a pool with an event recorded on
// `device`'s stream at the drop, and the pool hands the block out again only after that event
// has completed (after every copy enqueued before the drop). data::LoaderOptions::allocate uses
// it so that the loader thread fills pinned batches. Without CUDA: CudaUnavailableError.
Tensor pinned_empty(const Shape& shape, DType dtype, Device device);
// True when t's storage came from pinned_empty (always false without CUDA).
bool is_pinned(const Tensor& t);

// Test hook: host synchronisations of cuda:index so far (copy_to_host and synchronize calls;
// item(), to_vector() and .to(cpu) are copy_to_host). 0 without CUDA.
std::size_t host_sync_count(int index = 0);

}  // namespace px::cuda
