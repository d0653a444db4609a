// Host side of CUDA transfers, private to cuda/: the pinned-memory pool behind cuda::pinned_empty
// and the host-synchronisation counter behind cuda::host_sync_count.
#pragma once

#include <cstddef>

namespace px::cuda {

// Called by CudaBackend::copy_to_host and ::synchronize of device `index`; never throws.
void note_host_sync(int index) noexcept;

}  // namespace px::cuda
