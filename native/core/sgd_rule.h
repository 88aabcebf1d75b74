// One coordinate of the masked SGD step (PyTorch semantics, docs/method.md sections 3 and 5), shared
// by the CPU loop and the CUDA kernel so both backends run the same arithmetic:
//   g  = grad + l1 * sign(w), times the mask in kGrad mode
//   g' = g + wd * w
//   buf = first_step ? g' : mu * buf + g'           (only when mu != 0, as torch.optim.SGD)
//   w  -= lr * (nesterov ? g' + mu * buf : buf)      (g' itself when mu == 0)
// kHard: where mask == 0 nothing changes, neither w nor buf.
#pragma once

#include "backend.h"
#include "philox.h"  // INSALUN_HD

namespace insalun {

INSALUN_HD void sgd_update(const SgdConfig& c, float* w, float grad, float* buf, float mask, bool first_step) {
  if (c.mask_mode == MaskMode::kHard && mask == 0.0f) return;  // frozen coordinate
  const float sign = *w > 0.0f ? 1.0f : (*w < 0.0f ? -1.0f : 0.0f);
  const float loss_grad = grad + c.l1 * sign;
  const float g = (c.mask_mode == MaskMode::kGrad ? loss_grad * mask : loss_grad) + c.weight_decay * *w;
  float update = g;
  if (c.momentum != 0.0f) {
    const float b = first_step ? g : c.momentum * *buf + g;
    *buf = b;
    update = c.nesterov ? g + c.momentum * b : b;
  }
  *w -= c.lr * update;
}

}  // namespace insalun
