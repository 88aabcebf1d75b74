// Direct 3x3 stride-1 convolutions (padding 1) with AVX-512, for planes of 16k positions.
//
// Why: the im2col path writes a [Cin*9, positions] column buffer, and the GEMM copies it again
// into packed panels, before any product. With few channels (ResNet-18's first stage at width 16:
// 16 -> 16 channels on 32x32 planes) each column element then feeds only 16 output channels, so the
// copies cost about as much as the products: that stage ran at about half the GEMM's peak and took
// 30% of a training step. Here the products read the input planes directly.
//
// How: a vector holds 16 consecutive output positions of one image's plane (h*w is a multiple of
// 16). The input it needs for kernel offset (kh, kw) is the same 16 positions shifted by
// (kh-1)*w + (kw-1): one unaligned load, with a 16-bit mask that zeroes the lanes whose input falls
// into the padding. The masks depend only on the vector's place in the plane and the offset, so
// they come from a table built once per plane size (lane_masks); this also covers planes narrower
// than 16 (ResNet-18's 8x8 and 4x4 stages), where a vector spans several rows. AVX-512 masked
// loads suppress faults on masked lanes, so the shifted address may point outside the plane there.
//   forward:        a register tile of 8 output channels x 32 positions (two vectors, which for
//                   4x4 planes lie in consecutive images), summed over every input channel and
//                   offset: the GEMM micro-kernel's shape, with B read in place;
//   backward data:  the same kernel: for a 3x3 stride-1 convolution with padding 1, the data
//                   gradient is the convolution of dy with the kernel flipped and its channel axes
//                   swapped;
//   backward filter: dW[co][ci][kh][kw] = sum over images and positions of dy[co] * shifted x[ci],
//                   8 output channels x 3 column offsets in 24 accumulators. With input channels
//                   in 16s the lanes hold 16 input channels, read from a zero-bordered
//                   channels-last copy of x (any plane size); otherwise (the stem's 3 channels)
//                   the lanes run along a row's positions (width a multiple of 16) and are reduced
//                   once per group of images.
#include "conv_direct.h"

#include <omp.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <vector>

#if defined(__AVX512F__)
// GCC 12's AVX-512 headers warn about their own _mm512_undefined_ps() (GCC bug 105593).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#endif

namespace insalun::cpu {

#if defined(__AVX512F__)
namespace {

constexpr int kLanes = 16;     // floats per vector
constexpr int kBlock = 8;      // output channels per register tile
constexpr int kOffsets = 9;    // 3x3 kernel offsets
constexpr int kTile = 2 * kLanes;  // positions per forward tile

bool same_padded_3x3(const ConvShape& s) {
  return s.k == 3 && s.pad == 1 && s.stride == 1 && s.h > 0 && s.w > 0 && s.n > 0;
}

// masks[v * 9 + o]: the lanes of the plane's vector v (positions [16v, 16v+16)) whose input at
// kernel offset o = kh*3 + kw lies inside the plane. Built once per call, for every plane size.
const __mmask16* lane_masks(int h, int w) {
  static thread_local std::vector<__mmask16> table;
  const int vectors = h * w / kLanes;
  table.assign(size_t(vectors) * kOffsets, 0);
  for (int v = 0; v < vectors; ++v)
    for (int o = 0; o < kOffsets; ++o)
      for (int lane = 0; lane < kLanes; ++lane) {
        const int q = v * kLanes + lane, ih = q / w + o / 3 - 1, iw = q % w + o % 3 - 1;
        if (ih >= 0 && ih < h && iw >= 0 && iw < w) table[size_t(v) * kOffsets + o] |= __mmask16(1u << lane);
      }
  return table.data();
}

// Input offset of kernel offset o = kh*3 + kw from an output position.
ptrdiff_t offset_shift(int w, int o) { return ptrdiff_t(o / 3 - 1) * w + (o % 3 - 1); }

float* grow(std::vector<float>& buffer, size_t count) {
  if (buffer.size() < count) buffer.resize(count);
  return buffer.data();
}

// Weights in the register tile's order: panel[block][in channel][offset][8 output channels].
// flipped: the data gradient's kernel, channels swapped and offsets reversed, so that
// out = in_channels (the forward's cout) -> out_channels (its cin).
const float* pack_weights(const ConvShape& s, const float* w, bool flipped) {
  static thread_local std::vector<float> packed;
  const int in_channels = flipped ? s.cout : s.cin, out_channels = flipped ? s.cin : s.cout;
  float* p = grow(packed, size_t(in_channels) * out_channels * kOffsets);
  for (int b = 0; b < out_channels / kBlock; ++b)
    for (int c = 0; c < in_channels; ++c)
      for (int o = 0; o < kOffsets; ++o)
        for (int r = 0; r < kBlock; ++r) {
          const int out = b * kBlock + r;
          const size_t source = flipped ? (size_t(c) * s.cin + out) * kOffsets + (kOffsets - 1 - o)
                                        : (size_t(out) * s.cin + c) * kOffsets + o;
          *p++ = w[source];
        }
  return packed.data();
}

// A tile is 32 consecutive positions of the batch (image-major, then row, then column), two
// vectors of 16 that each lie inside one image's plane (hw is a multiple of 16): both halves are
// in the same image for planes of 32 positions or more, in consecutive images for 4x4 planes.
struct TileHalf {
  size_t in_offset, out_offset;  // of the half's first position in channel 0 of in and out
  const __mmask16* masks;        // its 9 lane masks
};
TileHalf tile_half(size_t position, size_t hw, int in_channels, int out_channels, const __mmask16* masks) {
  const size_t image = position / hw, q = position % hw;
  return {image * in_channels * hw + q, image * out_channels * hw + q, masks + (q / kLanes) * kOffsets};
}

// out[8 channels] at the tile's positions (+)= sum over in channels and offsets of panel * shifted
// input.
void forward_tile(const float* in, int in_channels, size_t hw, int w, const TileHalf half[2],
                  const float* panel, float* out, bool accumulate) {
  __mmask16 mask[2][kOffsets];
  ptrdiff_t shift[kOffsets];
  for (int o = 0; o < kOffsets; ++o) {
    shift[o] = offset_shift(w, o);
    mask[0][o] = half[0].masks[o];
    mask[1][o] = half[1].masks[o];
  }
  __m512 acc[kBlock][2];
#pragma GCC unroll 8
  for (int r = 0; r < kBlock; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  const float* plane0 = in + half[0].in_offset;
  const float* plane1 = in + half[1].in_offset;
  for (int c = 0; c < in_channels; ++c, plane0 += hw, plane1 += hw) {
    for (int o = 0; o < kOffsets; ++o) {
      const __m512 b0 = _mm512_maskz_loadu_ps(mask[0][o], plane0 + shift[o]);
      const __m512 b1 = _mm512_maskz_loadu_ps(mask[1][o], plane1 + shift[o]);
#pragma GCC unroll 8
      for (int r = 0; r < kBlock; ++r) {
        const __m512 a = _mm512_set1_ps(panel[r]);
        acc[r][0] = _mm512_fmadd_ps(a, b0, acc[r][0]);
        acc[r][1] = _mm512_fmadd_ps(a, b1, acc[r][1]);
      }
      panel += kBlock;
    }
  }
  // (acc is only read here: writing it back made GCC keep the accumulators in memory, with a
  // store per FMA pair in the loop above.)
#pragma GCC unroll 8
  for (int r = 0; r < kBlock; ++r) {
    float* row0 = out + half[0].out_offset + r * hw;
    float* row1 = out + half[1].out_offset + r * hw;
    const __m512 old0 = accumulate ? _mm512_loadu_ps(row0) : _mm512_setzero_ps();
    const __m512 old1 = accumulate ? _mm512_loadu_ps(row1) : _mm512_setzero_ps();
    _mm512_storeu_ps(row0, _mm512_add_ps(acc[r][0], old0));
    _mm512_storeu_ps(row1, _mm512_add_ps(acc[r][1], old1));
  }
}

// out (+)= conv3x3(in, packed weights): [n, in_channels, h, w] -> [n, out_channels, h, w]. The
// threads split the tiles; each tile runs every channel block while its input rows are in L1.
void convolve(const float* in, int in_channels, const float* packed, int out_channels, int n, int h,
              int w, float* out, bool accumulate) {
  const size_t hw = size_t(h) * w;
  const int tiles = int(size_t(n) * hw / kTile), blocks = out_channels / kBlock;
  const size_t panel_size = size_t(in_channels) * kOffsets * kBlock;
  const __mmask16* masks = lane_masks(h, w);
#pragma omp parallel for schedule(static)
  for (int tile = 0; tile < tiles; ++tile) {
    const size_t position = size_t(tile) * kTile;
    const TileHalf half[2] = {tile_half(position, hw, in_channels, out_channels, masks),
                              tile_half(position + kLanes, hw, in_channels, out_channels, masks)};
    for (int b = 0; b < blocks; ++b)
      forward_tile(in, in_channels, hw, w, half, packed + b * panel_size, out + size_t(b) * kBlock * hw,
                   accumulate);
  }
}

// The filter gradient of one (block of 8 output channels, input channel, kernel row kh) over
// images [i0, i1): 24 dot products along the positions, added into dw_rows (row r of the block
// at dw_rows + r * ldw, columns kh*3 + kw).
// The plane width is a multiple of 16, so a vector lies inside one row: whole rows are in or out
// (the loop runs over the rows that are in), and only the first or last lane can fall outside.
// (A mask table lookup per vector, as the forward tiles use, measured 1.2x slower here: the 24
// accumulators leave no registers to spare.)
void filter_rows(const ConvShape& s, const float* x, const float* dy, int block, int c, int kh,
                 int i0, int i1, float* dw_rows, size_t ldw) {
  const int w = s.w, h = s.h;
  const size_t hw = size_t(h) * w;
  // Output rows whose input row oh + kh - 1 is inside the plane.
  const int oh0 = std::max(0, 1 - kh), oh1 = std::min(h, h + 1 - kh);
  const size_t q_begin = size_t(oh0) * w, q_end = size_t(oh1) * w;
  __m512 acc[kBlock][3];
#pragma GCC unroll 8
  for (int r = 0; r < kBlock; ++r) acc[r][0] = acc[r][1] = acc[r][2] = _mm512_setzero_ps();
  for (int i = i0; i < i1; ++i) {
    const float* row_in = x + (size_t(i) * s.cin + c) * hw + ptrdiff_t(kh - 1) * w;
    const float* grad = dy + (size_t(i) * s.cout + size_t(block) * kBlock) * hw;
    for (size_t q = q_begin; q < q_end; q += kLanes) {
      const int ow0 = int(q % w);
      const __m512 left = _mm512_maskz_loadu_ps(ow0 == 0 ? 0xFFFE : 0xFFFF, row_in + q - 1);
      const __m512 mid = _mm512_loadu_ps(row_in + q);
      const __m512 right = _mm512_maskz_loadu_ps(ow0 + kLanes == w ? 0x7FFF : 0xFFFF, row_in + q + 1);
#pragma GCC unroll 8
      for (int r = 0; r < kBlock; ++r) {
        const __m512 d = _mm512_loadu_ps(grad + r * hw + q);
        acc[r][0] = _mm512_fmadd_ps(d, left, acc[r][0]);
        acc[r][1] = _mm512_fmadd_ps(d, mid, acc[r][1]);
        acc[r][2] = _mm512_fmadd_ps(d, right, acc[r][2]);
      }
    }
  }
  // Fully unrolled, so that acc stays in registers (a run-time index would put it in memory).
#pragma GCC unroll 8
  for (int r = 0; r < kBlock; ++r) {
    float* dst = dw_rows + r * ldw + kh * 3;
    dst[0] += _mm512_reduce_add_ps(acc[r][0]);
    dst[1] += _mm512_reduce_add_ps(acc[r][1]);
    dst[2] += _mm512_reduce_add_ps(acc[r][2]);
  }
}

// The filter gradient with input channels in the vector lanes, for cin a multiple of 16: each
// image is first copied channels-last with a zero border, xp[(ih+1)*(w+2) + iw+1][c], so that the
// input of every offset is one unmasked load of 16 channels, whatever the plane's size. A tile is
// 8 output channels x 3 column offsets of one kernel row kh for one block of 16 input channels:
// per position, 3 loads and 8 broadcasts of dy feed 24 FMAs, and the sum over positions stays in
// the lanes (no reduction across lanes).

// Images [i0, i1) of x, channels-last with a zero border, into xp.
void pad_channels_last(const ConvShape& s, const float* x, int i0, int i1, float* xp) {
  const size_t hw = size_t(s.h) * s.w, padded = size_t(s.h + 2) * (s.w + 2) * s.cin;
  std::memset(xp, 0, sizeof(float) * padded * (i1 - i0));
  for (int i = i0; i < i1; ++i) {
    const float* image = x + size_t(i) * s.cin * hw;
    float* out = xp + size_t(i - i0) * padded;
    for (int ih = 0; ih < s.h; ++ih)
      for (int iw = 0; iw < s.w; ++iw) {
        float* position = out + (size_t(ih + 1) * (s.w + 2) + iw + 1) * s.cin;
        const size_t q = size_t(ih) * s.w + iw;
        for (int c = 0; c < s.cin; ++c) position[c] = image[c * hw + q];
      }
  }
}

// Adds the tile (block of 8 output channels, kernel row kh, input channels [16cb, 16cb+16)) of
// images [i0, i1) (xp holds them from i0) into the partial gradient dwt[co][kh][kw][ci].
void filter_tile_channels_last(const ConvShape& s, const float* xp, const float* dy, int i0, int i1,
                               int block, int kh, int cb, float* dwt) {
  const int w = s.w, h = s.h;
  const size_t hw = size_t(h) * w, row_stride = size_t(w + 2) * s.cin;
  const size_t padded = size_t(h + 2) * row_stride;
  float* dst = dwt + (size_t(block) * kBlock * 9 + kh * 3) * s.cin + cb * kLanes;
  const size_t ld = size_t(9) * s.cin;  // between output channels in dwt
  __m512 acc[kBlock][3];
#pragma GCC unroll 8
  for (int r = 0; r < kBlock; ++r) {
    acc[r][0] = _mm512_loadu_ps(dst + r * ld);
    acc[r][1] = _mm512_loadu_ps(dst + r * ld + s.cin);
    acc[r][2] = _mm512_loadu_ps(dst + r * ld + 2 * s.cin);
  }
  for (int i = i0; i < i1; ++i) {
    const float* grad = dy + (size_t(i) * s.cout + size_t(block) * kBlock) * hw;
    const float* rows = xp + size_t(i - i0) * padded + size_t(kh) * row_stride + cb * kLanes;
    for (int oh = 0; oh < h; ++oh, rows += row_stride, grad += w) {
      const float* in = rows;
      for (int ow = 0; ow < w; ++ow, in += s.cin) {
        const __m512 left = _mm512_loadu_ps(in), mid = _mm512_loadu_ps(in + s.cin),
                     right = _mm512_loadu_ps(in + 2 * s.cin);
#pragma GCC unroll 8
        for (int r = 0; r < kBlock; ++r) {
          const __m512 d = _mm512_set1_ps(grad[r * hw + ow]);
          acc[r][0] = _mm512_fmadd_ps(d, left, acc[r][0]);
          acc[r][1] = _mm512_fmadd_ps(d, mid, acc[r][1]);
          acc[r][2] = _mm512_fmadd_ps(d, right, acc[r][2]);
        }
      }
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < kBlock; ++r) {
    _mm512_storeu_ps(dst + r * ld, acc[r][0]);
    _mm512_storeu_ps(dst + r * ld + s.cin, acc[r][1]);
    _mm512_storeu_ps(dst + r * ld + 2 * s.cin, acc[r][2]);
  }
}

}  // namespace

DirectConv direct_conv_applies(const ConvShape& s) {
  if (!same_padded_3x3(s)) return {false, false, false};
  // Forward and data: vectors inside one plane, whole tiles in the batch. Filter: input channels
  // in 16s (channels in the lanes), or rows of whole vectors (positions in the lanes).
  const size_t hw = size_t(s.h) * s.w;
  const bool tiles = hw % kLanes == 0 && (hw * s.n) % kTile == 0;
  return {tiles && s.cout % kBlock == 0, tiles && s.cin % kBlock == 0,
          (s.w % kLanes == 0 || s.cin % kLanes == 0) && s.cout % kBlock == 0};
}

void direct_forward(const ConvShape& s, const float* x, const float* w, float* y) {
  convolve(x, s.cin, pack_weights(s, w, false), s.cout, s.n, s.h, s.w, y, false);
}

void direct_backward_data(const ConvShape& s, const float* dy, const float* w, float* dx, bool accumulate) {
  convolve(dy, s.cout, pack_weights(s, w, true), s.cin, s.n, s.h, s.w, dx, accumulate);
}

namespace {

// dw as a sum of per-thread partial gradients over shares of the images, added in thread order
// (the result does not depend on timing). Within a share, images go in groups whose data
// (floats_per_image each) fit in L2, so every tile's pass over a group reads cached data.
// add_group(partial, first, last) adds images [first, last) into one thread's partial;
// partial_index(j) is where dw[j] lies in a partial.
template <typename AddGroup, typename PartialIndex>
void sum_over_images(const ConvShape& s, size_t floats_per_image, AddGroup add_group,
                     PartialIndex partial_index, float* dw) {
  const size_t weights = s.weight_size();
  const int threads = std::max(1, std::min(omp_get_max_threads(), s.n));
  const int group = int(std::clamp<size_t>((size_t(1) << 16) / floats_per_image, 1, size_t(s.n)));
  static thread_local std::vector<float> partial_buffer;
  float* partials = grow(partial_buffer, weights * threads);
  std::memset(partials, 0, sizeof(float) * weights * threads);
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int t = 0; t < threads; ++t) {
    const int first = int(int64_t(s.n) * t / threads), last = int(int64_t(s.n) * (t + 1) / threads);
    for (int g = first; g < last; g += group) add_group(partials + size_t(t) * weights, g, std::min(g + group, last));
  }
#pragma omp parallel for schedule(static)
  for (size_t j = 0; j < weights; ++j) {
    const size_t from = partial_index(j);
    float total = 0.0f;
    for (int t = 0; t < threads; ++t) total += partials[size_t(t) * weights + from];
    dw[j] = total;
  }
}

}  // namespace

void direct_backward_filter(const ConvShape& s, const float* x, const float* dy, float* dw) {
  const size_t hw = size_t(s.h) * s.w;
  if (s.cin % kLanes == 0) {
    // Partials as [cout][3][3][cin]; each thread pads its group into its own buffer.
    const size_t padded = size_t(s.h + 2) * (s.w + 2) * s.cin;
    const auto add_group = [&](float* partial, int first, int last) {
      static thread_local std::vector<float> xp_buffer;
      float* xp = grow(xp_buffer, padded * (last - first));
      pad_channels_last(s, x, first, last, xp);
      for (int b = 0; b < s.cout / kBlock; ++b)
        for (int kh = 0; kh < 3; ++kh)
          for (int cb = 0; cb < s.cin / kLanes; ++cb)
            filter_tile_channels_last(s, xp, dy, first, last, b, kh, cb, partial);
    };
    const auto partial_index = [&](size_t j) {  // j = (co*cin + ci)*9 + o
      const size_t o = j % kOffsets, ci = (j / kOffsets) % s.cin, co = j / kOffsets / s.cin;
      return (co * kOffsets + o) * s.cin + ci;
    };
    return sum_over_images(s, padded + s.cout * hw, add_group, partial_index, dw);
  }
  // Planes of width 16k with few input channels (the stem's 3): partials in dw's layout.
  const size_t ldw = size_t(s.cin) * kOffsets;
  const auto add_group = [&](float* partial, int first, int last) {
    for (int b = 0; b < s.cout / kBlock; ++b)
      for (int c = 0; c < s.cin; ++c)
        for (int kh = 0; kh < 3; ++kh)
          filter_rows(s, x, dy, b, c, kh, first, last, partial + size_t(b) * kBlock * ldw + size_t(c) * kOffsets, ldw);
  };
  sum_over_images(s, (s.cin + s.cout) * hw, add_group, [](size_t j) { return j; }, dw);
}

#else  // without AVX-512 the im2col path handles every convolution

DirectConv direct_conv_applies(const ConvShape&) { return {false, false, false}; }
namespace {
[[noreturn]] void unavailable() { throw std::logic_error("direct convolutions need AVX-512"); }
}  // namespace
void direct_forward(const ConvShape&, const float*, const float*, float*) { unavailable(); }
void direct_backward_data(const ConvShape&, const float*, const float*, float*, bool) { unavailable(); }
void direct_backward_filter(const ConvShape&, const float*, const float*, float*) { unavailable(); }

#endif

}  // namespace insalun::cpu
