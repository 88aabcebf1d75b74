// Loops that run on every OpenMP thread or on the calling thread alone, chosen at run time.
// `#pragma omp parallel if (false)` is not free: it opens a one-thread team whose closing barrier
// still makes a futex system call, and a training step at width 16 made ~20,000 of them (one set
// per convolution chunk), 9% of its time in the kernel. The sequential branch here is a plain loop.
#pragma once

namespace insalun::cpu {

// for i in [0, n): body(i), split over a new thread team when parallel.
template <typename Body>
void parallel_for(bool parallel, int n, Body body) {
  if (parallel) {
#pragma omp parallel for schedule(static)
    for (int i = 0; i < n; ++i) body(i);
  } else {
    for (int i = 0; i < n; ++i) body(i);
  }
}

// for i in [0, n): body(i), shared with the enclosing team (an orphaned worksharing loop with its
// closing barrier) when shared, else on the calling thread alone.
template <typename Body>
void shared_for(bool shared, int n, Body body) {
  if (shared) {
#pragma omp for schedule(static)
    for (int i = 0; i < n; ++i) body(i);
  } else {
    for (int i = 0; i < n; ++i) body(i);
  }
}

}  // namespace insalun::cpu
