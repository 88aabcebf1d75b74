#include "gemm.h"

#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace insalun::cpu {
namespace {

// Register tile: 6 rows x 16 columns = 12 accumulators of 8 floats (AVX2 has 16 registers).
constexpr int kMR = 6;
constexpr int kNR = 16;
// Cache blocks: an MCxKC block of A (~96 KiB) stays in L2, a KCxNR sliver of B (16 KiB) in L1.
constexpr int kMC = 96;
constexpr int kKC = 256;
constexpr int kNC = 4096;

typedef float v8 __attribute__((vector_size(32)));

struct AlignedBuffer {
  float* data = nullptr;
  size_t capacity = 0;
  ~AlignedBuffer() { std::free(data); }
  float* get(size_t count) {
    if (count > capacity) {
      std::free(data);
      data = static_cast<float*>(std::aligned_alloc(64, ((count * sizeof(float) + 63) / 64) * 64));
      capacity = count;
    }
    return data;
  }
};

// Element (row, col) of op(X) where X is row-major with leading dimension ld.
inline float at(const float* x, int ld, bool trans, int row, int col) {
  return trans ? x[size_t(col) * ld + row] : x[size_t(row) * ld + col];
}

// Packs rows [i0, i0+mc) x depth [p0, p0+kc) of op(A) into MR-row micro-panels, depth-major,
// zero-padding the last panel.
void pack_a(const float* a, int lda, bool trans, int i0, int mc, int p0, int kc, float* out) {
  const int panels = (mc + kMR - 1) / kMR;
#pragma omp for schedule(static)
  for (int panel = 0; panel < panels; ++panel) {
    float* dst = out + size_t(panel) * kMR * kc;
    const int rows = std::min(kMR, mc - panel * kMR);
    for (int p = 0; p < kc; ++p) {
      for (int r = 0; r < kMR; ++r) {
        dst[p * kMR + r] = r < rows ? at(a, lda, trans, i0 + panel * kMR + r, p0 + p) : 0.0f;
      }
    }
  }
}

// Packs depth [p0, p0+kc) x columns [j0, j0+nc) of op(B) into NR-column micro-panels.
void pack_b(const float* b, int ldb, bool trans, int p0, int kc, int j0, int nc, float* out) {
  const int panels = (nc + kNR - 1) / kNR;
#pragma omp for schedule(static)
  for (int panel = 0; panel < panels; ++panel) {
    float* dst = out + size_t(panel) * kNR * kc;
    const int cols = std::min(kNR, nc - panel * kNR);
    const int col0 = j0 + panel * kNR;
    if (!trans && cols == kNR) {
      for (int p = 0; p < kc; ++p) std::memcpy(dst + p * kNR, b + size_t(p0 + p) * ldb + col0, sizeof(float) * kNR);
      continue;
    }
    if (trans) {
      // op(B) = B^T: a panel column is a contiguous run of B's row; read along it.
      for (int c = 0; c < kNR; ++c) {
        if (c >= cols) {
          for (int p = 0; p < kc; ++p) dst[p * kNR + c] = 0.0f;
          continue;
        }
        const float* src = b + size_t(col0 + c) * ldb + p0;
        for (int p = 0; p < kc; ++p) dst[p * kNR + c] = src[p];
      }
      continue;
    }
    for (int p = 0; p < kc; ++p) {
      for (int c = 0; c < kNR; ++c) {
        dst[p * kNR + c] = c < cols ? at(b, ldb, trans, p0 + p, col0 + c) : 0.0f;
      }
    }
  }
}

// acc = packed A panel (MR x kc) * packed B panel (kc x NR); then C = alpha*acc + beta*C on the
// valid mr x nr corner. The 12 accumulators are named variables so they stay in registers.
void micro_kernel(int kc, const float* __restrict a, const float* __restrict b, float* c, int ldc,
                  int mr, int nr, float alpha, float beta) {
  v8 c00 = {}, c01 = {}, c10 = {}, c11 = {}, c20 = {}, c21 = {};
  v8 c30 = {}, c31 = {}, c40 = {}, c41 = {}, c50 = {}, c51 = {};
  for (int p = 0; p < kc; ++p) {
    v8 b0, b1;
    std::memcpy(&b0, b, sizeof(v8));
    std::memcpy(&b1, b + 8, sizeof(v8));
    const float a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3], a4 = a[4], a5 = a[5];
    c00 += a0 * b0; c01 += a0 * b1;
    c10 += a1 * b0; c11 += a1 * b1;
    c20 += a2 * b0; c21 += a2 * b1;
    c30 += a3 * b0; c31 += a3 * b1;
    c40 += a4 * b0; c41 += a4 * b1;
    c50 += a5 * b0; c51 += a5 * b1;
    a += kMR;
    b += kNR;
  }
  const v8 acc[kMR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  float tile[kMR][kNR];
  std::memcpy(tile, acc, sizeof(tile));
  for (int r = 0; r < mr; ++r) {
    float* row = c + size_t(r) * ldc;
    if (beta == 0.0f) {
      for (int j = 0; j < nr; ++j) row[j] = alpha * tile[r][j];
    } else {
      for (int j = 0; j < nr; ++j) row[j] = alpha * tile[r][j] + beta * row[j];
    }
  }
}

}  // namespace

void sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda,
           const float* b, int ldb, float beta, float* c, int ldc, bool parallel) {
  if (m <= 0 || n <= 0) return;
  // Small products are not worth waking the thread team.
  if (double(m) * n * k < 2e5) parallel = false;
  if (k <= 0) {
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j) c[size_t(i) * ldc + j] = beta == 0.0f ? 0.0f : beta * c[size_t(i) * ldc + j];
    return;
  }
  static thread_local AlignedBuffer packed_a_buffer, packed_b_buffer;
  float* packed_a = packed_a_buffer.get(size_t(kMC) * kKC);
  float* packed_b = packed_b_buffer.get(size_t(kKC) * (kNC + kNR));

#pragma omp parallel if (parallel)
  for (int j0 = 0; j0 < n; j0 += kNC) {
    const int nc = std::min(kNC, n - j0);
    for (int p0 = 0; p0 < k; p0 += kKC) {
      const int kc = std::min(kKC, k - p0);
      // The first depth block applies the caller's beta; later ones accumulate.
      const float block_beta = p0 == 0 ? beta : 1.0f;
      pack_b(b, ldb, trans_b, p0, kc, j0, nc, packed_b);  // implicit barrier
      for (int i0 = 0; i0 < m; i0 += kMC) {
        const int mc = std::min(kMC, m - i0);
        pack_a(a, lda, trans_a, i0, mc, p0, kc, packed_a);  // implicit barrier
        const int col_panels = (nc + kNR - 1) / kNR;
        const int row_panels = (mc + kMR - 1) / kMR;
#pragma omp for schedule(static) collapse(2)
        for (int jp = 0; jp < col_panels; ++jp) {
          for (int ip = 0; ip < row_panels; ++ip) {
            const int i = i0 + ip * kMR, j = j0 + jp * kNR;
            micro_kernel(kc, packed_a + size_t(ip) * kMR * kc, packed_b + size_t(jp) * kNR * kc,
                         c + size_t(i) * ldc + j, ldc, std::min(kMR, m - i), std::min(kNR, n - j),
                         alpha, block_beta);
          }
        }  // implicit barrier before the next pack_a overwrites the shared panel
      }
    }
  }
}

}  // namespace insalun::cpu
