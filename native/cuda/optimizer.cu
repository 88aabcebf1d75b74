// SGD over the whole flat parameter vector in one launch; the per-coordinate rule is
// core/sgd_rule.h, shared with the CPU backend.
#include "../core/sgd_rule.h"
#include "impl.cuh"

namespace insalun::cuda {
namespace {

// Packs of V coordinates (see load_pack); with V > 1 the n % V coordinates past the last whole
// pack are done one by one by the first threads of block 0.
template <MaskMode kMode, int V>
__global__ void sgd_kernel(SgdConfig c, float* w, const float* g, float* buf, const float* mask, size_t n,
                           bool first_step) {
  c.mask_mode = kMode;  // a compile-time constant: the mode branch folds away
  const bool has_buf = buf != nullptr;
  INSALUN_GRID_LOOP(p, n / V) {
    const size_t i = p * V;
    float wv[V], gv[V], bv[V] = {}, mv[V];
    load_pack<V>(w + i, wv);
    load_pack<V>(g + i, gv);
    if (has_buf) load_pack<V>(buf + i, bv);
    if constexpr (kMode != MaskMode::kNone) load_pack<V>(mask + i, mv);
#pragma unroll
    for (int j = 0; j < V; ++j)
      sgd_update(c, &wv[j], gv[j], &bv[j], kMode == MaskMode::kNone ? 1.0f : mv[j], first_step);
    store_pack<V>(w + i, wv);
    if (has_buf) store_pack<V>(buf + i, bv);
  }
  if constexpr (V > 1) {
    const size_t i = n / V * V + threadIdx.x;
    if (blockIdx.x == 0 && i < n)
      sgd_update(c, w + i, g[i], buf + i, kMode == MaskMode::kNone ? 1.0f : mask[i], first_step);
  }
}

template <MaskMode kMode>
void launch_sgd(bool packed, unsigned blocks, cudaStream_t stream, const SgdConfig& c, float* w, const float* g,
                float* buf, const float* mask, size_t n, bool first_step) {
  with_pack<float>(packed, [&](auto pack) {
    INSALUN_LAUNCH(blocks, kThreads, 0, stream, sgd_kernel<kMode, decltype(pack)::value>)
    (c, w, g, buf, mask, n, first_step);
  });
}

}  // namespace

void CudaBackendImpl::sgd_step(const SgdConfig& c, float* w, const float* g, float* momentum_buf, const float* mask,
                               size_t n, bool first_step) {
  const LaunchScope op = open_op("sgd_step");
  if (n == 0) return;
  if (c.mask_mode != MaskMode::kNone && !mask) throw std::invalid_argument("sgd_step: a masked step needs a mask");
  if (c.momentum != 0.0f && !momentum_buf) throw std::invalid_argument("sgd_step: momentum needs a momentum buffer");
  // Packs need all four operands 16-byte aligned (absent ones, null, are).
  const bool packed = vector_loads_ && aligned16({w, g, momentum_buf, mask});
  const unsigned blocks = grid_for(packed ? n / kPackOf<float> + 1 : n);
  switch (c.mask_mode) {
    case MaskMode::kNone:
      launch_sgd<MaskMode::kNone>(packed, blocks, stream_, c, w, g, momentum_buf, mask, n, first_step);
      break;
    case MaskMode::kGrad:
      launch_sgd<MaskMode::kGrad>(packed, blocks, stream_, c, w, g, momentum_buf, mask, n, first_step);
      break;
    case MaskMode::kHard:
      launch_sgd<MaskMode::kHard>(packed, blocks, stream_, c, w, g, momentum_buf, mask, n, first_step);
      break;
    default:
      throw std::invalid_argument("sgd_step: unknown mask mode");
  }
  CUDA_CHECK_LAUNCH("sgd_kernel");
}

}  // namespace insalun::cuda
