// What the CUDA build found at run time, for the `doctor` command: driver, runtime and cuDNN
// versions, each GPU's name and compute capability, or why no device answers. Never throws.
#pragma once

#include <string>

namespace insalun {

std::string cuda_backend_report();

// Empty when the NVIDIA driver can run this addon's CUDA runtime; otherwise why not, and the fix.
std::string cuda_driver_problem();

}  // namespace insalun
