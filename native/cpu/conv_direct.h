// Direct (implicit-GEMM) 3x3 convolutions, stride 1 or 2, and 1x1 stride-2 ones, with AVX-512 or AVX2: the products
// read the input planes through masked, shifted vector loads instead of an im2col buffer. See conv_direct.cpp for why
// and when.
#pragma once

#include "../core/backend.h"

namespace insalun::cpu {

// Which directions of convolution s the direct kernels take (all false without AVX2).
struct DirectConv {
  bool forward, backward_data, backward_filter;
};
DirectConv direct_conv_applies(const ConvShape& s);

// What the forward may fold into its output: the inference-mode batch norm that follows the
// convolution, y = relu?(conv(x, w) * scale[c] + shift[c] + residual?), residual shaped as y.
// (Evaluation at width 16 spent about a tenth of its time in that pass over the output.)
struct OutputNorm {
  const float* scale = nullptr;  // cout values
  const float* shift = nullptr;
  const float* residual = nullptr;
  bool relu = false;
};

// y = conv(x, w) (NCHW, w as [cout, cin, k, k]), or its normalized form when norm is given.
void direct_forward(const ConvShape& s, const float* x, const float* w, float* y, const OutputNorm* norm = nullptr);
// dx (+)= the data gradient of conv(x, w) for output gradient dy.
void direct_backward_data(const ConvShape& s, const float* dy, const float* w, float* dx, bool accumulate);
// dw = the filter gradient for input x and output gradient dy.
void direct_backward_filter(const ConvShape& s, const float* x, const float* dy, float* dw);

}  // namespace insalun::cpu
