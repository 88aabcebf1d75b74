#include "cpu_backend.h"
#include "isa.h"

namespace insalun {

std::unique_ptr<Backend> make_cpu_backend() {
  cpu::active_isa();  // an INSALUN_CPU_ISA this CPU cannot run is an error here, before any kernel
  return std::make_unique<cpu::CpuBackend>();
}

#ifndef INSALUN_WITH_CUDA
// The CPU-only build: the CUDA backend (native/cuda) was not compiled in.
std::unique_ptr<Backend> make_cuda_backend(std::string* why) {
  if (why) *why = "this addon was built without CUDA (build it with: npm run build:cuda)";
  return nullptr;
}
#endif

}  // namespace insalun
