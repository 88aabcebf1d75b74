// Loops that run on every OpenMP thread or on the calling thread alone, chosen at run time.
// `#pragma omp parallel if (false)` is not free: it opens a one-thread team whose closing barrier
// still makes a futex system call, and a training step at width 16 made ~20,000 of them (one set
// per convolution chunk), 9% of its time in the kernel. The sequential branch here is a plain loop.
#pragma once

#include <algorithm>

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

// Sums over the batch (filter gradients) are split into shares whose partials are added in share
// order. The number of shares depends on the shape alone, never on the thread count, so a result
// has the same bits at every OMP_NUM_THREADS (a sweep's workers at one thread each then match a
// serial run at the default count). Up to 8 shares keep 1, 2, 4 and 8 threads busy; each share
// covers at least kMinSharePositions output positions, since every share costs a pass over a
// partial as large as the weights (deep layers: many weights, few positions).
constexpr int kReductionShares = 8;
constexpr long long kMinSharePositions = 512;

inline int reduction_shares(int n, long long positions_per_image) {
  const long long by_work = std::max(1LL, static_cast<long long>(n) * positions_per_image / kMinSharePositions);
  return int(std::min({by_work, static_cast<long long>(kReductionShares), static_cast<long long>(std::max(n, 1))}));
}

// First item of share t of `shares` over [0, n): contiguous, sizes differing by at most one.
inline int share_begin(int n, int shares, int t) { return int(static_cast<long long>(n) * t / shares); }

}  // namespace insalun::cpu
