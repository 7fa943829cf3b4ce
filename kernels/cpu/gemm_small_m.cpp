// The small-M GEMM (gemm_small_m.hpp): for each block of two vectors of columns, the rows of A in
// register tiles of up to kMaxTile rows, each accumulating over the whole of K. Per k a tile
// loads two vectors of B's row k and broadcasts one element of each of its rows of A into
// 2 x rows fused multiply-adds, so the FMA units set the pace. The column block of B (K rows of
// two vectors) is read once from memory and stays in L2 while the row tiles sweep it; the loads
// of its rows are prefetched 16 rows ahead, since they are a row stride apart.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "elegy/kernels/cpu/gemm_small_m.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <hwy/cache_control.h>

#include <cstdint>

#include "elegy/kernels/cpu/gemm_small_m.hpp"

HWY_BEFORE_NAMESPACE();
namespace elegy::kernels::gemm_small_m::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Rows per register tile: 2 x kMaxTile accumulators, two vectors of B and a broadcast must fit
// the register file (32 vector registers with AVX-512, 16 below).
#if HWY_TARGET <= HWY_AVX3
constexpr int kMaxTile = 12;
#else
constexpr int kMaxTile = 6;
#endif
// How far ahead the rows of B are prefetched.
constexpr std::int64_t kPrefetchRows = 16;

std::int64_t BlockWidthF32() {
  return 2 * std::int64_t(hn::Lanes(hn::ScalableTag<float>()));
}
std::int64_t BlockWidthF64() {
  return 2 * std::int64_t(hn::Lanes(hn::ScalableTag<double>()));
}

// Element (r, k) of A: row-major [M, K], or (kTransA) stored transposed as [K, M].
template <bool kTransA, class T>
HWY_INLINE T ElementOfA(const T* HWY_RESTRICT a, std::int64_t lda, std::int64_t r, std::int64_t k) {
  return kTransA ? a[k * lda + r] : a[r * lda + k];
}

#if HWY_HAVE_SCALABLE
// Sizeless vectors (SVE, RVV) cannot live in arrays: one row of the tile at a time.
template <int R, bool kTransA, class T>
HWY_INLINE void Tile(const T* HWY_RESTRICT a, std::int64_t lda, const T* HWY_RESTRICT b,
                     std::int64_t ldb, T* HWY_RESTRICT c, std::int64_t ldc, std::int64_t k_size) {
  const hn::ScalableTag<T> d;
  const std::int64_t L = std::int64_t(hn::Lanes(d));
  for (int r = 0; r < R; ++r) {
    auto acc0 = hn::Zero(d), acc1 = hn::Zero(d);
    for (std::int64_t k = 0; k < k_size; ++k) {
      const T* row = b + k * ldb;
      const auto ar = hn::Set(d, ElementOfA<kTransA>(a, lda, r, k));
      acc0 = hn::MulAdd(ar, hn::LoadU(d, row), acc0);
      acc1 = hn::MulAdd(ar, hn::LoadU(d, row + L), acc1);
    }
    hn::StoreU(acc0, d, c + r * ldc);
    hn::StoreU(acc1, d, c + r * ldc + L);
  }
}
#else
// Rows [0, R) of A times the column block of B at b: C's R x 2L block at c.
template <int R, bool kTransA, class T>
HWY_INLINE void Tile(const T* HWY_RESTRICT a, std::int64_t lda, const T* HWY_RESTRICT b,
                     std::int64_t ldb, T* HWY_RESTRICT c, std::int64_t ldc, std::int64_t k_size) {
  const hn::ScalableTag<T> d;
  const std::int64_t L = std::int64_t(hn::Lanes(d));
  using V = hn::Vec<decltype(d)>;
  V acc0[R], acc1[R];
  for (int r = 0; r < R; ++r) acc0[r] = acc1[r] = hn::Zero(d);
  for (std::int64_t k = 0; k < k_size; ++k) {
    const T* row = b + k * ldb;
    if (k + kPrefetchRows < k_size) {
      hwy::Prefetch(row + kPrefetchRows * ldb);
      hwy::Prefetch(row + kPrefetchRows * ldb + L);
    }
    const V b0 = hn::LoadU(d, row), b1 = hn::LoadU(d, row + L);
    for (int r = 0; r < R; ++r) {
      const V ar = hn::Set(d, ElementOfA<kTransA>(a, lda, r, k));
      acc0[r] = hn::MulAdd(ar, b0, acc0[r]);
      acc1[r] = hn::MulAdd(ar, b1, acc1[r]);
    }
  }
  for (int r = 0; r < R; ++r) {
    hn::StoreU(acc0[r], d, c + r * ldc);
    hn::StoreU(acc1[r], d, c + r * ldc + L);
  }
}
#endif

// A tile of `rows` (1..kMaxTile) rows.
template <bool kTransA, class T>
void TileOf(std::int64_t rows, const T* a, std::int64_t lda, const T* b, std::int64_t ldb, T* c,
            std::int64_t ldc, std::int64_t k) {
  switch (rows) {
#define ELEGY_SMALL_M_TILE(R)                                                 \
  case R:                                                                     \
    if constexpr (R <= kMaxTile) Tile<R, kTransA>(a, lda, b, ldb, c, ldc, k); \
    break;
    ELEGY_SMALL_M_TILE(1)
    ELEGY_SMALL_M_TILE(2)
    ELEGY_SMALL_M_TILE(3)
    ELEGY_SMALL_M_TILE(4)
    ELEGY_SMALL_M_TILE(5)
    ELEGY_SMALL_M_TILE(6)
    ELEGY_SMALL_M_TILE(7)
    ELEGY_SMALL_M_TILE(8)
    ELEGY_SMALL_M_TILE(9)
    ELEGY_SMALL_M_TILE(10)
    ELEGY_SMALL_M_TILE(11)
    ELEGY_SMALL_M_TILE(12)
#undef ELEGY_SMALL_M_TILE
    default:
      break;
  }
}

template <class T>
void Multiply(const T* a, std::int64_t lda, const T* b, std::int64_t ldb, T* c, std::int64_t ldc,
              std::int64_t m, std::int64_t k, std::int64_t n0, std::int64_t n1) {
  const std::int64_t width = 2 * std::int64_t(hn::Lanes(hn::ScalableTag<T>()));
  // Rows split into tiles of near-equal height (32 rows: 11 + 11 + 10, not 12 + 12 + 8), so no
  // tile is left with few accumulators.
  const std::int64_t tiles = (m + kMaxTile - 1) / kMaxTile;
  for (std::int64_t j = n0; j < n1; j += width) {
    for (std::int64_t t = 0; t < tiles; ++t) {
      const std::int64_t r0 = m * t / tiles, r1 = m * (t + 1) / tiles;
      TileOf<false>(r1 - r0, a + r0 * lda, lda, b + j, ldb, c + r0 * ldc + j, ldc, k);
    }
  }
}

// Rows [m0, m1) of C = Aᵀ B with A stored [K, M] (dW = xᵀ dy): the same tiles, now row tiles
// outside and column blocks inside, so each tile's rows of C are written whole and in order
// (C is the large operand here; A's columns and B stay in L1/L2).
template <class T>
void MultiplyAt(const T* a, std::int64_t lda, const T* b, std::int64_t ldb, T* c, std::int64_t ldc,
                std::int64_t k, std::int64_t m0, std::int64_t m1, std::int64_t n) {
  const std::int64_t width = 2 * std::int64_t(hn::Lanes(hn::ScalableTag<T>()));
  const std::int64_t m = m1 - m0, tiles = (m + kMaxTile - 1) / kMaxTile;
  for (std::int64_t t = 0; t < tiles; ++t) {
    const std::int64_t r0 = m0 + m * t / tiles, r1 = m0 + m * (t + 1) / tiles;
    for (std::int64_t j = 0; j < n; j += width)
      TileOf<true>(r1 - r0, a + r0, lda, b + j, ldb, c + r0 * ldc + j, ldc, k);
  }
}

// C = A Bᵀ with B stored [N, K] (dx = dy Wᵀ for a weight [in, out]): each C element is the dot
// product of a row of A and a row of B, both contiguous in K. A tile of kDotRows rows of A x
// kDotCols rows of B keeps kDotRows x kDotCols vector accumulators over K (per K vector: that
// many loads of A and of B feed their product's count of FMAs) and sums each one's lanes at the
// end. Lanes past K are loaded masked (zeros).
#if HWY_TARGET <= HWY_AVX3
constexpr int kDotRows = 4, kDotCols = 6;
#else
constexpr int kDotRows = 2, kDotCols = 4;
#endif

#if HWY_HAVE_SCALABLE
// Sizeless vectors cannot live in arrays: one dot product at a time.
template <int RM, int RN, class T>
HWY_INLINE void DotTile(const T* HWY_RESTRICT a, std::int64_t lda, const T* HWY_RESTRICT b,
                        std::int64_t ldb, T* HWY_RESTRICT c, std::int64_t ldc,
                        std::int64_t k_size) {
  const hn::ScalableTag<T> d;
  const std::int64_t L = std::int64_t(hn::Lanes(d));
  for (int r = 0; r < RM; ++r)
    for (int q = 0; q < RN; ++q) {
      const T* ar = a + r * lda;
      const T* bq = b + q * ldb;
      auto acc = hn::Zero(d);
      std::int64_t k = 0;
      for (; k + L <= k_size; k += L)
        acc = hn::MulAdd(hn::LoadU(d, ar + k), hn::LoadU(d, bq + k), acc);
      if (k < k_size) {
        const auto valid = hn::FirstN(d, std::size_t(k_size - k));
        acc = hn::MulAdd(hn::MaskedLoad(valid, d, ar + k), hn::MaskedLoad(valid, d, bq + k), acc);
      }
      c[r * ldc + q] = hn::GetLane(hn::SumOfLanes(d, acc));
    }
}
#else
template <int RM, int RN, class T>
HWY_INLINE void DotTile(const T* HWY_RESTRICT a, std::int64_t lda, const T* HWY_RESTRICT b,
                        std::int64_t ldb, T* HWY_RESTRICT c, std::int64_t ldc,
                        std::int64_t k_size) {
  const hn::ScalableTag<T> d;
  const std::int64_t L = std::int64_t(hn::Lanes(d));
  using V = hn::Vec<decltype(d)>;
  V acc[RM][RN];
  for (int r = 0; r < RM; ++r)
    for (int q = 0; q < RN; ++q) acc[r][q] = hn::Zero(d);
  auto step = [&](std::int64_t k, auto load) {
    V av[RM];
    for (int r = 0; r < RM; ++r) av[r] = load(a + r * lda + k);
    for (int q = 0; q < RN; ++q) {
      const V bv = load(b + q * ldb + k);
      for (int r = 0; r < RM; ++r) acc[r][q] = hn::MulAdd(av[r], bv, acc[r][q]);
    }
  };
  std::int64_t k = 0;
  for (; k + L <= k_size; k += L) step(k, [&](const T* p) { return hn::LoadU(d, p); });
  if (k < k_size) {
    const auto valid = hn::FirstN(d, std::size_t(k_size - k));
    step(k, [&](const T* p) { return hn::MaskedLoad(valid, d, p); });
  }
  for (int r = 0; r < RM; ++r)
    for (int q = 0; q < RN; ++q) c[r * ldc + q] = hn::GetLane(hn::SumOfLanes(d, acc[r][q]));
}
#endif

// The part of the tile grid a full tile does not cover: one element at a time.
template <class T>
void DotEdge(const T* a, std::int64_t lda, const T* b, std::int64_t ldb, T* c, std::int64_t ldc,
             std::int64_t rows, std::int64_t cols, std::int64_t k) {
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t q = 0; q < cols; ++q)
      DotTile<1, 1>(a + r * lda, lda, b + q * ldb, ldb, c + r * ldc + q, ldc, k);
}

template <class T>
void MultiplyTransposed(const T* a, std::int64_t lda, const T* b, std::int64_t ldb, T* c,
                        std::int64_t ldc, std::int64_t m, std::int64_t k, std::int64_t n0,
                        std::int64_t n1) {
  std::int64_t j = n0;
  for (; j + kDotCols <= n1; j += kDotCols) {
    std::int64_t i = 0;
    for (; i + kDotRows <= m; i += kDotRows)
      DotTile<kDotRows, kDotCols>(a + i * lda, lda, b + j * ldb, ldb, c + i * ldc + j, ldc, k);
    DotEdge(a + i * lda, lda, b + j * ldb, ldb, c + i * ldc + j, ldc, m - i, kDotCols, k);
  }
  DotEdge(a, lda, b + j * ldb, ldb, c + j, ldc, m, n1 - j, k);
}

void MultiplyTransposedF32(const float* a, std::int64_t lda, const float* b, std::int64_t ldb,
                           float* c, std::int64_t ldc, std::int64_t m, std::int64_t k,
                           std::int64_t n0, std::int64_t n1) {
  MultiplyTransposed(a, lda, b, ldb, c, ldc, m, k, n0, n1);
}
void MultiplyTransposedF64(const double* a, std::int64_t lda, const double* b, std::int64_t ldb,
                           double* c, std::int64_t ldc, std::int64_t m, std::int64_t k,
                           std::int64_t n0, std::int64_t n1) {
  MultiplyTransposed(a, lda, b, ldb, c, ldc, m, k, n0, n1);
}

void MultiplyF32(const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float* c,
                 std::int64_t ldc, std::int64_t m, std::int64_t k, std::int64_t n0,
                 std::int64_t n1) {
  Multiply(a, lda, b, ldb, c, ldc, m, k, n0, n1);
}
void MultiplyF64(const double* a, std::int64_t lda, const double* b, std::int64_t ldb, double* c,
                 std::int64_t ldc, std::int64_t m, std::int64_t k, std::int64_t n0,
                 std::int64_t n1) {
  Multiply(a, lda, b, ldb, c, ldc, m, k, n0, n1);
}

void MultiplyAtF32(const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float* c,
                   std::int64_t ldc, std::int64_t k, std::int64_t m0, std::int64_t m1,
                   std::int64_t n) {
  MultiplyAt(a, lda, b, ldb, c, ldc, k, m0, m1, n);
}
void MultiplyAtF64(const double* a, std::int64_t lda, const double* b, std::int64_t ldb, double* c,
                   std::int64_t ldc, std::int64_t k, std::int64_t m0, std::int64_t m1,
                   std::int64_t n) {
  MultiplyAt(a, lda, b, ldb, c, ldc, k, m0, m1, n);
}

}  // namespace elegy::kernels::gemm_small_m::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace elegy::kernels::gemm_small_m {

HWY_EXPORT(BlockWidthF32);
HWY_EXPORT(BlockWidthF64);
HWY_EXPORT(MultiplyF32);
HWY_EXPORT(MultiplyF64);
HWY_EXPORT(MultiplyTransposedF32);
HWY_EXPORT(MultiplyTransposedF64);
HWY_EXPORT(MultiplyAtF32);
HWY_EXPORT(MultiplyAtF64);

std::int64_t max_rows() {
  // One thread, [M,784]x[784,512] with B warm in cache: 2.4x OpenBLAS's speed at M = 8, 1.26x at
  // 32, even at 64. In a training step B is cold (the optimizer just wrote it) and OpenBLAS's
  // packing costs more: MLP batch 32 at 2 threads, train step 0.94 -> 0.81 ms, forward 0.24 ->
  // 0.15 ms; CNN batch 64 (its [64,3136]x[3136,128] layer) 6.22 -> 6.19 ms with 64 rows here.
  return 64;
}
std::int64_t block_width(float) {
  return HWY_DYNAMIC_DISPATCH(BlockWidthF32)();
}
std::int64_t block_width(double) {
  return HWY_DYNAMIC_DISPATCH(BlockWidthF64)();
}
void multiply(const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float* c,
              std::int64_t ldc, std::int64_t m, std::int64_t k, std::int64_t n0, std::int64_t n1) {
  HWY_DYNAMIC_DISPATCH(MultiplyF32)(a, lda, b, ldb, c, ldc, m, k, n0, n1);
}
void multiply(const double* a, std::int64_t lda, const double* b, std::int64_t ldb, double* c,
              std::int64_t ldc, std::int64_t m, std::int64_t k, std::int64_t n0, std::int64_t n1) {
  HWY_DYNAMIC_DISPATCH(MultiplyF64)(a, lda, b, ldb, c, ldc, m, k, n0, n1);
}

void multiply_transposed(const float* a, std::int64_t lda, const float* b, std::int64_t ldb,
                         float* c, std::int64_t ldc, std::int64_t m, std::int64_t k,
                         std::int64_t n0, std::int64_t n1) {
  HWY_DYNAMIC_DISPATCH(MultiplyTransposedF32)(a, lda, b, ldb, c, ldc, m, k, n0, n1);
}
void multiply_transposed(const double* a, std::int64_t lda, const double* b, std::int64_t ldb,
                         double* c, std::int64_t ldc, std::int64_t m, std::int64_t k,
                         std::int64_t n0, std::int64_t n1) {
  HWY_DYNAMIC_DISPATCH(MultiplyTransposedF64)(a, lda, b, ldb, c, ldc, m, k, n0, n1);
}

void multiply_at(const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float* c,
                 std::int64_t ldc, std::int64_t k, std::int64_t m0, std::int64_t m1,
                 std::int64_t n) {
  HWY_DYNAMIC_DISPATCH(MultiplyAtF32)(a, lda, b, ldb, c, ldc, k, m0, m1, n);
}
void multiply_at(const double* a, std::int64_t lda, const double* b, std::int64_t ldb, double* c,
                 std::int64_t ldc, std::int64_t k, std::int64_t m0, std::int64_t m1,
                 std::int64_t n) {
  HWY_DYNAMIC_DISPATCH(MultiplyAtF64)(a, lda, b, ldb, c, ldc, k, m0, m1, n);
}

}  // namespace elegy::kernels::gemm_small_m
#endif  // HWY_ONCE
