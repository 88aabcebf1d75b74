// The cuDNN calls the CUDA backend makes (legacy convolution API), as plain loops on host memory:
// cross-correlation with double accumulators over NCHW or NHWC tensors of float or bf16, alpha and
// beta as cuDNN applies them. Float data under a tensor-op math type has its operands rounded to
// TF32 first, as tensor cores do.
//
// Two algorithms per direction, so that the backend's ranking and fallback run: the first ranked
// (algorithm 1) wants a workspace and refuses, at launch, tensors whose channels are not a
// multiple of 8 (as tensor-core kernels do); algorithm 0 takes any shape.
#include "emulation.h"  // first: it defines what the CUDA headers would otherwise define

#include <cudnn.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "runtime.h"

struct cudnnContext {
  cudaStream_t stream = nullptr;
};
struct cudnnTensorStruct {
  cudnnTensorFormat_t format = CUDNN_TENSOR_NCHW;
  cudnnDataType_t type = CUDNN_DATA_FLOAT;
  int n = 0, c = 0, h = 0, w = 0;
};
struct cudnnFilterStruct {
  cudnnTensorFormat_t format = CUDNN_TENSOR_NCHW;
  cudnnDataType_t type = CUDNN_DATA_FLOAT;
  int k = 0, c = 0, h = 0, w = 0;
};
struct cudnnConvolutionStruct {
  int pad_h = 0, pad_w = 0, stride_h = 1, stride_w = 1, dilation_h = 1, dilation_w = 1;
  cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;
};

namespace {

thread_local std::string last_message;

constexpr int kAlgorithms = 2;
constexpr int kTensorCoreAlgo = 1;  // ranked first; refuses channels not a multiple of 8
constexpr size_t kTensorCoreWorkspace = 4096;

cudnnStatus_t refuse(cudnnStatus_t status, const std::string& why) {
  last_message = "CUDA emulation: " + why;
  return status;
}

// A 4-d tensor's layout: the offset of element (a, b, y, x), where a is the image (or the filter's
// output channel) and b the channel.
struct Layout {
  cudnnTensorFormat_t format;
  cudnnDataType_t type;
  int a, b, h, w;
  size_t offset(int i, int c, int y, int x) const {
    if (format == CUDNN_TENSOR_NHWC) return ((size_t(i) * h + y) * w + x) * b + c;
    return ((size_t(i) * b + c) * h + y) * w + x;
  }
  size_t count() const { return size_t(a) * b * h * w; }
};

Layout layout_of(const cudnnTensorStruct& t) { return {t.format, t.type, t.n, t.c, t.h, t.w}; }
Layout layout_of(const cudnnFilterStruct& f) { return {f.format, f.type, f.k, f.c, f.h, f.w}; }

bool supported(const Layout& l) {
  return (l.type == CUDNN_DATA_FLOAT || l.type == CUDNN_DATA_BFLOAT16) &&
         (l.format == CUDNN_TENSOR_NCHW || l.format == CUDNN_TENSOR_NHWC);
}

// Rounds a float to TF32 (10 explicit mantissa bits), to nearest even.
float to_tf32(float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, 4);
  if ((bits & 0x7f800000u) == 0x7f800000u) return v;  // inf, NaN
  bits = (bits + 0xfffu + ((bits >> 13) & 1u)) & ~0x1fffu;
  std::memcpy(&v, &bits, 4);
  return v;
}

// The convolution works on channels-last copies (image or filter, row, column, channel), so that
// its inner loops run over contiguous channels whatever the tensors' own layouts.
size_t channels_last(const Layout& l, int a, int c, int y, int x) {
  return ((size_t(a) * l.h + y) * l.w + x) * l.b + c;
}

// Calls visit(layout offset, channels-last offset) for every element.
template <typename Visit>
void for_each_element(const Layout& l, Visit visit) {
  for (int a = 0; a < l.a; ++a)
    for (int y = 0; y < l.h; ++y)
      for (int x = 0; x < l.w; ++x)
        for (int c = 0; c < l.b; ++c) visit(l.offset(a, c, y, x), channels_last(l, a, c, y, x));
}

// A tensor's values as float, channels last.
std::vector<float> read(const Layout& l, const void* data, bool tf32) {
  std::vector<float> out(l.count());
  if (l.type == CUDNN_DATA_FLOAT) {
    const auto* p = static_cast<const float*>(data);
    for_each_element(l, [&](size_t from, size_t to) { out[to] = tf32 ? to_tf32(p[from]) : p[from]; });
  } else {
    const auto* p = static_cast<const __nv_bfloat16*>(data);
    for_each_element(l, [&](size_t from, size_t to) { out[to] = __bfloat162float(p[from]); });
  }
  return out;
}

// out = alpha * result + beta * out, result channels last; out is not read when beta is 0 (it
// may hold garbage).
void write(const Layout& l, void* data, const std::vector<double>& result, float alpha, float beta) {
  if (l.type == CUDNN_DATA_FLOAT) {
    auto* p = static_cast<float*>(data);
    for_each_element(l, [&](size_t to, size_t from) {
      p[to] = float(alpha * result[from] + (beta != 0.0f ? double(beta) * p[to] : 0.0));
    });
  } else {
    auto* p = static_cast<__nv_bfloat16*>(data);
    for_each_element(l, [&](size_t to, size_t from) {
      const double prior = beta != 0.0f ? double(beta) * __bfloat162float(p[to]) : 0.0;
      p[to] = __float2bfloat16_rn(float(alpha * result[from] + prior));
    });
  }
}

enum class Direction { kForward, kBackwardData, kBackwardFilter };

// The input position a filter tap reads for an output position, or -1 outside the input.
int input_position(int out, int tap, int stride, int pad, int dilation, int size) {
  const int in = out * stride - pad + tap * dilation;
  return in >= 0 && in < size ? in : -1;
}

// One convolution, every product and sum in double; x, w, y in the descriptors' layouts. Each
// direction is parallel over what its threads write alone: forward over output rows, the data
// gradient over images, the filter gradient over output channels.
void convolve(Direction direction, const cudnnTensorStruct& xd, const cudnnFilterStruct& wd,
              const cudnnTensorStruct& yd, const cudnnConvolutionStruct& cd, const void* in_a, const void* in_b,
              void* out, float alpha, float beta) {
  const Layout xl = layout_of(xd), wl = layout_of(wd), yl = layout_of(yd);
  const bool tf32 = xd.type == CUDNN_DATA_FLOAT && cd.math != CUDNN_FMA_MATH;
  const int n = xd.n, channels = xd.c, filters = yd.c;
  // Which operands are inputs: forward reads x and w, backward-data dy and w, backward-filter x and dy.
  std::vector<float> x, w, y;
  std::vector<double> result;
  if (direction == Direction::kForward) {
    x = read(xl, in_a, tf32), w = read(wl, in_b, tf32);
    result.assign(yl.count(), 0.0);
  } else if (direction == Direction::kBackwardData) {
    w = read(wl, in_a, tf32), y = read(yl, in_b, tf32);
    result.assign(xl.count(), 0.0);
  } else {
    x = read(xl, in_a, tf32), y = read(yl, in_b, tf32);
    result.assign(wl.count(), 0.0);
  }
  const auto iy_of = [&](int oy, int r) { return input_position(oy, r, cd.stride_h, cd.pad_h, cd.dilation_h, xd.h); };
  const auto ix_of = [&](int ox, int s) { return input_position(ox, s, cd.stride_w, cd.pad_w, cd.dilation_w, xd.w); };
  // Visits every (output position, filter tap) pair that reads the input, with the offsets of the
  // output element's channel 0, the input pixel's channel 0 and the filter tap's channel 0.
  const auto for_each_tap = [&](int i, int oy, auto visit) {
    for (int ox = 0; ox < yd.w; ++ox)
      for (int r = 0; r < wd.h; ++r) {
        const int iy = iy_of(oy, r);
        if (iy < 0) continue;
        for (int s = 0; s < wd.w; ++s) {
          const int ix = ix_of(ox, s);
          if (ix < 0) continue;
          visit(channels_last(yl, i, 0, oy, ox), channels_last(xl, i, 0, iy, ix), channels_last(wl, 0, 0, r, s));
        }
      }
  };
  const size_t filter_stride = size_t(wd.h) * wd.w * channels;  // from one output channel's filter to the next
  if (direction == Direction::kForward) {
#pragma omp parallel for collapse(2) schedule(static)
    for (int i = 0; i < n; ++i)
      for (int oy = 0; oy < yd.h; ++oy)
        for_each_tap(i, oy, [&](size_t yo, size_t xo, size_t wo) {
          for (int k = 0; k < filters; ++k) {
            const float* wk = &w[wo + k * filter_stride];
            double acc = 0.0;
            for (int c = 0; c < channels; ++c) acc += double(x[xo + c]) * wk[c];
            result[yo + k] += acc;
          }
        });
  } else if (direction == Direction::kBackwardData) {
#pragma omp parallel for schedule(static)
    for (int i = 0; i < n; ++i)
      for (int oy = 0; oy < yd.h; ++oy)
        for_each_tap(i, oy, [&](size_t yo, size_t xo, size_t wo) {
          for (int k = 0; k < filters; ++k) {
            const double g = y[yo + k];
            const float* wk = &w[wo + k * filter_stride];
            for (int c = 0; c < channels; ++c) result[xo + c] += g * wk[c];
          }
        });
  } else {
#pragma omp parallel for schedule(static)
    for (int k = 0; k < filters; ++k)
      for (int i = 0; i < n; ++i)
        for (int oy = 0; oy < yd.h; ++oy)
          for_each_tap(i, oy, [&](size_t yo, size_t xo, size_t wo) {
            const double g = y[yo + k];
            double* dwk = &result[wo + k * filter_stride];
            for (int c = 0; c < channels; ++c) dwk[c] += double(x[xo + c]) * g;
          });
  }
  const Layout& out_layout = direction == Direction::kForward ? yl : direction == Direction::kBackwardData ? xl : wl;
  write(out_layout, out, result, alpha, beta);
}

// The checks cuDNN makes before it runs a convolution.
cudnnStatus_t check(const cudnnTensorStruct* x, const cudnnFilterStruct* w, const cudnnTensorStruct* y,
                    const cudnnConvolutionStruct* conv) {
  if (!x || !w || !y || !conv) return refuse(CUDNN_STATUS_BAD_PARAM, "a null descriptor");
  if (!supported(layout_of(*x)) || !supported(layout_of(*w)) || !supported(layout_of(*y)))
    return refuse(CUDNN_STATUS_NOT_SUPPORTED, "only float and bf16 NCHW/NHWC tensors are emulated");
  if (x->type != w->type || x->type != y->type) return refuse(CUDNN_STATUS_BAD_PARAM, "mixed data types");
  if (x->c != w->c || y->c != w->k || y->n != x->n) return refuse(CUDNN_STATUS_BAD_PARAM, "descriptor shapes disagree");
  const int ho = (x->h + 2 * conv->pad_h - conv->dilation_h * (w->h - 1) - 1) / conv->stride_h + 1;
  const int wo = (x->w + 2 * conv->pad_w - conv->dilation_w * (w->w - 1) - 1) / conv->stride_w + 1;
  if (y->h != ho || y->w != wo) return refuse(CUDNN_STATUS_BAD_PARAM, "output size disagrees with the convolution");
  if (conv->mode != CUDNN_CROSS_CORRELATION)
    return refuse(CUDNN_STATUS_NOT_SUPPORTED, "only cross-correlation is emulated");
  return CUDNN_STATUS_SUCCESS;
}

size_t workspace_of(int algo) { return algo == kTensorCoreAlgo ? kTensorCoreWorkspace : 0; }

cudnnStatus_t launch(cudnnHandle_t handle, Direction direction, int algo, void* workspace, size_t workspace_bytes,
                     const cudnnTensorStruct* xd, const cudnnFilterStruct* wd, const cudnnTensorStruct* yd,
                     const cudnnConvolutionStruct* cd, const void* a, const void* b, void* out, const void* alpha,
                     const void* beta) {
  if (!handle) return refuse(CUDNN_STATUS_BAD_PARAM, "a null handle");
  if (const cudnnStatus_t s = check(xd, wd, yd, cd); s != CUDNN_STATUS_SUCCESS) return s;
  if (algo < 0 || algo >= kAlgorithms) return refuse(CUDNN_STATUS_BAD_PARAM, "unknown algorithm");
  if (workspace_bytes < workspace_of(algo) || (workspace_of(algo) > 0 && !workspace))
    return refuse(CUDNN_STATUS_BAD_PARAM, "workspace too small for the algorithm");
  if (algo == kTensorCoreAlgo && (xd->c % 8 != 0 || yd->c % 8 != 0))
    return refuse(CUDNN_STATUS_NOT_SUPPORTED, "the tensor-core algorithm needs channels in multiples of 8");
  if (!a || !b || !out || !alpha || !beta) return refuse(CUDNN_STATUS_BAD_PARAM, "a null pointer");
  // Copies of the descriptors and scalars, as a captured kernel keeps its parameters.
  const cudnnTensorStruct x = *xd, y = *yd;
  const cudnnFilterStruct w = *wd;
  const cudnnConvolutionStruct conv = *cd;
  const float al = *static_cast<const float*>(alpha), be = *static_cast<const float*>(beta);
  if (workspace_bytes > 0 && workspace) std::memset(workspace, 0xab, std::min(workspace_bytes, workspace_of(algo)));
  insalun::emulation::enqueue(handle->stream, insalun::emulation::NodeKind::kKernel,
                              [=] { convolve(direction, x, w, y, conv, a, b, out, al, be); }, {a, b, out, workspace});
  return CUDNN_STATUS_SUCCESS;
}

template <typename Perf, typename Algo>
cudnnStatus_t rank(const cudnnTensorStruct* x, const cudnnFilterStruct* w, const cudnnTensorStruct* y,
                   const cudnnConvolutionStruct* conv, int requested, int* returned, Perf* results) {
  if (const cudnnStatus_t s = check(x, w, y, conv); s != CUDNN_STATUS_SUCCESS) return s;
  if (requested < 1 || !returned || !results) return refuse(CUDNN_STATUS_BAD_PARAM, "bad result array");
  const int order[kAlgorithms] = {kTensorCoreAlgo, 0};
  *returned = std::min(requested, kAlgorithms);
  for (int i = 0; i < *returned; ++i) {
    Perf p{};
    p.algo = Algo(order[i]);
    p.status = CUDNN_STATUS_SUCCESS;
    p.time = float(i + 1);
    p.memory = workspace_of(order[i]);
    p.determinism = CUDNN_DETERMINISTIC;
    p.mathType = conv->math;
    results[i] = p;
  }
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t workspace_size(const cudnnTensorStruct* x, const cudnnFilterStruct* w, const cudnnTensorStruct* y,
                             const cudnnConvolutionStruct* conv, int algo, size_t* bytes) {
  if (const cudnnStatus_t s = check(x, w, y, conv); s != CUDNN_STATUS_SUCCESS) return s;
  if (algo < 0 || algo >= kAlgorithms || !bytes) return refuse(CUDNN_STATUS_BAD_PARAM, "unknown algorithm");
  *bytes = workspace_of(algo);
  return CUDNN_STATUS_SUCCESS;
}

}  // namespace

extern "C" {

const char* cudnnGetErrorString(cudnnStatus_t status) {
  switch (status) {
    case CUDNN_STATUS_SUCCESS:
      return "CUDNN_STATUS_SUCCESS";
    case CUDNN_STATUS_BAD_PARAM:
      return "CUDNN_STATUS_BAD_PARAM";
    case CUDNN_STATUS_NOT_SUPPORTED:
      return "CUDNN_STATUS_NOT_SUPPORTED";
    default:
      return "CUDNN_STATUS (emulated)";
  }
}

void cudnnGetLastErrorString(char* message, size_t max_size) {
  if (!message || max_size == 0) return;
  std::strncpy(message, last_message.c_str(), max_size - 1);
  message[max_size - 1] = '\0';
  last_message.clear();
}

size_t cudnnGetVersion(void) { return CUDNN_VERSION; }
cudnnStatus_t cudnnOpsVersionCheck(void) { return CUDNN_STATUS_SUCCESS; }
cudnnStatus_t cudnnCnnVersionCheck(void) { return CUDNN_STATUS_SUCCESS; }

cudnnStatus_t cudnnCreate(cudnnHandle_t* handle) {
  *handle = new cudnnContext;
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnDestroy(cudnnHandle_t handle) {
  delete handle;
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnSetStream(cudnnHandle_t handle, cudaStream_t stream) {
  handle->stream = stream;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnCreateTensorDescriptor(cudnnTensorDescriptor_t* d) {
  *d = new cudnnTensorStruct;
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnDestroyTensorDescriptor(cudnnTensorDescriptor_t d) {
  delete d;
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnSetTensor4dDescriptor(cudnnTensorDescriptor_t d, cudnnTensorFormat_t format, cudnnDataType_t type,
                                         int n, int c, int h, int w) {
  if (n <= 0 || c <= 0 || h <= 0 || w <= 0) return refuse(CUDNN_STATUS_BAD_PARAM, "a non-positive tensor size");
  *d = cudnnTensorStruct{format, type, n, c, h, w};
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnCreateFilterDescriptor(cudnnFilterDescriptor_t* d) {
  *d = new cudnnFilterStruct;
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnDestroyFilterDescriptor(cudnnFilterDescriptor_t d) {
  delete d;
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnSetFilter4dDescriptor(cudnnFilterDescriptor_t d, cudnnDataType_t type, cudnnTensorFormat_t format,
                                         int k, int c, int h, int w) {
  if (k <= 0 || c <= 0 || h <= 0 || w <= 0) return refuse(CUDNN_STATUS_BAD_PARAM, "a non-positive filter size");
  *d = cudnnFilterStruct{format, type, k, c, h, w};
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnCreateConvolutionDescriptor(cudnnConvolutionDescriptor_t* d) {
  *d = new cudnnConvolutionStruct;
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnDestroyConvolutionDescriptor(cudnnConvolutionDescriptor_t d) {
  delete d;
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnSetConvolution2dDescriptor(cudnnConvolutionDescriptor_t d, int pad_h, int pad_w, int u, int v,
                                              int dilation_h, int dilation_w, cudnnConvolutionMode_t mode,
                                              cudnnDataType_t) {
  if (pad_h < 0 || pad_w < 0 || u <= 0 || v <= 0 || dilation_h <= 0 || dilation_w <= 0)
    return refuse(CUDNN_STATUS_BAD_PARAM, "bad convolution parameters");
  d->pad_h = pad_h, d->pad_w = pad_w, d->stride_h = u, d->stride_w = v;
  d->dilation_h = dilation_h, d->dilation_w = dilation_w, d->mode = mode;
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnSetConvolutionMathType(cudnnConvolutionDescriptor_t d, cudnnMathType_t math) {
  d->math = math;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetConvolution2dForwardOutputDim(const cudnnConvolutionDescriptor_t conv,
                                                    const cudnnTensorDescriptor_t x, const cudnnFilterDescriptor_t w,
                                                    int* n, int* c, int* h, int* wo) {
  *n = x->n;
  *c = w->k;
  *h = (x->h + 2 * conv->pad_h - conv->dilation_h * (w->h - 1) - 1) / conv->stride_h + 1;
  *wo = (x->w + 2 * conv->pad_w - conv->dilation_w * (w->w - 1) - 1) / conv->stride_w + 1;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnFindConvolutionForwardAlgorithm(cudnnHandle_t, const cudnnTensorDescriptor_t x,
                                                   const cudnnFilterDescriptor_t w,
                                                   const cudnnConvolutionDescriptor_t conv,
                                                   const cudnnTensorDescriptor_t y, const int requested, int* returned,
                                                   cudnnConvolutionFwdAlgoPerf_t* r) {
  return rank<cudnnConvolutionFwdAlgoPerf_t, cudnnConvolutionFwdAlgo_t>(x, w, y, conv, requested, returned, r);
}
cudnnStatus_t cudnnGetConvolutionForwardAlgorithm_v7(cudnnHandle_t, const cudnnTensorDescriptor_t x,
                                                     const cudnnFilterDescriptor_t w,
                                                     const cudnnConvolutionDescriptor_t conv,
                                                     const cudnnTensorDescriptor_t y, const int requested,
                                                     int* returned, cudnnConvolutionFwdAlgoPerf_t* r) {
  return rank<cudnnConvolutionFwdAlgoPerf_t, cudnnConvolutionFwdAlgo_t>(x, w, y, conv, requested, returned, r);
}
cudnnStatus_t cudnnFindConvolutionBackwardDataAlgorithm(cudnnHandle_t, const cudnnFilterDescriptor_t w,
                                                        const cudnnTensorDescriptor_t dy,
                                                        const cudnnConvolutionDescriptor_t conv,
                                                        const cudnnTensorDescriptor_t dx, const int requested,
                                                        int* returned, cudnnConvolutionBwdDataAlgoPerf_t* r) {
  return rank<cudnnConvolutionBwdDataAlgoPerf_t, cudnnConvolutionBwdDataAlgo_t>(dx, w, dy, conv, requested, returned,
                                                                                r);
}
cudnnStatus_t cudnnGetConvolutionBackwardDataAlgorithm_v7(cudnnHandle_t, const cudnnFilterDescriptor_t w,
                                                          const cudnnTensorDescriptor_t dy,
                                                          const cudnnConvolutionDescriptor_t conv,
                                                          const cudnnTensorDescriptor_t dx, const int requested,
                                                          int* returned, cudnnConvolutionBwdDataAlgoPerf_t* r) {
  return rank<cudnnConvolutionBwdDataAlgoPerf_t, cudnnConvolutionBwdDataAlgo_t>(dx, w, dy, conv, requested, returned,
                                                                                r);
}
cudnnStatus_t cudnnFindConvolutionBackwardFilterAlgorithm(cudnnHandle_t, const cudnnTensorDescriptor_t x,
                                                          const cudnnTensorDescriptor_t dy,
                                                          const cudnnConvolutionDescriptor_t conv,
                                                          const cudnnFilterDescriptor_t dw, const int requested,
                                                          int* returned, cudnnConvolutionBwdFilterAlgoPerf_t* r) {
  return rank<cudnnConvolutionBwdFilterAlgoPerf_t, cudnnConvolutionBwdFilterAlgo_t>(x, dw, dy, conv, requested,
                                                                                    returned, r);
}
cudnnStatus_t cudnnGetConvolutionBackwardFilterAlgorithm_v7(cudnnHandle_t, const cudnnTensorDescriptor_t x,
                                                            const cudnnTensorDescriptor_t dy,
                                                            const cudnnConvolutionDescriptor_t conv,
                                                            const cudnnFilterDescriptor_t dw, const int requested,
                                                            int* returned, cudnnConvolutionBwdFilterAlgoPerf_t* r) {
  return rank<cudnnConvolutionBwdFilterAlgoPerf_t, cudnnConvolutionBwdFilterAlgo_t>(x, dw, dy, conv, requested,
                                                                                    returned, r);
}

cudnnStatus_t cudnnGetConvolutionForwardWorkspaceSize(cudnnHandle_t, const cudnnTensorDescriptor_t x,
                                                      const cudnnFilterDescriptor_t w,
                                                      const cudnnConvolutionDescriptor_t conv,
                                                      const cudnnTensorDescriptor_t y, cudnnConvolutionFwdAlgo_t algo,
                                                      size_t* bytes) {
  return workspace_size(x, w, y, conv, int(algo), bytes);
}
cudnnStatus_t cudnnGetConvolutionBackwardDataWorkspaceSize(cudnnHandle_t, const cudnnFilterDescriptor_t w,
                                                           const cudnnTensorDescriptor_t dy,
                                                           const cudnnConvolutionDescriptor_t conv,
                                                           const cudnnTensorDescriptor_t dx,
                                                           cudnnConvolutionBwdDataAlgo_t algo, size_t* bytes) {
  return workspace_size(dx, w, dy, conv, int(algo), bytes);
}
cudnnStatus_t cudnnGetConvolutionBackwardFilterWorkspaceSize(cudnnHandle_t, const cudnnTensorDescriptor_t x,
                                                             const cudnnTensorDescriptor_t dy,
                                                             const cudnnConvolutionDescriptor_t conv,
                                                             const cudnnFilterDescriptor_t dw,
                                                             cudnnConvolutionBwdFilterAlgo_t algo, size_t* bytes) {
  return workspace_size(x, dw, dy, conv, int(algo), bytes);
}

cudnnStatus_t cudnnConvolutionForward(cudnnHandle_t handle, const void* alpha, const cudnnTensorDescriptor_t xd,
                                      const void* x, const cudnnFilterDescriptor_t wd, const void* w,
                                      const cudnnConvolutionDescriptor_t conv, cudnnConvolutionFwdAlgo_t algo, void* ws,
                                      size_t ws_bytes, const void* beta, const cudnnTensorDescriptor_t yd, void* y) {
  return launch(handle, Direction::kForward, int(algo), ws, ws_bytes, xd, wd, yd, conv, x, w, y, alpha, beta);
}
cudnnStatus_t cudnnConvolutionBackwardData(cudnnHandle_t handle, const void* alpha, const cudnnFilterDescriptor_t wd,
                                           const void* w, const cudnnTensorDescriptor_t dyd, const void* dy,
                                           const cudnnConvolutionDescriptor_t conv, cudnnConvolutionBwdDataAlgo_t algo,
                                           void* ws, size_t ws_bytes, const void* beta,
                                           const cudnnTensorDescriptor_t dxd, void* dx) {
  return launch(handle, Direction::kBackwardData, int(algo), ws, ws_bytes, dxd, wd, dyd, conv, w, dy, dx, alpha, beta);
}
cudnnStatus_t cudnnConvolutionBackwardFilter(cudnnHandle_t handle, const void* alpha, const cudnnTensorDescriptor_t xd,
                                             const void* x, const cudnnTensorDescriptor_t dyd, const void* dy,
                                             const cudnnConvolutionDescriptor_t conv,
                                             cudnnConvolutionBwdFilterAlgo_t algo, void* ws, size_t ws_bytes,
                                             const void* beta, const cudnnFilterDescriptor_t dwd, void* dw) {
  return launch(handle, Direction::kBackwardFilter, int(algo), ws, ws_bytes, xd, dwd, dyd, conv, x, dy, dw, alpha,
                beta);
}

}  // extern "C"
