// Elementwise loops over large arrays: split into one contiguous range per OpenMP thread,
// and compiled for AVX-512, AVX2 and baseline x86-64 with the best picked when the program
// loads (IMGCLS_VECTOR_CLONES), so a portable binary still runs them at full width.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>

#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__) && !defined(__clang__)
#define IMGCLS_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define IMGCLS_VECTOR_CLONES
#endif

namespace imgcls {

// Calls body(begin, end) over [0, count): on one thread below parallel_from elements,
// otherwise once per thread on contiguous ranges.
template <class Body>
void parallel_ranges(std::int64_t count, std::int64_t parallel_from, Body body) {
  if (count < parallel_from) {
    body(std::int64_t{0}, count);
    return;
  }
#pragma omp parallel
  {
    const std::int64_t threads = omp_get_num_threads(), t = omp_get_thread_num();
    const std::int64_t chunk = (count + threads - 1) / threads;
    const std::int64_t begin = std::min(count, t * chunk), end = std::min(count, begin + chunk);
    if (begin < end) body(begin, end);
  }
}

}  // namespace imgcls
