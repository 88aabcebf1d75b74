// CUDA emulation on the CPU. The emulated build (scripts/build-cuda-emulation.sh) compiles the CUDA
// backend's own sources, native/cuda/*.cu, with the host C++ compiler and this header included
// first. Kernels become plain functions that kernel_runner.cpp runs block by block, every thread of
// a block a fiber of its own, so that __syncthreads and warp shuffles behave as on a GPU; the CUDA
// runtime (runtime.cpp) and the cuDNN calls the backend makes (cudnn.cpp) are reimplemented on host
// memory, stream capture included.
//
// What it is for: running the backend's code (launch configurations, indexing, reductions, the
// 16-byte packs, the bf16 layouts, channel padding, algorithm fallback, graph capture) through the
// parity suite on a machine without a GPU. What it cannot say: anything about speed, the GPU's
// memory model (blocks run one after another here; schedule.h changes their order, which shows a
// kernel that depends on it, but no two writes ever interleave; block-shared arrays start each
// block as NaN bytes, which shows a read before the block's write), or cuDNN's own numerics (the
// emulated convolutions are plain loops with double accumulators).
#pragma once

// Before the CUDA headers, which keep these when they are already defined.
#define __global__
#define __device__
#define __host__
#define __grid_constant__
#define __launch_bounds__(...)  // register limits: nothing to limit on the CPU
// Block-shared arrays are declared with INSALUN_SHARED (impl.cuh): one array per OS thread, shared
// by the fibers (threads of a block) that run on it, and poisoned at each block.
#define __shared__ static_assert(false, "declare block-shared arrays with INSALUN_SHARED(type, name, dims) (impl.cuh)");

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#define INSALUN_CUDA_EMULATION 1

// The built-in variables, set by the emulator before it resumes each thread.
extern thread_local uint3 threadIdx;
extern thread_local uint3 blockIdx;
extern thread_local dim3 blockDim;
extern thread_local dim3 gridDim;

namespace insalun::emulation {

// The barrier of the block being run (kernel_runner.cpp).
void block_barrier();
// Warp exchange: every lane of the warp offers `value` and receives the value of lane `source`.
uint64_t warp_exchange(unsigned mask, uint64_t value, int source);
// This thread's lane in its warp (threads are numbered x first, as on the GPU).
int lane();
// Fills a block-shared array of `bytes` with 0xff (NaN in every float type) unless *stamp says it
// has been filled for the block being run; INSALUN_SHARED calls it at the declaration.
void poison_shared_once(void* array, size_t bytes, uint64_t* stamp);

// Runs, or records into the stream's capture, one launch (runtime.cpp); `uses` are its pointer
// arguments (runtime.h's enqueue).
void submit_launch(dim3 grid, dim3 block, size_t shared_bytes, cudaStream_t stream, const char* kernel,
                   std::function<void()> thread_body, std::vector<const void*> uses);

// kernel<<<grid, block, shared, stream>>>(args...): the arguments are converted to the kernel's
// parameter types and copied at the launch, as CUDA does (a captured launch keeps these copies).
template <typename... Params>
class Launch {
 public:
  Launch(dim3 grid, dim3 block, size_t shared, cudaStream_t stream, void (*kernel)(Params...), const char* name)
      : grid_(grid), block_(block), shared_(shared), stream_(stream), kernel_(kernel), name_(name) {}
  template <typename... Args>
  void operator()(Args&&... args) const {
    static_assert(sizeof...(Args) == sizeof...(Params), "kernel launched with the wrong number of arguments");
    std::tuple<std::decay_t<Params>...> bound(std::forward<Args>(args)...);
    auto kernel = kernel_;
    // Pointers passed directly; those inside structures (a table of weights, say) are not seen.
    std::vector<const void*> uses;
    std::apply([&uses](const auto&... a) { (note_pointer(a, uses), ...); }, bound);
    submit_launch(
        grid_, block_, shared_, stream_, name_, [kernel, bound]() { std::apply(kernel, bound); }, std::move(uses));
  }

 private:
  template <typename T>
  static void note_pointer(const T& value, std::vector<const void*>& out) {
    if constexpr (std::is_pointer_v<T>)
      if (value) out.push_back(value);
  }
  dim3 grid_, block_;
  size_t shared_;
  cudaStream_t stream_;
  void (*kernel_)(Params...);
  const char* name_;
};

template <typename... Params>
Launch<Params...> launch(dim3 grid, dim3 block, size_t shared, cudaStream_t stream, void (*kernel)(Params...),
                         const char* name) {
  return Launch<Params...>(grid, block, shared, stream, kernel, name);
}

template <typename T>
T bits_as(uint64_t bits) {
  T out;
  std::memcpy(&out, &bits, sizeof(T));
  return out;
}

}  // namespace insalun::emulation

// ---- device intrinsics the kernels use --------------------------------------------------------

inline void __syncthreads() { insalun::emulation::block_barrier(); }

template <typename T>
T __shfl_xor_sync(unsigned mask, T value, int lane_mask, int width = 32) {
  static_assert(sizeof(T) <= sizeof(uint64_t) && std::is_trivially_copyable_v<T>,
                "a shuffled value is at most 8 bytes");
  const int lane = insalun::emulation::lane();
  const int source = (lane & ~(width - 1)) | ((lane ^ lane_mask) & (width - 1));
  uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof(T));
  return insalun::emulation::bits_as<T>(insalun::emulation::warp_exchange(mask, bits, source));
}

// Memory ordering and the one atomic the backend uses (the arrival counter of one-launch
// reductions, impl.cuh). Blocks run one after another here, so a fence has nothing to order; the
// add is atomic all the same, as nothing stops two backends running on two host threads.
inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline unsigned atomicAdd(unsigned* address, unsigned value) {
  return __atomic_fetch_add(address, value, __ATOMIC_SEQ_CST);
}
template <typename T>
T __ldcg(const T* p) {
  return *p;
}

// CUDA's math in the global namespace, every overload (float and double) as on the device.
using std::exp;
using std::fma;
using std::log;
using std::sqrt;
template <typename T>
T min(T a, T b) {
  return b < a ? b : a;
}
template <typename T>
T max(T a, T b) {
  return a < b ? b : a;
}

// cudaFuncGetAttributes on a kernel, which nvcc's headers declare only for device compilation.
template <typename... Params>
cudaError_t cudaFuncGetAttributes(cudaFuncAttributes* attr, void (*kernel)(Params...)) {
  return cudaFuncGetAttributes(attr, reinterpret_cast<const void*>(kernel));
}

inline float __uint_as_float(unsigned v) { return insalun::emulation::bits_as<float>(v); }
inline unsigned __float_as_uint(float v) {
  unsigned out;
  std::memcpy(&out, &v, sizeof(out));
  return out;
}
