// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011): a
// counter-based generator, so any sample's random numbers are a pure function of
// (seed, epoch, index) and the CPU and CUDA backends draw exactly the same augmentation.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define INSALUN_HD __host__ __device__ __forceinline__
#else
#define INSALUN_HD inline
#endif

namespace insalun {

struct Philox4 {
  uint32_t v[4];
};

INSALUN_HD uint32_t mulhilo32(uint32_t a, uint32_t b, uint32_t* hi) {
  uint64_t p = uint64_t(a) * uint64_t(b);
  *hi = uint32_t(p >> 32);
  return uint32_t(p);
}

INSALUN_HD Philox4 philox4x32_10(Philox4 ctr, uint32_t key0, uint32_t key1) {
  const uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
  const uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, hi1;
    uint32_t lo0 = mulhilo32(kM0, ctr.v[0], &hi0);
    uint32_t lo1 = mulhilo32(kM1, ctr.v[2], &hi1);
    Philox4 next = {{hi1 ^ ctr.v[1] ^ key0, lo1, hi0 ^ ctr.v[3] ^ key1, lo0}};
    ctr = next;
    key0 += kW0;
    key1 += kW1;
  }
  return ctr;
}

// Random words for one sample of one epoch. `stream` separates independent uses (augmentation,
// labels, ...) of the same (seed, epoch, index).
INSALUN_HD Philox4 sample_random(uint64_t seed, uint32_t epoch, uint32_t index, uint32_t stream) {
  Philox4 ctr = {{index, epoch, stream, 0u}};
  return philox4x32_10(ctr, uint32_t(seed), uint32_t(seed >> 32));
}

// The augmentation of one sample: a crop offset in [0, 2*pad] on each axis and a flip bit.
struct Augmentation {
  int dy, dx;
  bool flip;
};

INSALUN_HD Augmentation sample_augmentation(uint64_t seed, uint32_t epoch, uint32_t index, int pad) {
  Philox4 r = sample_random(seed, epoch, index, 0u);
  const uint32_t span = uint32_t(2 * pad + 1);
  Augmentation a;
  a.dy = int(r.v[0] % span);
  a.dx = int(r.v[1] % span);
  a.flip = (r.v[2] & 1u) != 0u;
  return a;
}

}  // namespace insalun
