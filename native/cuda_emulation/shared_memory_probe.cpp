// The kernel behind probe_shared_memory (see shared_memory_probe.h), built from the backend's own
// INSALUN_SHARED, so it tests the declaration the kernels use.
#include "shared_memory_probe.h"

#include <stdexcept>
#include <string>

#include "emulation.h"  // first, as the build does for the backend's .cu files
#include "../cuda/impl.cuh"

namespace insalun::emulation {
namespace {

// The array, reached through a helper as block_sum's `part` is: each call passes the declaration.
__device__ float* probe_cell() {
  INSALUN_SHARED(float, cell, [4]);
  return cell;
}

__global__ void probe_kernel(uint32_t* before_write, float* after_write) {
  if (threadIdx.x == 0) before_write[blockIdx.x] = __float_as_uint(probe_cell()[0]);
  __syncthreads();
  if (threadIdx.x == 0) probe_cell()[0] = float(blockIdx.x + 1);
  __syncthreads();
  if (threadIdx.x == blockDim.x - 1) after_write[blockIdx.x] = probe_cell()[0];
}

}  // namespace

SharedMemoryProbe probe_shared_memory(unsigned blocks, unsigned threads) {
  if (blocks == 0 || blocks > 4096 || threads == 0 || threads > 1024)
    throw std::invalid_argument("probe_shared_memory: blocks must be 1..4096 and threads 1..1024");
  SharedMemoryProbe probe;
  probe.before_write.assign(blocks, 0);
  probe.after_write.assign(blocks, 0.0f);
  launch(dim3(blocks), dim3(threads), 0, nullptr, probe_kernel, "probe_kernel")(probe.before_write.data(),
                                                                                probe.after_write.data());
  const cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) throw std::runtime_error(std::string("probe_shared_memory: ") + cudaGetErrorString(e));
  return probe;
}

}  // namespace insalun::emulation
