// The public face of the CUDA backend: what make_cuda_backend() returns, with the settings only
// the GPU has. Free of CUDA headers, so the addon can include it from plain C++ (in builds with
// INSALUN_WITH_CUDA only). Reach it with dynamic_cast<CudaBackend*>(backend).
#pragma once

#include "../core/backend.h"

namespace insalun {

// Precision (backend.h): kFp32 forbids tensor-core TF32 (results comparable with the CPU
// backend); kTf32 lets cuDNN use TF32 tensor cores (much faster on Ampere and later).
class CudaBackend : public Backend {
 public:
  // The device's name as the driver reports it, e.g. "NVIDIA H200".
  virtual std::string device_name() const = 0;
};

}  // namespace insalun
