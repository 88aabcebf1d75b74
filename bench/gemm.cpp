// Dev harness for the CPU GEMM (native/cpu/gemm.cpp), in the spirit of llm.c's per-kernel checks:
// every product of a ResNet-18 training step's convolutions (as the CPU backend calls them: one
// thread per chunk of images) is checked against a float64 product, then timed (best of 7).
// Build and run from the project root:
//   g++ -O3 -march=x86-64-v3 -fopenmp -std=c++17 bench/gemm.cpp native/cpu/gemm.cpp native/cpu/isa.cpp -o gemm-bench
//   OMP_NUM_THREADS=1 ./gemm-bench        (add "parallel" to let one product use every thread)
//   ./gemm-bench check                    (correctness only; exit status 1 on a wrong product)
// INSALUN_CPU_ISA=avx2 runs the AVX2 tile on an AVX-512 machine (test/native/gemm.test.ts).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "../native/cpu/gemm.h"
#include "../native/cpu/isa.h"

namespace {

struct Product {
  const char* name;  // layer and direction: fwd Y = W col, data dcol = W^T dY, filter dW = dY col^T
  bool trans_a, trans_b;
  int m, n, k;
};

// Chunk sizes follow conv.cpp's images_per_chunk at batch 64 (1024 columns for 32x32 layers, 256
// for the deepest).
const Product kProducts[] = {
    {"w16 layer1 fwd", false, false, 16, 1024, 144},
    {"w16 layer1 data", true, false, 144, 1024, 16},
    {"w16 layer1 filter", false, true, 16, 144, 1024},
    {"w16 layer2 fwd", false, false, 32, 512, 288},
    {"w16 layer2 data", true, false, 288, 512, 32},
    {"w16 layer2 filter", false, true, 32, 288, 512},
    {"w16 layer4 fwd", false, false, 128, 256, 1152},
    {"w16 layer4 data", true, false, 1152, 256, 128},
    {"w16 layer4 filter", false, true, 128, 1152, 256},
    {"w64 layer1 fwd", false, false, 64, 1024, 576},
    {"w64 layer1 data", true, false, 576, 1024, 64},
    {"w64 layer1 filter", false, true, 64, 576, 1024},
    {"w64 layer4 fwd", false, false, 512, 256, 4608},
    {"w64 layer4 data", true, false, 4608, 256, 512},
    {"w64 layer4 filter", false, true, 512, 4608, 256},
    {"stem filter", false, true, 16, 27, 1024},
    // Edges: partial register tiles and panels, depth remainders (of the 256-deep block and of the
    // 16-deep transposes), more columns than one 4096-column block, and every transpose pairing.
    {"edge nn", false, false, 13, 37, 300},
    {"edge tn", true, false, 21, 45, 529},
    {"edge nt", false, true, 17, 70, 600},
    {"edge tt", true, true, 9, 33, 41},
    {"edge wide", false, false, 9, 4200, 20},
    {"edge nt full", false, true, 24, 64, 275},
};

}  // namespace

int main(int argc, char** argv) {
  bool parallel = false, check_only = false;
  for (int i = 1; i < argc; ++i) {
    parallel |= std::strcmp(argv[i], "parallel") == 0;
    check_only |= std::strcmp(argv[i], "check") == 0;
  }
  int wrong = 0;
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> uniform(-0.5f, 0.5f);
  std::printf("instruction set: %s\n", insalun::cpu::isa_name(insalun::cpu::active_isa()));
  std::printf("%-18s %5s %5s %5s %10s %12s\n", "product", "m", "n", "k", "GFLOP/s", "max |err|");
  for (const Product& p : kProducts) {
    const int lda = p.trans_a ? p.m : p.k, ldb = p.trans_b ? p.k : p.n;
    std::vector<float> a(size_t(p.m) * p.k), b(size_t(p.k) * p.n), c(size_t(p.m) * p.n);
    for (float& v : a) v = uniform(rng);
    for (float& v : b) v = uniform(rng);
    for (float& v : c) v = uniform(rng);
    const std::vector<float> c_before = c;
    // alpha and beta other than 1 and 0, so every term of C = alpha op(A) op(B) + beta C is checked.
    insalun::cpu::sgemm(p.trans_a, p.trans_b, p.m, p.n, p.k, 1.25f, a.data(), lda, b.data(), ldb, 0.75f, c.data(), p.n,
                        parallel);
    // Large products check every 7th row: rows step through every position of the 6- or 8-row tile.
    const int row_step = double(p.m) * p.n * p.k > 5e7 ? 7 : 1;
    double max_err = 0;
    for (int i = 0; i < p.m; i += row_step)
      for (int j = 0; j < p.n; ++j) {
        double dot = 0;
        for (int q = 0; q < p.k; ++q)
          dot += double(p.trans_a ? a[size_t(q) * lda + i] : a[size_t(i) * lda + q]) *
                 double(p.trans_b ? b[size_t(j) * ldb + q] : b[size_t(q) * ldb + j]);
        const double want = 1.25 * dot + 0.75 * c_before[size_t(i) * p.n + j];
        max_err = std::max(max_err, std::fabs(want - c[size_t(i) * p.n + j]));
      }
    // Float32 accumulation over k terms of size <= 0.25: errors far above 1e-6 * k mean a bug.
    const bool ok = max_err <= 1e-6 * p.k;
    wrong += !ok;
    if (check_only) {
      std::printf("%-18s %5d %5d %5d %10s %12.1e%s\n", p.name, p.m, p.n, p.k, "-", max_err, ok ? "" : "  WRONG");
      continue;
    }
    const double flops = 2.0 * p.m * p.n * p.k;
    const int reps = std::max(3, int(3e8 / flops));
    double best = 1e30;
    for (int trial = 0; trial < 7; ++trial) {
      const auto t0 = std::chrono::steady_clock::now();
      for (int r = 0; r < reps; ++r)
        insalun::cpu::sgemm(p.trans_a, p.trans_b, p.m, p.n, p.k, 1.0f, a.data(), lda, b.data(), ldb, 0.0f, c.data(),
                            p.n, parallel);
      best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / reps);
    }
    std::printf("%-18s %5d %5d %5d %10.1f %12.1e%s\n", p.name, p.m, p.n, p.k, flops / best / 1e9, max_err,
                ok ? "" : "  WRONG");
  }
  return wrong ? 1 : 0;
}
