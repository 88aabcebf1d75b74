// SGD over the whole flat parameter vector in one launch; the per-coordinate rule is
// core/sgd_rule.h, shared with the CPU backend.
#include "../core/sgd_rule.h"
#include "impl.cuh"

namespace insalun::cuda {
namespace {

template <MaskMode kMode>
__global__ void sgd_kernel(SgdConfig c, float* w, const float* g, float* buf, const float* mask,
                           size_t n, bool first_step) {
  c.mask_mode = kMode;  // a compile-time constant: the mode branch folds away
  INSALUN_GRID_LOOP(i, n) {
    sgd_update(c, w + i, g[i], buf + i, kMode == MaskMode::kNone ? 1.0f : mask[i], first_step);
  }
}

}  // namespace

void CudaBackendImpl::sgd_step(const SgdConfig& c, float* w, const float* g, float* momentum_buf,
                               const float* mask, size_t n, bool first_step) {
  if (n == 0) return;
  if (c.mask_mode != MaskMode::kNone && !mask)
    throw std::invalid_argument("sgd_step: a masked step needs a mask");
  if (c.momentum != 0.0f && !momentum_buf)
    throw std::invalid_argument("sgd_step: momentum needs a momentum buffer");
  const unsigned blocks = grid_for(n);
  switch (c.mask_mode) {
    case MaskMode::kNone:
      sgd_kernel<MaskMode::kNone><<<blocks, kThreads, 0, stream_>>>(c, w, g, momentum_buf, mask,
                                                                    n, first_step);
      break;
    case MaskMode::kGrad:
      sgd_kernel<MaskMode::kGrad><<<blocks, kThreads, 0, stream_>>>(c, w, g, momentum_buf, mask,
                                                                    n, first_step);
      break;
    case MaskMode::kHard:
      sgd_kernel<MaskMode::kHard><<<blocks, kThreads, 0, stream_>>>(c, w, g, momentum_buf, mask,
                                                                    n, first_step);
      break;
    default:
      throw std::invalid_argument("sgd_step: unknown mask mode");
  }
  CUDA_CHECK_LAUNCH("sgd_kernel");
}

}  // namespace insalun::cuda
