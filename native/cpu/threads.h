// The OpenMP thread queries of the CPU backend, with their one-thread answers when the addon is
// built without OpenMP (CMake warns when it finds none): the `#pragma omp` lines are then ignored
// and every loop runs on the calling thread, so the queries must say so too.
#pragma once

#ifdef _OPENMP
#include <omp.h>
#endif

namespace insalun::cpu {

// Threads a parallel region would start with.
inline int max_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

// This thread's index in the current team (0 outside a parallel region).
inline int thread_index() {
#ifdef _OPENMP
  return omp_get_thread_num();
#else
  return 0;
#endif
}

// Threads in the current team (1 outside a parallel region).
inline int team_size() {
#ifdef _OPENMP
  return omp_get_num_threads();
#else
  return 1;
#endif
}

}  // namespace insalun::cpu
