// The vector instruction sets of the CPU backend's kernels, as two classes with one interface
// (Avx2, Avx512: a vector of floats, a lane mask, loads, multiply-adds, ...) so that each kernel is
// written once over `V` and compiled once per set.
//
// How a file compiles a kernel body for both: it includes its standard headers and this one
// first, then the body twice through for_each_isa.h, inside namespace avx2 between
// INSALUN_BEGIN_AVX2 and INSALUN_END_AVX2 (with `using V = Avx2;`) and inside namespace avx512
// likewise. The pragmas give
// every function defined in between that instruction set; functions defined outside (the standard
// library's templates included) keep the build's baseline, so that no AVX-512 copy of, say,
// std::vector<float>::resize can stand in for the baseline one in the linked addon, as it could if
// the whole file were compiled with -mavx512f. isa.h picks the copy at run time.
#pragma once

#if defined(__x86_64__) || defined(__i386__)
#define INSALUN_SIMD_X86 1
#else
#define INSALUN_SIMD_X86 0
#endif

#include <cstddef>

namespace insalun::cpu {
// Where neither set runs (another architecture, or an x86 CPU without AVX2): what the compiler
// makes of 32-byte vectors on the build's target. Only the GEMM has a copy for it.
struct GenericVectors {
  typedef float Vec __attribute__((vector_size(32)));
  static constexpr int kGemmRows = 6;
  static constexpr int kTransposeSide = 0;  // no block transpose
};
}  // namespace insalun::cpu

#if INSALUN_SIMD_X86
// GCC 12's headers warn that their own _mm512_undefined_ps() is uninitialized (GCC bug 105593);
// the warning says nothing about the including file, so it is silenced around the include only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#if defined(__clang__)
#define INSALUN_BEGIN_AVX2 _Pragma("clang attribute push(__attribute__((target(\"avx2,fma\"))), apply_to = function)")
#define INSALUN_BEGIN_AVX512                                                                            \
  _Pragma(                                                                                              \
      "clang attribute push(__attribute__((target(\"avx2,fma,avx512f,avx512bw,avx512dq,avx512vl\"))), " \
      "apply_to = function)")
#define INSALUN_END_AVX2 _Pragma("clang attribute pop")
#define INSALUN_END_AVX512 _Pragma("clang attribute pop")
#else
#define INSALUN_BEGIN_AVX2 _Pragma("GCC push_options") _Pragma("GCC target(\"avx2,fma\")")
#define INSALUN_BEGIN_AVX512 \
  _Pragma("GCC push_options") _Pragma("GCC target(\"avx2,fma,avx512f,avx512bw,avx512dq,avx512vl\")")
#define INSALUN_END_AVX2 _Pragma("GCC pop_options")
#define INSALUN_END_AVX512 _Pragma("GCC pop_options")
#endif

namespace insalun::cpu {

INSALUN_BEGIN_AVX2
// 8 floats a vector, 16 registers: register tiles of 4 output channels.
struct Avx2 {
  using Vec = __m256;
  using Mask = __m256i;  // a lane is read where its sign bit is set
  static constexpr int kLanes = 8;
  static constexpr int kBlock = 4;  // output channels per register tile of the convolutions
  // The forward's widest tile: 6 output channels x 2 vectors, 12 accumulators (with 4, the 8
  // accumulators were too few to cover the FMA latency, and the 3x3 layers ran at 73-78% of peak).
  static constexpr int kForwardRows = 6;
  static constexpr int kGemmRows = 6;       // the GEMM's register tile: 6 x 16 = 12 accumulators
  static constexpr int kTransposeSide = 8;  // = kLanes: the GEMM's block transpose

  // The block transpose's steps (gemm_kernels.h): unpacks and shuffles within 128-bit halves, then
  // rows k and 4 + k of the 4 x 4 blocks (r[k] half H = column 4H + k of rows 0-3, r[4 + k] of
  // rows 4-7) joined into columns k and 4 + k.
  static Vec unpacklo(Vec a, Vec b) { return _mm256_unpacklo_ps(a, b); }
  static Vec unpackhi(Vec a, Vec b) { return _mm256_unpackhi_ps(a, b); }
  template <int kImm>
  static Vec shuffle(Vec a, Vec b) {
    return _mm256_shuffle_ps(a, b, kImm);
  }
  static void store_columns(const Vec* r, float* out, int ldo) {
    for (int k = 0; k < 4; ++k) {
      _mm256_storeu_ps(out + size_t(k) * ldo, _mm256_permute2f128_ps(r[k], r[4 + k], 0x20));
      _mm256_storeu_ps(out + size_t(4 + k) * ldo, _mm256_permute2f128_ps(r[k], r[4 + k], 0x31));
    }
  }

  static Vec zero() { return _mm256_setzero_ps(); }
  static Vec set1(float a) { return _mm256_set1_ps(a); }
  static Vec load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, Vec v) { _mm256_storeu_ps(p, v); }
  static Vec add(Vec a, Vec b) { return _mm256_add_ps(a, b); }
  static Vec fmadd(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
  // std::max(v, 0.0f) lane by lane (MAXPS returns its second operand unless the first is greater,
  // so -0 and NaN pass through as they do there).
  static Vec relu(Vec v) { return _mm256_max_ps(_mm256_setzero_ps(), v); }
  // Lane l is read where bit l of bits is set; masked lanes are zero and their addresses are not
  // touched (VMASKMOVPS suppresses faults there).
  static Mask mask_of(unsigned bits) {
    const __m256i lane_bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    return _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32(int(bits)), lane_bit), lane_bit);
  }
  static Vec load_masked(Mask m, const float* p) { return _mm256_maskload_ps(p, m); }
  static void store_masked(Mask m, float* p, Vec v) { _mm256_maskstore_ps(p, m, v); }
  // load_masked's result where every lane's address may be read: a plain load ANDed with the
  // mask, which may stay in memory (VMASKMOVPS needs it in a register, and the forward's 12
  // accumulators leave none: GCC spilled one, and the 3x3 layers fell from 75% to 52% of peak).
  static constexpr bool kMaskedLoadTakesRegister = true;
  static Vec load_readable_masked(const Mask& m, const float* p) {
    return _mm256_and_ps(_mm256_loadu_ps(p), _mm256_castsi256_ps(m));
  }
  static float reduce_add(Vec v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
  }
  // The inverse of interleave: even = a0 a2 a4 a6 b0 b2 b4 b6, odd = a1 a3 ... b7.
  static void deinterleave(Vec a, Vec b, Vec& even, Vec& odd) {
    // Within 128-bit halves (a0 a2 b0 b2 | a4 a6 b4 b6), then the 64-bit quarters in order.
    const Vec e = _mm256_shuffle_ps(a, b, 0x88), o = _mm256_shuffle_ps(a, b, 0xDD);
    even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), 0xD8));
    odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), 0xD8));
  }
  // low = a0 b0 a1 b1 a2 b2 a3 b3, high = a4 b4 ... a7 b7.
  static void interleave(Vec a, Vec b, Vec& low, Vec& high) {
    const Vec lo = _mm256_unpacklo_ps(a, b), hi = _mm256_unpackhi_ps(a, b);  // per 128-bit half
    low = _mm256_permute2f128_ps(lo, hi, 0x20);
    high = _mm256_permute2f128_ps(lo, hi, 0x31);
  }
};
INSALUN_END_AVX2

INSALUN_BEGIN_AVX512
// 16 floats a vector, 32 registers: register tiles of 8 output channels.
struct Avx512 {
  using Vec = __m512;
  using Mask = __mmask16;
  static constexpr int kLanes = 16;
  static constexpr int kBlock = 8;
  static constexpr int kForwardRows = 8;
  static constexpr int kGemmRows = 8;  // the GEMM's register tile: 8 x 32 = 16 accumulators
  static constexpr int kTransposeSide = 16;

  // The block transpose's last step: r[4g + k] lane L = column 4L + k of rows 4g..4g+3; the lanes
  // of four such rows are gathered into each output row.
  static Vec unpacklo(Vec a, Vec b) { return _mm512_unpacklo_ps(a, b); }
  static Vec unpackhi(Vec a, Vec b) { return _mm512_unpackhi_ps(a, b); }
  template <int kImm>
  static Vec shuffle(Vec a, Vec b) {
    return _mm512_shuffle_ps(a, b, kImm);
  }
  static void store_columns(const Vec* r, float* out, int ldo) {
    for (int k = 0; k < 4; ++k) {
      const __m512 even_lo = _mm512_shuffle_f32x4(r[k], r[4 + k], 0x88);  // lanes 0, 2 of groups 0, 1
      const __m512 odd_lo = _mm512_shuffle_f32x4(r[k], r[4 + k], 0xDD);   // lanes 1, 3
      const __m512 even_hi = _mm512_shuffle_f32x4(r[8 + k], r[12 + k], 0x88);
      const __m512 odd_hi = _mm512_shuffle_f32x4(r[8 + k], r[12 + k], 0xDD);
      _mm512_storeu_ps(out + size_t(k) * ldo, _mm512_shuffle_f32x4(even_lo, even_hi, 0x88));
      _mm512_storeu_ps(out + size_t(8 + k) * ldo, _mm512_shuffle_f32x4(even_lo, even_hi, 0xDD));
      _mm512_storeu_ps(out + size_t(4 + k) * ldo, _mm512_shuffle_f32x4(odd_lo, odd_hi, 0x88));
      _mm512_storeu_ps(out + size_t(12 + k) * ldo, _mm512_shuffle_f32x4(odd_lo, odd_hi, 0xDD));
    }
  }

  static Vec zero() { return _mm512_setzero_ps(); }
  static Vec set1(float a) { return _mm512_set1_ps(a); }
  static Vec load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, Vec v) { _mm512_storeu_ps(p, v); }
  static Vec add(Vec a, Vec b) { return _mm512_add_ps(a, b); }
  static Vec fmadd(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
  // (All lanes through the masked form: the plain _mm512_max_ps trips GCC 12's uninitialized
  // warning, bug 105593, in every file that includes it.)
  static Vec relu(Vec v) {
    const Vec zero = _mm512_setzero_ps();
    return _mm512_mask_max_ps(zero, Mask(0xFFFF), zero, v);
  }
  // Masked lanes are zero, and AVX-512 suppresses faults on them.
  static Mask mask_of(unsigned bits) { return Mask(bits); }
  static Vec load_masked(Mask m, const float* p) { return _mm512_maskz_loadu_ps(m, p); }
  static void store_masked(Mask m, float* p, Vec v) { _mm512_mask_storeu_ps(p, m, v); }
  static constexpr bool kMaskedLoadTakesRegister = false;  // its mask is a k register
  static Vec load_readable_masked(const Mask& m, const float* p) { return load_masked(m, p); }
  static float reduce_add(Vec v) { return _mm512_reduce_add_ps(v); }
  static void deinterleave(Vec a, Vec b, Vec& even, Vec& odd) {
    const __m512i evens = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odds = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    even = _mm512_permutex2var_ps(a, evens, b);
    odd = _mm512_permutex2var_ps(a, odds, b);
  }
  static void interleave(Vec a, Vec b, Vec& low, Vec& high) {
    const __m512i low_half = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i high_half = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    low = _mm512_permutex2var_ps(a, low_half, b);
    high = _mm512_permutex2var_ps(a, high_half, b);
  }
};
INSALUN_END_AVX512

}  // namespace insalun::cpu
#endif
