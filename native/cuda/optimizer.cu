// SGD with PyTorch semantics over the whole flat parameter vector in one launch (method.md
// section 3; mirrors cpu/ops.cpp):
//   g' = (g + l1 * sign(w)) * (mask if kGrad) + wd * w
//   buf = first_step ? g' : mu * buf + g'          (only when mu != 0, as torch.optim.SGD)
//   w  -= lr * (nesterov ? g' + mu * buf : buf)     (g' itself when mu == 0)
// kHard: where mask == 0 nothing changes, neither w nor buf.
#include "impl.cuh"

namespace insalun::cuda {
namespace {

template <MaskMode kMode>
__global__ void sgd_kernel(SgdConfig c, float* w, const float* g, float* buf, const float* mask,
                           size_t n, bool first_step) {
  INSALUN_GRID_LOOP(i, n) {
    if (kMode == MaskMode::kHard && mask[i] == 0.0f) continue;  // frozen coordinate
    const float sign = w[i] > 0.0f ? 1.0f : (w[i] < 0.0f ? -1.0f : 0.0f);
    const float loss_grad = g[i] + c.l1 * sign;
    const float gi = (kMode == MaskMode::kGrad ? loss_grad * mask[i] : loss_grad) + c.weight_decay * w[i];
    float update = gi;
    if (c.momentum != 0.0f) {
      const float b = first_step ? gi : c.momentum * buf[i] + gi;
      buf[i] = b;
      update = c.nesterov ? gi + c.momentum * b : b;
    }
    w[i] -= c.lr * update;
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
