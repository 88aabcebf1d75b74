// Batch gather from the resident uint8 dataset: crop with zero padding and horizontal flip keyed
// by Philox on (seed, epoch, dataset index), then normalization. Reproduces cpu/data.cpp value for
// value: the same Philox draw (core/philox.h is shared), the same coordinates, and the same
// normalization arithmetic raw * (1 / (255 * std)) + (-mean / std) written as one fma.
#include "../core/philox.h"
#include "impl.cuh"

namespace insalun::cuda {
namespace {

// One block per sample; its threads sweep the sample's c*h*w output values in order (coalesced
// stores, nearly coalesced loads). Each thread derives the sample's augmentation itself: ten
// Philox rounds cost less than a shared-memory handoff and its barrier.
template <typename T, bool Nhwc>
__global__ void gather_kernel(DeviceDataset d, const int32_t* indices, const int32_t* label_override, bool augment,
                              int pad, uint64_t seed, uint32_t epoch, T* x, int32_t* labels) {
  const int i = blockIdx.x;
  const int index = indices[i];
  const int plane = d.h * d.w, image = d.c * plane;
  T* dst = x + size_t(i) * image;
  if (index < 0 || index >= d.n) {
    // An index outside the dataset would fault the device; it yields a zero image and label -1.
    for (int p = threadIdx.x; p < image; p += blockDim.x) dst[p] = from_float<T>(0.0f);
    if (labels && threadIdx.x == 0) labels[i] = -1;
    return;
  }
  if (labels && threadIdx.x == 0) labels[i] = label_override ? label_override[i] : d.labels[index];
  Augmentation a{pad, pad, false};  // identity crop
  if (augment) a = sample_augmentation(seed, epoch, uint32_t(index), pad);
  const uint8_t* src = d.images + size_t(index) * image;
  for (int p = threadIdx.x; p < image; p += blockDim.x) {
    // p walks the output in its own order (coalesced stores): NCHW (c, y, x) or NHWC (y, x, c).
    int c, r;
    if constexpr (Nhwc)
      c = p % d.c, r = p / d.c;
    else
      c = p / plane, r = p - c * plane;
    const int y = r / d.w, xo = r - y * d.w;
    const int sy = y + a.dy - pad;
    const int sx = (a.flip ? d.w - 1 - xo : xo) + a.dx - pad;
    const bool inside = sy >= 0 && sy < d.h && sx >= 0 && sx < d.w;
    // Zero padding before normalization, as torchvision's RandomCrop does.
    const float raw = inside ? float(src[c * plane + sy * d.w + sx]) : 0.0f;
    const float scale = 1.0f / (255.0f * d.std[c]), shift = -d.mean[c] / d.std[c];
    dst[p] = from_float<T>(fmaf(raw, scale, shift));
  }
}

}  // namespace

void CudaBackendImpl::gather_batch(const DeviceDataset& d, const BatchSpec& spec, Act* x, int32_t* labels) {
  const LaunchScope op = open_op("gather_batch");
  if (spec.count <= 0) return;
  if (d.c <= 0 || d.h <= 0 || d.w <= 0) throw std::invalid_argument("gather_batch: empty images");
  // Without augmentation the pad is irrelevant; pass 0 so the identity crop needs no range check.
  const int pad = spec.augment ? spec.pad : 0;
  if (pad < 0) throw std::invalid_argument("gather_batch: negative pad");
  dispatch([&](auto t, auto nhwc) {
    using T = decltype(t);
    INSALUN_LAUNCH(unsigned(spec.count), kThreads, 0, stream_, gather_kernel<T, decltype(nhwc)::value>)
    (d, spec.indices, spec.labels, spec.augment, pad, spec.seed, spec.epoch, as<T>(x), labels);
  });
  CUDA_CHECK_LAUNCH("gather_kernel");
}

}  // namespace insalun::cuda
