// PX_HD marks scalar functions shared by host loops and CUDA kernels.
#pragma once

#if defined(__CUDACC__)
#define PX_HD __host__ __device__ inline
#else
#define PX_HD inline
#endif
