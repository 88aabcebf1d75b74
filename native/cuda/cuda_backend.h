// The public face of the CUDA backend: what make_cuda_backend() returns, with the settings only
// the GPU has. Free of CUDA headers, so the addon can include it from plain C++ (in builds with
// INSALUN_WITH_CUDA only). Reach it with dynamic_cast<CudaBackend*>(backend).
#pragma once

#include "../core/backend.h"

namespace insalun {

// Convolution math. kFp32 forbids tensor-core TF32 (results comparable with the CPU backend);
// kTf32 lets cuDNN use TF32 tensor cores (what PyTorch's allow_tf32 does, much faster on Ampere+).
// Batch norm, linear, loss and optimizer are fp32 in both modes.
enum class Precision : int { kFp32 = 0, kTf32 = 1 };

class CudaBackend : public Backend {
 public:
  virtual void set_precision(Precision p) = 0;
  virtual Precision precision() const = 0;
  // The device's name as the driver reports it, e.g. "NVIDIA H200".
  virtual std::string device_name() const = 0;
};

}  // namespace insalun
