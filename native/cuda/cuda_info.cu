// cuda_backend_report(): what this CUDA build finds on the machine, one fact per line.
#include <cstdio>
#include <mutex>
#include <sstream>

#include "cuda_info.h"
#include "cudnn_library.h"
#include "impl.cuh"

namespace insalun {
namespace {

// CUDA encodes versions as 1000 * major + 10 * minor.
std::string cuda_version(int v) { return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10); }

}  // namespace

std::string cuda_driver_problem() {
  int driver = 0, runtime = 0;
  if (cudaDriverGetVersion(&driver) != cudaSuccess || driver == 0)
    return "no NVIDIA driver found (libcuda.so.1 is not loadable): install the NVIDIA driver";
  cudaRuntimeGetVersion(&runtime);
  // Within one major version the driver may be older than the runtime (CUDA's minor version
  // compatibility), so only the major versions must agree.
  if (driver / 1000 < runtime / 1000)
    return "the NVIDIA driver supports CUDA " + cuda_version(driver) + " but this addon's runtime is CUDA " +
           cuda_version(runtime) + "; install a driver for CUDA " + std::to_string(runtime / 1000) +
           (runtime / 1000 == 13 ? " (the R580 series or newer)" : "") +
           ", or build the addon with the CUDA toolkit of this driver";
  return "";
}

std::string cuda_backend_report() {
  std::ostringstream out;
#ifdef INSALUN_CUDA_EMULATION
  out << "emulation: this build runs the CUDA backend's code on the CPU over an emulated CUDA "
         "runtime and cuDNN (native/cuda_emulation); no GPU is used and its timings mean nothing\n";
#endif
  try {
    int driver = 0, runtime = 0;
    const cudaError_t de = cudaDriverGetVersion(&driver);
    cudaRuntimeGetVersion(&runtime);
    const bool has_driver = de == cudaSuccess && driver > 0;
    const std::string driver_problem = cuda_driver_problem();
    out << "CUDA driver: " << (has_driver ? cuda_version(driver) : std::string("none"))
        << (driver_problem.empty() ? std::string() : " (" + driver_problem + ")") << "\n";
    out << "CUDA runtime: " << cuda_version(runtime) << " (linked statically)\n";
    const cuda::CudnnLibrary& cudnn = cuda::cudnn_library();
    if (cudnn.usable)
      out << "cuDNN: " << cuda::cudnn_version_text(cudnn.version) << " (for CUDA " << cudnn.cuda_version / 1000 << "), "
          << cudnn.path << ", found by " << cudnn.found_by << (cudnn.note.empty() ? std::string() : "; " + cudnn.note)
          << "\n";
    else
      out << "cuDNN: unusable: " << cudnn.problem << "\n";
    out << "cuDNN needed: " << cuda::cudnn_version_text(CUDNN_VERSION)
        << " or a newer 9.x (the headers this addon was built against), for CUDA " << CUDART_VERSION / 1000 << "\n";
    if (!cudnn.usable && !cudnn.searched.empty()) {
      out << "cuDNN searched:";
      for (size_t i = 0; i < cudnn.searched.size(); ++i) out << (i ? "; " : " ") << cudnn.searched[i];
      out << "\n";
    }
    out << "kernels built for: " << INSALUN_CUDA_ARCHS_STRING << "\n";
    if (!has_driver) {
      out << "GPUs: none found (no driver)";
      return out.str();
    }
    int count = 0;
    const cudaError_t ce = cudaGetDeviceCount(&count);
    if (ce != cudaSuccess) {
      cudaGetLastError();
      out << "GPUs: none (" << cudaGetErrorString(ce) << ")";
      return out.str();
    }
    if (count == 0) {
      out << "GPUs: none";
      return out.str();
    }
    for (int d = 0; d < count; ++d) {
      cudaDeviceProp p;
      const cudaError_t pe = cudaGetDeviceProperties(&p, d);
      if (pe != cudaSuccess) {
        cudaGetLastError();
        out << "GPU " << d << ": unreadable (" << cudaGetErrorString(pe) << ")\n";
        continue;
      }
      char memory[32];
      std::snprintf(memory, sizeof(memory), "%.1f GiB", double(p.totalGlobalMem) / (1 << 30));
      out << "GPU " << d << ": " << p.name << ", compute capability " << p.major << "." << p.minor << ", " << memory
          << ", " << p.multiProcessorCount << " SMs\n";
    }
  } catch (const std::exception& e) {
    out << "error while probing CUDA: " << e.what();
  }
  std::string text = out.str();
  if (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

}  // namespace insalun
