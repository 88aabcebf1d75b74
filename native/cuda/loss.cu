// Softmax cross-entropy with its gradient, accumulating the epoch's loss sum and correct count
// into device floats (stats[0], stats[1]) so that an epoch needs no host synchronization.
// Arithmetic follows cpu/ops.cpp: exponentials and the log-sum in double, the first maximal logit
// as the prediction, and the batch's sums added to stats once, as floats. The batch sums are
// per-block partials added in block order by the last block to finish (last_to_arrive), in the
// same launch and deterministically.
#include <cmath>

#include "impl.cuh"

namespace insalun::cuda {
namespace {

constexpr int kRowsPerBlock = kThreads / 32;  // one warp per row

// Arg-max over a warp, ties to the smaller index (std::max_element keeps the first maximum).
__device__ __forceinline__ void warp_argmax(float* value, int* index) {
  for (int offset = 16; offset > 0; offset >>= 1) {
    const float v = __shfl_xor_sync(0xffffffffu, *value, offset);
    const int i = __shfl_xor_sync(0xffffffffu, *index, offset);
    if (v > *value || (v == *value && i < *index)) {
      *value = v;
      *index = i;
    }
  }
}

// stats += the batch's sums: the blocks' partials added in order, in the last block, by every
// thread of it.
__device__ void add_batch_stats(const double2* partial, float* stats) {
  INSALUN_SHARED(double, part, [32]);
  double loss = 0.0, correct = 0.0;
  for (unsigned b = threadIdx.x; b < gridDim.x; b += blockDim.x) {
    const double2 p = __ldcg(partial + b);
    loss += p.x;
    correct += p.y;
  }
  loss = block_sum(loss, part);
  correct = block_sum(correct, part);
  if (threadIdx.x == 0) {
    stats[0] += float(loss);
    stats[1] += float(correct);
  }
}

// partial[block] = (the block's loss sum, its correct count), and with stats the batch's sums
// added to them.
__global__ void softmax_xent_kernel(int n, int classes, const float* logits, const int32_t* labels, float scale,
                                    float* dlogits, double2* partial, unsigned* arrivals, float* stats) {
  INSALUN_SHARED(double, row_loss, [kRowsPerBlock]);
  INSALUN_SHARED(int, row_correct, [kRowsPerBlock]);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int row = blockIdx.x * kRowsPerBlock + warp;
  double loss = 0.0;
  int correct = 0;
  if (row < n) {  // uniform across the warp
    const float* z = logits + size_t(row) * classes;
    float best = -INFINITY;
    int best_at = classes;
    for (int k = lane; k < classes; k += 32) {
      const float v = z[k];
      if (v > best || best_at == classes) {
        best = v;
        best_at = k;
      }
    }
    warp_argmax(&best, &best_at);
    const float zmax = best;
    double denom = 0.0;
    for (int k = lane; k < classes; k += 32) denom += exp(double(z[k] - zmax));
    denom = warp_allsum(denom);
    const int y = labels[row];
    const bool valid = y >= 0 && y < classes;
    // An out-of-range label cannot be read; it makes the loss NaN instead of faulting the device.
    loss = valid ? log(denom) - double(z[y] - zmax) : double(NAN);
    correct = valid && best_at == y ? 1 : 0;
    if (dlogits) {
      float* d = dlogits + size_t(row) * classes;
      for (int k = lane; k < classes; k += 32) {
        const double p = exp(double(z[k] - zmax)) / denom;
        d[k] = float(double(scale) * (p - (k == y ? 1.0 : 0.0)) / double(n));
      }
    }
  }
  if (lane == 0) {
    row_loss[warp] = loss;
    row_correct[warp] = correct;
  }
  __syncthreads();
  if (threadIdx.x == 0 && partial) {
    double block_loss = 0.0;
    int block_correct = 0;
    for (int r = 0; r < kRowsPerBlock; ++r) {
      block_loss += row_loss[r];
      block_correct += row_correct[r];
    }
    partial[blockIdx.x] = make_double2(block_loss, double(block_correct));
  }
  if (partial && last_to_arrive(arrivals, gridDim.x)) add_batch_stats(partial, stats);
}

}  // namespace

void CudaBackendImpl::softmax_xent(int n, int classes, const float* logits, const int32_t* labels, float scale,
                                   float* dlogits, float* stats) {
  const LaunchScope op = open_op("softmax_xent");
  if (n <= 0) return;
  if (classes <= 0) throw std::invalid_argument("softmax_xent: classes must be positive");
  const unsigned blocks = unsigned((n + kRowsPerBlock - 1) / kRowsPerBlock);
  auto* partial = stats ? static_cast<double2*>(scratch(sizeof(double2) * blocks)) : nullptr;
  INSALUN_LAUNCH(blocks, kThreads, 0, stream_, softmax_xent_kernel)
  (n, classes, logits, labels, scale, dlogits, partial, arrivals(1), stats);
  CUDA_CHECK_LAUNCH("softmax_xent_kernel");
}

}  // namespace insalun::cuda
