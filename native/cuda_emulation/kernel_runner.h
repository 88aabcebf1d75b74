// The emulator's kernel execution (kernel_runner.cpp), used by the emulated runtime.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <functional>

extern thread_local uint3 threadIdx;
extern thread_local uint3 blockIdx;
extern thread_local dim3 blockDim;
extern thread_local dim3 gridDim;

namespace insalun::emulation {

// Runs `body` once per thread of one block of `threads` threads; blockIdx, blockDim and gridDim
// are set by the caller. `order` (a permutation of the linear thread indices, or null for index
// order) is the order threads start and resume in. Throws on a deadlock or a misused barrier or
// shuffle.
void run_block(const std::function<void()>& body, int threads, const uint32_t* order);

}  // namespace insalun::emulation
