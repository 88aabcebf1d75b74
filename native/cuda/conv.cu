// Convolutions through cuDNN's legacy API (present in every cuDNN 9), fp32 accumulation in every
// mode. The parameters stay fp32 [Cout, Cin, k, k]; tensors are NCHW, or NHWC in bf16 mode with
// the bf16 weight copy in the matching [Cout, k, k, Cin] order. Each shape gets a plan
// (descriptors + the ranked algorithms of each direction) the first time a backend sees it. The
// algorithms are ranked once per process and shape: benchmarked with cudnnFind*, or, when the
// benchmark cannot run (e.g. it could not allocate its buffers) or INSALUN_CUDNN_SEARCH=heuristic
// skips it (quicker first steps, maybe slower ones), taken from the cudnnGet*_v7 heuristics.
// INSALUN_CUDNN_DETERMINISTIC=1 keeps only deterministic algorithms and takes them in the
// heuristic order (timings differ between processes, so a benchmark could pick differently from
// run to run), as torch.backends.cudnn.deterministic with benchmark off: the other kernels are
// deterministic already (their reductions add in a fixed order), so a run then repeats bit for
// bit.
//
// Precision: kFp32 runs with CUDNN_FMA_MATH, which keeps TF32 tensor cores out (the equivalent of
// torch.backends.cudnn.allow_tf32 = False); kTf32 lets cuDNN pick tensor-core kernels. kBf16 runs
// bf16 activations and bf16 copies of the weights (the fp32 master weights stay as they are),
// and the weight gradient comes out in bf16 and is widened into the fp32 gradient, as PyTorch's
// autocast does. The copies of a step's weights are made all at once, in one launch, when the
// network announces them (prepare_conv_weights, at each forward), and serve its forward and
// backward; a convolution whose weights were not announced converts them just before the call.
#include <mutex>
#include <tuple>
#include <vector>

#include "impl.cuh"

namespace insalun::cuda {
namespace {

// Algorithms asking for more workspace than this are skipped: a faster kernel is not worth
// crowding out the activations of a large IG batch.
constexpr size_t kMaxWorkspace = size_t(1) << 30;

const float kOne = 1.0f, kZero = 0.0f;

// cuDNN's faster kernels want 16-byte aligned tensors (aligned16, impl.cuh); a layer's weights
// sit at an offset in the flat parameter vector, aligned only when the sizes before it are
// multiples of 4 (true for the usual widths, not for every width).

// NHWC convolutions on tensor cores want the input channels in multiples of 8: a layer with
// fewer (the 3-channel stem) runs on inputs and weights zero-padded to 8 channels.
constexpr int kChannelAlign = 8;

// The KCRS index [cout, cin, rs] of element i of a KRSC copy with cin_p >= cin channels, and
// whether it has one (false for a padding channel).
__device__ __forceinline__ bool kcrs_of_krsc(size_t i, int cin, int cin_p, int rs, size_t* kcrs) {
  const size_t c = i % cin_p, rest = i / cin_p, pos = rest % rs, k = rest / rs;
  *kcrs = (k * cin + c) * rs + pos;
  return c < size_t(cin);
}

// Element i of the bf16 copy of fp32 KCRS weights [cout, cin, rs], in KCRS order or (Krsc) in
// KRSC order with cin_p >= cin channels, zero beyond cin.
template <bool Krsc>
__device__ __forceinline__ bf16 weight_copy_element(const float* w, size_t i, int cin, int cin_p, int rs) {
  if constexpr (Krsc) {
    size_t source;
    return __float2bfloat16_rn(kcrs_of_krsc(i, cin, cin_p, rs, &source) ? w[source] : 0.0f);
  } else {
    return __float2bfloat16_rn(w[i]);
  }
}

// One convolution's copy; n counts the output elements.
template <bool Krsc>
__global__ void weights_to_bf16_kernel(const float* w, bf16* out, int cin, int cin_p, int rs, size_t n) {
  INSALUN_GRID_LOOP(i, n) out[i] = weight_copy_element<Krsc>(w, i, cin, cin_p, rs);
}

// Calls f(entry, k) for each element i < n of the table's copies, laid end to end, that lies in
// an entry's copy (at k within it): one grid-stride loop over them all, each thread moving on
// through the table as its index grows (no block idles on a small layer). An element in an
// alignment gap, or in a stretch whose entry the table leaves out, is skipped.
template <typename F>
__device__ __forceinline__ void for_each_copied_element(const WeightCopyTable& table, size_t n, F f) {
  int j = 0;
  INSALUN_GRID_LOOP(i, n) {
    while (j + 1 < table.count && table.copies[j + 1].begin <= i) ++j;
    const WeightCopy& c = table.copies[j];
    if (i < c.begin) continue;
    const size_t k = i - c.begin;
    if (k < size_t(c.cout) * c.cin_p * c.rs) f(c, k);
  }
}

// Every entry's bf16 weight copy.
template <bool Krsc>
__global__ void weight_copies_kernel(const __grid_constant__ WeightCopyTable table, size_t n, bf16* copies) {
  for_each_copied_element(table, n, [&](const WeightCopy& c, size_t k) {
    copies[c.begin + k] = weight_copy_element<Krsc>(c.w, k, c.cin, c.cin_p, c.rs);
  });
}

// Every entry's bf16 weight gradient (in the copies' layout) widened into its fp32 KCRS dw.
template <bool Krsc>
__global__ void weight_grads_kernel(const __grid_constant__ WeightCopyTable table, size_t n, const bf16* grads) {
  for_each_copied_element(table, n, [&](const WeightCopy& c, size_t k) {
    const float g = __bfloat162float(grads[c.begin + k]);
    size_t target = k;
    if (!Krsc || kcrs_of_krsc(k, c.cin, c.cin_p, c.rs, &target)) c.dw[target] = g;
  });
}

// fp32 KCRS weight gradient [cout, cin, rs] from cuDNN's bf16 one (KCRS, or KRSC with cin_p
// channels); n counts the KCRS elements.
template <bool Krsc>
__global__ void weight_grad_to_float_kernel(const bf16* grad, float* dw, int cin, int cin_p, int rs, size_t n) {
  INSALUN_GRID_LOOP(i, n) dw[i] = __bfloat162float(grad[Krsc ? channels_last_index(i, cin, rs, cin_p) : i]);
}

// NHWC rows of cin channels -> rows of cin_p channels, zero beyond cin; and back.
__global__ void pad_channels_kernel(const bf16* x, bf16* padded, int cin, int cin_p, size_t n) {
  INSALUN_GRID_LOOP(i, n) {
    const size_t c = i % cin_p, row = i / cin_p;
    padded[i] = c < size_t(cin) ? x[row * cin + c] : __float2bfloat16_rn(0.0f);
  }
}

__global__ void unpad_channels_kernel(const bf16* padded, bf16* x, int cin, int cin_p, size_t n) {
  INSALUN_GRID_LOOP(i, n) {
    const size_t c = i % cin, row = i / cin;
    x[i] = padded[row * cin_p + c];
  }
}

cudnnMathType_t requested_math(Precision p) { return p == Precision::kFp32 ? CUDNN_FMA_MATH : CUDNN_DEFAULT_MATH; }

// The three directions differ only in their cuDNN entry points; these traits let one search
// routine serve all of them.
struct FwdOps {
  static constexpr int kDirection = 0;
  using Perf = cudnnConvolutionFwdAlgoPerf_t;
  static constexpr int kCount = CUDNN_CONVOLUTION_FWD_ALGO_COUNT;
  static cudnnStatus_t find(cudnnHandle_t h, const ConvPlan& p, int cap, int* n, Perf* r) {
    return cudnnFindConvolutionForwardAlgorithm(h, p.x, p.w, p.conv, p.y, cap, n, r);
  }
  static cudnnStatus_t heuristic(cudnnHandle_t h, const ConvPlan& p, int cap, int* n, Perf* r) {
    return cudnnGetConvolutionForwardAlgorithm_v7(h, p.x, p.w, p.conv, p.y, cap, n, r);
  }
  static cudnnStatus_t workspace(cudnnHandle_t h, const ConvPlan& p, int algo, size_t* bytes) {
    return cudnnGetConvolutionForwardWorkspaceSize(h, p.x, p.w, p.conv, p.y, cudnnConvolutionFwdAlgo_t(algo), bytes);
  }
};

struct BwdDataOps {
  static constexpr int kDirection = 1;
  using Perf = cudnnConvolutionBwdDataAlgoPerf_t;
  static constexpr int kCount = CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT;
  static cudnnStatus_t find(cudnnHandle_t h, const ConvPlan& p, int cap, int* n, Perf* r) {
    return cudnnFindConvolutionBackwardDataAlgorithm(h, p.w, p.y, p.conv, p.x, cap, n, r);
  }
  static cudnnStatus_t heuristic(cudnnHandle_t h, const ConvPlan& p, int cap, int* n, Perf* r) {
    return cudnnGetConvolutionBackwardDataAlgorithm_v7(h, p.w, p.y, p.conv, p.x, cap, n, r);
  }
  static cudnnStatus_t workspace(cudnnHandle_t h, const ConvPlan& p, int algo, size_t* bytes) {
    return cudnnGetConvolutionBackwardDataWorkspaceSize(h, p.w, p.y, p.conv, p.x, cudnnConvolutionBwdDataAlgo_t(algo),
                                                        bytes);
  }
};

struct BwdFilterOps {
  static constexpr int kDirection = 2;
  using Perf = cudnnConvolutionBwdFilterAlgoPerf_t;
  static constexpr int kCount = CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT;
  static cudnnStatus_t find(cudnnHandle_t h, const ConvPlan& p, int cap, int* n, Perf* r) {
    return cudnnFindConvolutionBackwardFilterAlgorithm(h, p.x, p.y, p.conv, p.w, cap, n, r);
  }
  static cudnnStatus_t heuristic(cudnnHandle_t h, const ConvPlan& p, int cap, int* n, Perf* r) {
    return cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, p.x, p.y, p.conv, p.w, cap, n, r);
  }
  static cudnnStatus_t workspace(cudnnHandle_t h, const ConvPlan& p, int algo, size_t* bytes) {
    return cudnnGetConvolutionBackwardFilterWorkspaceSize(h, p.x, p.y, p.conv, p.w,
                                                          cudnnConvolutionBwdFilterAlgo_t(algo), bytes);
  }
};

// The usable candidates, in cuDNN's order (fastest / most promising first): the ones that ran
// successfully, support the math we need, and whose workspace fits.
// `deterministic` keeps only the algorithms whose results do not vary from run to run.
template <typename Ops>
std::vector<ConvCandidate> usable(cudnnHandle_t h, ConvPlan& p, Precision precision, bool deterministic,
                                  const typename Ops::Perf* perf, int count) {
  std::vector<ConvCandidate> out;
  for (int i = 0; i < count; ++i) {
    if (perf[i].status != CUDNN_STATUS_SUCCESS || perf[i].memory > kMaxWorkspace) continue;
    if (deterministic && perf[i].determinism != CUDNN_DETERMINISTIC) continue;
    // On fp32 data, ALLOW_CONVERSION lets cuDNN round the operands to fp16: less precise than
    // the TF32 the tf32 mode promises.
    if (precision == Precision::kTf32 && perf[i].mathType == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION) continue;
    // In fp32 mode the math stays FMA whatever the search reports; in TF32 mode we run the
    // algorithm in the math type it was measured with.
    const cudnnMathType_t math = precision == Precision::kFp32 ? CUDNN_FMA_MATH : perf[i].mathType;
    if (cudnnSetConvolutionMathType(p.conv, math) != CUDNN_STATUS_SUCCESS) continue;
    size_t bytes = 0;
    if (Ops::workspace(h, p, int(perf[i].algo), &bytes) != CUDNN_STATUS_SUCCESS) continue;
    if (bytes > kMaxWorkspace) continue;
    out.push_back(ConvCandidate{int(perf[i].algo), math, bytes});
  }
  return out;
}

// `benchmark`: time the candidates with cudnnFind* (as torch.backends.cudnn.benchmark = True);
// otherwise, or when the benchmark cannot run, take cuDNN's heuristic ranking.
template <typename Ops>
void choose(cudnnHandle_t h, ConvPlan& p, Precision precision, bool nhwc, bool benchmark, bool deterministic,
            const char* direction, ConvAlgo* out) {
  std::vector<typename Ops::Perf> perf(Ops::kCount);
  int returned = 0;
  cudnnStatus_t found = CUDNN_STATUS_NOT_SUPPORTED;
  out->current = 0;
  if (benchmark) {
    CUDNN_CHECK(cudnnSetConvolutionMathType(p.conv, requested_math(precision)));
    found = Ops::find(h, p, Ops::kCount, &returned, perf.data());
    // A failed search may leave a (non-sticky) CUDA error behind that the next kernel launch
    // check would report as its own; clear it, as PyTorch does after a failed try.
    if (found != CUDNN_STATUS_SUCCESS) cudaGetLastError();
    if (found == CUDNN_STATUS_SUCCESS) out->ranked = usable<Ops>(h, p, precision, deterministic, perf.data(), returned);
    if (out->ready()) return;
  }
  returned = 0;
  CUDNN_CHECK(cudnnSetConvolutionMathType(p.conv, requested_math(precision)));
  CUDNN_CHECK(Ops::heuristic(h, p, Ops::kCount, &returned, perf.data()));
  out->ranked = usable<Ops>(h, p, precision, deterministic, perf.data(), returned);
  if (out->ready()) return;
  throw std::runtime_error(
      std::string("cuDNN has no usable ") + direction + " convolution algorithm for this shape (" +
      (benchmark ? std::string("benchmark status: ") + cudnnGetErrorString(found) : std::string("heuristics only")) +
      (deterministic ? ", deterministic algorithms only" : "") + ")" +
      (precision == Precision::kBf16 && nhwc ? "; in bf16 mode, INSALUN_CUDA_BF16_LAYOUT=nchw tries the NCHW layout"
                                             : ""));
}

// The ranked algorithms of every shape seen in this process, shared by all its backends (models
// and op sets each have one), as PyTorch keeps its cudnn.benchmark results: a new model of a
// known shape starts without a search. Keyed by GPU, search mode, determinism and direction too.
struct RankingKey {
  int device;
  bool benchmark, deterministic;
  int direction;
  ConvKey conv;
  bool operator<(const RankingKey& o) const {
    const auto head = std::tie(device, benchmark, deterministic, direction);
    const auto other = std::tie(o.device, o.benchmark, o.deterministic, o.direction);
    return head != other ? head < other : conv < o.conv;
  }
};
// Never destroyed: a worker thread may still be planning when the process exits.
std::mutex& rankings_mutex = *new std::mutex;
std::map<RankingKey, std::vector<ConvCandidate>>& rankings = *new std::map<RankingKey, std::vector<ConvCandidate>>;

// Statuses by which cuDNN refuses an algorithm before running it (a bad parameter or an
// unsupported configuration, the 2000 and 3000 families): the next one may serve. Internal and
// execution failures are errors, not refusals (a partly run algorithm may have written its output).
bool refused(cudnnStatus_t status) {
  const int family = int(status) / 1000;
  return family == 2 || family == 3;
}

}  // namespace

bool ConvKey::operator<(const ConvKey& o) const {
  return std::tie(n, cin, h, w, cout, k, stride, pad, precision, nhwc) <
         std::tie(o.n, o.cin, o.h, o.w, o.cout, o.k, o.stride, o.pad, o.precision, o.nhwc);
}

ConvPlan::~ConvPlan() {
  if (x) cudnnDestroyTensorDescriptor(x);
  if (y) cudnnDestroyTensorDescriptor(y);
  if (w) cudnnDestroyFilterDescriptor(w);
  if (conv) cudnnDestroyConvolutionDescriptor(conv);
}

ConvPlan& CudaBackendImpl::plan_for(const ConvShape& s) {
  const ConvKey key{s.n, s.cin, s.h, s.w, s.cout, s.k, s.stride, s.pad, precision_, nhwc_};
  auto it = plans_.find(key);
  if (it != plans_.end()) return *it->second;
  refuse_while_capturing("planning a new convolution shape");

  check_conv_shape(s);
  auto plan = std::make_unique<ConvPlan>();
  plan->key = key;
  CUDNN_CHECK(cudnnCreateTensorDescriptor(&plan->x));
  CUDNN_CHECK(cudnnCreateTensorDescriptor(&plan->y));
  CUDNN_CHECK(cudnnCreateFilterDescriptor(&plan->w));
  CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&plan->conv));
  const cudnnDataType_t data = precision_ == Precision::kBf16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_FLOAT;
  const cudnnTensorFormat_t format = nhwc_ ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW;
  const int cin = padded_channels(s);
  CUDNN_CHECK(cudnnSetTensor4dDescriptor(plan->x, format, data, s.n, cin, s.h, s.w));
  CUDNN_CHECK(cudnnSetFilter4dDescriptor(plan->w, data, format, s.cout, cin, s.k, s.k));
  CUDNN_CHECK(cudnnSetConvolution2dDescriptor(plan->conv, s.pad, s.pad, s.stride, s.stride, 1, 1,
                                              CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  int n = 0, c = 0, ho = 0, wo = 0;
  CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(plan->conv, plan->x, plan->w, &n, &c, &ho, &wo));
  if (n != s.n || c != s.cout || ho != s.ho() || wo != s.wo())
    throw std::logic_error("conv2d: cuDNN output shape disagrees with ConvShape");
  CUDNN_CHECK(cudnnSetTensor4dDescriptor(plan->y, format, data, n, c, ho, wo));
  return *plans_.emplace(key, std::move(plan)).first->second;
}

template <typename Ops, typename Call>
void CudaBackendImpl::run_convolution(ConvPlan& p, ConvAlgo& a, const char* direction, Call call) {
  const RankingKey key{device_, benchmark_algorithms_, deterministic_, Ops::kDirection, p.key};
  if (!a.ready()) {
    {
      std::lock_guard<std::mutex> lock(rankings_mutex);
      auto known = rankings.find(key);
      if (known != rankings.end()) a.ranked = known->second;
    }
    a.current = 0;
    if (!a.ready()) {
      refuse_while_capturing("a cuDNN algorithm search");
      choose<Ops>(cudnn_, p, precision_, nhwc_, benchmark_algorithms_, deterministic_, direction, &a);
      std::lock_guard<std::mutex> lock(rankings_mutex);
      rankings.emplace(key, a.ranked);
    }
  }
  for (;;) {
    const ConvCandidate& c = a.chosen();
    void* ws = workspace(c.workspace);
    CUDNN_CHECK(cudnnSetConvolutionMathType(p.conv, c.math));
    const cudnnStatus_t status = call(c, ws);
    if (status == CUDNN_STATUS_SUCCESS) {
      LaunchScope::wait_if_debugging(direction, __FILE__, __LINE__);
      return;
    }
    // A refusal at launch (a heuristic pick this shape cannot run, say): the next-ranked
    // algorithm, unless a step is being captured (its workspace could not grow) or none is left.
    // The refused one leaves the shared ranking, so that other backends do not try it again.
    if (!refused(status) || capturing_ || a.current + 1 >= a.ranked.size())
      throw_cudnn(status, direction, __FILE__, __LINE__);
    cudaGetLastError();  // see choose()
    {
      std::lock_guard<std::mutex> lock(rankings_mutex);
      auto known = rankings.find(key);
      if (known != rankings.end()) {
        auto& list = known->second;
        list.erase(std::remove_if(list.begin(), list.end(),
                                  [&](const ConvCandidate& r) { return r.algo == c.algo && r.math == c.math; }),
                   list.end());
      }
    }
    ++a.current;
  }
}

void CudaBackendImpl::prepare_conv_weights(const ConvWeights* convs, size_t count) {
  const LaunchScope op = open_op("prepare_conv_weights");
  prepared_copies_ = nullptr;
  if (precision_ != Precision::kBf16 || count == 0) return;  // fp32 and tf32 read w itself
  if (count > size_t(WeightCopyTable::kCapacity))
    throw std::invalid_argument("prepare_conv_weights: " + std::to_string(count) + " convolutions; at most " +
                                std::to_string(WeightCopyTable::kCapacity) + " in one launch");
  finish_conv_weight_grads();  // none should be left, but none is ever lost
  prepared_table_.clear();
  size_t total = 0;
  for (size_t j = 0; j < count; ++j) {
    const ConvWeights& c = convs[j];
    const int cin_p = padded_channels(ConvShape{1, c.cin, c.k, c.k, c.cout, c.k, 1, 0});
    prepared_table_.push_back(WeightCopy{c.w, c.dw, total, c.cout, c.cin, cin_p, c.k * c.k});
    total += (size_t(c.cout) * cin_p * c.k * c.k + 7) / 8 * 8;
  }
  bf16* copies = static_cast<bf16*>(grow(weight_copies_, total * sizeof(bf16), "the convolution weight copies"));
  prepared_grads_ =
      static_cast<bf16*>(grow(weight_grad_copies_, total * sizeof(bf16), "the convolution weight gradients"));
  prepared_elements_ = total;
  grads_pending_.assign(count, false);
  WeightCopyTable table;
  table.count = int(count);
  std::copy(prepared_table_.begin(), prepared_table_.end(), table.copies);
  if (nhwc_)
    INSALUN_LAUNCH(grid_for(total), kThreads, 0, stream_, weight_copies_kernel<true>)(table, total, copies);
  else
    INSALUN_LAUNCH(grid_for(total), kThreads, 0, stream_, weight_copies_kernel<false>)(table, total, copies);
  CUDA_CHECK_LAUNCH("weight_copies_kernel");
  prepared_copies_ = copies;
}

void CudaBackendImpl::finish_conv_weight_grads() {
  const LaunchScope op = open_op("finish_conv_weight_grads");
  WeightCopyTable table;
  for (size_t j = 0; j < grads_pending_.size(); ++j)
    if (grads_pending_[j]) table.copies[table.count++] = prepared_table_[j];
  grads_pending_.assign(grads_pending_.size(), false);
  if (table.count == 0) return;
  const size_t n = prepared_elements_;
  if (nhwc_)
    INSALUN_LAUNCH(grid_for(n), kThreads, 0, stream_, weight_grads_kernel<true>)(table, n, prepared_grads_);
  else
    INSALUN_LAUNCH(grid_for(n), kThreads, 0, stream_, weight_grads_kernel<false>)(table, n, prepared_grads_);
  CUDA_CHECK_LAUNCH("weight_grads_kernel");
}

const WeightCopy* CudaBackendImpl::prepared_entry(const ConvShape& s, const float* w, const float* dw) const {
  if (!prepared_copies_) return nullptr;
  const int cin_p = padded_channels(s), rs = s.k * s.k;
  for (const WeightCopy& c : prepared_table_)
    if ((w ? c.w == w : c.dw == dw) && c.cout == s.cout && c.cin == s.cin && c.cin_p == cin_p && c.rs == rs) return &c;
  return nullptr;
}

const void* CudaBackendImpl::conv_weights(const ConvShape& s, const float* w) {
  const size_t n = s.weight_size();
  if (precision_ != Precision::kBf16) {
    if (aligned16({w})) return w;
    void* copy = weight_scratch(n * sizeof(float));
    copy_bytes(copy, w, n * sizeof(float));
    return copy;
  }
  if (const WeightCopy* c = prepared_entry(s, w, nullptr)) return prepared_copies_ + c->begin;
  const int cin_p = padded_channels(s), rs = s.k * s.k;
  const size_t copied = size_t(s.cout) * cin_p * rs;
  bf16* copy = static_cast<bf16*>(weight_scratch(copied * sizeof(bf16)));
  if (nhwc_) INSALUN_LAUNCH(grid_for(copied), kThreads, 0, stream_, weights_to_bf16_kernel<true>)
  (w, copy, s.cin, cin_p, rs, copied);
  else INSALUN_LAUNCH(grid_for(copied), kThreads, 0, stream_, weights_to_bf16_kernel<false>)(w, copy, s.cin, cin_p, rs,
                                                                                             copied);
  CUDA_CHECK_LAUNCH("weights_to_bf16_kernel");
  return copy;
}

void CudaBackendImpl::widen_weight_grad(const ConvShape& s, const bf16* grad, float* dw) {
  const size_t n = s.weight_size();
  const int cin_p = padded_channels(s), rs = s.k * s.k;
  if (nhwc_)
    INSALUN_LAUNCH(grid_for(n), kThreads, 0, stream_, weight_grad_to_float_kernel<true>)(grad, dw, s.cin, cin_p, rs, n);
  else
    INSALUN_LAUNCH(grid_for(n), kThreads, 0, stream_, weight_grad_to_float_kernel<false>)
  (grad, dw, s.cin, cin_p, rs, n);
  CUDA_CHECK_LAUNCH("weight_grad_to_float_kernel");
}

int CudaBackendImpl::padded_channels(const ConvShape& s) const {
  return nhwc_ && s.cin % kChannelAlign != 0 ? (s.cin + kChannelAlign - 1) / kChannelAlign * kChannelAlign : s.cin;
}

const void* CudaBackendImpl::conv_input(const ConvShape& s, const Act* x) {
  const int cin_p = padded_channels(s);
  if (cin_p == s.cin) return x;
  const size_t n = size_t(s.n) * s.h * s.w * cin_p;
  bf16* padded = static_cast<bf16*>(pad_scratch(n * sizeof(bf16)));
  INSALUN_LAUNCH(grid_for(n), kThreads, 0, stream_, pad_channels_kernel)(as<bf16>(x), padded, s.cin, cin_p, n);
  CUDA_CHECK_LAUNCH("pad_channels_kernel");
  return padded;
}

void CudaBackendImpl::conv2d_forward(const ConvShape& s, const Act* x, const float* w, Act* y) {
  const LaunchScope op = open_op("conv2d_forward");
  ConvPlan& p = plan_for(s);
  const void* weights = conv_weights(s, w);
  const void* input = conv_input(s, x);
  run_convolution<FwdOps>(p, p.fwd, "forward convolution", [&](const ConvCandidate& c, void* ws) {
    return cudnnConvolutionForward(cudnn_, &kOne, p.x, input, p.w, weights, p.conv, cudnnConvolutionFwdAlgo_t(c.algo),
                                   ws, c.workspace, &kZero, p.y, y);
  });
}

void CudaBackendImpl::conv2d_backward_data(const ConvShape& s, const Act* dy, const float* w, Act* dx,
                                           bool accumulate) {
  const LaunchScope op = open_op("conv2d_backward_data");
  ConvPlan& p = plan_for(s);
  const void* weights = conv_weights(s, w);
  // Padded channels: cuDNN writes (or adds to) the gradient of the padded input, whose first cin
  // channels then go to dx; accumulating, the padded buffer starts as a copy of dx, so the sum is
  // rounded to bf16 once, as without padding.
  const int cin_p = padded_channels(s);
  void* grad = dx;
  if (cin_p != s.cin) {
    const size_t padded_count = size_t(s.n) * s.h * s.w * cin_p;
    grad = pad_scratch(padded_count * sizeof(bf16));
    if (accumulate) {
      INSALUN_LAUNCH(grid_for(padded_count), kThreads, 0, stream_, pad_channels_kernel)
      (as<bf16>(dx), static_cast<bf16*>(grad), s.cin, cin_p, padded_count);
      CUDA_CHECK_LAUNCH("pad_channels_kernel");
    }
  }
  run_convolution<BwdDataOps>(p, p.bwd_data, "backward-data convolution", [&](const ConvCandidate& c, void* ws) {
    return cudnnConvolutionBackwardData(cudnn_, &kOne, p.w, weights, p.y, dy, p.conv,
                                        cudnnConvolutionBwdDataAlgo_t(c.algo), ws, c.workspace,
                                        accumulate ? &kOne : &kZero, p.x, grad);
  });
  if (grad != dx) {
    const size_t n = size_t(s.n) * s.h * s.w * s.cin;
    INSALUN_LAUNCH(grid_for(n), kThreads, 0, stream_, unpad_channels_kernel)
    (static_cast<const bf16*>(grad), as<bf16>(dx), s.cin, cin_p, n);
    CUDA_CHECK_LAUNCH("unpad_channels_kernel");
  }
}

void CudaBackendImpl::conv2d_backward_filter(const ConvShape& s, const Act* x, const Act* dy, float* dw) {
  const LaunchScope op = open_op("conv2d_backward_filter");
  ConvPlan& p = plan_for(s);
  const bool bf16_mode = precision_ == Precision::kBf16;
  const size_t n = s.weight_size();
  const size_t bf16_count = size_t(s.cout) * padded_channels(s) * s.k * s.k;
  // A prepared convolution's bf16 gradient waits in its slot for finish_conv_weight_grads.
  const WeightCopy* prepared = bf16_mode && dw ? prepared_entry(s, nullptr, dw) : nullptr;
  void* grad = prepared          ? prepared_grads_ + prepared->begin
               : bf16_mode       ? weight_scratch(bf16_count * sizeof(bf16))
               : aligned16({dw}) ? static_cast<void*>(dw)
                                 : weight_scratch(n * sizeof(float));
  const void* input = conv_input(s, x);
  run_convolution<BwdFilterOps>(p, p.bwd_filter, "backward-filter convolution", [&](const ConvCandidate& c, void* ws) {
    return cudnnConvolutionBackwardFilter(cudnn_, &kOne, p.x, input, p.y, dy, p.conv,
                                          cudnnConvolutionBwdFilterAlgo_t(c.algo), ws, c.workspace, &kZero, p.w, grad);
  });
  if (prepared)
    grads_pending_[size_t(prepared - prepared_table_.data())] = true;
  else if (bf16_mode)
    widen_weight_grad(s, static_cast<const bf16*>(grad), dw);
  else if (grad != dw)
    copy_bytes(dw, grad, n * sizeof(float));
}

}  // namespace insalun::cuda
