// Direct 3x3 convolutions (padding 1, stride 1 or 2) with AVX-512 or AVX2 and FMA, for any output
// plane whose vector count, times the batch, is even. The kernels are conv_direct_kernels.h, written once over a
// vector class (simd.h) and compiled here once per instruction set; isa.h picks one at run time.
//
// Why: the im2col path writes a [Cin*9, positions] column buffer, and the GEMM copies it again
// into packed panels, before any product. With few channels (ResNet-18's first stage at width 16:
// 16 -> 16 channels on 32x32 planes) each column element then feeds only 16 output channels, so the
// copies cost about as much as the products: that stage ran at about half the GEMM's peak and took
// 30% of a training step. Here the products read the input planes directly.
//
// How: a vector holds 16 consecutive output positions of one image's plane; where h*w is not a
// multiple of 16 (Fashion-MNIST's 14x14 and 7x7 planes) the plane's last vector is partial, its
// lanes past the plane masked on every load and store. The input it needs for kernel offset (kh, kw) is the same 16
// positions shifted by (kh-1)*w + (kw-1): one unaligned load, with a 16-bit mask that zeroes the lanes whose input
// falls into the padding. The masks depend only on the vector's place in the plane and the offset, so they come from a
// table built once per plane geometry (Taps, build_masks); this also covers planes narrower than 16 (ResNet-18's 8x8
// and 4x4 stages), where a vector spans several rows. Masked loads (AVX-512's, and AVX2's VMASKMOVPS) suppress faults
// on masked lanes, so the shifted address may point outside the plane there. With AVX2 (8 lanes, 16 registers) a
// forward tile is 6 output channels x 16 positions (4 for the channels left over), and where all of a tile's loads lie
// inside the input they are plain loads ANDed with the mask (VMASKMOVPS would need a register for it); the filter
// gradient has 4 x 3 accumulators.
//   forward:        a register tile of 8 output channels x 32 positions (two vectors, which for
//                   planes of 16 or 48 positions lie in consecutive images), summed over every
//                   input channel and offset: the GEMM micro-kernel's shape, with B read in place;
//   backward data:  the same kernel: for a 3x3 stride-1 convolution with padding 1, the data
//                   gradient is the convolution of dy with the kernel flipped and its channel axes
//                   swapped;
//   backward filter: dW[co][ci][kh][kw] = sum over images and positions of dy[co] * shifted x[ci],
//                   8 output channels x 3 column offsets in 24 accumulators. With input channels
//                   in 16s the lanes hold 16 input channels, read from a zero-bordered
//                   channels-last copy of x (any plane size); otherwise (the stem's 3 channels)
//                   the lanes run along a row's positions (width a multiple of 16) and are reduced
//                   once per group of images.
// Stride 2 (the first convolution of layers 2-4): split into four phase planes of the output's
// size (even/odd rows x even/odd columns), every tap reads one phase at a shift of 0 or -1, so the
// forward is the same tile kernel over the phase split; the data gradient is one such convolution
// of dy per phase of dx (1, 2, 2 or 4 taps), interleaved back; the channels-last filter gradient
// reads every other position.
// The 1x1 stride-2 convolutions (the shortcuts of layers 2-4) read only the even rows and
// columns: their forward is the tile kernel with one tap over that subsampled plane (the phase
// split's first phase alone), their data gradient one such convolution of dy into that phase, the
// other positions of dx being zero; their filter gradient a dot product over positions with 16
// input channels in the lanes, from a channels-last copy of the even positions. (Through im2col
// they ran at a third of the 3x3 layers' rate.)
#include "conv_direct.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <stdexcept>
#include <tuple>
#include <vector>

#include "isa.h"
#include "parallel.h"
#include "simd.h"
#include "threads.h"

namespace insalun::cpu {

#define INSALUN_KERNELS "conv_direct_kernels.h"
#include "for_each_isa.h"

#if INSALUN_SIMD_X86
// Runs the active instruction set's copy of a kernel (none without AVX2: the im2col path then
// takes every convolution, as direct_conv_applies says).
#define INSALUN_DIRECT(call) (active_isa() == Isa::avx512 ? avx512::call : avx2::call)
DirectConv direct_conv_applies(const ConvShape& s) {
  if (active_isa() == Isa::generic) return {false, false, false};
  return INSALUN_DIRECT(direct_conv_applies(s));
}
void direct_forward(const ConvShape& s, const float* x, const float* w, float* y, const OutputNorm* norm) {
  INSALUN_DIRECT(direct_forward(s, x, w, y, norm));
}
void direct_backward_data(const ConvShape& s, const float* dy, const float* w, float* dx, bool accumulate) {
  INSALUN_DIRECT(direct_backward_data(s, dy, w, dx, accumulate));
}
void direct_backward_filter(const ConvShape& s, const float* x, const float* dy, float* dw) {
  INSALUN_DIRECT(direct_backward_filter(s, x, dy, dw));
}
#undef INSALUN_DIRECT

#else  // off x86 the im2col path handles every convolution

DirectConv direct_conv_applies(const ConvShape&) { return {false, false, false}; }
namespace {
[[noreturn]] void unavailable() { throw std::logic_error("direct convolutions need AVX2 or AVX-512"); }
}  // namespace
void direct_forward(const ConvShape&, const float*, const float*, float*, const OutputNorm*) { unavailable(); }
void direct_backward_data(const ConvShape&, const float*, const float*, float*, bool) { unavailable(); }
void direct_backward_filter(const ConvShape&, const float*, const float*, float*) { unavailable(); }

#endif

}  // namespace insalun::cpu
