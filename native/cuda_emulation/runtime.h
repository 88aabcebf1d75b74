// The emulated CUDA runtime's streams, shared with the emulated cuDNN (runtime.cpp).
#pragma once

#include <cuda_runtime.h>

#include <functional>
#include <vector>

namespace insalun::emulation {

// The kinds of graph node a capture records; cudaGraphExecUpdate needs the same kinds in the same
// order (a kernel node may change its function, as on CUDA 11.2 and later).
enum class NodeKind { kKernel, kMemcpy, kMemset };

// Runs `work` now, or appends it to the capture when `stream` is being captured (the work must
// then hold copies of everything it reads from the host). `uses`: the device memory it is given,
// which cudaFree then refuses until the stream is synchronized.
void enqueue(cudaStream_t stream, NodeKind kind, std::function<void()> work, std::vector<const void*> uses);

// Records `e` as the error a later cudaGetLastError returns, with `detail` as its message.
void set_error(cudaError_t e, const std::string& detail = "");

}  // namespace insalun::emulation
