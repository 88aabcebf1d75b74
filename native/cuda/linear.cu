// The classifier layer y[n, out] = x[n, in] w[out, in]^T + b and its backward. The matrices are
// small (n <= ~1024, in <= 512, out ~ 10-100), so a shared-memory tiled GEMM is plenty; no cuBLAS.
#include "impl.cuh"

namespace insalun::cuda {
namespace {

constexpr int kTile = 16;

// C[M, N] = A'[M, K] B'[K, N] (+ bias[N]), all row-major, where
//   A'[m][k] = TA ? A[k * M + m] : A[m * K + k],   B'[k][n] = TB ? B[n * K + k] : B[k * N + n].
// Each 16x16 block computes one output tile. Tiles are loaded so that consecutive threads read
// consecutive addresses whichever way the operand is stored; the +1 column avoids bank conflicts
// on the transposed stores.
template <bool TA, bool TB>
__global__ void gemm_tile_kernel(int M, int N, int K, const float* A, const float* B, const float* bias, float* C) {
  INSALUN_SHARED(float, As, [kTile][kTile + 1]);  // [m][k]
  INSALUN_SHARED(float, Bs, [kTile][kTile + 1]);  // [k][n]
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int m0 = blockIdx.y * kTile, n0 = blockIdx.x * kTile;
  float acc = 0.0f;
  for (int k0 = 0; k0 < K; k0 += kTile) {
    if (!TA) {
      const int m = m0 + ty, k = k0 + tx;
      As[ty][tx] = (m < M && k < K) ? A[size_t(m) * K + k] : 0.0f;
    } else {
      const int m = m0 + tx, k = k0 + ty;
      As[tx][ty] = (m < M && k < K) ? A[size_t(k) * M + m] : 0.0f;
    }
    if (!TB) {
      const int k = k0 + ty, n = n0 + tx;
      Bs[ty][tx] = (k < K && n < N) ? B[size_t(k) * N + n] : 0.0f;
    } else {
      const int n = n0 + ty, k = k0 + tx;
      Bs[tx][ty] = (k < K && n < N) ? B[size_t(n) * K + k] : 0.0f;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kTile; ++kk) acc += As[ty][kk] * Bs[kk][tx];
    __syncthreads();
  }
  const int m = m0 + ty, n = n0 + tx;
  if (m < M && n < N) C[size_t(m) * N + n] = bias ? bias[n] + acc : acc;
}

template <bool TA, bool TB>
void gemm(cudaStream_t stream, int M, int N, int K, const float* A, const float* B, const float* bias, float* C) {
  const dim3 block(kTile, kTile);
  const dim3 grid((N + kTile - 1) / kTile, (M + kTile - 1) / kTile);
  INSALUN_LAUNCH(grid, block, 0, stream, gemm_tile_kernel<TA, TB>)(M, N, K, A, B, bias, C);
  CUDA_CHECK_LAUNCH("gemm_tile_kernel");
}

// db[o] = sum over rows of dy[:, o]: one block per output column.
__global__ void column_sum_kernel(const float* dy, int rows, int cols, float* db) {
  INSALUN_SHARED(float, part, [32]);
  const int o = blockIdx.x;
  float acc = 0.0f;
  for (int i = threadIdx.x; i < rows; i += blockDim.x) acc += dy[size_t(i) * cols + o];
  acc = block_sum(acc, part);
  if (threadIdx.x == 0) db[o] = acc;
}

void check_dims(int n, int in, int out, const char* op) {
  if (n <= 0 || in <= 0 || out <= 0 || (n + kTile - 1) / kTile > 65535 || (out + kTile - 1) / kTile > 65535)
    throw std::invalid_argument(std::string(op) + ": invalid sizes n=" + std::to_string(n) +
                                " in=" + std::to_string(in) + " out=" + std::to_string(out));
}

}  // namespace

void CudaBackendImpl::linear_forward(int n, int in, int out, const float* x, const float* w, const float* b, float* y) {
  const LaunchScope op = open_op("linear_forward");
  check_dims(n, in, out, "linear_forward");
  gemm<false, true>(stream_, n, out, in, x, w, b, y);  // x [n, in] . (w [out, in])^T
}

void CudaBackendImpl::linear_backward(int n, int in, int out, const float* x, const float* w, const float* dy,
                                      float* dx, float* dw, float* db) {
  const LaunchScope op = open_op("linear_backward");
  check_dims(n, in, out, "linear_backward");
  if (dx) gemm<false, false>(stream_, n, in, out, dy, w, nullptr, dx);  // dy [n, out] . w
  gemm<true, false>(stream_, out, in, n, dy, x, nullptr, dw);           // dy^T [out, n] . x
  INSALUN_LAUNCH(out, kThreads, 0, stream_, column_sum_kernel)(dy, n, out, db);
  CUDA_CHECK_LAUNCH("column_sum_kernel");
}

}  // namespace insalun::cuda
