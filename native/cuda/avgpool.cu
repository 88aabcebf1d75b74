// Global average pooling over each [hw] plane of x [n, c, hw] (activations) -> y [n, c] (float),
// and its backward. NCHW: a warp per plane; NHWC: a thread per (image, channel), consecutive
// threads on consecutive channels, so the strided walk over positions stays coalesced.
#include "impl.cuh"

namespace insalun::cuda {
namespace {

constexpr int kWarpsPerBlock = kThreads / 32;

// One warp per plane: coalesced reads of the plane, a shuffle reduction, one store.
template <typename T>
__global__ void avgpool_forward_kernel(const T* x, size_t planes, int hw, float* y) {
  const int lane = threadIdx.x & 31;
  const size_t stride = size_t(gridDim.x) * kWarpsPerBlock;
  for (size_t p = size_t(blockIdx.x) * kWarpsPerBlock + (threadIdx.x >> 5); p < planes; p += stride) {
    const T* plane = x + p * hw;
    float acc = 0.0f;
    for (int j = lane; j < hw; j += 32) acc += to_float(plane[j]);
    acc = warp_allsum(acc);
    if (lane == 0) y[p] = acc / float(hw);
  }
}

template <typename T>
__global__ void avgpool_forward_nhwc_kernel(const T* x, size_t planes, int c, int hw, float* y) {
  INSALUN_GRID_LOOP(p, planes) {  // p = image * c + channel, as y is laid out
    const size_t image = p / c, ch = p % c;
    const T* base = x + image * size_t(hw) * c + ch;
    float acc = 0.0f;
    for (int j = 0; j < hw; ++j) acc += to_float(base[size_t(j) * c]);
    y[p] = acc / float(hw);
  }
}

template <typename T, bool Nhwc>
__global__ void avgpool_backward_kernel(const float* dy, size_t total, int c, int hw, T* dx) {
  INSALUN_GRID_LOOP(i, total) {
    // NCHW: plane i / hw; NHWC: image i / (hw * c), channel i % c.
    const size_t plane = Nhwc ? (i / (size_t(hw) * c)) * c + i % c : i / hw;
    dx[i] = from_float<T>(dy[plane] / float(hw));
  }
}

}  // namespace

void CudaBackendImpl::avgpool_forward(const NormShape& s, const Act* x, float* y) {
  const LaunchScope op = open_op("avgpool_forward");
  const size_t planes = size_t(s.n) * s.c;
  if (planes == 0 || s.hw <= 0) return;
  const unsigned blocks = grid_for(planes, kWarpsPerBlock);
  dispatch([&](auto t, auto nhwc) {
    using T = decltype(t);
    if constexpr (decltype(nhwc)::value)
      INSALUN_LAUNCH(grid_for(planes), kThreads, 0, stream_, avgpool_forward_nhwc_kernel<T>)
    (as<T>(x), planes, s.c, s.hw, y);
    else INSALUN_LAUNCH(blocks, kThreads, 0, stream_, avgpool_forward_kernel<T>)(as<T>(x), planes, s.hw, y);
  });
  CUDA_CHECK_LAUNCH("avgpool_forward_kernel");
}

void CudaBackendImpl::avgpool_backward(const NormShape& s, const float* dy, Act* dx) {
  const LaunchScope op = open_op("avgpool_backward");
  if (s.size() == 0) return;
  dispatch([&](auto t, auto nhwc) {
    using T = decltype(t);
    INSALUN_LAUNCH(grid_for(s.size()), kThreads, 0, stream_, avgpool_backward_kernel<T, decltype(nhwc)::value>)
    (dy, s.size(), s.c, s.hw, as<T>(dx));
  });
  CUDA_CHECK_LAUNCH("avgpool_backward_kernel");
}

}  // namespace insalun::cuda
