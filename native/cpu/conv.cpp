// Convolution on the CPU: im2col + GEMM over chunks of images.
//   forward:          Y[Cout, P]  = W[Cout, K] * col[K, P]
//   backward data:    dcol[K, P]  = W^T * dY[Cout, P], then col2im
//   backward filter:  dW[Cout, K] += dY[Cout, P] * col^T
// with K = Cin*k*k and P = (images in chunk) * Ho * Wo. The GEMM works in "channel-major" order
// ([Cout, image, Ho*Wo]); scattering to and from NCHW costs one memory pass, far below the GEMM.
//
// Parallelism: when there are at least as many chunks as threads, each thread takes whole chunks
// (its own im2col, a single-threaded GEMM, its own scatter): one parallel region per convolution
// and no barriers inside it. Otherwise (tiny batches) the chunks run one after another with every
// thread inside each step. The forward and data passes sum along K alone, so their chunks may
// follow the thread count; the filter gradient sums over the images, so its chunks and shares
// depend on the shape alone (every thread count gives the same bits).
#include <algorithm>
#include <cstddef>
#include <cstring>
#include <vector>

#include "conv_direct.h"
#include "cpu_backend.h"
#include "gemm.h"
#include "parallel.h"
#include "threads.h"

namespace insalun::cpu {
namespace {

// Column-buffer budget per chunk (floats): 512 KiB, so that the GEMM's packing reads the columns
// im2col has just written from L2 (4 MiB chunks halved the small-width convolutions' speed)...
constexpr size_t kColumnBudget = size_t(1) << 17;
// ...but at least this many columns, or the deep layers (4x4 outputs, 4.7 M weights) would repack
// their weights for every few columns.
constexpr int kMinColumns = 256;

int images_per_chunk(const ConvShape& s, int threads) {
  const int hw_out = std::max(1, s.ho() * s.wo());
  const size_t per_image = size_t(s.cin) * s.k * s.k * hw_out;
  const int by_budget = int(std::clamp<size_t>(kColumnBudget / per_image, 1, size_t(s.n)));
  const int by_columns = std::min(s.n, (kMinColumns + hw_out - 1) / hw_out);
  // Enough chunks for every thread to take some.
  return std::max(1, std::min(std::max(by_budget, by_columns), (s.n + threads - 1) / threads));
}

// The output columns ow whose input column ow*stride - pad + kw lies inside the image, so the
// inner loops run without bounds checks (and vectorize).
struct OutputRange {
  int begin, end;
};
OutputRange valid_columns(const ConvShape& s, int wo, int kw) {
  const int offset = kw - s.pad;  // iw = ow*stride + offset
  const int begin = offset >= 0 ? 0 : (-offset + s.stride - 1) / s.stride;
  const int last = s.w - 1 - offset;  // largest ow*stride allowed; negative: no column is valid
  const int end = last < 0 ? 0 : std::min(wo, last / s.stride + 1);
  return {std::min(begin, wo), std::max(end, std::min(begin, wo))};
}

// A stride-1 convolution whose output rows are as wide as its input rows (2*pad = k-1: every 3x3
// and 1x1 stride-1 layer) reads, for kernel offset (kh, kw), input element q + shift for output
// element q = oh*w + ow. So the valid outputs of one im2col row are a single shifted run of the
// plane, [first, last), except for the columns that wrap around a row edge (padding).
// Row by row, the copies were a memcpy of 16-32 floats each, and im2col was a quarter of
// evaluation time at width 16.
struct ShiftedRun {
  bool empty;        // no output reads inside the image
  ptrdiff_t shift;   // input index - output index
  int first, last;   // first valid output, one past the last (all inside the input plane)
  int oh0, oh1;      // output rows whose input row is inside the image
  OutputRange cols;  // valid output columns
};

ShiftedRun shifted_run(const ConvShape& s, int kh, int kw) {
  ShiftedRun r;
  r.cols = valid_columns(s, s.w, kw);
  r.oh0 = std::max(0, s.pad - kh);
  r.oh1 = std::min(s.ho(), s.h + s.pad - kh);
  r.empty = r.oh0 >= r.oh1 || r.cols.begin >= r.cols.end;
  r.shift = ptrdiff_t(kh - s.pad) * s.w + (kw - s.pad);
  r.first = r.empty ? 0 : r.oh0 * s.w + r.cols.begin;
  r.last = r.empty ? 0 : (r.oh1 - 1) * s.w + r.cols.end;
  return r;
}

// Zeroes the wrapped columns inside [first, last) of a same-width im2col row.
void zero_wrapped_columns(const ConvShape& s, const ShiftedRun& r, float* row) {
  if (r.empty || (r.cols.begin == 0 && r.cols.end == s.w)) return;
  for (int oh = r.oh0; oh + 1 < r.oh1; ++oh)
    for (int q = oh * s.w + r.cols.end; q < (oh + 1) * s.w + r.cols.begin; ++q) row[q] = 0.0f;
}

void im2col_same_width_row(const ConvShape& s, const ShiftedRun& r, const float* plane, float* out) {
  const int hw_out = s.ho() * s.w;
  std::memset(out, 0, sizeof(float) * r.first);
  std::memcpy(out + r.first, plane + r.first + r.shift, sizeof(float) * (r.last - r.first));
  std::memset(out + r.last, 0, sizeof(float) * (hw_out - r.last));
  zero_wrapped_columns(s, r, out);
}

// The inverse: plane[q + shift] += row[q] over the valid outputs. The row's wrapped entries
// belong to padding, so they are zeroed first (the column buffer is scratch) and the run is then
// one contiguous, vectorized add.
void col2im_same_width_row(const ConvShape& s, const ShiftedRun& r, float* row, float* __restrict plane) {
  if (r.empty) return;
  zero_wrapped_columns(s, r, row);
  const float* __restrict src = row + r.first;
  float* __restrict dst = plane + r.first + r.shift;
  for (int q = 0; q < r.last - r.first; ++q) dst[q] += src[q];
}

void im2col(const ConvShape& s, const float* x, int img0, int nb, float* col, bool parallel) {
  const int ho = s.ho(), wo = s.wo(), hw_out = ho * wo, kk = s.k * s.k;
  const int rows = s.cin * kk;
  const size_t row_len = size_t(nb) * hw_out;
  const bool same_width = s.stride == 1 && wo == s.w;
  parallel_for(parallel, rows, [&](int row) {
    const int c = row / kk, kh = (row % kk) / s.k, kw = row % s.k;
    float* dst = col + size_t(row) * row_len;
    const ShiftedRun run = same_width ? shifted_run(s, kh, kw) : ShiftedRun{};
    for (int i = 0; i < nb; ++i) {
      const float* plane = x + (size_t(img0 + i) * s.cin + c) * s.h * s.w;
      if (same_width) {
        im2col_same_width_row(s, run, plane, dst + size_t(i) * hw_out);
        continue;
      }
      for (int oh = 0; oh < ho; ++oh) {
        const int ih = oh * s.stride - s.pad + kh;
        float* out = dst + size_t(i) * hw_out + size_t(oh) * wo;
        if (ih < 0 || ih >= s.h) {
          std::memset(out, 0, sizeof(float) * wo);
          continue;
        }
        const float* src = plane + size_t(ih) * s.w;
        const OutputRange r = valid_columns(s, wo, kw);
        for (int ow = 0; ow < r.begin; ++ow) out[ow] = 0.0f;
        if (s.stride == 1) {
          std::memcpy(out + r.begin, src + r.begin - s.pad + kw, sizeof(float) * (r.end - r.begin));
        } else {
          for (int ow = r.begin; ow < r.end; ++ow) out[ow] = src[ow * s.stride - s.pad + kw];
        }
        for (int ow = r.end; ow < wo; ++ow) out[ow] = 0.0f;
      }
    }
  });
}

// dx[img0 .. img0+nb) (+)= col2im(col): each (image, channel) plane is written by one thread.
// col is scratch: the stride-1 path zeroes its padding entries.
void col2im(const ConvShape& s, float* col, int img0, int nb, float* dx, bool accumulate, bool parallel) {
  const int ho = s.ho(), wo = s.wo(), hw_out = ho * wo, kk = s.k * s.k;
  const size_t row_len = size_t(nb) * hw_out;
  const bool same_width = s.stride == 1 && wo == s.w;
  parallel_for(parallel, nb * s.cin, [&](int plane_index) {
    const int i = plane_index / s.cin, c = plane_index % s.cin;
    float* plane = dx + (size_t(img0 + i) * s.cin + c) * s.h * s.w;
    if (!accumulate) std::memset(plane, 0, sizeof(float) * s.h * s.w);
    for (int kh = 0; kh < s.k; ++kh) {
      for (int kw = 0; kw < s.k; ++kw) {
        float* src = col + size_t(c * kk + kh * s.k + kw) * row_len + size_t(i) * hw_out;
        if (same_width) {
          col2im_same_width_row(s, shifted_run(s, kh, kw), src, plane);
          continue;
        }
        for (int oh = 0; oh < ho; ++oh) {
          const int ih = oh * s.stride - s.pad + kh;
          if (ih < 0 || ih >= s.h) continue;
          float* dst = plane + size_t(ih) * s.w - s.pad + kw;
          const float* row = src + size_t(oh) * wo;
          const OutputRange r = valid_columns(s, wo, kw);
          for (int ow = r.begin; ow < r.end; ++ow) dst[ow * s.stride] += row[ow];
        }
      }
    }
  });
}

// NCHW images [img0, img0+nb) of a [n, channels, hw] tensor <-> channel-major [channels, nb*hw].
void to_channel_major(const float* nchw, int channels, int hw, int img0, int nb, float* cm, bool parallel) {
  parallel_for(parallel, channels, [&](int c) {
    for (int i = 0; i < nb; ++i)
      std::memcpy(cm + (size_t(c) * nb + i) * hw, nchw + (size_t(img0 + i) * channels + c) * hw, sizeof(float) * hw);
  });
}

void from_channel_major(const float* cm, int channels, int hw, int img0, int nb, float* nchw, bool accumulate,
                        bool parallel) {
  parallel_for(parallel, channels, [&](int c) {
    for (int i = 0; i < nb; ++i) {
      float* dst = nchw + (size_t(img0 + i) * channels + c) * hw;
      const float* src = cm + (size_t(c) * nb + i) * hw;
      if (accumulate) {
        for (int j = 0; j < hw; ++j) dst[j] += src[j];
      } else {
        std::memcpy(dst, src, sizeof(float) * hw);
      }
    }
  });
}

float* grow(std::vector<float>& buffer, size_t count) {
  if (buffer.size() < count) buffer.resize(count);
  return buffer.data();
}

// Per-thread scratch: column and channel-major buffers survive between calls.
struct Scratch {
  std::vector<float> columns, channel_major;
};
Scratch& thread_scratch() {
  static thread_local Scratch scratch;
  return scratch;
}

// Images [img0, img0+nb) of an NCHW tensor in channel-major order: one image already is, so it is
// used in place; several are copied into the thread's channel-major buffer.
const float* channel_major_view(const float* nchw, int channels, int hw, int img0, int nb, Scratch& t, bool parallel) {
  if (nb == 1) return nchw + size_t(img0) * channels * hw;
  float* cm = grow(t.channel_major, size_t(channels) * nb * hw);
  to_channel_major(nchw, channels, hw, img0, nb, cm, parallel);
  return cm;
}

// Runs body(img0, nb, parallel_inside) over the chunks of a convolution, choosing between
// "threads take chunks" and "all threads inside each chunk" as described at the top.
template <typename Body>
void for_each_chunk(const ConvShape& s, Body body) {
  const int threads = max_threads();
  const int chunk = images_per_chunk(s, threads);
  const int chunks = (s.n + chunk - 1) / chunk;
  if (chunks >= threads && threads > 1) {
#pragma omp parallel for schedule(static)
    for (int c = 0; c < chunks; ++c) body(c * chunk, std::min(chunk, s.n - c * chunk), false);
  } else {
    for (int c = 0; c < chunks; ++c) body(c * chunk, std::min(chunk, s.n - c * chunk), true);
  }
}

// y (+)= conv(x, w). A chunk of one image is already channel-major in NCHW, so the GEMM writes
// (or adds) straight into y; larger chunks go through the channel-major buffer.
void forward(const ConvShape& s, const float* x, const float* w, float* y, bool accumulate) {
  const int hw_out = s.ho() * s.wo(), depth = s.cin * s.k * s.k;
  for_each_chunk(s, [&](int img0, int nb, bool parallel) {
    Scratch& t = thread_scratch();
    const int cols = nb * hw_out;
    float* col = grow(t.columns, size_t(depth) * cols);
    im2col(s, x, img0, nb, col, parallel);
    if (nb == 1) {
      float* out = y + size_t(img0) * s.cout * hw_out;
      sgemm(false, false, s.cout, cols, depth, 1.0f, w, depth, col, cols, accumulate ? 1.0f : 0.0f, out, cols,
            parallel);
      return;
    }
    float* out = grow(t.channel_major, size_t(s.cout) * cols);
    sgemm(false, false, s.cout, cols, depth, 1.0f, w, depth, col, cols, 0.0f, out, cols, parallel);
    from_channel_major(out, s.cout, hw_out, img0, nb, y, accumulate, parallel);
  });
}

}  // namespace

void CpuBackend::conv2d_forward(const ConvShape& s, const Act* xa, const float* w, Act* ya) {
  if (direct_conv_applies(s).forward) return direct_forward(s, f32(xa), w, f32(ya));
  forward(s, f32(xa), w, f32(ya), false);
}

void CpuBackend::conv2d_forward_bn_eval(const ConvShape& s, const Act* x, const float* w, const float* gamma,
                                        const float* beta, const float* running_mean, const float* running_var,
                                        float eps, const NormEpilogue& epilogue, Act* conv_out, Act* y,
                                        float* save_mean, float* save_invstd) {
  if (!direct_conv_applies(s).forward)
    return Backend::conv2d_forward_bn_eval(s, x, w, gamma, beta, running_mean, running_var, eps, epilogue, conv_out, y,
                                           save_mean, save_invstd);
  std::vector<float> scale(s.cout), shift(s.cout);
  for (int c = 0; c < s.cout; ++c) {
    const ChannelAffine a = channel_affine(gamma[c], beta[c], running_mean[c], eval_invstd(running_var[c], eps));
    scale[c] = a.scale;
    shift[c] = a.shift;
  }
  const OutputNorm norm{scale.data(), shift.data(), f32(epilogue.residual), epilogue.relu};
  direct_forward(s, f32(x), w, f32(y), &norm);
}

void CpuBackend::conv2d_backward_data(const ConvShape& s, const Act* dya, const float* w, Act* dxa, bool accumulate) {
  const float* dy = f32(dya);
  float* dx = f32(dxa);
  if (direct_conv_applies(s).backward_data) return direct_backward_data(s, dy, w, dx, accumulate);
  const int hw_out = s.ho() * s.wo(), depth = s.cin * s.k * s.k;
  for_each_chunk(s, [&](int img0, int nb, bool parallel) {
    Scratch& t = thread_scratch();
    const int cols = nb * hw_out;
    float* dcol = grow(t.columns, size_t(depth) * cols);
    const float* grad_out = channel_major_view(dy, s.cout, hw_out, img0, nb, t, parallel);
    sgemm(true, false, depth, cols, s.cout, 1.0f, w, depth, grad_out, cols, 0.0f, dcol, cols, parallel);
    col2im(s, dcol, img0, nb, dx, accumulate, parallel);
  });
}

void CpuBackend::conv2d_backward_filter(const ConvShape& s, const Act* xa, const Act* dya, float* dw) {
  const float *x = f32(xa), *dy = f32(dya);
  if (direct_conv_applies(s).backward_filter) return direct_backward_filter(s, x, dy, dw);
  const int hw_out = s.ho() * s.wo(), depth = s.cin * s.k * s.k;
  const size_t weights = s.weight_size();
  // The images go in a fixed number of shares (parallel.h); share t sums its chunks into its own
  // partial (share 0 into dw), and the partials are added in share order. Chunk and share
  // boundaries depend on the shape alone, so dW has the same bits at every thread count.
  const int shares = reduction_shares(s.n, hw_out), chunk = images_per_chunk(s, 1);
  static thread_local std::vector<float> partial_buffer;
  float* partials = grow(partial_buffer, weights * (shares - 1));
  const auto run_share = [&](int share, bool parallel) {
    Scratch& t = thread_scratch();
    float* target = share == 0 ? dw : partials + size_t(share - 1) * weights;
    const int first = share_begin(s.n, shares, share), last = share_begin(s.n, shares, share + 1);
    for (int img0 = first; img0 < last; img0 += chunk) {
      const int nb = std::min(chunk, last - img0), cols = nb * hw_out;
      float* col = grow(t.columns, size_t(depth) * cols);
      im2col(s, x, img0, nb, col, parallel);
      const float* grad_out = channel_major_view(dy, s.cout, hw_out, img0, nb, t, parallel);
      sgemm(false, true, s.cout, depth, cols, 1.0f, grad_out, cols, col, cols, img0 == first ? 0.0f : 1.0f, target,
            depth, parallel);
    }
  };
  // Threads take whole shares when there are enough; otherwise every thread works inside each
  // share's steps (the GEMM's tiles are the same either way, so are its sums).
  const int threads = max_threads();
  if (shares >= threads && threads > 1) {
#pragma omp parallel for schedule(static)
    for (int share = 0; share < shares; ++share) run_share(share, false);
  } else {
    for (int share = 0; share < shares; ++share) run_share(share, true);
  }
  if (shares == 1) return;
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < weights; ++i) {
    float total = dw[i];
    for (int share = 1; share < shares; ++share) total += partials[size_t(share - 1) * weights + i];
    dw[i] = total;
  }
}

}  // namespace insalun::cpu
