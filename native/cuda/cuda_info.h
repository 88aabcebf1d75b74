// What the CUDA build found at run time, for the `doctor` command: driver, runtime and cuDNN
// versions, each GPU's name and compute capability, or why no device answers. Never throws.
#pragma once

#include <string>

namespace insalun {

std::string cuda_backend_report();

}  // namespace insalun
