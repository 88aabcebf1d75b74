// Batch norm over x [n, c, hw] with PyTorch semantics, the arithmetic mirroring cpu/batchnorm.cpp.
// Activations (x, y, the residual, dy, dx) are float or bf16 (the template parameter T); the
// statistics, parameters and all arithmetic are fp32/fp64 in both.
//
// Per-channel reductions run in one launch: a grid of blocks each reducing a slice of a channel
// to a double partial, and the last block of a channel to finish (last_to_arrive, impl.cuh)
// adding that channel's partials in slice order and computing the result. Splitting a channel
// over several blocks keeps the GPU full when channels are few (64 channels of 32x32 at the start
// of ResNet-18) and stays deterministic (the order of the adds is fixed; the one atomic only
// elects the block that does them). A second, elementwise launch applies the result. Layouts: NCHW blocks take (slice,
// channel) and stride over the channel's planes; NHWC blocks take (slice of rows, tile of 32 channels), each warp
// reading 32 consecutive channels of a row, so both read memory coalesced.
//
// Statistics use sums shifted by the channel's first value, sum(x - K) and sum((x - K)^2), all in
// double like the CPU backend: the shift removes the cancellation of the naive E[x^2] - E[x]^2
// when |mean| >> std, so one pass over x suffices. The double adds stay hidden behind the memory
// traffic even on GPUs with slow FP64 (2-3 FP64 operations per 4-byte load).
#include <cstdint>

#include "impl.cuh"

namespace insalun::cuda {
namespace {

// Elements per block slice worth splitting for, and blocks per SM to aim at.
constexpr size_t kSliceMin = 4096;
constexpr int kBlocksPerSm = 4;

int splits_for(size_t per_channel, int channels, int sm_count) {
  const size_t by_work = (per_channel + kSliceMin - 1) / kSliceMin;
  const size_t by_fill = (size_t(kBlocksPerSm) * sm_count + channels - 1) / channels;
  return int(std::max<size_t>(1, std::min<size_t>({by_work, by_fill, 65535})));
}

// Position of the t-th pack of V values of channel c (t runs over images, then over the plane's
// hw / V packs): NCHW packs hold V neighbours in one plane.
template <int V, typename Index>
__device__ __forceinline__ size_t at(Index t, int c, int channels, int hw) {
  const Index packs = Index(hw / V);
  const Index image = t / packs, j = t - image * packs;
  return (size_t(image) * channels + c) * hw + size_t(j) * V;
}

// The slice of channel blockIdx.y that block blockIdx.x reduces.
template <typename Index>
__device__ __forceinline__ void slice(Index per_channel, Index* begin, Index* end) {
  const Index chunk = (per_channel + gridDim.x - 1) / gridDim.x;
  *begin = Index(blockIdx.x) * chunk;
  *end = min(per_channel, *begin + chunk);
}

// How a per-channel reduction is laid out on the grid (see the top of the file). NHWC: a block
// covers a tile of 32 channels, each thread V of them (one pack), so a row of the tile takes
// 32 / V threads and the block steps over kThreads / (32 / V) rows at a time.
constexpr int kTileChannels = 32;
template <int V>
constexpr int kRowLanes = kThreads / (kTileChannels / V);
constexpr size_t kNhwcRowsMin = 128;  // rows per NHWC slice worth splitting for

struct Reduction {
  dim3 grid;
  int splits;
};

Reduction reduction_for(const NormShape& s, bool nhwc, int sm_count) {
  const size_t rows = size_t(s.n) * s.hw;
  if (!nhwc) {
    const int splits = splits_for(rows, s.c, sm_count);
    return Reduction{dim3(splits, s.c), splits};
  }
  const int tiles = (s.c + kTileChannels - 1) / kTileChannels;
  const size_t by_work = (rows + kNhwcRowsMin - 1) / kNhwcRowsMin;
  const size_t by_fill = (size_t(kBlocksPerSm) * sm_count + tiles - 1) / tiles;
  const int splits = int(std::max<size_t>(1, std::min<size_t>({by_work, by_fill, 65535})));
  return Reduction{dim3(splits, tiles), splits};
}

// The thread's first channel in an NHWC tile, and its row lane.
template <int V>
__device__ __forceinline__ int tile_channel() {
  return blockIdx.y * kTileChannels + (threadIdx.x % (kTileChannels / V)) * V;
}
template <int V>
__device__ __forceinline__ int row_lane() {
  return threadIdx.x / (kTileChannels / V);
}

// NHWC: adds up the block's row lanes for each of its 32 channels (each thread holding the sums
// (a, b) of V of them) and stores partial[c * splits + slice] = (a, b).
template <int V>
__device__ __forceinline__ void store_tile_partial(const double (&a)[V], const double (&b)[V], int channels,
                                                   double2* partial) {
  INSALUN_SHARED(double, sum_a, [kRowLanes<V>][kTileChannels]);
  INSALUN_SHARED(double, sum_b, [kRowLanes<V>][kTileChannels]);
  const int first = (threadIdx.x % (kTileChannels / V)) * V, lane = row_lane<V>();
#pragma unroll
  for (int j = 0; j < V; ++j) {
    sum_a[lane][first + j] = a[j];
    sum_b[lane][first + j] = b[j];
  }
  __syncthreads();
  const int in_tile = threadIdx.x, c = blockIdx.y * kTileChannels + in_tile;
  if (in_tile < kTileChannels && c < channels) {
    double ta = 0.0, tb = 0.0;
    for (int k = 0; k < kRowLanes<V>; ++k) {
      ta += sum_a[k][in_tile];
      tb += sum_b[k][in_tile];
    }
    partial[size_t(c) * gridDim.x + blockIdx.x] = make_double2(ta, tb);
  }
}

// Where the forward statistics go: the batch's mean and 1 / std for the normalize pass, and the
// running statistics' update.
struct StatsTargets {
  double count;  // values per channel
  float momentum, eps;
  float *running_mean, *running_var, *save_mean, *save_invstd;
};

// Channel c's statistics from its slices' partials (sum(x - K), sum((x - K)^2)), K = shift, the
// channel's first value.
__device__ void finish_stats(int c, double shift, const double2* partial, int splits, const StatsTargets& t) {
  double s1 = 0, s2 = 0;
  for (int s = 0; s < splits; ++s) {
    const double2 p = __ldcg(partial + size_t(c) * splits + s);
    s1 += p.x;
    s2 += p.y;
  }
  const double shifted_mean = s1 / t.count;
  const double mean = shift + shifted_mean;
  // sum((x - mean)^2), clamped at 0 against rounding; a NaN stays NaN, as on the CPU.
  const double deviations = s2 - s1 * shifted_mean;
  const double squares = deviations < 0.0 ? 0.0 : deviations;
  const double var = squares / t.count;
  t.save_mean[c] = float(mean);
  t.save_invstd[c] = float(1.0 / sqrt(var + t.eps));
  const double unbiased = t.count > 1 ? squares / (t.count - 1) : var;
  t.running_mean[c] = float((1.0 - t.momentum) * t.running_mean[c] + t.momentum * mean);
  t.running_var[c] = float((1.0 - t.momentum) * t.running_var[c] + t.momentum * unbiased);
}

// Block (s, c) stores partial[c * splits + s] = (sum(x - K), sum((x - K)^2)) over slice s of
// channel c (the slices count packs of V values); the channel's last block finishes it.
template <typename T, int V, typename Index>
__global__ void stats_kernel(const T* x, int channels, int hw, Index per_channel, double2* partial, unsigned* arrivals,
                             StatsTargets out) {
  INSALUN_SHARED(double, part, [32]);
  const int c = blockIdx.y;
  const double shift = to_float(x[size_t(c) * hw]);
  Index begin, end;
  slice(per_channel, &begin, &end);
  double s1 = 0.0, s2 = 0.0;
#pragma unroll 2
  for (Index t = begin + threadIdx.x; t < end; t += blockDim.x) {
    float v[V];
    load_pack<V>(x + at<V>(t, c, channels, hw), v);
#pragma unroll
    for (int j = 0; j < V; ++j) {
      // Exact for floats of like magnitude: no rounding before the squares.
      const double d = double(v[j]) - shift;
      s1 += d;
      s2 = fma(d, d, s2);
    }
  }
  const double d1 = block_sum(s1, part);
  const double d2 = block_sum(s2, part);
  if (threadIdx.x == 0) partial[size_t(c) * gridDim.x + blockIdx.x] = make_double2(d1, d2);
  if (last_to_arrive(arrivals + c, gridDim.x) && threadIdx.x == 0) finish_stats(c, shift, partial, gridDim.x, out);
}

// NHWC: block (s, tile) stores the partials of slice s for the tile's 32 channels; the tile's last
// block finishes them, a thread per channel.
template <typename T, int V, typename Index>
__global__ void stats_nhwc_kernel(const T* x, int channels, Index rows, double2* partial, unsigned* arrivals,
                                  StatsTargets out) {
  const int c = tile_channel<V>();
  Index begin, end;
  slice(rows, &begin, &end);
  double s1[V] = {}, s2[V] = {};
  if (c < channels) {  // channels is a multiple of V: the whole pack is in range
    float shift[V];
    load_pack<V>(x + c, shift);
#pragma unroll 2
    for (Index r = begin + row_lane<V>(); r < end; r += kRowLanes<V>) {
      float v[V];
      load_pack<V>(x + size_t(r) * channels + c, v);
#pragma unroll
      for (int j = 0; j < V; ++j) {
        const double d = double(v[j]) - double(shift[j]);
        s1[j] += d;
        s2[j] = fma(d, d, s2[j]);
      }
    }
  }
  store_tile_partial<V>(s1, s2, channels, partial);
  if (last_to_arrive(arrivals + blockIdx.y, gridDim.x)) {
    const int tile_c = blockIdx.y * kTileChannels + threadIdx.x;
    if (threadIdx.x < kTileChannels && tile_c < channels)
      finish_stats(tile_c, double(to_float(x[tile_c])), partial, gridDim.x, out);
  }
}

__global__ void eval_stats_kernel(const float* running_mean, const float* running_var, float eps, int channels,
                                  float* save_mean, float* save_invstd) {
  for (int c = blockIdx.x * blockDim.x + threadIdx.x; c < channels; c += gridDim.x * blockDim.x) {
    save_mean[c] = running_mean[c];
    save_invstd[c] = float(1.0 / sqrt(double(running_var[c]) + eps));
  }
}

// The elementwise passes step over packs of V values: V neighbouring channels of one row
// (NHWC) or V neighbours in one plane, of one channel (NCHW). The channel of value j of the pack
// starting at flat index i:
template <bool Nhwc, typename Index>
__device__ __forceinline__ int pack_channel(Index i, int j, int channels, int hw) {
  return channel_of<Nhwc>(i, channels, hw) + (Nhwc ? j : 0);
}

// The grid-stride loop of an elementwise pass: body(i, k) for the pack at each flat index i this
// thread visits, k[j] holding what constants(c) gives for the channel c of value j (a scale and a
// shift, say, combined from per-channel arrays). An NHWC pack spans V channels, so looking them up
// per pack takes several scalar loads per value (88 per 8-value bf16 pack in the three passes
// together). But when the loop's stride, in values, is a multiple of the channel count (it is a
// multiple of 256 x V, so power-of-two counts qualify), every pack this thread visits starts at
// the same channel, and k is made once, before the loop. Either way by the same constants(c), in
// the same order, so the results are the same bit for bit.
template <int V, bool Nhwc, typename Index, typename Constants, typename Body>
__device__ __forceinline__ void for_each_pack(Index packs, int channels, int hw, Constants constants, Body body) {
  using K = decltype(constants(0));
  const Index first = Index(blockIdx.x) * blockDim.x + threadIdx.x;
  const Index stride = Index(gridDim.x) * blockDim.x;
  if constexpr (Nhwc) {
    // NHWC packs never straddle rows (channels is a multiple of V), so channels / V is exact.
    if (stride % Index(channels / V) == 0) {
      if (first >= packs) return;
      K k[V];
      const int c = channel_of<true>(first * Index(V), channels, hw);
#pragma unroll
      for (int j = 0; j < V; ++j) k[j] = constants(c + j);
      for (Index p = first; p < packs; p += stride) body(p * Index(V), k);
      return;
    }
  }
  for (Index p = first; p < packs; p += stride) {
    const Index i = p * Index(V);
    K k[V];
#pragma unroll
    for (int j = 0; j < V; ++j) k[j] = constants(pack_channel<Nhwc>(i, j, channels, hw));
    body(i, k);
  }
}

// y = relu?(x * scale + shift + residual?) with scale = gamma * invstd, shift = beta - mean *
// scale, per channel: the normalize pass with the block's residual add and ReLU folded in.
struct ScaleShift {
  float scale, shift;
};
template <typename T, int V, bool Nhwc, typename Index>
__global__ void normalize_kernel(const T* x, const float* gamma, const float* beta, const float* mean,
                                 const float* invstd, const T* residual, bool relu, int channels, int hw, Index packs,
                                 T* y) {
  const auto scale_shift = [&](int c) {
    const float scale = gamma[c] * invstd[c];
    return ScaleShift{scale, beta[c] - mean[c] * scale};
  };
  for_each_pack<V, Nhwc>(packs, channels, hw, scale_shift, [&](Index i, const ScaleShift(&k)[V]) {
    float v[V], r[V] = {};  // r is read only with a residual; zeroed so no path reads it unset
    load_pack<V>(x + i, v);
    if (residual) load_pack<V>(residual + i, r);
#pragma unroll
    for (int j = 0; j < V; ++j) {
      float o = v[j] * k[j].scale + k[j].shift;
      if (residual) o += r[j];
      // o < 0 rather than fmaxf: a NaN propagates, as through PyTorch's ReLU and the CPU backend.
      v[j] = relu && o < 0.0f ? 0.0f : o;
    }
    store_pack<V>(y + i, v);
  });
}

// The incoming gradient after the folded ReLU's backward (see Backend::bn_backward_train), for
// the pack at i.
template <int V, typename T>
__device__ __forceinline__ void load_gated(const T* dy, const T* relu_out, size_t i, float (&g)[V]) {
  load_pack<V>(dy + i, g);
  if (!relu_out) return;
  float out[V];
  load_pack<V>(relu_out + i, out);
#pragma unroll
  for (int j = 0; j < V; ++j)
    if (!(out[j] > 0.0f)) g[j] = 0.0f;
}

// Where the backward reduction goes: dgamma = sum(dy * xhat), dbeta = sum(dy), and, for the
// train-mode dx, coef = (mean(dy), mean(dy * xhat)) when coef is not null.
struct GradTargets {
  double count;  // values per channel
  const float* invstd;
  float *dgamma, *dbeta;
  float2* coef;
};

// Channel c's parameter gradients from its slices' partials (sum(dy), sum(dy * (x - mean))).
__device__ void finish_grads(int c, const double2* partial, int splits, const GradTargets& t) {
  double s_dy = 0, s_dyx = 0;
  for (int s = 0; s < splits; ++s) {
    const double2 p = __ldcg(partial + size_t(c) * splits + s);
    s_dy += p.x;
    s_dyx += p.y;
  }
  const double dg = s_dyx * double(t.invstd[c]);
  t.dgamma[c] = float(dg);
  t.dbeta[c] = float(s_dy);
  if (t.coef) t.coef[c] = make_float2(float(s_dy / t.count), float(dg / t.count));
}

// Block (s, c) stores partial[c * splits + s] = (sum(dy), sum(dy * (x - mean))) over slice s of
// channel c; the channel's last block finishes it.
template <typename T, int V, typename Index>
__global__ void grad_kernel(const T* x, const T* dy, const T* relu_out, const float* mean, int channels, int hw,
                            Index per_channel, double2* partial, unsigned* arrivals, GradTargets out) {
  INSALUN_SHARED(double, part, [32]);
  const int c = blockIdx.y;
  const float m = mean[c];
  Index begin, end;
  slice(per_channel, &begin, &end);
  double s_dy = 0.0, s_dyx = 0.0;
#pragma unroll 2
  for (Index t = begin + threadIdx.x; t < end; t += blockDim.x) {
    const size_t k = at<V>(t, c, channels, hw);
    float g[V], v[V];
    load_gated<V>(dy, relu_out, k, g);
    load_pack<V>(x + k, v);
#pragma unroll
    for (int j = 0; j < V; ++j) {
      s_dy += double(g[j]);
      s_dyx = fma(double(g[j]), double(v[j] - m), s_dyx);
    }
  }
  const double d1 = block_sum(s_dy, part);
  const double d2 = block_sum(s_dyx, part);
  if (threadIdx.x == 0) partial[size_t(c) * gridDim.x + blockIdx.x] = make_double2(d1, d2);
  if (last_to_arrive(arrivals + c, gridDim.x) && threadIdx.x == 0) finish_grads(c, partial, gridDim.x, out);
}

// NHWC, as stats_nhwc_kernel. The grid is sized for kBlocksPerSm blocks per SM, all in one wave
// (reduction_for); the launch bounds hold the registers to what lets that many fit (64 a thread:
// 65,536 per SM / (4 x 256)), where the 8-wide packs' 16 double sums took 72-80 and left room
// for 3 blocks, a second wave for a quarter of them. The 33 KB of shared memory allow 6.
template <typename T, int V, typename Index>
__global__ void __launch_bounds__(kThreads, kBlocksPerSm)
    grad_nhwc_kernel(const T* x, const T* dy, const T* relu_out, const float* mean, int channels, Index rows,
                     double2* partial, unsigned* arrivals, GradTargets out) {
  const int c = tile_channel<V>();
  Index begin, end;
  slice(rows, &begin, &end);
  double s_dy[V] = {}, s_dyx[V] = {};
  if (c < channels) {
    float m[V];
#pragma unroll
    for (int j = 0; j < V; ++j) m[j] = mean[c + j];
      // Within the launch bounds' 64 registers beside the 16 double sums: not unrolled, and the
      // offset in Index arithmetic (32-bit where the tensor allows); a second iteration's loads in
      // flight, or a 64-bit offset, spill to local memory inside the loop (ptxas -v).
#pragma unroll 1
    for (Index r = begin + row_lane<V>(); r < end; r += kRowLanes<V>) {
      const Index k = r * Index(channels) + Index(c);
      float g[V], v[V];
      load_gated<V>(dy, relu_out, k, g);
      load_pack<V>(x + k, v);
#pragma unroll
      for (int j = 0; j < V; ++j) {
        s_dy[j] += double(g[j]);
        s_dyx[j] = fma(double(g[j]), double(v[j] - m[j]), s_dyx[j]);
      }
    }
  }
  store_tile_partial<V>(s_dy, s_dyx, channels, partial);
  if (last_to_arrive(arrivals + blockIdx.y, gridDim.x)) {
    const int tile_c = blockIdx.y * kTileChannels + threadIdx.x;
    if (threadIdx.x < kTileChannels && tile_c < channels) finish_grads(tile_c, partial, gridDim.x, out);
  }
}

// dx = gamma * invstd * (dy - mean(dy) - xhat * mean(dy * xhat)), and the gated dy stored when
// gated_dy is not null (in place over dy or not: each thread writes only what it has read).
struct DxTrainConstants {
  float invstd, scale, mean;
  float2 coef;
};
template <typename T, int V, bool Nhwc, typename Index>
__global__ void dx_train_kernel(const T* x, const T* dy, const T* relu_out, const float* gamma, const float* mean,
                                const float* invstd, const float2* coef, int channels, int hw, Index packs, T* dx,
                                T* gated_dy) {
  const auto constants = [&](int c) {
    const float s = invstd[c];
    return DxTrainConstants{s, gamma[c] * s, mean[c], coef[c]};
  };
  for_each_pack<V, Nhwc>(packs, channels, hw, constants, [&](Index i, const DxTrainConstants(&k)[V]) {
    float g[V], v[V];
    load_gated<V>(dy, relu_out, i, g);
    if (gated_dy) store_pack<V>(gated_dy + i, g);
    load_pack<V>(x + i, v);
#pragma unroll
    for (int j = 0; j < V; ++j) {
      const float xhat = (v[j] - k[j].mean) * k[j].invstd;
      v[j] = k[j].scale * (g[j] - k[j].coef.x - xhat * k[j].coef.y);
    }
    store_pack<V>(dx + i, v);
  });
}

// Eval mode: the statistics are constants, dx = dy * gamma * invstd; the gated dy as above.
template <typename T, int V, bool Nhwc, typename Index>
__global__ void dx_eval_kernel(const T* dy, const T* relu_out, const float* gamma, const float* invstd, int channels,
                               int hw, Index packs, T* dx, T* gated_dy) {
  const auto scale = [&](int c) { return gamma[c] * invstd[c]; };
  for_each_pack<V, Nhwc>(packs, channels, hw, scale, [&](Index i, const float(&k)[V]) {
    float g[V];
    load_gated<V>(dy, relu_out, i, g);
    if (gated_dy) store_pack<V>(gated_dy + i, g);
#pragma unroll
    for (int j = 0; j < V; ++j) g[j] *= k[j];
    store_pack<V>(dx + i, g);
  });
}

// Runs f(Index{}) with 32-bit index arithmetic (much cheaper divisions) whenever the tensor
// allows it, 64-bit otherwise.
template <typename F>
void with_index(const NormShape& s, F f) {
  if (s.size() < (size_t(1) << 31))
    f(uint32_t{});
  else
    f(size_t{});
}

void check_shape(const NormShape& s, const char* op) {
  if (s.n <= 0 || s.c <= 0 || s.hw <= 0 || s.c > 65535)
    throw std::invalid_argument(std::string(op) + ": invalid shape n=" + std::to_string(s.n) +
                                " c=" + std::to_string(s.c) + " hw=" + std::to_string(s.hw));
}

// dgamma = sum(dy * xhat) and dbeta = sum(dy) per channel, in one deterministic launch (partial
// sums over the reduction's slices, finished by each channel's last block); also fills the
// train-mode dx coefficients when `coef` is given. Shared by both backward modes.
template <typename T, int V, bool Nhwc>
void affine_grads(const NormShape& s, const Reduction& red, const T* x, const T* dy, const T* relu_out,
                  const float* save_mean, const float* save_invstd, double2* partial, unsigned* arrivals, float* dgamma,
                  float* dbeta, float2* coef, cudaStream_t stream) {
  const size_t rows = size_t(s.n) * s.hw;
  const GradTargets out{double(rows), save_invstd, dgamma, dbeta, coef};
  with_index(s, [&](auto index) {
    using Index = decltype(index);
    if constexpr (Nhwc) INSALUN_LAUNCH(red.grid, kThreads, 0, stream, grad_nhwc_kernel<T, V, Index>)
    (x, dy, relu_out, save_mean, s.c, Index(rows), partial, arrivals, out);
    else INSALUN_LAUNCH(red.grid, kThreads, 0, stream, grad_kernel<T, V, Index>)(
        x, dy, relu_out, save_mean, s.c, s.hw, Index(rows / V), partial, arrivals, out);
  });
  CUDA_CHECK_LAUNCH("grad_kernel");
}

template <typename T, int V, bool Nhwc>
void normalize(const NormShape& s, const T* x, const float* gamma, const float* beta, const float* mean,
               const float* invstd, const NormEpilogue& e, T* y, unsigned grid, cudaStream_t stream) {
  with_index(s, [&](auto index) {
    using Index = decltype(index);
    INSALUN_LAUNCH(grid, kThreads, 0, stream, normalize_kernel<T, V, Nhwc, Index>)
    (x, gamma, beta, mean, invstd, as<T>(e.residual), e.relu, s.c, s.hw, Index(s.size() / V), y);
  });
  CUDA_CHECK_LAUNCH("normalize_kernel");
}

}  // namespace

void CudaBackendImpl::bn_forward_train(const NormShape& s, const Act* x, const float* gamma, const float* beta,
                                       float* running_mean, float* running_var, float momentum, float eps,
                                       const NormEpilogue& epilogue, Act* y, float* save_mean, float* save_invstd) {
  const LaunchScope op = open_op("bn_forward_train");
  check_shape(s, "bn_forward_train");
  const size_t rows = size_t(s.n) * s.hw;
  dispatch_packed(s, {x, y, epilogue.residual}, [&](auto t, auto nhwc, auto pack) {
    using T = decltype(t);
    constexpr bool kNhwc = decltype(nhwc)::value;
    constexpr int V = decltype(pack)::value;
    const Reduction red = reduction_for(s, kNhwc, sm_count_);
    auto* partial = static_cast<double2*>(scratch(sizeof(double2) * size_t(red.splits) * s.c));
    unsigned* counters = arrivals(red.grid.y);
    const StatsTargets out{double(rows), momentum, eps, running_mean, running_var, save_mean, save_invstd};
    with_index(s, [&](auto index) {
      using Index = decltype(index);
      if constexpr (kNhwc) INSALUN_LAUNCH(red.grid, kThreads, 0, stream_, stats_nhwc_kernel<T, V, Index>)
      (as<T>(x), s.c, Index(rows), partial, counters, out);
      else INSALUN_LAUNCH(red.grid, kThreads, 0, stream_, stats_kernel<T, V, Index>)(
          as<T>(x), s.c, s.hw, Index(rows / V), partial, counters, out);
    });
    CUDA_CHECK_LAUNCH("stats_kernel");
    normalize<T, V, kNhwc>(s, as<T>(x), gamma, beta, save_mean, save_invstd, epilogue, as<T>(y), grid_for(s.size() / V),
                           stream_);
  });
}

void CudaBackendImpl::bn_forward_eval(const NormShape& s, const Act* x, const float* gamma, const float* beta,
                                      const float* running_mean, const float* running_var, float eps,
                                      const NormEpilogue& epilogue, Act* y, float* save_mean, float* save_invstd) {
  const LaunchScope op = open_op("bn_forward_eval");
  check_shape(s, "bn_forward_eval");
  INSALUN_LAUNCH((s.c + 127) / 128, 128, 0, stream_, eval_stats_kernel)
  (running_mean, running_var, eps, s.c, save_mean, save_invstd);
  CUDA_CHECK_LAUNCH("eval_stats_kernel");
  dispatch_packed(s, {x, y, epilogue.residual}, [&](auto t, auto nhwc, auto pack) {
    using T = decltype(t);
    constexpr bool kNhwc = decltype(nhwc)::value;
    constexpr int V = decltype(pack)::value;
    normalize<T, V, kNhwc>(s, as<T>(x), gamma, beta, save_mean, save_invstd, epilogue, as<T>(y), grid_for(s.size() / V),
                           stream_);
  });
}

void CudaBackendImpl::bn_backward_train(const NormShape& s, const Act* x, const Act* dy, const Act* relu_out,
                                        Act* gated_dy, const float* gamma, const float* save_mean,
                                        const float* save_invstd, Act* dx, float* dgamma, float* dbeta) {
  const LaunchScope op = open_op("bn_backward_train");
  check_shape(s, "bn_backward_train");
  check_norm_backward(relu_out, gated_dy, dx);
  dispatch_packed(s, {x, dy, relu_out, dx, gated_dy}, [&](auto t, auto nhwc, auto pack) {
    using T = decltype(t);
    constexpr bool kNhwc = decltype(nhwc)::value;
    constexpr int V = decltype(pack)::value;
    const Reduction red = reduction_for(s, kNhwc, sm_count_);
    const size_t partial_bytes = (sizeof(double2) * size_t(red.splits) * s.c + 255) / 256 * 256;
    char* base = static_cast<char*>(scratch(partial_bytes + sizeof(float2) * s.c));
    auto* partial = reinterpret_cast<double2*>(base);
    auto* coef = reinterpret_cast<float2*>(base + partial_bytes);
    affine_grads<T, V, kNhwc>(s, red, as<T>(x), as<T>(dy), as<T>(relu_out), save_mean, save_invstd, partial,
                              arrivals(red.grid.y), dgamma, dbeta, coef, stream_);
    // After the reduction: dx may alias dy.
    with_index(s, [&](auto index) {
      using Index = decltype(index);
      INSALUN_LAUNCH(grid_for(s.size() / V), kThreads, 0, stream_, dx_train_kernel<T, V, kNhwc, Index>)
      (as<T>(x), as<T>(dy), as<T>(relu_out), gamma, save_mean, save_invstd, coef, s.c, s.hw, Index(s.size() / V),
       as<T>(dx), as<T>(gated_dy));
    });
    CUDA_CHECK_LAUNCH("dx_train_kernel");
  });
}

void CudaBackendImpl::bn_backward_eval(const NormShape& s, const Act* x, const Act* dy, const Act* relu_out,
                                       Act* gated_dy, const float* gamma, const float* save_mean,
                                       const float* save_invstd, Act* dx, float* dgamma, float* dbeta) {
  const LaunchScope op = open_op("bn_backward_eval");
  check_shape(s, "bn_backward_eval");
  check_norm_backward(relu_out, gated_dy, dx);
  dispatch_packed(s, {x, dy, relu_out, dx, gated_dy}, [&](auto t, auto nhwc, auto pack) {
    using T = decltype(t);
    constexpr bool kNhwc = decltype(nhwc)::value;
    constexpr int V = decltype(pack)::value;
    const Reduction red = reduction_for(s, kNhwc, sm_count_);
    auto* partial = static_cast<double2*>(scratch(sizeof(double2) * size_t(red.splits) * s.c));
    affine_grads<T, V, kNhwc>(s, red, as<T>(x), as<T>(dy), as<T>(relu_out), save_mean, save_invstd, partial,
                              arrivals(red.grid.y), dgamma, dbeta, nullptr, stream_);
    // After the reduction: dx may alias dy.
    with_index(s, [&](auto index) {
      using Index = decltype(index);
      INSALUN_LAUNCH(grid_for(s.size() / V), kThreads, 0, stream_, dx_eval_kernel<T, V, kNhwc, Index>)
      (as<T>(dy), as<T>(relu_out), gamma, save_invstd, s.c, s.hw, Index(s.size() / V), as<T>(dx), as<T>(gated_dy));
    });
    CUDA_CHECK_LAUNCH("dx_eval_kernel");
  });
}

}  // namespace insalun::cuda
