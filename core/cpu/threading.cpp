// px::set_num_threads / get_num_threads: the thread count of OpenMP loops and Eigen GEMM.
#include <omp.h>

#include <Eigen/Core>
#include <atomic>
#include <thread>

#include "proxima/core/backend.h"
#include "proxima/core/error.h"

namespace px {
namespace {

int default_threads() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

std::atomic<int>& thread_count() {
  static std::atomic<int> count{default_threads()};
  return count;
}

}  // namespace

// CONVENTION: every parallel region of the CPU backend passes num_threads(get_num_threads())
// explicitly, so the setting holds in every calling thread (omp_set_num_threads alone only
// changes the caller's ICV). Eigen itself always runs single-threaded (cpu_gemm.cpp splits
// large products across our threads), so threads are never oversubscribed.
void set_num_threads(int n) {
  PX_CHECK(n >= 1, ValueError, "set_num_threads: n = ", n, ", expected n >= 1");
  thread_count().store(n);
  omp_set_num_threads(n);
  Eigen::setNbThreads(1);
}

int get_num_threads() { return thread_count().load(); }

}  // namespace px
