#include "backend.h"

#include <algorithm>
#include <limits>
#include <string>

namespace insalun {

const char* precision_name(Precision p) {
  switch (p) {
    case Precision::kFp32:
      return "fp32";
    case Precision::kTf32:
      return "tf32";
    case Precision::kBf16:
      return "bf16";
  }
  return "unknown";
}

void check_conv_shape(const ConvShape& s) {
  const bool sizes = s.n > 0 && s.cin > 0 && s.h > 0 && s.w > 0 && s.cout > 0 && s.k > 0 && s.stride > 0;
  // In 64 bits: h + 2 * pad may not fit an int, and the output size is computed in ints.
  const int64_t padded_h = int64_t(s.h) + 2 * int64_t(s.pad), padded_w = int64_t(s.w) + 2 * int64_t(s.pad);
  const bool output = sizes && s.pad >= 0 && padded_h >= s.k && padded_w >= s.k &&
                      std::max(padded_h, padded_w) <= std::numeric_limits<int>::max();
  if (output) return;
  throw std::invalid_argument("conv2d: invalid shape n=" + std::to_string(s.n) + " cin=" + std::to_string(s.cin) + " " +
                              std::to_string(s.h) + "x" + std::to_string(s.w) + " cout=" + std::to_string(s.cout) +
                              " k=" + std::to_string(s.k) + " stride=" + std::to_string(s.stride) +
                              " pad=" + std::to_string(s.pad) +
                              (sizes ? " (the padded input must be at least the kernel's size; padding not negative)"
                                     : " (sizes and stride must be positive)"));
}

void check_norm_backward(const Act* relu_out, const Act* gated_dy, const Act* dx) {
  if (gated_dy && !relu_out) throw std::invalid_argument("bn backward: a gated dy needs the ReLU output that gates it");
  if (gated_dy && gated_dy == dx)
    throw std::invalid_argument("bn backward: dx and the gated dy must be different buffers");
}

}  // namespace insalun
