// The GEMM's kernels over the vector class V (simd.h; GenericVectors off x86): gemm.cpp includes
// this file once per instruction set, inside that set's namespace, after every header it needs.
namespace {

// Register tile: MR rows x NR columns, NR = two vectors. With AVX-512 (32 vector registers) 8 x 32 =
// 16 accumulators of 16 floats: rows are 8-aligned for every layer width (16..512), and the tile
// measured 1.7-1.9x the AVX2 tile on the ResNet shapes. Otherwise 6 x 16 = 12 accumulators of 8
// floats (AVX2 has 16 registers).
typedef float vec __attribute__((vector_size(sizeof(V::Vec))));
constexpr int kMR = V::kGemmRows;
constexpr int kLanes = int(sizeof(vec) / sizeof(float));
constexpr int kNR = 2 * kLanes;
// Cache blocks: an MCxKC block of A (~96 KiB) stays in L2, a KCxNR sliver of B (16-32 KiB) in L1.
constexpr int kMC = 96;
constexpr int kKC = 256;
constexpr int kNC = 4096;

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
// shared: the calling team splits the panels (see parallel.h); else the calling thread packs alone.
void pack_a(const float* a, int lda, bool trans, int i0, int mc, int p0, int kc, float* out, bool shared) {
  const int panels = (mc + kMR - 1) / kMR;
  shared_for(shared, panels, [&](int panel) {
    float* dst = out + size_t(panel) * kMR * kc;
    const int rows = std::min(kMR, mc - panel * kMR);
    if (trans && rows == kMR) {
      // op(A) = A^T: a panel's rows at one depth are a contiguous run of A's row.
      for (int p = 0; p < kc; ++p)
        std::memcpy(dst + p * kMR, a + size_t(p0 + p) * lda + i0 + panel * kMR, sizeof(float) * kMR);
      return;
    }
    for (int p = 0; p < kc; ++p) {
      for (int r = 0; r < kMR; ++r) {
        dst[p * kMR + r] = r < rows ? at(a, lda, trans, i0 + panel * kMR + r, p0 + p) : 0.0f;
      }
    }
  });
}

// out[j * ldo + i] = in[i * ldi + j] for a square block of W::kLanes rows: unpack pairs of rows,
// shuffle them into 4 x 4 blocks within each 128-bit lane, then W::store_columns gathers the lanes.
// (A template, so that the copy for vectors without these steps is never compiled.)
template <typename W>
void transpose_block(const float* in, int ldi, float* out, int ldo) {
  constexpr int n = W::kLanes;
  typename W::Vec r[n], t[n];
  for (int i = 0; i < n; ++i) r[i] = W::load(in + size_t(i) * ldi);
  for (int i = 0; i < n / 2; ++i) {
    t[2 * i] = W::unpacklo(r[2 * i], r[2 * i + 1]);      // per lane: a0 b0 a1 b1
    t[2 * i + 1] = W::unpackhi(r[2 * i], r[2 * i + 1]);  // per lane: a2 b2 a3 b3
  }
  for (int g = 0; g < n / 4; ++g) {  // rows 4g..4g+3: r[4g + k] lane L = their column 4L + k
    r[4 * g + 0] = W::template shuffle<0x44>(t[4 * g], t[4 * g + 2]);
    r[4 * g + 1] = W::template shuffle<0xEE>(t[4 * g], t[4 * g + 2]);
    r[4 * g + 2] = W::template shuffle<0x44>(t[4 * g + 1], t[4 * g + 3]);
    r[4 * g + 3] = W::template shuffle<0xEE>(t[4 * g + 1], t[4 * g + 3]);
  }
  W::store_columns(r, out, ldo);
}

// Packs depth [p0, p0+kc) x columns [j0, j0+nc) of op(B) into NR-column micro-panels.
void pack_b(const float* b, int ldb, bool trans, int p0, int kc, int j0, int nc, float* out, bool shared) {
  const int panels = (nc + kNR - 1) / kNR;
  shared_for(shared, panels, [&](int panel) {
    float* dst = out + size_t(panel) * kNR * kc;
    const int cols = std::min(kNR, nc - panel * kNR);
    const int col0 = j0 + panel * kNR;
    if (!trans && cols == kNR) {
      for (int p = 0; p < kc; ++p) std::memcpy(dst + p * kNR, b + size_t(p0 + p) * ldb + col0, sizeof(float) * kNR);
      return;
    }
    if (trans) {
      // op(B) = B^T: a panel column is a contiguous run of B's row; read along it.
      int p_done = 0;
      // Full panels move square blocks (a vector's lanes on a side) through registers: the
      // element-wise copy below stores at a 128-byte stride, and made the weight gradients'
      // packing a third of GEMM time.
      constexpr int kSide = V::kTransposeSide;
      if constexpr (kSide > 0) {
        if (cols == kNR)
          for (; p_done + kSide <= kc; p_done += kSide)
            for (int c = 0; c < kNR; c += kSide)
              transpose_block<V>(b + size_t(col0 + c) * ldb + p0 + p_done, ldb, dst + p_done * kNR + c, kNR);
      }
      for (int c = 0; c < kNR; ++c) {
        if (c >= cols) {
          for (int p = 0; p < kc; ++p) dst[p * kNR + c] = 0.0f;
          continue;
        }
        const float* src = b + size_t(col0 + c) * ldb + p0;
        for (int p = p_done; p < kc; ++p) dst[p * kNR + c] = src[p];
      }
      return;
    }
    for (int p = 0; p < kc; ++p) {
      for (int c = 0; c < kNR; ++c) {
        dst[p * kNR + c] = c < cols ? at(b, ldb, trans, p0 + p, col0 + c) : 0.0f;
      }
    }
  });
}

// acc = packed A panel (MR x kc) * packed B panel (kc x NR); then C = alpha*acc + beta*C on the
// valid mr x nr corner. The loops over the tile's rows are unrolled, so the accumulators stay in
// registers (the compiled loop is 2 loads, MR broadcasts and 2*MR FMAs).
void micro_kernel(int kc, const float* __restrict a, const float* __restrict b, float* c, int ldc, int mr, int nr,
                  float alpha, float beta) {
  vec acc[kMR][2];
#pragma GCC unroll 16
  for (int r = 0; r < kMR; ++r) acc[r][0] = acc[r][1] = vec{};
  for (int p = 0; p < kc; ++p) {
    vec b0, b1;
    std::memcpy(&b0, b, sizeof(vec));
    std::memcpy(&b1, b + kLanes, sizeof(vec));
#pragma GCC unroll 16
    for (int r = 0; r < kMR; ++r) {
      acc[r][0] += a[r] * b0;
      acc[r][1] += a[r] * b1;
    }
    a += kMR;
    b += kNR;
  }
  // A full tile that accumulates (every depth block after the first) updates C in vectors. A
  // tile that overwrites goes through the loop below like the edge tiles: with vector stores
  // there, output-bound shapes (depth 16) measured 1.3-1.5x slower with AVX-512.
  if (mr == kMR && nr == kNR && beta != 0.0f) {
#pragma GCC unroll 16
    for (int r = 0; r < kMR; ++r) {
      float* row = c + size_t(r) * ldc;
      vec old0, old1;
      std::memcpy(&old0, row, sizeof(vec));
      std::memcpy(&old1, row + kLanes, sizeof(vec));
      const vec out0 = alpha * acc[r][0] + beta * old0, out1 = alpha * acc[r][1] + beta * old1;
      std::memcpy(row, &out0, sizeof(vec));
      std::memcpy(row + kLanes, &out1, sizeof(vec));
    }
    return;
  }
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

void sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda, const float* b,
           int ldb, float beta, float* c, int ldc, bool parallel) {
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

  // The blocked loops; with shared, every thread of the enclosing team runs them and splits each
  // packing and tile loop (whose closing barriers order the shared panels' reuse).
  auto blocked = [&](bool shared) {
    for (int j0 = 0; j0 < n; j0 += kNC) {
      const int nc = std::min(kNC, n - j0);
      for (int p0 = 0; p0 < k; p0 += kKC) {
        const int kc = std::min(kKC, k - p0);
        // The first depth block applies the caller's beta; later ones accumulate.
        const float block_beta = p0 == 0 ? beta : 1.0f;
        pack_b(b, ldb, trans_b, p0, kc, j0, nc, packed_b, shared);
        for (int i0 = 0; i0 < m; i0 += kMC) {
          const int mc = std::min(kMC, m - i0);
          pack_a(a, lda, trans_a, i0, mc, p0, kc, packed_a, shared);
          const int col_panels = (nc + kNR - 1) / kNR;
          const int row_panels = (mc + kMR - 1) / kMR;
          shared_for(shared, col_panels * row_panels, [&](int tile) {
            const int jp = tile / row_panels, ip = tile % row_panels;
            const int i = i0 + ip * kMR, j = j0 + jp * kNR;
            micro_kernel(kc, packed_a + size_t(ip) * kMR * kc, packed_b + size_t(jp) * kNR * kc,
                         c + size_t(i) * ldc + j, ldc, std::min(kMR, m - i), std::min(kNR, n - j), alpha, block_beta);
          });
        }
      }
    }
  };
  if (parallel) {
#pragma omp parallel
    blocked(true);
  } else {
    blocked(false);
  }
}

// The arithmetic reference of the kernel bench: independent chains of vector multiply-adds (enough
// of them to cover the FMA latency on every FMA port), in registers, on every thread, in this
// set's vectors; the inputs come from run-time values and the result goes to a volatile, so that
// nothing is folded away.
double multiply_add_loop(size_t rounds) {
  constexpr int kChains = 12;
  [[maybe_unused]] static volatile float sink = 0.0f;  // written, never read: the store keeps the loop
  const float scale = 0.999f + 1e-4f * float(rounds % 7), offset = 1e-3f;  // converges to ~1, no denormals
  int threads = 1;
#pragma omp parallel
  {
#pragma omp single
    threads = team_size();
    vec acc[kChains];
    for (int c = 0; c < kChains; ++c) acc[c] = vec{} + float(c + thread_index());
    const vec a = vec{} + scale, b = vec{} + offset;
    for (size_t r = 0; r < rounds; ++r)
#pragma GCC unroll 12
      for (int c = 0; c < kChains; ++c) acc[c] = acc[c] * a + b;
    float total = 0.0f;
    for (int c = 0; c < kChains; ++c)
      for (int l = 0; l < kLanes; ++l) total += acc[c][l];
    if (total < 0.0f) sink = total;  // never true (every chain tends to ~1); the compiler cannot tell
  }
  return 2.0 * kLanes * kChains * double(rounds) * threads;
}
