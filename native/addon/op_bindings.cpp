// `addon.ops(device)`: every backend op callable on plain typed arrays, so one conformance suite
// (test/ops.test.ts) checks each backend against float64 references and finite differences.
// Not a hot path: each call allocates, uploads, runs one op and downloads.
#include <napi.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <vector>

#include "../core/backend.h"
#include "../core/device_allocations.h"
#include "async.h"

namespace insalun::addon {
namespace {

// The arrays of one op call, from and to host values.
struct DeviceArrays : DeviceAllocations {
  using DeviceAllocations::DeviceAllocations;
  float* zeros(size_t n) { return filled(n, 0.0f); }
  // An output the op must overwrite everywhere: NaN until it does, so that an element it skips
  // shows in the result (a network reuses its buffers, stale values and all).
  float* unset(size_t n) { return filled(n, std::numeric_limits<float>::quiet_NaN()); }
  // Activations of shape s in the backend's type and layout, from float32 NCHW values (or NaN).
  Act* acts(const NormShape& s, const std::vector<float>& values) {
    return activations(s, upload(values.data(), values.size()));
  }
  Act* act_unset(const NormShape& s) { return activations(s, unset(s.size())); }
  // float32 NCHW values of activations of shape s, on the device.
  float* as_floats(const NormShape& s, const Act* a) {
    float* f = floats(s.size());
    backend().activations_to_float(s, a, f);
    return f;
  }
};

std::vector<float> f32(const Napi::Value& v, const char* what) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw Napi::TypeError::New(v.Env(), std::string(what) + " must be a Float32Array");
  auto a = v.As<Napi::Float32Array>();
  return std::vector<float>(a.Data(), a.Data() + a.ElementLength());
}

std::vector<int32_t> i32(const Napi::Value& v, const char* what) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    throw Napi::TypeError::New(v.Env(), std::string(what) + " must be an Int32Array");
  auto a = v.As<Napi::Int32Array>();
  return std::vector<int32_t>(a.Data(), a.Data() + a.ElementLength());
}

// An integer argument of at least `min` (1 for sizes, 0 for padding).
int integer(Napi::Value v, const std::string& what, int min = 1) {
  if (!v.IsNumber()) throw Napi::TypeError::New(v.Env(), what + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= min && d <= double(std::numeric_limits<int>::max())) || d != std::floor(d))
    throw Napi::RangeError::New(v.Env(), what + " must be an integer of at least " + std::to_string(min));
  return int(d);
}

int field(Napi::Object o, const char* key, int min = 1) {
  return integer(o.Get(key), std::string("shape.") + key, min);
}

// Refuses a tensor of more than 2^36 elements: beyond any device's memory, and a size computed as
// a product of ints could wrap around.
void bounded(Napi::Env env, std::initializer_list<int> dims, const char* what) {
  double elements = 1;
  for (int d : dims) elements *= d;
  if (elements > double(uint64_t(1) << 36))
    throw Napi::RangeError::New(env, std::string(what) + " would have " + std::to_string(elements) + " elements");
}

void require_size(Napi::Env env, const std::vector<float>& v, size_t n, const char* what) {
  if (v.size() != n)
    throw Napi::RangeError::New(
        env, std::string(what) + " has " + std::to_string(v.size()) + " values, expected " + std::to_string(n));
}

Napi::Float32Array download(Napi::Env env, Backend& be, const float* p, size_t n) {
  auto out = Napi::Float32Array::New(env, n);
  if (n) be.download_bytes(out.Data(), p, n * sizeof(float));
  return out;
}

Napi::Float32Array download(Napi::Env env, DeviceArrays& d, const NormShape& s, const Act* a) {
  return download(env, d.backend(), d.as_floats(s, a), s.size());
}

// The activation shapes of a convolution's input and output, and of a flat vector.
NormShape input_of(const ConvShape& s) { return NormShape{s.n, s.cin, s.h * s.w}; }
NormShape output_of(const ConvShape& s) { return NormShape{s.n, s.cout, s.ho() * s.wo()}; }
NormShape flat(size_t n) { return NormShape{1, 1, int(n)}; }

ConvShape conv_shape(Napi::Object o) {
  const ConvShape s{field(o, "n"),    field(o, "cin"), field(o, "h"),      field(o, "w"),
                    field(o, "cout"), field(o, "k"),   field(o, "stride"), field(o, "pad", 0)};
  try {
    check_conv_shape(s);
  } catch (const std::invalid_argument& e) {
    throw Napi::RangeError::New(o.Env(), e.what());
  }
  bounded(o.Env(), {s.n, s.cin, s.h, s.w}, "the convolution's input");
  bounded(o.Env(), {s.n, s.cout, s.ho(), s.wo()}, "the convolution's output");
  bounded(o.Env(), {s.cout, s.cin, s.k, s.k}, "the convolution's weights");
  return s;
}

NormShape norm_shape(Napi::Object o) {
  const NormShape s{field(o, "n"), field(o, "c"), field(o, "hw")};
  bounded(o.Env(), {s.n, s.c, s.hw}, "the activation");
  return s;
}

// {n, in, out} of a linear layer.
struct LinearShape {
  int n, in, out;
};
LinearShape linear_shape(Napi::Object o) {
  const LinearShape s{field(o, "n"), field(o, "in"), field(o, "out")};
  bounded(o.Env(), {s.n, std::max(s.in, s.out)}, "the linear layer's activations");
  bounded(o.Env(), {s.in, s.out}, "the linear layer's weights");
  return s;
}

using OpFn = std::function<Napi::Value(const Napi::CallbackInfo&, Backend&)>;

// Wraps an op so it runs under the compute lock with native exceptions turned into JS errors.
Napi::Function bind_op(Napi::Env env, std::shared_ptr<Backend> be, OpFn fn) {
  return Napi::Function::New(env, [be, fn](const Napi::CallbackInfo& info) -> Napi::Value {
    std::lock_guard<std::mutex> lock(compute_lock());
    try {
      Napi::Value out = fn(info, *be);
      be->synchronize();
      return out;
    } catch (const Napi::Error&) {
      throw;
    } catch (const std::exception& e) {
      throw Napi::Error::New(info.Env(), error_message(e));
    }
  });
}

// The {residual?, relu?} options of a batch-norm forward over activations of shape s.
NormEpilogue norm_epilogue(Napi::Env env, const Napi::Object& o, const NormShape& s, DeviceArrays& d) {
  NormEpilogue epilogue;
  epilogue.relu = o.Get("relu").ToBoolean();
  if (o.Has("residual") && !o.Get("residual").IsUndefined()) {
    auto residual = f32(o.Get("residual"), "residual");
    require_size(env, residual, s.size(), "residual");
    epilogue.residual = d.acts(s, residual);
  }
  return epilogue;
}

}  // namespace

Napi::Object make_op_bindings(Napi::Env env, std::shared_ptr<Backend> be) {
  auto ops = Napi::Object::New(env);
  ops.Set("device", be->name());

  ops.Set("conv2dForward", bind_op(env, be, [](const Napi::CallbackInfo& info, Backend& b) -> Napi::Value {
            ConvShape s = conv_shape(info[0].As<Napi::Object>());
            auto x = f32(info[1], "x"), w = f32(info[2], "w");
            require_size(info.Env(), x, s.input_size(), "x");
            require_size(info.Env(), w, s.weight_size(), "w");
            DeviceArrays d(b);
            Act* y = d.act_unset(output_of(s));
            b.conv2d_forward(s, d.acts(input_of(s), x), d.upload(w.data(), w.size()), y);
            return download(info.Env(), d, output_of(s), y);
          }));
  ops.Set("conv2dBackwardData", bind_op(env, be, [](const Napi::CallbackInfo& info, Backend& b) -> Napi::Value {
            ConvShape s = conv_shape(info[0].As<Napi::Object>());
            auto dy = f32(info[1], "dy"), w = f32(info[2], "w");
            require_size(info.Env(), dy, s.output_size(), "dy");
            require_size(info.Env(), w, s.weight_size(), "w");
            DeviceArrays d(b);
            // Optional 4th argument: a starting dx that the gradient is added to (accumulate mode).
            Act* dx = nullptr;
            const bool accumulate = info.Length() > 3 && !info[3].IsUndefined();
            if (accumulate) {
              auto start = f32(info[3], "dx");
              require_size(info.Env(), start, s.input_size(), "dx");
              dx = d.acts(input_of(s), start);
            } else {
              dx = d.act_unset(input_of(s));
            }
            b.conv2d_backward_data(s, d.acts(output_of(s), dy), d.upload(w.data(), w.size()), dx, accumulate);
            return download(info.Env(), d, input_of(s), dx);
          }));
  ops.Set("conv2dBackwardFilter", bind_op(env, be, [](const Napi::CallbackInfo& info, Backend& b) -> Napi::Value {
            ConvShape s = conv_shape(info[0].As<Napi::Object>());
            auto x = f32(info[1], "x"), dy = f32(info[2], "dy");
            require_size(info.Env(), x, s.input_size(), "x");
            require_size(info.Env(), dy, s.output_size(), "dy");
            DeviceArrays d(b);
            float* dw = d.unset(s.weight_size());
            b.conv2d_backward_filter(s, d.acts(input_of(s), x), d.acts(output_of(s), dy), dw);
            return download(info.Env(), b, dw, s.weight_size());
          }));

  // conv2dForwardBnEval(shape, x, w, gamma, beta, runningMean, runningVar, {eps, residual?, relu?}):
  // y = relu?(eval-mode bn(conv(x, w)) + residual?), the inference forward's fused op.
  ops.Set("conv2dForwardBnEval", bind_op(env, be, [](const Napi::CallbackInfo& info, Backend& b) -> Napi::Value {
            Napi::Env env = info.Env();
            ConvShape s = conv_shape(info[0].As<Napi::Object>());
            auto x = f32(info[1], "x"), w = f32(info[2], "w"), gamma = f32(info[3], "gamma");
            auto beta = f32(info[4], "beta"), rm = f32(info[5], "runningMean"), rv = f32(info[6], "runningVar");
            require_size(env, x, s.input_size(), "x");
            require_size(env, w, s.weight_size(), "w");
            for (auto* v : {&gamma, &beta, &rm, &rv}) require_size(env, *v, size_t(s.cout), "per-channel vector");
            Napi::Object o = info[7].As<Napi::Object>();
            DeviceArrays d(b);
            const NormEpilogue epilogue = norm_epilogue(env, o, output_of(s), d);
            Act *conv_out = d.act_unset(output_of(s)), *y = d.act_unset(output_of(s));
            b.conv2d_forward_bn_eval(
                s, d.acts(input_of(s), x), d.upload(w.data(), w.size()), d.upload(gamma.data(), gamma.size()),
                d.upload(beta.data(), beta.size()), d.upload(rm.data(), rm.size()), d.upload(rv.data(), rv.size()),
                o.Get("eps").ToNumber().FloatValue(), epilogue, conv_out, y, d.unset(s.cout), d.unset(s.cout));
            return download(env, d, output_of(s), y);
          }));

  // bnForward(shape, x, gamma, beta, runningMean, runningVar, {train, momentum, eps, residual?, relu?})
  ops.Set("bnForward", bind_op(env, be, [](const Napi::CallbackInfo& info, Backend& b) -> Napi::Value {
            Napi::Env env = info.Env();
            NormShape s = norm_shape(info[0].As<Napi::Object>());
            auto x = f32(info[1], "x"), gamma = f32(info[2], "gamma"), beta = f32(info[3], "beta");
            auto rm = f32(info[4], "runningMean"), rv = f32(info[5], "runningVar");
            require_size(env, x, s.size(), "x");
            for (auto* v : {&gamma, &beta, &rm, &rv}) require_size(env, *v, size_t(s.c), "per-channel vector");
            Napi::Object o = info[6].As<Napi::Object>();
            const bool train = o.Get("train").ToBoolean();
            const float momentum = o.Get("momentum").ToNumber().FloatValue(),
                        eps = o.Get("eps").ToNumber().FloatValue();
            DeviceArrays d(b);
            const NormEpilogue epilogue = norm_epilogue(env, o, s, d);
            Act* y = d.act_unset(s);
            float *mean = d.unset(s.c), *invstd = d.unset(s.c);
            float *drm = d.upload(rm.data(), rm.size()), *drv = d.upload(rv.data(), rv.size());
            const Act* dx = d.acts(s, x);
            const float *dg = d.upload(gamma.data(), gamma.size()), *db = d.upload(beta.data(), beta.size());
            if (train)
              b.bn_forward_train(s, dx, dg, db, drm, drv, momentum, eps, epilogue, y, mean, invstd);
            else
              b.bn_forward_eval(s, dx, dg, db, drm, drv, eps, epilogue, y, mean, invstd);
            auto out = Napi::Object::New(env);
            out.Set("y", download(env, d, s, y));
            out.Set("saveMean", download(env, b, mean, s.c));
            out.Set("saveInvstd", download(env, b, invstd, s.c));
            out.Set("runningMean", download(env, b, drm, s.c));
            out.Set("runningVar", download(env, b, drv, s.c));
            return out;
          }));
  // bnBackward(shape, x, dy, gamma, saveMean, saveInvstd, train, reluOut?, keepGated?): with
  // keepGated ('separate' or 'in-place', over dy; needs reluOut) the result has gatedDy too.
  ops.Set("bnBackward", bind_op(env, be, [](const Napi::CallbackInfo& info, Backend& b) -> Napi::Value {
            Napi::Env env = info.Env();
            NormShape s = norm_shape(info[0].As<Napi::Object>());
            auto x = f32(info[1], "x"), dy = f32(info[2], "dy"), gamma = f32(info[3], "gamma");
            auto mean = f32(info[4], "saveMean"), invstd = f32(info[5], "saveInvstd");
            require_size(env, x, s.size(), "x");
            require_size(env, dy, s.size(), "dy");
            for (auto* v : {&gamma, &mean, &invstd}) require_size(env, *v, size_t(s.c), "per-channel vector");
            const bool train = info[6].ToBoolean();
            DeviceArrays d(b);
            const Act* relu_out = nullptr;
            if (info.Length() > 7 && !info[7].IsUndefined()) {
              auto r = f32(info[7], "reluOut");
              require_size(env, r, s.size(), "reluOut");
              relu_out = d.acts(s, r);
            }
            Act* dx = d.act_unset(s);
            float *dg = d.unset(s.c), *db = d.unset(s.c);
            const Act* px = d.acts(s, x);
            Act* pdy = d.acts(s, dy);
            Act* gated = nullptr;
            if (info.Length() > 8 && !info[8].IsUndefined()) {
              const std::string keep = info[8].IsString() ? info[8].As<Napi::String>().Utf8Value() : "";
              if (keep != "separate" && keep != "in-place")
                throw Napi::TypeError::New(env, "keepGated must be 'separate' or 'in-place'");
              gated = keep == "in-place" ? pdy : d.act_unset(s);
            }
            const float *pg = d.upload(gamma.data(), gamma.size()), *pm = d.upload(mean.data(), mean.size()),
                        *pi = d.upload(invstd.data(), invstd.size());
            if (train)
              b.bn_backward_train(s, px, pdy, relu_out, gated, pg, pm, pi, dx, dg, db);
            else
              b.bn_backward_eval(s, px, pdy, relu_out, gated, pg, pm, pi, dx, dg, db);
            auto out = Napi::Object::New(env);
            out.Set("dx", download(env, d, s, dx));
            if (gated) out.Set("gatedDy", download(env, d, s, gated));
            out.Set("dgamma", download(env, b, dg, s.c));
            out.Set("dbeta", download(env, b, db, s.c));
            return out;
          }));

  ops.Set("reluForward", bind_op(env, be, [](const Napi::CallbackInfo& info, Backend& b) -> Napi::Value {
            auto x = f32(info[0], "x");
            DeviceArrays d(b);
            Act* y = d.act_unset(flat(x.size()));
            b.relu_forward(d.acts(flat(x.size()), x), y, x.size());
            return download(info.Env(), d, flat(x.size()), y);
          }));
  ops.Set("reluBackward", bind_op(env, be, [](const Napi::CallbackInfo& info, Backend& b) -> Napi::Value {
            auto y = f32(info[0], "y"), dy = f32(info[1], "dy");
            require_size(info.Env(), dy, y.size(), "dy");
            DeviceArrays d(b);
            const NormShape shape = flat(y.size());
            Act* dx = d.act_unset(shape);
            b.relu_backward(d.acts(shape, y), d.acts(shape, dy), dx, y.size());
            return download(info.Env(), d, shape, dx);
          }));
  // Activations through the backend's activation type and back (identity in fp32; rounding in bf16).
  ops.Set("roundTripActivations", bind_op(env, be, [](const Napi::CallbackInfo& info, Backend& b) -> Napi::Value {
            auto x = f32(info[0], "x");
            DeviceArrays d(b);
            // An optional shape {n, c, hw} exercises the layout conversion (bf16 NHWC) as well.
            const NormShape shape =
                info.Length() > 1 && info[1].IsObject() ? norm_shape(info[1].As<Napi::Object>()) : flat(x.size());
            require_size(info.Env(), x, shape.size(), "x");
            return download(info.Env(), d, shape, d.acts(shape, x));
          }));
  // Flat-vector ops used by the optimizer and integrated gradients: axpy, lerp, mulDiff, sum.
  ops.Set("axpy", bind_op(env, be, [](const Napi::CallbackInfo& info, Backend& b) -> Napi::Value {
            const float alpha = info[0].ToNumber().FloatValue();
            auto x = f32(info[1], "x"), y = f32(info[2], "y");
            require_size(info.Env(), y, x.size(), "y");
            DeviceArrays d(b);
            float* py = d.upload(y.data(), y.size());
            b.axpy(alpha, d.upload(x.data(), x.size()), py, x.size());
            return download(info.Env(), b, py, x.size());
          }));
  ops.Set("lerp", bind_op(env, be, [](const Napi::CallbackInfo& info, Backend& b) -> Napi::Value {
            auto x0 = f32(info[0], "x0"), x1 = f32(info[1], "x1");
            const float alpha = info[2].ToNumber().FloatValue();
            require_size(info.Env(), x1, x0.size(), "x1");
            DeviceArrays d(b);
            float* y = d.unset(x0.size());
            b.lerp(d.upload(x0.data(), x0.size()), d.upload(x1.data(), x1.size()), alpha, y, x0.size());
            return download(info.Env(), b, y, x0.size());
          }));
  ops.Set("mulDiff", bind_op(env, be, [](const Napi::CallbackInfo& info, Backend& b) -> Napi::Value {
            auto x1 = f32(info[0], "x1"), x0 = f32(info[1], "x0"), y = f32(info[2], "y");
            require_size(info.Env(), x0, x1.size(), "x0");
            require_size(info.Env(), y, x1.size(), "y");
            DeviceArrays d(b);
            float* py = d.upload(y.data(), y.size());
            b.mul_diff(d.upload(x1.data(), x1.size()), d.upload(x0.data(), x0.size()), py, y.size());
            return download(info.Env(), b, py, y.size());
          }));
  ops.Set("sum", bind_op(env, be, [](const Napi::CallbackInfo& info, Backend& b) -> Napi::Value {
            auto x = f32(info[0], "x");
            DeviceArrays d(b);
            float* out = d.unset(1);
            b.sum(d.upload(x.data(), x.size()), x.size(), out);
            return Napi::Number::New(info.Env(), download(info.Env(), b, out, 1)[0]);
          }));
  ops.Set("avgpoolForward", bind_op(env, be, [](const Napi::CallbackInfo& info, Backend& b) -> Napi::Value {
            NormShape s = norm_shape(info[0].As<Napi::Object>());
            auto x = f32(info[1], "x");
            require_size(info.Env(), x, s.size(), "x");
            DeviceArrays d(b);
            float* y = d.unset(size_t(s.n) * s.c);
            b.avgpool_forward(s, d.acts(s, x), y);
            return download(info.Env(), b, y, size_t(s.n) * s.c);
          }));
  ops.Set("avgpoolBackward", bind_op(env, be, [](const Napi::CallbackInfo& info, Backend& b) -> Napi::Value {
            NormShape s = norm_shape(info[0].As<Napi::Object>());
            auto dy = f32(info[1], "dy");
            require_size(info.Env(), dy, size_t(s.n) * s.c, "dy");
            DeviceArrays d(b);
            Act* dx = d.act_unset(s);
            b.avgpool_backward(s, d.upload(dy.data(), dy.size()), dx);
            return download(info.Env(), d, s, dx);
          }));
  // linearForward({n, in, out}, x, w, bias)
  ops.Set("linearForward", bind_op(env, be, [](const Napi::CallbackInfo& info, Backend& b) -> Napi::Value {
            const auto [n, in, out] = linear_shape(info[0].As<Napi::Object>());
            auto x = f32(info[1], "x"), w = f32(info[2], "w"), bias = f32(info[3], "bias");
            require_size(info.Env(), x, size_t(n) * in, "x");
            require_size(info.Env(), w, size_t(out) * in, "w");
            require_size(info.Env(), bias, size_t(out), "bias");
            DeviceArrays d(b);
            float* y = d.unset(size_t(n) * out);
            b.linear_forward(n, in, out, d.upload(x.data(), x.size()), d.upload(w.data(), w.size()),
                             d.upload(bias.data(), bias.size()), y);
            return download(info.Env(), b, y, size_t(n) * out);
          }));
  ops.Set("linearBackward", bind_op(env, be, [](const Napi::CallbackInfo& info, Backend& b) -> Napi::Value {
            Napi::Env env = info.Env();
            const auto [n, in, out] = linear_shape(info[0].As<Napi::Object>());
            auto x = f32(info[1], "x"), w = f32(info[2], "w"), dy = f32(info[3], "dy");
            require_size(env, x, size_t(n) * in, "x");
            require_size(env, w, size_t(out) * in, "w");
            require_size(env, dy, size_t(n) * out, "dy");
            DeviceArrays d(b);
            float *dx = d.unset(size_t(n) * in), *dw = d.unset(size_t(out) * in), *db = d.unset(out);
            b.linear_backward(n, in, out, d.upload(x.data(), x.size()), d.upload(w.data(), w.size()),
                              d.upload(dy.data(), dy.size()), dx, dw, db);
            auto r = Napi::Object::New(env);
            r.Set("dx", download(env, b, dx, size_t(n) * in));
            r.Set("dw", download(env, b, dw, size_t(out) * in));
            r.Set("db", download(env, b, db, size_t(out)));
            return r;
          }));
  // softmaxXent(n, classes, logits, labels, scale) -> {dlogits, lossSum, correct}
  ops.Set("softmaxXent", bind_op(env, be, [](const Napi::CallbackInfo& info, Backend& b) -> Napi::Value {
            Napi::Env env = info.Env();
            const int n = integer(info[0], "n"), classes = integer(info[1], "classes");
            bounded(env, {n, classes}, "the logits");
            auto logits = f32(info[2], "logits");
            auto labels = i32(info[3], "labels");
            const float scale = info[4].ToNumber().FloatValue();
            require_size(env, logits, size_t(n) * classes, "logits");
            if (labels.size() != size_t(n)) throw Napi::RangeError::New(env, "labels must have n entries");
            DeviceArrays d(b);
            float *dl = d.unset(size_t(n) * classes), *stats = d.zeros(2);
            b.softmax_xent(n, classes, d.upload(logits.data(), logits.size()), d.upload(labels.data(), labels.size()),
                           scale, dl, stats);
            auto s = download(env, b, stats, 2);
            auto r = Napi::Object::New(env);
            r.Set("dlogits", download(env, b, dl, size_t(n) * classes));
            r.Set("lossSum", s[0]);
            r.Set("correct", s[1]);
            return r;
          }));
  // gatherBatch(images: Uint8Array, labels: Int32Array, {n,c,h,w}, mean, std, indices, {augment, seed, epoch, pad})
  ops.Set("gatherBatch", bind_op(env, be, [](const Napi::CallbackInfo& info, Backend& b) -> Napi::Value {
            Napi::Env env = info.Env();
            if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
              throw Napi::TypeError::New(env, "images must be a Uint8Array");
            auto images = info[0].As<Napi::Uint8Array>();
            auto labels = i32(info[1], "labels");
            Napi::Object shape = info[2].As<Napi::Object>();
            auto mean = f32(info[3], "mean"), stdev = f32(info[4], "std");
            auto indices = i32(info[5], "indices");
            Napi::Object o = info[6].As<Napi::Object>();
            const int n = field(shape, "n"), c = field(shape, "c"), h = field(shape, "h"), w = field(shape, "w");
            bounded(env, {n, c, h, w}, "the images");
            if (images.ElementLength() != size_t(n) * c * h * w) throw Napi::RangeError::New(env, "images size");
            if (labels.size() != size_t(n)) throw Napi::RangeError::New(env, "labels must have n entries");
            require_size(env, mean, size_t(c), "mean");
            require_size(env, stdev, size_t(c), "std");
            for (int32_t i : indices)
              if (i < 0 || i >= n) throw Napi::RangeError::New(env, "index out of range");
            DeviceArrays d(b);
            DeviceDataset ds{d.upload(images.Data(), images.ElementLength()),
                             d.upload(labels.data(), labels.size()),
                             n,
                             c,
                             h,
                             w,
                             d.upload(mean.data(), mean.size()),
                             d.upload(stdev.data(), stdev.size())};
            BatchSpec spec;
            spec.indices = d.upload(indices.data(), indices.size());
            spec.count = int(indices.size());
            spec.augment = o.Get("augment").ToBoolean();
            spec.seed = uint64_t(o.Get("seed").ToNumber().Int64Value());
            spec.epoch = uint32_t(o.Get("epoch").ToNumber().Uint32Value());
            if (o.Has("pad")) spec.pad = integer(o.Get("pad"), "pad", 0);
            if (o.Has("labelOverride")) {
              auto override_labels = i32(o.Get("labelOverride"), "labelOverride");
              if (override_labels.size() != indices.size())
                throw Napi::RangeError::New(env, "labelOverride needs one label per index");
              spec.labels = d.upload(override_labels.data(), override_labels.size());
            }
            const NormShape batch{int(indices.size()), c, h * w};
            Act* x = d.act_unset(batch);
            int32_t* out_labels = d.upload<int32_t>(indices.data(), indices.size());
            b.gather_batch(ds, spec, x, out_labels);
            auto r = Napi::Object::New(env);
            r.Set("x", download(env, d, batch, x));
            auto l = Napi::Int32Array::New(env, indices.size());
            if (!indices.empty()) b.download_bytes(l.Data(), out_labels, indices.size() * sizeof(int32_t));
            r.Set("labels", l);
            return r;
          }));
  // sgdStep({lr, momentum, weightDecay, nesterov, maskMode: 'none'|'grad'|'hard', firstStep}, w, g, buf, mask?)
  ops.Set("sgdStep", bind_op(env, be, [](const Napi::CallbackInfo& info, Backend& b) -> Napi::Value {
            Napi::Env env = info.Env();
            Napi::Object o = info[0].As<Napi::Object>();
            SgdConfig c;
            c.lr = o.Get("lr").ToNumber().FloatValue();
            c.momentum = o.Get("momentum").ToNumber().FloatValue();
            c.weight_decay = o.Get("weightDecay").ToNumber().FloatValue();
            c.nesterov = o.Get("nesterov").ToBoolean();
            if (o.Get("l1").IsNumber()) c.l1 = o.Get("l1").ToNumber().FloatValue();
            const std::string mode =
                o.Get("maskMode").IsString() ? o.Get("maskMode").As<Napi::String>().Utf8Value() : "none";
            c.mask_mode = mode == "hard" ? MaskMode::kHard : mode == "grad" ? MaskMode::kGrad : MaskMode::kNone;
            const bool first = o.Get("firstStep").ToBoolean();
            auto w = f32(info[1], "w"), g = f32(info[2], "g"), buf = f32(info[3], "buf");
            require_size(env, g, w.size(), "g");
            require_size(env, buf, w.size(), "buf");
            std::vector<float> mask;
            if (c.mask_mode != MaskMode::kNone) {
              mask = f32(info[4], "mask");
              require_size(env, mask, w.size(), "mask");
            }
            DeviceArrays d(b);
            float *pw = d.upload(w.data(), w.size()), *pbuf = d.upload(buf.data(), buf.size());
            b.sgd_step(c, pw, d.upload(g.data(), g.size()), pbuf,
                       mask.empty() ? nullptr : d.upload(mask.data(), mask.size()), w.size(), first);
            auto r = Napi::Object::New(env);
            r.Set("w", download(env, b, pw, w.size()));
            r.Set("buf", download(env, b, pbuf, w.size()));
            return r;
          }));
  return ops;
}

}  // namespace insalun::addon
