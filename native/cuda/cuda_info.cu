// cuda_backend_report(): what this CUDA build finds on the machine, one fact per line.
#include <dlfcn.h>
#include <link.h>

#include <cstdio>
#include <mutex>
#include <sstream>

#include "cuda_info.h"
#include "impl.cuh"

namespace insalun {
namespace {

// CUDA encodes versions as 1000 * major + 10 * minor.
std::string cuda_version(int v) {
  return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}

// cuDNN 9 encodes versions as 10000 * major + 100 * minor + patch.
std::string cudnn_version(size_t v) {
  return std::to_string(v / 10000) + "." + std::to_string((v % 10000) / 100) + "." +
         std::to_string(v % 100);
}

// The directory of the libcudnn.so.9 this process loaded: its sub-libraries are looked up there
// first (it carries RPATH $ORIGIN), then on the normal search path.
std::string cudnn_directory() {
  void* front = dlopen("libcudnn.so.9", RTLD_LAZY | RTLD_NOLOAD);
  if (!front) return "";
  std::string dir;
  struct link_map* map = nullptr;
  if (dlinfo(front, RTLD_DI_LINKMAP, &map) == 0 && map && map->l_name) {
    dir = map->l_name;
    const size_t slash = dir.rfind('/');
    dir = slash == std::string::npos ? "" : dir.substr(0, slash);
  }
  dlclose(front);
  return dir;
}

[[maybe_unused]] std::string probe_cudnn() {  // unused by the CUDA emulation
  const std::string dir = cudnn_directory();
  for (const char* lib : {"libcudnn_graph.so.9", "libcudnn_ops.so.9", "libcudnn_cnn.so.9"}) {
    // Loaded for good (no dlclose): cuDNN would load them on first use anyway.
    if (!dir.empty() && dlopen((dir + "/" + lib).c_str(), RTLD_LAZY | RTLD_LOCAL)) continue;
    if (dlopen(lib, RTLD_LAZY | RTLD_LOCAL)) continue;
    const char* err = dlerror();
    return std::string("cuDNN is incomplete: ") + lib + " cannot be loaded" +
           (dir.empty() ? ""
                        : " (looked next to " + dir + "/libcudnn.so.9 and on the library path)") +
           (err ? std::string(": ") + err : std::string()) +
           "; install cuDNN 9 (e.g. pip install nvidia-cudnn-cu13) and put its lib/ on "
           "LD_LIBRARY_PATH";
  }
  return "";
}

}  // namespace

namespace cuda {

std::string cudnn_missing() {
#ifdef INSALUN_CUDA_EMULATION
  return "";  // the emulation's cuDNN is built in
#else
  static std::once_flag once;
  static std::string reason;
  std::call_once(once, [] { reason = probe_cudnn(); });
  return reason;
#endif
}

}  // namespace cuda

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
    out << "CUDA driver: "
        << (has_driver ? cuda_version(driver) : std::string("none (no NVIDIA driver found)"))
        << "\n";
    out << "CUDA runtime: " << cuda_version(runtime) << " (linked statically)\n";
    const std::string missing = cuda::cudnn_missing();
    if (missing.empty())
      out << "cuDNN: " << cudnn_version(cudnnGetVersion()) << " (built against "
          << cudnn_version(CUDNN_VERSION) << ")\n";
    else
      out << "cuDNN: unusable: " << missing << "\n";
    out << "kernels built for: " << INSALUN_CUDA_ARCHS_STRING << "\n";
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
      out << "GPU " << d << ": " << p.name << ", compute capability " << p.major << "." << p.minor
          << ", " << memory << ", " << p.multiProcessorCount << " SMs\n";
    }
  } catch (const std::exception& e) {
    out << "error while probing CUDA: " << e.what();
  }
  std::string text = out.str();
  if (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

}  // namespace insalun
