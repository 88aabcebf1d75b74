// Batch gather with augmentation: crop (zero padding) + horizontal flip keyed by Philox on
// (seed, epoch, dataset index), then normalization. The CUDA gather kernel reproduces this exactly.
#include <cmath>

#include "../core/philox.h"
#include "cpu_backend.h"

namespace insalun::cpu {

void CpuBackend::gather_batch(const DeviceDataset& d, const BatchSpec& spec, Act* xa, int32_t* labels) {
  float* x = f32(xa);
  const size_t plane = size_t(d.h) * d.w, image = plane * d.c;
#pragma omp parallel for schedule(static)
  for (int i = 0; i < spec.count; ++i) {
    const int index = spec.indices[i];
    labels[i] = spec.labels ? spec.labels[i] : d.labels[index];
    Augmentation a{spec.pad, spec.pad, false};  // identity crop
    if (spec.augment) a = sample_augmentation(spec.seed, spec.epoch, uint32_t(index), spec.pad);
    const uint8_t* src = d.images + size_t(index) * image;
    float* dst = x + size_t(i) * image;
    for (int c = 0; c < d.c; ++c) {
      const float scale = 1.0f / (255.0f * d.std[c]), shift = -d.mean[c] / d.std[c];
      for (int y = 0; y < d.h; ++y) {
        const int sy = y + a.dy - spec.pad;
        for (int xo = 0; xo < d.w; ++xo) {
          const int sx = (a.flip ? d.w - 1 - xo : xo) + a.dx - spec.pad;
          const bool inside = sy >= 0 && sy < d.h && sx >= 0 && sx < d.w;
          // Zero padding happens before normalization, as in torchvision's RandomCrop.
          const float raw = inside ? float(src[c * plane + size_t(sy) * d.w + sx]) : 0.0f;
          // One rounding, as the CUDA gather's fmaf: the two backends agree bit for bit.
          dst[c * plane + size_t(y) * d.w + xo] = std::fma(raw, scale, shift);
        }
      }
    }
  }
}

}  // namespace insalun::cpu
