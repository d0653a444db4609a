// Eigen for CPU-backend sources, with GCC 12's false-positive AVX-512 warning silenced.
#pragma once

// GCC 12 reports "'__Y' may be used uninitialized" inside its own AVX-512 intrinsic headers
// when Eigen's packet math is instantiated with -march=native. The warning is emitted at
// instantiation time (end of the including file), so it is switched off for that file.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <Eigen/Core>
