// Elementwise ops over flat vectors, ReLU and the activation conversions, and the device-side sum.
// All memory-bound: grid-stride loops with consecutive threads on consecutive elements. Pointers
// may be offsets into the flat parameter vector (not 16-byte aligned), hence scalar loads.
#include "impl.cuh"

namespace insalun::cuda {
namespace {

__global__ void fill_kernel(float* x, float value, size_t n) { INSALUN_GRID_LOOP(i, n) x[i] = value; }

__global__ void axpy_kernel(float alpha, const float* x, float* y, size_t n) {
  INSALUN_GRID_LOOP(i, n) y[i] += alpha * x[i];
}

__global__ void lerp_kernel(const float* x0, const float* x1, float alpha, float* y, size_t n) {
  INSALUN_GRID_LOOP(i, n) y[i] = x0[i] + alpha * (x1[i] - x0[i]);
}

__global__ void mul_diff_kernel(const float* x1, const float* x0, float* y, size_t n) {
  INSALUN_GRID_LOOP(i, n) y[i] = (x1[i] - x0[i]) * y[i];
}

// out (NCHW float) <- activations of shape [n, c, hw] stored in T, NCHW or NHWC; and back.
// Edge conversions (tests, FGSM): one side of the NHWC transpose is strided, which is fine here.
template <typename T, bool Nhwc>
__global__ void activations_to_float_kernel(const T* a, float* out, int c, int hw, size_t total) {
  INSALUN_GRID_LOOP(i, total) out[i] = to_float(a[Nhwc ? channels_last_index(i, c, hw, c) : i]);
}

template <typename T, bool Nhwc>
__global__ void activations_from_float_kernel(const float* in, T* a, int c, int hw, size_t total) {
  INSALUN_GRID_LOOP(i, total) a[Nhwc ? channels_last_index(i, c, hw, c) : i] = from_float<T>(in[i]);
}

// v < 0 rather than fmaxf so that a NaN propagates, as through PyTorch's ReLU and on the CPU.
template <typename T>
__global__ void relu_forward_kernel(const T* x, T* y, size_t n) {
  INSALUN_GRID_LOOP(i, n) {
    const float v = to_float(x[i]);
    y[i] = from_float<T>(v < 0.0f ? 0.0f : v);
  }
}

template <typename T>
__global__ void relu_backward_kernel(const T* y, const T* dy, T* dx, size_t n) {
  INSALUN_GRID_LOOP(i, n) dx[i] = to_float(y[i]) > 0.0f ? dy[i] : from_float<T>(0.0f);
}

// Sum in one deterministic launch: per-block partials in double, added up in block order by the
// last block to finish (last_to_arrive). Double because these sums feed checks such as IG
// completeness over ~11M parameters.
__global__ void sum_kernel(const float* x, size_t n, double* partial, unsigned* arrivals, float* out) {
  INSALUN_SHARED(double, part, [32]);
  double acc = 0;
  INSALUN_GRID_LOOP(i, n) acc += x[i];
  acc = block_sum(acc, part);
  if (threadIdx.x == 0) partial[blockIdx.x] = acc;
  if (!last_to_arrive(arrivals, gridDim.x)) return;
  acc = 0;
  for (unsigned b = threadIdx.x; b < gridDim.x; b += blockDim.x) acc += __ldcg(partial + b);
  acc = block_sum(acc, part);
  if (threadIdx.x == 0) *out = float(acc);
}

}  // namespace

void CudaBackendImpl::fill(float* x, float value, size_t n) {
  const LaunchScope op = open_op("fill");
  if (n == 0) return;
  INSALUN_LAUNCH(grid_for(n), kThreads, 0, stream_, fill_kernel)(x, value, n);
  CUDA_CHECK_LAUNCH("fill_kernel");
}

void CudaBackendImpl::axpy(float alpha, const float* x, float* y, size_t n) {
  const LaunchScope op = open_op("axpy");
  if (n == 0) return;
  INSALUN_LAUNCH(grid_for(n), kThreads, 0, stream_, axpy_kernel)(alpha, x, y, n);
  CUDA_CHECK_LAUNCH("axpy_kernel");
}

void CudaBackendImpl::lerp(const float* x0, const float* x1, float alpha, float* y, size_t n) {
  const LaunchScope op = open_op("lerp");
  if (n == 0) return;
  INSALUN_LAUNCH(grid_for(n), kThreads, 0, stream_, lerp_kernel)(x0, x1, alpha, y, n);
  CUDA_CHECK_LAUNCH("lerp_kernel");
}

void CudaBackendImpl::mul_diff(const float* x1, const float* x0, float* y, size_t n) {
  const LaunchScope op = open_op("mul_diff");
  if (n == 0) return;
  INSALUN_LAUNCH(grid_for(n), kThreads, 0, stream_, mul_diff_kernel)(x1, x0, y, n);
  CUDA_CHECK_LAUNCH("mul_diff_kernel");
}

void CudaBackendImpl::activations_to_float(const NormShape& s, const Act* a, float* out) {
  const LaunchScope op = open_op("activations_to_float");
  if (s.size() == 0) return;
  dispatch([&](auto t, auto nhwc) {
    using T = decltype(t);
    INSALUN_LAUNCH(grid_for(s.size()), kThreads, 0, stream_, activations_to_float_kernel<T, decltype(nhwc)::value>)
    (as<T>(a), out, s.c, s.hw, s.size());
  });
  CUDA_CHECK_LAUNCH("activations_to_float_kernel");
}

void CudaBackendImpl::activations_from_float(const NormShape& s, const float* in, Act* a) {
  const LaunchScope op = open_op("activations_from_float");
  if (s.size() == 0) return;
  dispatch([&](auto t, auto nhwc) {
    using T = decltype(t);
    INSALUN_LAUNCH(grid_for(s.size()), kThreads, 0, stream_, activations_from_float_kernel<T, decltype(nhwc)::value>)
    (in, as<T>(a), s.c, s.hw, s.size());
  });
  CUDA_CHECK_LAUNCH("activations_from_float_kernel");
}

void CudaBackendImpl::relu_forward(const Act* x, Act* y, size_t n) {
  const LaunchScope op = open_op("relu_forward");
  if (n == 0) return;
  dispatch([&](auto t, auto) {  // elementwise: any layout
    using T = decltype(t);
    INSALUN_LAUNCH(grid_for(n), kThreads, 0, stream_, relu_forward_kernel<T>)(as<T>(x), as<T>(y), n);
  });
  CUDA_CHECK_LAUNCH("relu_forward_kernel");
}

void CudaBackendImpl::relu_backward(const Act* y, const Act* dy, Act* dx, size_t n) {
  const LaunchScope op = open_op("relu_backward");
  if (n == 0) return;
  dispatch([&](auto t, auto) {  // elementwise: any layout
    using T = decltype(t);
    INSALUN_LAUNCH(grid_for(n), kThreads, 0, stream_, relu_backward_kernel<T>)(as<T>(y), as<T>(dy), as<T>(dx), n);
  });
  CUDA_CHECK_LAUNCH("relu_backward_kernel");
}

void CudaBackendImpl::sum(const float* x, size_t n, float* out) {
  const LaunchScope op = open_op("sum");
  if (n == 0) {
    fill(out, 0.0f, 1);
    return;
  }
  const unsigned blocks = std::min(grid_for(n), 1024u);
  double* partial = static_cast<double*>(scratch(blocks * sizeof(double)));
  INSALUN_LAUNCH(blocks, kThreads, 0, stream_, sum_kernel)(x, n, partial, arrivals(1), out);
  CUDA_CHECK_LAUNCH("sum_kernel");
}

}  // namespace insalun::cuda
