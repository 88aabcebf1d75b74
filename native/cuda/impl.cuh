// The CUDA backend's implementation class and the device helpers its kernels share. Each op family
// defines its CudaBackendImpl methods next to its kernels (elementwise.cu, conv.cu, batchnorm.cu,
// ...), so a family can be rewritten (bf16, NHWC, fusion) without touching the others.
//
// Everything runs on one non-blocking stream owned by the backend, so ops are ordered among
// themselves without host synchronization, and the stream can later be captured into a CUDA graph.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "check.h"
#include "cuda_backend.h"

// The architectures compiled in, for messages; CMake passes the real list.
#ifndef INSALUN_CUDA_ARCHS_STRING
#define INSALUN_CUDA_ARCHS_STRING "unknown architectures"
#endif

namespace insalun::cuda {

constexpr int kThreads = 256;  // default block size of the elementwise and reduction kernels

// ---- device helpers ----------------------------------------------------------------------------

// Sum over the 32 lanes of a warp; every lane gets the total (butterfly).
template <typename T>
__device__ __forceinline__ T warp_allsum(T v) {
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

// Sum over a block whose size is a multiple of 32; the result is valid in thread 0. `part` is
// shared memory of at least 32 values; a leading barrier lets one kernel call this repeatedly.
template <typename T>
__device__ __forceinline__ T block_sum(T v, T* part) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  v = warp_allsum(v);
  __syncthreads();
  if (lane == 0) part[warp] = v;
  __syncthreads();
  if (warp == 0) {
    const int warps = int(blockDim.x) >> 5;
    v = lane < warps ? part[lane] : T(0);
    v = warp_allsum(v);
  }
  return v;
}

// Activation element types: float (fp32 and tf32 modes) or bf16 (bf16 mode). Kernels over
// activations are templates on the storage type T and do their arithmetic in float.
using bf16 = __nv_bfloat16;

__device__ __forceinline__ float to_float(float v) { return v; }
__device__ __forceinline__ float to_float(bf16 v) { return __bfloat162float(v); }

template <typename T>
__device__ __forceinline__ T from_float(float v);
template <>
__device__ __forceinline__ float from_float<float>(float v) {
  return v;
}
template <>
__device__ __forceinline__ bf16 from_float<bf16>(float v) {
  return __float2bfloat16_rn(v);
}

// ---- 16-byte packs ------------------------------------------------------------------------------
// The memory-bound kernels (batch norm, SGD) move 16 bytes per load where the shape and alignment
// allow: 4 floats or 8 bf16 values. One-element loads of 2 or 4 bytes leave too few bytes in
// flight per SM to approach HBM bandwidth. A pack width V of 1 is the one-element form of the
// same kernel, the fallback for other shapes.
template <typename T>
constexpr int kPackOf = 16 / int(sizeof(T));

template <int V, typename T>
__device__ __forceinline__ void load_pack(const T* p, float (&out)[V]) {
  if constexpr (V == 1) {
    out[0] = to_float(*p);
  } else {
    static_assert(V * sizeof(T) == 16, "a pack is 16 bytes");
    const uint4 raw = *reinterpret_cast<const uint4*>(p);
    if constexpr (std::is_same_v<T, float>) {
      out[0] = __uint_as_float(raw.x);
      out[1] = __uint_as_float(raw.y);
      out[2] = __uint_as_float(raw.z);
      out[3] = __uint_as_float(raw.w);
    } else {
      const auto* halves = reinterpret_cast<const __nv_bfloat162*>(&raw);
#pragma unroll
      for (int k = 0; k < V / 2; ++k) {
        const float2 f = __bfloat1622float2(halves[k]);
        out[2 * k] = f.x;
        out[2 * k + 1] = f.y;
      }
    }
  }
}

template <int V, typename T>
__device__ __forceinline__ void store_pack(T* p, const float (&in)[V]) {
  if constexpr (V == 1) {
    *p = from_float<T>(in[0]);
  } else {
    static_assert(V * sizeof(T) == 16, "a pack is 16 bytes");
    uint4 raw;
    if constexpr (std::is_same_v<T, float>) {
      raw = make_uint4(__float_as_uint(in[0]), __float_as_uint(in[1]), __float_as_uint(in[2]), __float_as_uint(in[3]));
    } else {
      auto* halves = reinterpret_cast<__nv_bfloat162*>(&raw);
#pragma unroll
      for (int k = 0; k < V / 2; ++k) halves[k] = __floats2bfloat162_rn(in[2 * k], in[2 * k + 1]);
    }
    *reinterpret_cast<uint4*>(p) = raw;
  }
}

// Runs f(std::integral_constant<int, V>{}) with V = kPackOf<T> when `packed`, 1 otherwise.
template <typename T, typename F>
void with_pack(bool packed, F f) {
  if (packed)
    f(std::integral_constant<int, kPackOf<T>>{});
  else
    f(std::integral_constant<int, 1>{});
}

// Whether every pointer is 16-byte aligned (null pointers, for absent operands, are).
inline bool aligned16(std::initializer_list<const void*> pointers) {
  for (const void* p : pointers)
    if (reinterpret_cast<uintptr_t>(p) % 16 != 0) return false;
  return true;
}

// The channel of flat index i of an [n, c, hw] activation stored NCHW or NHWC.
template <bool Nhwc, typename Index>
__device__ __forceinline__ int channel_of(Index i, int c, int hw) {
  if constexpr (Nhwc) return int(i % Index(c));
  return int((i / Index(hw)) % Index(c));
}

// Where element i of a channels-first [n, c, hw] tensor sits in the channels-last layout
// [n, hw, c_stored]; c_stored >= c leaves room for padded channels. Serves NCHW <-> NHWC
// activations and KCRS <-> KRSC weights alike.
__device__ __forceinline__ size_t channels_last_index(size_t i, int c, int hw, int c_stored) {
  const size_t p = i % hw, rest = i / hw, ch = rest % c, image = rest / c;
  return (image * hw + p) * c_stored + ch;
}

template <typename T>
const T* as(const Act* a) {
  return reinterpret_cast<const T*>(a);
}
template <typename T>
T* as(Act* a) {
  return reinterpret_cast<T*>(a);
}

// A kernel launch, kernel<<<grid, block, shared_bytes, stream>>>(args...), written
//   INSALUN_LAUNCH(grid, block, shared_bytes, stream, kernel)(args...);
// so that the CPU emulation of the backend (native/cuda_emulation) runs the very same launch. The
// kernel comes last because its template arguments may hold commas.
#ifdef INSALUN_CUDA_EMULATION
#define INSALUN_LAUNCH(grid, block, shared_bytes, stream, ...) \
  ::insalun::emulation::launch(grid, block, shared_bytes, stream, __VA_ARGS__, #__VA_ARGS__)
#else
#define INSALUN_LAUNCH(grid, block, shared_bytes, stream, ...) __VA_ARGS__<<<grid, block, shared_bytes, stream>>>
#endif

// A block-shared array, `__shared__ type name dims;`, written
//   INSALUN_SHARED(float, tile, [16][17]);
// In the CPU emulation it is also filled with NaN bit patterns when each block first reaches it, as
// a GPU's shared memory holds garbage, so a read before the block's own write shows instead of
// returning what the previous block left there (emulation.h refuses a bare __shared__).
#ifdef INSALUN_CUDA_EMULATION
#define INSALUN_SHARED(type, name, dims)        \
  static thread_local type name dims;           \
  static thread_local uint64_t name##_poisoned; \
  ::insalun::emulation::poison_shared_once(&name, sizeof(name), &name##_poisoned)
#else
#define INSALUN_SHARED(type, name, dims) __shared__ type name dims
#endif

// A grid-stride loop over [0, n).
#define INSALUN_GRID_LOOP(i, n) \
  for (size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x; i < size_t(n); i += size_t(gridDim.x) * blockDim.x)

// ---- one-launch reductions ---------------------------------------------------------------------

// For reductions that finish in the launch that computes their partials: after each block of a
// group (the blocks reducing one channel, say) has stored its partial, true in the block that
// arrives last, which alone then reads every partial of the group and finishes. It reads them in
// a fixed order, so the result does not depend on which block that is: deterministic, like a
// second launch, without the second launch's node and wait. `arrivals` counts the group's blocks;
// the last block sets it back to 0, so counters zeroed once serve every launch on the stream,
// graph replays included. Every thread of the block calls it, once per launch, after its stores;
// the last block reads the partials with __ldcg (from L2, never a stale L1 line).
__device__ __forceinline__ bool last_to_arrive(unsigned* arrivals, unsigned blocks) {
  INSALUN_SHARED(unsigned, ticket, [1]);
  __threadfence();  // this thread's partial stores are visible device-wide before the arrival
  __syncthreads();
  if (threadIdx.x == 0) ticket[0] = atomicAdd(arrivals, 1u);
  __syncthreads();
  if (ticket[0] != blocks - 1) return false;
  __threadfence();  // the other blocks' partials are read after their arrivals were seen
  if (threadIdx.x == 0) *arrivals = 0;
  return true;
}

// ---- cuDNN convolution plans -------------------------------------------------------------------

// The bf16 copies of prepare_conv_weights: each convolution's weights w converted (KCRS, or KRSC
// with cin_p >= cin channels, zero beyond cin) to copies + begin, and its bf16 weight gradient,
// in the same layout at gradients + begin, widened into dw by finish_conv_weight_grads. The table
// travels as a kernel parameter (by value, so a captured launch keeps it and nothing is
// uploaded); ResNet-18 has 20 convolutions.
struct WeightCopy {
  const float* w;
  float* dw;
  size_t begin;  // in bf16 elements, a multiple of 8 (16 bytes, as cuDNN's fast kernels want)
  int cout, cin, cin_p, rs;
};
struct WeightCopyTable {
  static constexpr int kCapacity = 32;  // 1.3 KB of the 4 KB a kernel's parameters may take
  int count = 0;                        // entries in use
  WeightCopy copies[kCapacity];
};

struct ConvKey {
  int n, cin, h, w, cout, k, stride, pad;
  Precision precision;
  bool nhwc;
  bool operator<(const ConvKey& o) const;
};

// One usable algorithm of a direction: it supports the math we need and its workspace fits.
struct ConvCandidate {
  int algo = 0;  // cudnnConvolution{Fwd,BwdData,BwdFilter}Algo_t
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;
  size_t workspace = 0;
};

// One direction's algorithms, ranked once per shape (fastest measured, or most promising, first).
// The first is used; if cuDNN refuses it when run, the next takes its place (see conv.cu).
struct ConvAlgo {
  std::vector<ConvCandidate> ranked;
  size_t current = 0;
  bool ready() const { return current < ranked.size(); }
  const ConvCandidate& chosen() const { return ranked[current]; }
};

// Descriptors of one convolution shape plus its three algorithms. Owns the descriptors.
struct ConvPlan {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  ConvKey key{};
  ConvAlgo fwd, bwd_data, bwd_filter;
  ConvPlan() = default;
  ConvPlan(const ConvPlan&) = delete;
  ConvPlan& operator=(const ConvPlan&) = delete;
  ~ConvPlan();
};

// A device buffer that grows on demand and is reused. Growing is refused while a step is being
// captured. Outside a capture it frees the old buffer after waiting for the stream, whose queued
// work may still use it (cudaFree may return before that work is done: CUDA 13 only says it *may*
// synchronize); while a captured step exists (it holds the old address), a grown-out buffer is
// retired instead, and freed, after the same wait, when the capture is dropped.
class GrowingBuffer {
 public:
  GrowingBuffer() = default;
  GrowingBuffer(const GrowingBuffer&) = delete;
  GrowingBuffer& operator=(const GrowingBuffer&) = delete;
  ~GrowingBuffer() { release(); }
  // At least `bytes`; min_bytes rounds small first requests up. `stream` is the one whose work
  // uses the buffer.
  void* reserve(size_t bytes, cudaStream_t stream, bool capturing, bool capture_alive, const char* what,
                size_t min_bytes = 0);
  void free_retired(cudaStream_t stream) noexcept;
  // Frees everything; the caller has synchronized the stream.
  void release() noexcept;
  size_t bytes() const { return bytes_; }  // the current buffer's (retired ones not counted)

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
  std::vector<void*> retired_;
};

// ---- the backend -------------------------------------------------------------------------------

class CudaBackendImpl final : public CudaBackend {
 public:
  explicit CudaBackendImpl(int device);
  ~CudaBackendImpl() override;
  CudaBackendImpl(const CudaBackendImpl&) = delete;
  CudaBackendImpl& operator=(const CudaBackendImpl&) = delete;

  std::string name() const override { return "cuda"; }
  void set_precision(Precision p) override;
  Precision precision() const override { return precision_; }
  size_t activation_bytes() const override { return precision_ == Precision::kBf16 ? sizeof(bf16) : sizeof(float); }
  std::string device_name() const override { return device_name_; }

  // memory (backend.cu)
  void* alloc_bytes(size_t bytes) override;
  void free_bytes(void* p) override;
  void upload_bytes(void* dst, const void* src, size_t bytes) override;
  void download_bytes(void* dst, const void* src, size_t bytes) override;
  void copy_bytes(void* dst, const void* src, size_t bytes) override;
  void synchronize() override;
  size_t scratch_bytes() const override {
    return scratch_.bytes() + workspace_.bytes() + weight_scratch_.bytes() + pad_scratch_.bytes() +
           weight_copies_.bytes() + weight_grad_copies_.bytes() + kMaxReductionGroups * sizeof(unsigned);
  }

  // elementwise.cu
  void fill(float* x, float value, size_t n) override;
  void axpy(float alpha, const float* x, float* y, size_t n) override;
  void lerp(const float* x0, const float* x1, float alpha, float* y, size_t n) override;
  void mul_diff(const float* x1, const float* x0, float* y, size_t n) override;
  void activations_to_float(const NormShape& s, const Act* a, float* out) override;
  void activations_from_float(const NormShape& s, const float* in, Act* a) override;
  void relu_forward(const Act* x, Act* y, size_t n) override;
  void relu_backward(const Act* y, const Act* dy, Act* dx, size_t n) override;
  void sum(const float* x, size_t n, float* out) override;

  // conv.cu
  void conv2d_forward(const ConvShape& s, const Act* x, const float* w, Act* y) override;
  void conv2d_backward_data(const ConvShape& s, const Act* dy, const float* w, Act* dx, bool accumulate) override;
  void conv2d_backward_filter(const ConvShape& s, const Act* x, const Act* dy, float* dw) override;
  void prepare_conv_weights(const ConvWeights* convs, size_t count) override;
  void finish_conv_weight_grads() override;

  // batchnorm.cu
  void bn_forward_train(const NormShape& s, const Act* x, const float* gamma, const float* beta, float* running_mean,
                        float* running_var, float momentum, float eps, const NormEpilogue& epilogue, Act* y,
                        float* save_mean, float* save_invstd) override;
  void bn_forward_eval(const NormShape& s, const Act* x, const float* gamma, const float* beta,
                       const float* running_mean, const float* running_var, float eps, const NormEpilogue& epilogue,
                       Act* y, float* save_mean, float* save_invstd) override;
  void bn_backward_train(const NormShape& s, const Act* x, const Act* dy, const Act* relu_out, Act* gated_dy,
                         const float* gamma, const float* save_mean, const float* save_invstd, Act* dx, float* dgamma,
                         float* dbeta) override;
  void bn_backward_eval(const NormShape& s, const Act* x, const Act* dy, const Act* relu_out, Act* gated_dy,
                        const float* gamma, const float* save_mean, const float* save_invstd, Act* dx, float* dgamma,
                        float* dbeta) override;

  // avgpool.cu
  void avgpool_forward(const NormShape& s, const Act* x, float* y) override;
  void avgpool_backward(const NormShape& s, const float* dy, Act* dx) override;

  // linear.cu
  void linear_forward(int n, int in, int out, const float* x, const float* w, const float* b, float* y) override;
  void linear_backward(int n, int in, int out, const float* x, const float* w, const float* dy, float* dx, float* dw,
                       float* db) override;

  // loss.cu
  void softmax_xent(int n, int classes, const float* logits, const int32_t* labels, float scale, float* dlogits,
                    float* stats) override;

  // data.cu
  void gather_batch(const DeviceDataset& d, const BatchSpec& spec, Act* x, int32_t* labels) override;

  // optimizer.cu
  void sgd_step(const SgdConfig& c, float* w, const float* g, float* momentum_buf, const float* mask, size_t n,
                bool first_step) override;

  // step capture as a CUDA graph (backend.cu)
  bool can_capture() const override { return true; }
  void begin_capture() override;
  void end_capture() override;
  void abort_capture() noexcept override;
  void replay() override;
  void drop_capture() noexcept override;

 private:
  // Opens an op's LaunchScope (check.h), for the length of the op: the first line of every op
  // that launches kernels, `const LaunchScope op = open_op("relu_forward");`.
  LaunchScope open_op(const char* name) const { return LaunchScope(name, stream_, sync_launches_ && !capturing_); }
  // Blocks for a grid-stride loop over n elements: enough to fill the GPU a few times, no more.
  unsigned grid_for(size_t n, int threads = kThreads) const {
    const size_t want = (n + threads - 1) / threads;
    const size_t cap = size_t(sm_count_) * 32;
    return unsigned(std::max<size_t>(1, std::min(want, cap)));
  }
  // Runs f(T{}, Nhwc{}) with T the activation storage type (float or bf16) and Nhwc a
  // std::bool_constant for the layout, so one launch site serves every mode:
  //   dispatch([&](auto t, auto nhwc) { kernel<decltype(t), decltype(nhwc)::value><<<...>>>(); }).
  // Layouts: fp32 and tf32 store NCHW; bf16 stores NHWC (what tensor-core convolutions read
  // natively), or NCHW with INSALUN_CUDA_BF16_LAYOUT=nchw, for comparison.
  template <typename F>
  void dispatch(F f) const {
    if (precision_ != Precision::kBf16)
      f(float{}, std::false_type{});
    else if (nhwc_)
      f(bf16{}, std::true_type{});
    else
      f(bf16{}, std::false_type{});
  }
  bool nhwc() const { return nhwc_; }
  // dispatch for kernels over an activation of shape s, adding the pack width V as a
  // std::integral_constant: kPackOf<T> where 16-byte packs fit (the run of neighbouring values a
  // pack lies in, a row's channels in NHWC or a plane in NCHW, divides into packs; every operand is
  // 16-byte aligned; INSALUN_CUDA_VECTOR_LOADS allows them), 1 otherwise:
  //   dispatch_packed(s, {x, y}, [&](auto t, auto nhwc, auto pack) { ... decltype(pack)::value ... }).
  template <typename F>
  void dispatch_packed(const NormShape& s, std::initializer_list<const void*> operands, F f) const {
    dispatch([&](auto t, auto nhwc) {
      using T = decltype(t);
      const int run = decltype(nhwc)::value ? s.c : s.hw;
      const bool packed = vector_loads_ && run % kPackOf<T> == 0 && aligned16(operands);
      with_pack<T>(packed, [&](auto pack) { f(t, nhwc, pack); });
    });
  }
  // At least `bytes` of buffer b (GrowingBuffer::reserve).
  void* grow(GrowingBuffer& b, size_t bytes, const char* what, size_t min_bytes = 0) {
    return b.reserve(bytes, stream_, capturing_, captured_ != nullptr, what, min_bytes);
  }
  // Device scratch for reductions (at least `bytes`, 256-byte aligned); in steady state it never
  // grows.
  void* scratch(size_t bytes) { return grow(scratch_, bytes, "the reduction scratch buffer", 64 * 1024); }
  // Arrival counters of the one-launch reductions (last_to_arrive), one per group of blocks: as
  // many as a reduction's grid has rows (kMaxReductionGroups), zeroed once; every launch leaves
  // them at zero. Launches on the one stream never overlap, so they all share these.
  unsigned* arrivals(size_t groups) const {
    if (groups > kMaxReductionGroups)
      throw std::invalid_argument("a one-launch reduction over " + std::to_string(groups) + " groups; at most " +
                                  std::to_string(kMaxReductionGroups));
    return arrivals_;
  }
  // The cuDNN workspace (grows only when a new convolution shape is planned).
  void* workspace(size_t bytes) { return grow(workspace_, bytes, "the cuDNN workspace"); }
  // Channel-padded NHWC inputs (and their gradients) of layers with few input channels.
  void* pad_scratch(size_t bytes) { return grow(pad_scratch_, bytes, "the channel-padding buffer"); }
  // A convolution's weights as cuDNN reads them when they cannot be read in place (bf16 copies,
  // or aligned fp32 copies), and its weight gradient before it reaches dw.
  void* weight_scratch(size_t bytes) { return grow(weight_scratch_, bytes, "the convolution weight buffer"); }
  // The plan of a convolution shape in the current precision, created on first use.
  ConvPlan& plan_for(const ConvShape& s);
  // Runs `call(candidate, workspace)` with a direction's chosen algorithm, ranking the algorithms
  // first if needed; when cuDNN refuses the algorithm, moves on to the next one (conv.cu).
  template <typename Ops, typename Call>
  void run_convolution(ConvPlan& p, ConvAlgo& a, const char* direction, Call call);
  // The weights as the convolution reads them: w itself, or a bf16 copy in bf16 mode, the one
  // prepare_conv_weights made when it made one for w (conv.cu).
  const void* conv_weights(const ConvShape& s, const float* w);
  // dw (fp32, KCRS) from the bf16 weight gradient of bf16 mode.
  void widen_weight_grad(const ConvShape& s, const bf16* grad, float* dw);
  // The input channels cuDNN sees: s.cin, or s.cin padded to a multiple of 8 for NHWC.
  int padded_channels(const ConvShape& s) const;
  // The convolution's input as cuDNN reads it: x, or a zero-padded NHWC copy (conv.cu).
  const void* conv_input(const ConvShape& s, const Act* x);
  void release() noexcept;
  // Throws when something that cannot be recorded (an allocation, a cuDNN algorithm search)
  // would happen inside a capture: the step before the captured one must have done it.
  void refuse_while_capturing(const char* what) const;

  int device_ = 0;
  int sm_count_ = 1;
  std::string device_name_;
  cudaStream_t stream_ = nullptr;
  cudnnHandle_t cudnn_ = nullptr;
  Precision precision_ = Precision::kFp32;
  bool nhwc_ = false;                 // activation layout (see dispatch)
  bool vector_loads_ = true;          // 16-byte packs in the memory-bound kernels (INSALUN_CUDA_VECTOR_LOADS)
  bool benchmark_algorithms_ = true;  // cudnnFind per new convolution shape (INSALUN_CUDNN_SEARCH)
  bool deterministic_ = false;        // deterministic cuDNN algorithms only (INSALUN_CUDNN_DETERMINISTIC)
  bool sync_launches_ = false;        // wait for each kernel outside a capture (INSALUN_CUDA_SYNC)
  GrowingBuffer scratch_, workspace_, weight_scratch_, pad_scratch_;
  // prepare_conv_weights' copies and gradients (null when there are none), where each weight's
  // are, and which gradients conv2d_backward_filter has left for finish_conv_weight_grads.
  GrowingBuffer weight_copies_, weight_grad_copies_;
  const bf16* prepared_copies_ = nullptr;
  bf16* prepared_grads_ = nullptr;
  std::vector<WeightCopy> prepared_table_;
  size_t prepared_elements_ = 0;  // of the copies laid end to end, alignment gaps included
  std::vector<bool> grads_pending_;
  // The prepared entry of a convolution's weights (by w) or weight gradient (by dw), or null.
  const WeightCopy* prepared_entry(const ConvShape& s, const float* w, const float* dw) const;
  static constexpr size_t kMaxReductionGroups = 65535;  // a grid's rows (gridDim.y) at most
  unsigned* arrivals_ = nullptr;
  std::map<ConvKey, std::unique_ptr<ConvPlan>> plans_;
  bool capturing_ = false;
  cudaGraphExec_t captured_ = nullptr;
  // Executable graphs of earlier passes, most recent last: a new recording of the same step (the
  // next epoch's, say) updates one in place, cheaper than instantiating a graph of a few hundred
  // nodes. Never launched unless updated, so the memory they last pointed to may be gone.
  std::vector<cudaGraphExec_t> dormant_;
  static constexpr size_t kDormantGraphs = 4;  // a pass's kinds: training, evaluation, gradient, IG
  void destroy_dormant() noexcept;
};

}  // namespace insalun::cuda
