// The direct convolutions' kernels over the vector class V (simd.h): conv_direct.cpp includes this
// file once per instruction set, inside that set's namespace, after every header it needs.
// (Comments speak of AVX-512's 16 lanes and 8-channel tiles; with AVX2 read 8 and 4.)
namespace {

using Vec = V::Vec;
using Mask = V::Mask;
constexpr int kLanes = V::kLanes;              // floats per vector
constexpr int kBlock = V::kBlock;              // output channels per register tile
constexpr int kForwardRows = V::kForwardRows;  // output channels per forward tile, the widest
constexpr unsigned kAllLanes = (1u << kLanes) - 1;
constexpr int kOffsets = 9;        // 3x3 kernel offsets
constexpr int kTile = 2 * kLanes;  // positions per forward tile

bool padded_3x3(const ConvShape& s) { return s.k == 3 && s.pad == 1 && s.h > 0 && s.w > 0 && s.n > 0; }

float* grow(std::vector<float>& buffer, size_t count) {
  if (buffer.size() < count) buffer.resize(count);
  return buffer.data();
}

// Where the taps of a convolution read, for vectors of 16 output positions of an h x w output
// plane: tap t of input channel c reads the output position's index + shift[t] in channel c's
// plane (planes in_plane floats apart), on the lanes of masks[v * count + t] for the plane's
// vector v (positions [16v, 16v+16)); the other lanes are zero (padding).
struct Taps {
  int h = 0, w = 0, count = 0;
  size_t in_plane = 0;
  ptrdiff_t shift[kOffsets] = {};
  int kernel_index[kOffsets] = {};  // which of the 3x3 weights (kh*3 + kw) tap t multiplies
  const uint16_t* masks = nullptr;  // lane bits (bit l: lane l reads)
};

// Sets taps.masks from inside(row, column, t): whether tap t's input is in the plane for the
// output position (row, column). geometry names the kind of taps (the same for every call with
// the same h, w), so each table is built once per thread and kept: a training step asks for the
// same few geometries every time (a 32x32 plane's table takes about 6 us to build, under 1% of its
// convolution, but there is no reason to redo it), and a Taps stays valid while others are made.
// (std::map nodes do not move, so a table's address does not change.)
// Vectors of an output plane of `positions` positions: the last one partial unless it is a multiple
// of the lane count (Fashion-MNIST's 14x14 and 7x7 planes).
int vectors_per_plane(size_t positions) { return int((positions + kLanes - 1) / kLanes); }

template <typename Inside>
void build_masks(Taps& taps, int geometry, Inside inside) {
  static thread_local std::map<std::tuple<int, int, int>, std::vector<uint16_t>> tables;
  std::vector<uint16_t>& table = tables[{geometry, taps.h, taps.w}];
  if (table.empty()) {
    const int positions = taps.h * taps.w, vectors = vectors_per_plane(positions);
    table.assign(size_t(vectors) * taps.count, 0);
    for (int v = 0; v < vectors; ++v)
      for (int t = 0; t < taps.count; ++t)
        for (int lane = 0; lane < kLanes; ++lane) {
          const int q = v * kLanes + lane;  // past the plane (its last vector's tail): never read
          if (q < positions && inside(q / taps.w, q % taps.w, t))
            table[size_t(v) * taps.count + t] |= uint16_t(1u << lane);
        }
  }
  taps.masks = table.data();
}

// The geometries of build_masks: same-size taps, the stride-2 forward's, and the stride-2 data
// gradient's phase p at kDataPhase + p.
constexpr int kSameSize = 0, kPhaseSplit = 1, kDataPhase = 2;

// Stride 1: tap (kh, kw) reads (row + kh - 1, column + kw - 1) of the same-size input plane. For
// the data gradient (flipped) tap (kh, kw) multiplies weight (2 - kh, 2 - kw).
Taps same_size_taps(int h, int w, bool flipped) {
  Taps taps;
  taps.h = h, taps.w = w, taps.count = kOffsets, taps.in_plane = size_t(h) * w;
  for (int o = 0; o < kOffsets; ++o) {
    taps.shift[o] = ptrdiff_t(o / 3 - 1) * w + (o % 3 - 1);
    taps.kernel_index[o] = flipped ? kOffsets - 1 - o : o;
  }
  build_masks(taps, kSameSize, [h, w](int row, int column, int o) {
    const int ih = row + o / 3 - 1, iw = column + o % 3 - 1;
    return ih >= 0 && ih < h && iw >= 0 && iw < w;
  });
  return taps;
}

// Stride 2 reads input (2*row + kh - 1, 2*column + kw - 1). Split into four phase planes of the
// output's size, phase (pr, pc)[i][j] = x[2i + pr][2j + pc] (zero past the input's edge), each
// tap reads one phase at a shift of 0 or -1: kh = 0 -> odd rows, one up; 1 -> even rows; 2 -> odd.
int phase_of(int k) { return k == 1 ? 0 : 1; }
int phase_shift(int k) { return k == 0 ? -1 : 0; }
constexpr int kPhases = 4;

// For the forward on the phase split: the four phases of a channel are consecutive planes.
Taps phase_taps(int ho, int wo) {
  Taps taps;
  taps.h = ho, taps.w = wo, taps.count = kOffsets, taps.in_plane = size_t(kPhases) * ho * wo;
  for (int o = 0; o < kOffsets; ++o) {
    const int kh = o / 3, kw = o % 3;
    taps.shift[o] =
        ptrdiff_t(phase_of(kh) * 2 + phase_of(kw)) * ho * wo + ptrdiff_t(phase_shift(kh)) * wo + phase_shift(kw);
    taps.kernel_index[o] = o;
  }
  build_masks(taps, kPhaseSplit, [](int row, int column, int o) {
    return row + phase_shift(o / 3) >= 0 && column + phase_shift(o % 3) >= 0;
  });
  return taps;
}

// For the stride-2 data gradient, phase (pr, pc) of dx: dx[2i + pr][2j + pc] gathers the taps
// whose rows have phase pr and columns phase pc, from dy[i - shift(kh)][j - shift(kw)].
Taps data_phase_taps(int ho, int wo, int pr, int pc) {
  Taps taps;
  taps.h = ho, taps.w = wo, taps.in_plane = size_t(ho) * wo;
  for (int kh = 0; kh < 3; ++kh)
    for (int kw = 0; kw < 3; ++kw)
      if (phase_of(kh) == pr && phase_of(kw) == pc) {
        taps.shift[taps.count] = -ptrdiff_t(phase_shift(kh)) * wo - phase_shift(kw);
        taps.kernel_index[taps.count++] = kh * 3 + kw;
      }
  build_masks(taps, kDataPhase + pr * 2 + pc, [&taps, ho, wo](int row, int column, int t) {
    const int kh = taps.kernel_index[t] / 3, kw = taps.kernel_index[t] % 3;
    return row - phase_shift(kh) < ho && column - phase_shift(kw) < wo;
  });
  return taps;
}

// 1x1 stride 2, padding 0: output (row, column) reads input (2 row, 2 column), position q of the
// subsampled plane (the phase split's phase 0), which is always inside: one tap, no shift.
bool subsampling_1x1(const ConvShape& s) {
  return s.k == 1 && s.stride == 2 && s.pad == 0 && s.h > 0 && s.w > 0 && s.n > 0;
}
constexpr int kSubsample = kDataPhase + kPhases;
Taps subsample_taps(int ho, int wo) {
  Taps taps;
  taps.h = ho, taps.w = wo, taps.count = 1, taps.in_plane = size_t(ho) * wo;
  build_masks(taps, kSubsample, [](int, int, int) { return true; });
  return taps;
}

// How many phase planes a stride-2 convolution reads: all four (3x3), or the first (1x1).
int phases_read(const ConvShape& s) { return s.k == 1 ? 1 : kPhases; }

// The forward's register tiles over `channels` output channels (a multiple of kBlock): as many
// kForwardRows-wide tiles as leave a multiple of kBlock, then kBlock-wide ones. (AVX2: 16 -> 6, 6,
// 4; 32 -> 6, 6, 6, 6, 4, 4. AVX-512: tiles of 8.)
std::vector<int> forward_tiles(int channels) {
  int narrow = 0;
  while ((channels - narrow * kBlock) % kForwardRows != 0) ++narrow;
  std::vector<int> rows(size_t(channels - narrow * kBlock) / kForwardRows, kForwardRows);
  rows.insert(rows.end(), size_t(narrow), kBlock);
  return rows;
}

// Weights in the register tiles' order: for each tile of forward_tiles(out channels) in turn,
// panel[in channel][tap][the tile's output channels]. transposed: the data gradient's, whose in
// channels are the forward's cout and out channels its cin.
const float* pack_weights(const ConvShape& s, const float* w, const Taps& taps, bool transposed) {
  static thread_local std::vector<float> packed;
  const int in_channels = transposed ? s.cout : s.cin, out_channels = transposed ? s.cin : s.cout;
  float* p = grow(packed, size_t(in_channels) * out_channels * taps.count);
  int first = 0;
  for (const int rows : forward_tiles(out_channels)) {
    for (int c = 0; c < in_channels; ++c)
      for (int t = 0; t < taps.count; ++t)
        for (int r = 0; r < rows; ++r) {
          const int out = first + r, cout = transposed ? c : out, cin = transposed ? out : c;
          *p++ = w[(size_t(cout) * s.cin + cin) * (s.k * s.k) + taps.kernel_index[t]];
        }
    first += rows;
  }
  return packed.data();
}

// A tile is two vectors of 16 output positions of the batch (image-major, then row, then column),
// each inside one image's plane (the plane's last one partial where h*w is not a multiple of 16):
// both in the same image where the plane has an even number of vectors, else they may be in
// consecutive images.
struct TileHalf {
  size_t in_offset, out_offset;  // of the half's first position in channel 0 of in and out
  const uint16_t* masks;         // its lane bits per tap
  bool partial;                  // the plane's last vector, with lanes past the plane
  Mask inside;                   // partial: the lanes inside the plane, the only ones written
};

// Where a tile's sums go: out (+)= them, or, with norm (forward only, never accumulating), out =
// relu?(sum * scale[channel] + shift[channel] + residual?), the residual laid out as out. out,
// residual, scale and shift point at the tile's first output channel.
struct TileOutput {
  float* out;
  size_t plane;  // floats between out's (and residual's) channel planes
  bool accumulate;
  const OutputNorm* norm;
  const float* residual;
  const float* scale;
  const float* shift;
};

// The tile's kRows output channels at its positions, from the sum over in channels and taps of
// panel * shifted input. The tap count is a template argument (taps.count) so that the tap loop
// unrolls with its shifts and masks in registers: read from taps at run time, the stride-1
// forward ran 10% slower. kReadable: every shifted vector of the tile lies inside the input, so
// masked loads may be plain loads and a mask (V::load_readable_masked).
template <int kTaps, int kRows, bool kReadable>
void forward_tile(const float* in, int in_channels, const Taps& taps, const TileHalf half[2], const float* panel,
                  const TileOutput& o) {
  Mask mask[2][kTaps];
  ptrdiff_t shift[kTaps];
  for (int t = 0; t < kTaps; ++t) {
    shift[t] = taps.shift[t];
    mask[0][t] = V::mask_of(half[0].masks[t]);
    mask[1][t] = V::mask_of(half[1].masks[t]);
  }
  Vec acc[kRows][2];
#pragma GCC unroll 8
  for (int r = 0; r < kRows; ++r) acc[r][0] = acc[r][1] = V::zero();
  const float* plane0 = in + half[0].in_offset;
  const float* plane1 = in + half[1].in_offset;
  // Prefetch the next tile's new input (the rows below, one tile on): with batch 256 the planes
  // are out of L3 and the hardware prefetchers cannot follow one stream per input channel; this
  // took 28% off layer1's forward and 12% off evaluation at width 16.
  const ptrdiff_t ahead = kTile + taps.w + 1;
  for (int c = 0; c < in_channels; ++c, plane0 += taps.in_plane, plane1 += taps.in_plane) {
    _mm_prefetch(reinterpret_cast<const char*>(plane1 + ahead), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(plane1 + ahead + kLanes), _MM_HINT_T0);
    for (int t = 0; t < kTaps; ++t) {
      Vec b0, b1;
      if constexpr (kReadable && V::kMaskedLoadTakesRegister) {
        b0 = V::load_readable_masked(mask[0][t], plane0 + shift[t]);
        b1 = V::load_readable_masked(mask[1][t], plane1 + shift[t]);
      } else {
        b0 = V::load_masked(mask[0][t], plane0 + shift[t]);
        b1 = V::load_masked(mask[1][t], plane1 + shift[t]);
      }
#pragma GCC unroll 8
      for (int r = 0; r < kRows; ++r) {
        const Vec a = V::set1(panel[r]);
        acc[r][0] = V::fmadd(a, b0, acc[r][0]);
        acc[r][1] = V::fmadd(a, b1, acc[r][1]);
      }
      panel += kRows;
    }
  }
  // (acc is only read here: writing it back made GCC keep the accumulators in memory, with a
  // store per FMA pair in the loop above.)
  // A partial vector reads and writes only its lanes inside the plane (the rest is the next
  // channel's plane, or past the tensor).
  const auto load = [&](int h, const float* p) {
    return half[h].partial ? V::load_masked(half[h].inside, p) : V::load(p);
  };
  const auto store = [&](int h, float* p, Vec v) {
    if (half[h].partial)
      V::store_masked(half[h].inside, p, v);
    else
      V::store(p, v);
  };
#pragma GCC unroll 8
  for (int r = 0; r < kRows; ++r) {
    const size_t at0 = half[0].out_offset + r * o.plane, at1 = half[1].out_offset + r * o.plane;
    Vec y0 = acc[r][0], y1 = acc[r][1];
    if (o.accumulate) {
      y0 = V::add(y0, load(0, o.out + at0));
      y1 = V::add(y1, load(1, o.out + at1));
    } else if (o.norm) {  // as batchnorm.cpp's normalize: x * scale + shift (one FMA), + residual, max
      const Vec scale = V::set1(o.scale[r]), shift = V::set1(o.shift[r]);
      y0 = V::fmadd(y0, scale, shift);
      y1 = V::fmadd(y1, scale, shift);
      if (o.residual) {
        y0 = V::add(y0, load(0, o.residual + at0));
        y1 = V::add(y1, load(1, o.residual + at1));
      }
      if (o.norm->relu) {
        y0 = V::relu(y0);
        y1 = V::relu(y1);
      }
    }
    store(0, o.out + at0, y0);
    store(1, o.out + at1, y1);
  }
}

// One input row's even and odd columns: even[j] = row[2j], odd[j] = row[2j + 1] (zero past the
// row's end, where w is odd) for j < ceil(w/2); the odd columns are not written with kEvenOnly.
template <bool kEvenOnly>
void split_row(const float* row, int w, float* even, float* odd) {
  const int half = (w + 1) / 2;
  int j = 0;
  for (; 2 * j + 2 * kLanes <= w; j += kLanes) {
    Vec e, o;
    V::deinterleave(V::load(row + 2 * j), V::load(row + 2 * j + kLanes), e, o);
    V::store(even + j, e);
    if (!kEvenOnly) V::store(odd + j, o);
  }
  for (; j < half; ++j) {
    even[j] = row[2 * j];
    if (!kEvenOnly) odd[j] = 2 * j + 1 < w ? row[2 * j + 1] : 0.0f;
  }
}

// Images [i0, i1) of x [n, c, h, w] -> their phase split [i1 - i0, c, phases, ho, wo]
// (ho = ceil(h/2), wo = ceil(w/2)), the phases the convolution reads (phases_read): phase (pr, pc)
// [i][j] = x[2i + pr][2j + pc], zero past the input's edge. Row by row with vector shuffles (an
// element at a time, the split took about a third of layer2.0.conv1's forward at width 16).
void split_phases(const ConvShape& s, const float* x, int i0, int i1, float* out) {
  const int ho = s.ho(), wo = s.wo(), phases = phases_read(s);
  const size_t hwo = size_t(ho) * wo;
  for (size_t plane = size_t(i0) * s.cin; plane < size_t(i1) * s.cin; ++plane) {
    const float* in = x + plane * s.h * s.w;
    float* split = out + (plane - size_t(i0) * s.cin) * phases * hwo;
    for (int i = 0; i < ho; ++i)
      for (int pr = 0; pr < (phases == kPhases ? 2 : 1); ++pr) {
        float* even = split + size_t(2 * pr) * hwo + size_t(i) * wo;  // phase (pr, 0)
        float* odd = even + hwo;                                      // phase (pr, 1), when read
        const int ih = 2 * i + pr;
        if (ih >= s.h) {  // the odd row past an odd-height input's edge
          std::memset(even, 0, sizeof(float) * wo);
          std::memset(odd, 0, sizeof(float) * wo);
        } else if (phases == kPhases) {
          split_row<false>(in + size_t(ih) * s.w, s.w, even, odd);
        } else {
          split_row<true>(in + size_t(ih) * s.w, s.w, even, nullptr);
        }
      }
  }
}

// out (+)= the convolution of in ([n, in_channels] planes as taps describes) with the packed
// weights, into out [n, out_channels, taps.h, taps.w], whose channel planes are out_plane floats
// apart. The threads split the batch in units of whole tiles and whole images (one image, or two
// where a plane has an odd number of vectors); each tile runs every channel block while its input is in L1.
// phase_split: in is the stride-2 convolution's input x [n, cin, h, w] of this shape, and each
// unit's images are split into phases (phase_taps) in a per-thread buffer just before their tiles
// run, so the split stays in L2 (splitting the whole batch first cost more than it saved at
// batch 256).
// norm: see TileOutput.
template <int kTaps>
void convolve_tiles(const float* in, int in_channels, const Taps& taps, const float* packed, int out_channels, int n,
                    float* out, size_t out_plane, bool accumulate, const ConvShape* phase_split,
                    const OutputNorm* norm) {
  // Positions of a plane, and as the vectors cover them (the last one may be partial).
  const size_t hw = size_t(taps.h) * taps.w, covered = size_t(vectors_per_plane(hw)) * kLanes;
  const int unit = covered % kTile == 0 ? 1 : 2;  // tiles are two vectors
  const size_t unit_positions = unit * covered;
  const std::vector<int> tiles = forward_tiles(out_channels);
  ptrdiff_t lowest_shift = 0, highest_shift = 0;
  for (int t = 0; t < kTaps; ++t) {
    lowest_shift = std::min(lowest_shift, taps.shift[t]);
    highest_shift = std::max(highest_shift, taps.shift[t]);
  }
  const ptrdiff_t channel_span = ptrdiff_t(in_channels - 1) * ptrdiff_t(taps.in_plane);
  const size_t in_image = size_t(in_channels) * taps.in_plane;  // floats per image of the tiles' input
#pragma omp parallel for schedule(static)
  for (int u = 0; u < n / unit; ++u) {
    const float* source = in + size_t(u) * unit * in_image;
    // The input the tiles read: [source - before, source + after) (the batch, or the split).
    ptrdiff_t before = ptrdiff_t(size_t(u) * unit * in_image), after = ptrdiff_t(size_t(n - u * unit) * in_image);
    if (phase_split) {
      static thread_local std::vector<float> buffer;
      float* split = grow(buffer, unit * in_image);
      split_phases(*phase_split, in, u * unit, (u + 1) * unit, split);
      source = split;
      before = 0, after = ptrdiff_t(unit * in_image);
    }
    const auto readable = [&](const TileHalf& h) {
      const ptrdiff_t at = ptrdiff_t(h.in_offset);
      return at + lowest_shift >= -before && at + channel_span + highest_shift + kLanes <= after;
    };
    const auto half_at = [&](size_t position) {  // position within the unit (of covered ones)
      const size_t image = position / covered, q = position % covered;
      const bool partial = q + kLanes > hw;
      return TileHalf{image * in_image + q, (size_t(u) * unit + image) * out_channels * out_plane + q,
                      taps.masks + (q / kLanes) * kTaps, partial,
                      V::mask_of(partial ? (1u << (hw - q)) - 1 : kAllLanes)};
    };
    for (size_t position = 0; position < unit_positions; position += kTile) {
      const TileHalf half[2] = {half_at(position), half_at(position + kLanes)};
      const bool inside = readable(half[0]) && readable(half[1]);
      const float* panel = packed;
      int first = 0;
      for (const int rows : tiles) {
        const size_t channel_offset = size_t(first) * out_plane;
        const TileOutput o{out + channel_offset,
                           out_plane,
                           accumulate,
                           norm,
                           norm && norm->residual ? norm->residual + channel_offset : nullptr,
                           norm ? norm->scale + first : nullptr,
                           norm ? norm->shift + first : nullptr};
        if (rows == kForwardRows && inside)
          forward_tile<kTaps, kForwardRows, true>(source, in_channels, taps, half, panel, o);
        else if (rows == kForwardRows)
          forward_tile<kTaps, kForwardRows, false>(source, in_channels, taps, half, panel, o);
        else if (inside)
          forward_tile<kTaps, kBlock, true>(source, in_channels, taps, half, panel, o);
        else
          forward_tile<kTaps, kBlock, false>(source, in_channels, taps, half, panel, o);
        panel += size_t(in_channels) * kTaps * rows;
        first += rows;
      }
    }
  }
}

void convolve(const float* in, int in_channels, const Taps& taps, const float* packed, int out_channels, int n,
              float* out, size_t out_plane, bool accumulate, const ConvShape* phase_split = nullptr,
              const OutputNorm* norm = nullptr) {
  switch (taps.count) {
    case 9:
      return convolve_tiles<9>(in, in_channels, taps, packed, out_channels, n, out, out_plane, accumulate, phase_split,
                               norm);
    case 4:
      return convolve_tiles<4>(in, in_channels, taps, packed, out_channels, n, out, out_plane, accumulate, phase_split,
                               norm);
    case 2:
      return convolve_tiles<2>(in, in_channels, taps, packed, out_channels, n, out, out_plane, accumulate, phase_split,
                               norm);
    case 1:
      return convolve_tiles<1>(in, in_channels, taps, packed, out_channels, n, out, out_plane, accumulate, phase_split,
                               norm);
  }
  throw std::logic_error("direct convolution: unexpected tap count");
}

// out[0, w) (+)= a and b interleaved: out[2j] = a[j], out[2j + 1] = b[j] (b null: zero).
void interleave_row(const float* a, const float* b, int w, float* out, bool accumulate) {
  int j = 0;
  for (; 2 * j + 2 * kLanes <= w; j += kLanes) {
    const Vec va = V::load(a + j), vb = b ? V::load(b + j) : V::zero();
    Vec low, high;
    V::interleave(va, vb, low, high);
    if (accumulate) {
      low = V::add(low, V::load(out + 2 * j));
      high = V::add(high, V::load(out + 2 * j + kLanes));
    }
    V::store(out + 2 * j, low);
    V::store(out + 2 * j + kLanes, high);
  }
  for (int iw = 2 * j; iw < w; ++iw) {
    const float v = iw % 2 == 0 ? a[iw / 2] : (b ? b[iw / 2] : 0.0f);
    out[iw] = accumulate ? out[iw] + v : v;
  }
}

// dx (+)= the phases [n, c, phases_read, ho, wo] interleaved back into [n, c, h, w], row by row:
// row ih takes phases (ih % 2, 0) and (ih % 2, 1) in turn. With the first phase alone (1x1), the
// odd columns and rows get zero (or keep their values, accumulating).
void merge_phases(const ConvShape& s, const float* phases, float* dx, bool accumulate) {
  const int wo = s.wo(), count = phases_read(s);
  const size_t hwo = size_t(s.ho()) * wo, planes = size_t(s.n) * s.cin;
#pragma omp parallel for schedule(static)
  for (size_t plane = 0; plane < planes; ++plane) {
    const float* phase = phases + plane * count * hwo;
    float* out = dx + plane * s.h * s.w;
    for (int ih = 0; ih < s.h; ++ih, out += s.w) {
      const size_t row = size_t(ih / 2) * wo;
      if (count == kPhases) {
        const float* even = phase + size_t((ih % 2) * 2) * hwo + row;
        interleave_row(even, even + hwo, s.w, out, accumulate);
      } else if (ih % 2 == 0) {
        interleave_row(phase + row, nullptr, s.w, out, accumulate);
      } else if (!accumulate) {
        std::memset(out, 0, sizeof(float) * s.w);
      }
    }
  }
}

// The filter gradient of one (block of 8 output channels, input channel, kernel row kh) over
// images [i0, i1): 24 dot products along the positions, added into dw_rows (row r of the block
// at dw_rows + r * ldw, columns kh*3 + kw).
// The plane width is a multiple of 16, so a vector lies inside one row: whole rows are in or out
// (the loop runs over the rows that are in), and only the first or last lane can fall outside.
// (A mask table lookup per vector, as the forward tiles use, measured 1.2x slower here: the 24
// accumulators leave no registers to spare.)
void filter_rows(const ConvShape& s, const float* x, const float* dy, int block, int c, int kh, int i0, int i1,
                 float* dw_rows, size_t ldw) {
  const int w = s.w, h = s.h;
  const size_t hw = size_t(h) * w;
  // Output rows whose input row oh + kh - 1 is inside the plane.
  const int oh0 = std::max(0, 1 - kh), oh1 = std::min(h, h + 1 - kh);
  const size_t q_begin = size_t(oh0) * w, q_end = size_t(oh1) * w;
  Vec acc[kBlock][3];
#pragma GCC unroll 8
  for (int r = 0; r < kBlock; ++r) acc[r][0] = acc[r][1] = acc[r][2] = V::zero();
  for (int i = i0; i < i1; ++i) {
    const float* row_in = x + (size_t(i) * s.cin + c) * hw + ptrdiff_t(kh - 1) * w;
    const float* grad = dy + (size_t(i) * s.cout + size_t(block) * kBlock) * hw;
    for (size_t q = q_begin; q < q_end; q += kLanes) {
      const int ow0 = int(q % w);
      const Vec left = V::load_masked(V::mask_of(ow0 == 0 ? kAllLanes & ~1u : kAllLanes), row_in + q - 1);
      const Vec mid = V::load(row_in + q);
      const Vec right = V::load_masked(V::mask_of(ow0 + kLanes == w ? kAllLanes >> 1 : kAllLanes), row_in + q + 1);
#pragma GCC unroll 8
      for (int r = 0; r < kBlock; ++r) {
        const Vec d = V::load(grad + r * hw + q);
        acc[r][0] = V::fmadd(d, left, acc[r][0]);
        acc[r][1] = V::fmadd(d, mid, acc[r][1]);
        acc[r][2] = V::fmadd(d, right, acc[r][2]);
      }
    }
  }
  // Fully unrolled, so that acc stays in registers (a run-time index would put it in memory).
#pragma GCC unroll 8
  for (int r = 0; r < kBlock; ++r) {
    float* dst = dw_rows + r * ldw + kh * 3;
    dst[0] += V::reduce_add(acc[r][0]);
    dst[1] += V::reduce_add(acc[r][1]);
    dst[2] += V::reduce_add(acc[r][2]);
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
// images [i0, i1) (xp holds them from i0) into the partial gradient dwt[co][kh][kw][ci]. Stride 1
// or 2: output position (oh, ow) reads padded input (stride*oh + kh, stride*ow + kw).
void filter_tile_channels_last(const ConvShape& s, const float* xp, const float* dy, int i0, int i1, int block, int kh,
                               int cb, float* dwt) {
  const int ho = s.ho(), wo = s.wo();
  const size_t hw = size_t(ho) * wo, row_stride = size_t(s.w + 2) * s.cin;
  const size_t padded = size_t(s.h + 2) * row_stride, step = size_t(s.stride) * s.cin;
  float* dst = dwt + (size_t(block) * kBlock * 9 + kh * 3) * s.cin + cb * kLanes;
  const size_t ld = size_t(9) * s.cin;  // between output channels in dwt
  Vec acc[kBlock][3];
#pragma GCC unroll 8
  for (int r = 0; r < kBlock; ++r) {
    acc[r][0] = V::load(dst + r * ld);
    acc[r][1] = V::load(dst + r * ld + s.cin);
    acc[r][2] = V::load(dst + r * ld + 2 * s.cin);
  }
  for (int i = i0; i < i1; ++i) {
    const float* grad = dy + (size_t(i) * s.cout + size_t(block) * kBlock) * hw;
    const float* rows = xp + size_t(i - i0) * padded + size_t(kh) * row_stride + cb * kLanes;
    for (int oh = 0; oh < ho; ++oh, rows += s.stride * row_stride, grad += wo) {
      const float* in = rows;
      for (int ow = 0; ow < wo; ++ow, in += step) {
        const Vec left = V::load(in), mid = V::load(in + s.cin), right = V::load(in + 2 * s.cin);
#pragma GCC unroll 8
        for (int r = 0; r < kBlock; ++r) {
          const Vec d = V::set1(grad[r * hw + ow]);
          acc[r][0] = V::fmadd(d, left, acc[r][0]);
          acc[r][1] = V::fmadd(d, mid, acc[r][1]);
          acc[r][2] = V::fmadd(d, right, acc[r][2]);
        }
      }
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < kBlock; ++r) {
    V::store(dst + r * ld, acc[r][0]);
    V::store(dst + r * ld + s.cin, acc[r][1]);
    V::store(dst + r * ld + 2 * s.cin, acc[r][2]);
  }
}

// Images [i0, i1) of x at its even rows and columns (what a 1x1 stride-2 convolution reads),
// channels-last: x0[((i - i0) * hwo + q) * cin + c].
void subsample_channels_last(const ConvShape& s, const float* x, int i0, int i1, float* x0) {
  const int ho = s.ho(), wo = s.wo();
  const size_t hw = size_t(s.h) * s.w, hwo = size_t(ho) * wo;
  for (int i = i0; i < i1; ++i)
    for (int c = 0; c < s.cin; ++c) {
      const float* plane = x + (size_t(i) * s.cin + c) * hw;
      float* out = x0 + size_t(i - i0) * hwo * s.cin + c;
      for (int oh = 0; oh < ho; ++oh)
        for (int ow = 0; ow < wo; ++ow) out[(size_t(oh) * wo + ow) * s.cin] = plane[size_t(2 * oh) * s.w + 2 * ow];
    }
}

// The 1x1 stride-2 filter gradient dw[co][ci] (+)= sum over images [i0, i1) and positions of
// dy[co] * x0[ci], for a tile of 8 output channels x kBlocks blocks of 16 input channels
// (from block cb): per position, kBlocks loads and 8 broadcasts of dy feed 8 * kBlocks FMAs.
template <int kBlocks>
void filter_tile_1x1(const ConvShape& s, const float* x0, const float* dy, int i0, int i1, int block, int cb,
                     float* dw) {
  const size_t hwo = size_t(s.ho()) * s.wo();
  float* dst = dw + size_t(block) * kBlock * s.cin + size_t(cb) * kLanes;
  Vec acc[kBlock][kBlocks];
#pragma GCC unroll 8
  for (int r = 0; r < kBlock; ++r)
    for (int j = 0; j < kBlocks; ++j) acc[r][j] = V::load(dst + size_t(r) * s.cin + j * kLanes);
  for (int i = i0; i < i1; ++i) {
    const float* grad = dy + (size_t(i) * s.cout + size_t(block) * kBlock) * hwo;
    const float* in = x0 + size_t(i - i0) * hwo * s.cin + size_t(cb) * kLanes;
    for (size_t q = 0; q < hwo; ++q, in += s.cin) {
      Vec v[kBlocks];
      for (int j = 0; j < kBlocks; ++j) v[j] = V::load(in + j * kLanes);
#pragma GCC unroll 8
      for (int r = 0; r < kBlock; ++r) {
        const Vec d = V::set1(grad[r * hwo + q]);
        for (int j = 0; j < kBlocks; ++j) acc[r][j] = V::fmadd(d, v[j], acc[r][j]);
      }
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < kBlock; ++r)
    for (int j = 0; j < kBlocks; ++j) V::store(dst + size_t(r) * s.cin + j * kLanes, acc[r][j]);
}

}  // namespace

DirectConv direct_conv_applies(const ConvShape& s) {
  const size_t hwo = size_t(s.ho()) * s.wo();
  // Forward and data (stride 1, or 2 through the phase split): vectors inside one output plane,
  // whole tiles in the batch.
  const bool tiles = (size_t(vectors_per_plane(hwo)) * s.n) % 2 == 0;
  if (subsampling_1x1(s))
    return {tiles && s.cout % kBlock == 0, tiles && s.cin % kBlock == 0, s.cin % kLanes == 0 && s.cout % kBlock == 0};
  if (!padded_3x3(s)) return {false, false, false};
  // Filter: input channels in 16s (channels in the lanes; stride 1 or 2), or rows of whole
  // vectors (positions in the lanes; stride 1). Not for 256 or more input channels on output
  // planes of 16 positions (ResNet-18 width 64's layer4): there each thread's partial dW (up to
  // 9 MiB) is reread for every small group of images, and the im2col GEMM measured 15-20% faster.
  const bool channels_in_lanes = s.cin % kLanes == 0 && s.stride <= 2 && (s.cin < 256 || hwo > 16);
  const bool filter =
      s.cout % kBlock == 0 && (channels_in_lanes || (s.stride == 1 && s.cin % kLanes != 0 && s.w % kLanes == 0));
  if (s.stride > 2) return {false, false, filter};
  return {tiles && s.cout % kBlock == 0, tiles && s.cin % kBlock == 0, filter};
}

void direct_forward(const ConvShape& s, const float* x, const float* w, float* y, const OutputNorm* norm) {
  const size_t hwo = size_t(s.ho()) * s.wo();
  if (s.stride == 1) {
    const Taps taps = same_size_taps(s.h, s.w, false);
    return convolve(x, s.cin, taps, pack_weights(s, w, taps, false), s.cout, s.n, y, hwo, false, nullptr, norm);
  }
  const Taps taps = s.k == 1 ? subsample_taps(s.ho(), s.wo()) : phase_taps(s.ho(), s.wo());
  convolve(x, s.cin, taps, pack_weights(s, w, taps, false), s.cout, s.n, y, hwo, false, &s, norm);
}

void direct_backward_data(const ConvShape& s, const float* dy, const float* w, float* dx, bool accumulate) {
  const size_t hwo = size_t(s.ho()) * s.wo();
  if (s.stride == 1) {
    const Taps taps = same_size_taps(s.h, s.w, true);
    return convolve(dy, s.cout, taps, pack_weights(s, w, taps, true), s.cin, s.n, dx, hwo, accumulate);
  }
  // Each phase of dx is a small convolution of dy (1, 2, 2 or 4 taps; 1x1: phase 0 alone, one
  // tap), written into the phase split's layout [n, cin, phases, ho, wo], then interleaved into dx.
  static thread_local std::vector<float> phase_buffer;
  const int phases_count = phases_read(s);
  float* phases = grow(phase_buffer, size_t(s.n) * s.cin * phases_count * hwo);
  for (int p = 0; p < phases_count; ++p) {
    const Taps taps = s.k == 1 ? subsample_taps(s.ho(), s.wo()) : data_phase_taps(s.ho(), s.wo(), p / 2, p % 2);
    convolve(dy, s.cout, taps, pack_weights(s, w, taps, true), s.cin, s.n, phases + p * hwo, phases_count * hwo, false);
  }
  merge_phases(s, phases, dx, accumulate);
}

namespace {

// dw as a sum of partial gradients over a fixed number of shares of the images (parallel.h), added
// in share order: the result depends neither on timing nor on the thread count. Within a share,
// images go in groups whose data (floats_per_image each) fit in L2, so every tile's pass over a
// group reads cached data. add_group(partial, first, last, b0, b1) adds images [first, last) into
// one share's partial, for the output-channel blocks [b0, b1); partial_index(j) is where dw[j] lies
// in a partial. With fewer shares than threads, a share's blocks are split among threads too: they
// write disjoint parts of the partial, so that split may follow the thread count.
template <typename AddGroup, typename PartialIndex>
void sum_over_images(const ConvShape& s, size_t floats_per_image, AddGroup add_group, PartialIndex partial_index,
                     float* dw) {
  const size_t weights = s.weight_size();
  const int shares = reduction_shares(s.n, static_cast<long long>(s.ho()) * s.wo());
  const int group = int(std::clamp<size_t>((size_t(1) << 16) / floats_per_image, 1, size_t(s.n)));
  static thread_local std::vector<float> partial_buffer;
  float* partials = grow(partial_buffer, weights * shares);
  std::memset(partials, 0, sizeof(float) * weights * shares);
  const int blocks = s.cout / kBlock, parts = std::max(1, std::min((max_threads() + shares - 1) / shares, blocks));
#pragma omp parallel for schedule(static)
  for (int task = 0; task < shares * parts; ++task) {
    const int t = task / parts, part = task % parts;
    const int first = share_begin(s.n, shares, t), last = share_begin(s.n, shares, t + 1);
    const int b0 = share_begin(blocks, parts, part), b1 = share_begin(blocks, parts, part + 1);
    for (int g = first; g < last; g += group)
      add_group(partials + size_t(t) * weights, g, std::min(g + group, last), b0, b1);
  }
#pragma omp parallel for schedule(static)
  for (size_t j = 0; j < weights; ++j) {
    const size_t from = partial_index(j);
    float total = 0.0f;
    for (int t = 0; t < shares; ++t) total += partials[size_t(t) * weights + from];
    dw[j] = total;
  }
}

}  // namespace

void direct_backward_filter(const ConvShape& s, const float* x, const float* dy, float* dw) {
  const size_t hw = size_t(s.h) * s.w, hwo = size_t(s.ho()) * s.wo();
  if (subsampling_1x1(s)) {
    // Partials in dw's layout [cout][cin]; each thread subsamples its group channels-last.
    const size_t per_image = hwo * s.cin;
    const int blocks = s.cin / kLanes;
    const auto add_group = [&](float* partial, int first, int last, int b0, int b1) {
      static thread_local std::vector<float> x0_buffer;
      float* x0 = grow(x0_buffer, per_image * (last - first));
      subsample_channels_last(s, x, first, last, x0);
      for (int b = b0; b < b1; ++b) {
        int cb = 0;
        for (; cb + 2 <= blocks; cb += 2) filter_tile_1x1<2>(s, x0, dy, first, last, b, cb, partial);
        if (cb < blocks) filter_tile_1x1<1>(s, x0, dy, first, last, b, cb, partial);
      }
    };
    return sum_over_images(
        s, per_image + s.cout * hwo, add_group, [](size_t j) { return j; }, dw);
  }
  if (s.cin % kLanes == 0) {
    // Partials as [cout][3][3][cin]; each thread pads its group into its own buffer.
    const size_t padded = size_t(s.h + 2) * (s.w + 2) * s.cin;
    const auto add_group = [&](float* partial, int first, int last, int b0, int b1) {
      static thread_local std::vector<float> xp_buffer;
      float* xp = grow(xp_buffer, padded * (last - first));
      pad_channels_last(s, x, first, last, xp);
      for (int b = b0; b < b1; ++b)
        for (int kh = 0; kh < 3; ++kh)
          for (int cb = 0; cb < s.cin / kLanes; ++cb)
            filter_tile_channels_last(s, xp, dy, first, last, b, kh, cb, partial);
    };
    const auto partial_index = [&](size_t j) {  // j = (co*cin + ci)*9 + o
      const size_t o = j % kOffsets, ci = (j / kOffsets) % s.cin, co = j / kOffsets / s.cin;
      return (co * kOffsets + o) * s.cin + ci;
    };
    return sum_over_images(s, padded + s.cout * hwo, add_group, partial_index, dw);
  }
  // Planes of width 16k with few input channels (the stem's 3): partials in dw's layout.
  const size_t ldw = size_t(s.cin) * kOffsets;
  const auto add_group = [&](float* partial, int first, int last, int b0, int b1) {
    for (int b = b0; b < b1; ++b)
      for (int c = 0; c < s.cin; ++c)
        for (int kh = 0; kh < 3; ++kh)
          filter_rows(s, x, dy, b, c, kh, first, last, partial + size_t(b) * kBlock * ldw + size_t(c) * kOffsets, ldw);
  };
  sum_over_images(
      s, (s.cin + s.cout) * hw, add_group, [](size_t j) { return j; }, dw);
}
