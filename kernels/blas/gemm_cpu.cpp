// Matmul on the CPU through OpenBLAS (cblas_sgemm / cblas_dgemm), and elegy's own register tiles
// (gemm_small_m.hpp) for the shapes of small-batch training: a short A, dx = dy Wᵀ, dW = xᵀ dy.
//
// Operands are rank-3 views: in[0] [B,M,K], in[1] [B,K,N], out [B,M,N]; any strides, the batch
// stride may be 0 (a broadcast operand). Each matrix is handed to BLAS without copying when its
// layout is row-major with a leading dimension (inner stride 1) or the transpose of one (a
// transposed view becomes CblasTrans); only a matrix that is neither (a broadcast or
// negative-stride view, say) is packed into a dense buffer first.
//
// Threads: OpenBLAS runs single-threaded, always; elegy's pool is the only one. A large product is
// cut into column (or row) blocks, one per pool thread, each a single-threaded BLAS call; a batch
// of small products is spread over the pool one product at a time. Why not OpenBLAS's own
// threads: they spin for a long while after every call, and on a 2-core machine the spinning
// worker then fights elegy's pool for the second core during the elementwise kernels between
// GEMMs (measured: the MLP step at 2 threads was slower than at 1). One pool has no such fight.
#include <cblas.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <vector>

#include "elegy/core/error.hpp"
#include "elegy/core/thread_pool.hpp"
#include "elegy/kernels/cpu/gemm_small_m.hpp"
#include "elegy/kernels/dispatch.hpp"

namespace elegy::kernels {
namespace {

// Below this many multiply-adds a product runs on one thread (OpenBLAS's own threshold,
// SMP_THRESHOLD_MIN * GEMM_MULTITHREAD_THRESHOLD): waking a thread costs more than it saves.
constexpr double kSmallGemmFlops = 65536.0 * 4.0;
// Blocks of a split product are multiples of this many rows/columns (the sgemm micro-kernel's
// tile on AVX-512 is 16 wide), so no block ends in a ragged edge the kernel handles slowly.
constexpr std::int64_t kSplitAlign = 16;
// A product this shallow (K below it) with a C of at most kShallowMaxOutput elements runs on one
// thread: it is bound by C's stores, and a split costs a wake-up and OpenBLAS's small-matrix path.
// Measured on the 2-vCPU dev VM: [128,10]x[10,512] 16 µs on one thread, 18 µs split by rows, 47
// µs by columns; [64,10]x[10,128] 1.8 µs against 5.1 and 10.1. A larger C still splits: on a
// machine with many cores one thread's stores would be the limit.
constexpr std::int64_t kMinSplitDepth = 16;
constexpr std::int64_t kShallowMaxOutput = std::int64_t(1) << 18;
// The transposed-B small-M kernel sums each of its 24 accumulators' lanes at the end of a tile, so
// K must be long: MLP b32 dx = dy Wᵀ ([32,512]x[512,512]ᵀ) step 0.82 -> 0.79 ms at 2 threads,
// but the CNN's [64,128]x[3136,128]ᵀ (K = 128) made its step 0.08 ms slower than OpenBLAS.
constexpr std::int64_t kMinDotDepth = 256;
// The deepest K (a batch) the transposed-A tiles take; deeper products go to OpenBLAS.
constexpr std::int64_t kMaxShallowDepth = 64;

// How one matrix operand is passed to BLAS.
struct MatrixArg {
  CBLAS_TRANSPOSE trans = CblasNoTrans;
  int ld = 1;
  bool direct = false;  // false: pack it first
};

// A rows x cols matrix whose element (r, c) sits at r * row_stride + c * col_stride.
MatrixArg classify(std::int64_t rows, std::int64_t cols, std::int64_t row_stride,
                   std::int64_t col_stride) {
  MatrixArg m;
  const std::int64_t max_ld = std::numeric_limits<int>::max();
  // Row-major: (r, c) at r * ld + c. A single row can take any ld >= cols.
  if (col_stride == 1 || cols == 1) {
    const std::int64_t ld = rows == 1 ? std::max<std::int64_t>(cols, 1) : row_stride;
    if (ld >= std::max<std::int64_t>(cols, 1) && ld <= max_ld) return {CblasNoTrans, int(ld), true};
  }
  // Column-major, i.e. the transpose of a row-major cols x rows matrix: (r, c) at c * ld + r.
  if (row_stride == 1 || rows == 1) {
    const std::int64_t ld = cols == 1 ? std::max<std::int64_t>(rows, 1) : col_stride;
    if (ld >= std::max<std::int64_t>(rows, 1) && ld <= max_ld) return {CblasTrans, int(ld), true};
  }
  return m;
}

template <class T>
void pack(T* dst, const T* src, std::int64_t rows, std::int64_t cols, std::int64_t row_stride,
          std::int64_t col_stride) {
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < cols; ++c)
      dst[r * cols + c] = src[r * row_stride + c * col_stride];
}

template <class T>
void gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k, const T* a, int lda,
          const T* b, int ldb, T* c, int ldc) {
  if constexpr (std::is_same_v<T, float>)
    cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
  else
    cblas_dgemm(CblasRowMajor, ta, tb, m, n, k, 1.0, a, lda, b, ldb, 0.0, c, ldc);
}

template <class T>
void matmul_kernel(const KernelArgs& args) {
  const BufferView &A = args.in[0], &B = args.in[1], &C = args.out;
  const std::int64_t batch = C.sizes[0], M = C.sizes[1], N = C.sizes[2], K = A.sizes[2];
  if (batch == 0 || M == 0 || N == 0) return;
  const std::int64_t max_dim = std::numeric_limits<int>::max();
  ELEGY_CHECK(M <= max_dim && N <= max_dim && K <= max_dim, "matmul",
              "matrix dimensions exceed the BLAS int range: [", M, ",", K, "] x [", K, ",", N, "]");
  const T* a = static_cast<const T*>(A.data);
  const T* b = static_cast<const T*>(B.data);
  T* c = static_cast<T*>(C.data);

  const MatrixArg ma = classify(M, K, A.strides[1], A.strides[2]);
  const MatrixArg mb = classify(K, N, B.strides[1], B.strides[2]);
  // The output must be row-major; otherwise BLAS writes a dense buffer that is copied out.
  const MatrixArg mc = classify(M, N, C.strides[1], C.strides[2]);
  const bool c_direct = mc.direct && mc.trans == CblasNoTrans;

  // One product, possibly cut into `parts` blocks of C (columns when N is the larger side, else
  // rows) run in parallel on the pool. Every block reads the full K in the same blocking, so each
  // element of C is summed as in the uncut product.
  auto blocks = [&](CBLAS_TRANSPOSE ta, int lda, const T* ai, CBLAS_TRANSPOSE tb, int ldb,
                    const T* bi, T* ci, int ldc) {
    const double flops = double(M) * double(N) * double(K);
    // elegy's own kernels (gemm_small_m.hpp) take `count` blocks of C (columns or rows), spread
    // over at most one pool thread per kSmallGemmFlops multiply-adds.
    auto over_blocks = [&](std::int64_t count, FunctionRef<void(std::int64_t, std::int64_t)> fn) {
      const std::int64_t parts = std::clamp<std::int64_t>(
          std::min<std::int64_t>(num_threads(), std::int64_t(flops / kSmallGemmFlops)), 1, count);
      parallel_for(count, (count + parts - 1) / parts, fn);
    };
    // A short A times a row-major B: no packing of B, over blocks of columns.
    const bool small_m = ta == CblasNoTrans && M <= gemm_small_m::max_rows();
    const std::int64_t width = gemm_small_m::block_width(T());
    if (small_m && tb == CblasNoTrans && N % width == 0) {
      over_blocks(N / width, [&](std::int64_t b0, std::int64_t b1) {
        gemm_small_m::multiply(ai, lda, bi, ldb, ci, ldc, M, K, b0 * width, b1 * width);
      });
      return;
    }
    // A transposed over a shallow K (dW = xᵀ dy over a batch of at most 64): elegy's tiles again,
    // over blocks of rows of C (each thread writes whole rows; C is the large operand here).
    // OpenBLAS zeroes C, packs both operands, then adds into C. 2 threads, alone: [784,32]ᵀ x
    // [32,512] 89 -> 83 µs, [512,32]ᵀ x [32,512] 64 -> 56 µs, the CNN's [3136,64]ᵀ x [64,128]
    // 320 -> 279 µs.
    if (ta == CblasTrans && tb == CblasNoTrans && K <= kMaxShallowDepth && N % width == 0) {
      over_blocks((M + kSplitAlign - 1) / kSplitAlign, [&](std::int64_t b0, std::int64_t b1) {
        gemm_small_m::multiply_at(ai, lda, bi, ldb, ci, ldc, K, b0 * kSplitAlign,
                                  std::min(M, b1 * kSplitAlign), N);
      });
      return;
    }
    // The same with B transposed (dx = dy Wᵀ): dot products over a K long enough to pay for
    // summing each accumulator's lanes.
    if (small_m && tb == CblasTrans && K >= kMinDotDepth) {
      over_blocks(N, [&](std::int64_t n0, std::int64_t n1) {
        gemm_small_m::multiply_transposed(ai, lda, bi, ldb, ci, ldc, M, K, n0, n1);
      });
      return;
    }
    // Columns when B (K x N) is larger than A (M x K), else rows: each block then reads all of the
    // smaller input and its own part of the larger one, which no other thread reads. (Every thread
    // reading a weight the optimizer just wrote on both cores costs more than the GEMM saves: a row
    // split of the forward [128,784]x[784,512] measured 0.34 ms alone against 0.35 by columns, but
    // it slowed the whole b128 step by 0.13 ms.) On a tie, rows: the TN product dW = xᵀ dy
    // [512,32]x[32,512] takes 0.080 ms by rows and 0.197 ms by columns; NN [512,512]x[512,512]
    // 0.73 against 0.82.
    const bool split_n = N > M;
    const std::int64_t side = split_n ? N : M;
    const std::int64_t parts =
        (K < kMinSplitDepth && M * N <= kShallowMaxOutput)
            ? 1
            : std::min<std::int64_t>(
                  {num_threads(), std::int64_t(flops / kSmallGemmFlops), side / kSplitAlign});
    if (parts <= 1) {
      gemm<T>(ta, tb, int(M), int(N), int(K), ai, lda, bi, ldb, ci, ldc);
      return;
    }
    const std::int64_t tiles = (side + kSplitAlign - 1) / kSplitAlign;
    parallel_for(parts, 1, [&](std::int64_t p0, std::int64_t p1) {
      for (std::int64_t p = p0; p < p1; ++p) {
        const std::int64_t lo = std::min(side, tiles * p / parts * kSplitAlign);
        const std::int64_t hi = std::min(side, tiles * (p + 1) / parts * kSplitAlign);
        if (hi <= lo) continue;
        if (split_n) {  // columns [lo, hi) of B and C
          const T* bp = bi + (tb == CblasNoTrans ? lo : lo * std::int64_t(ldb));
          gemm<T>(ta, tb, int(M), int(hi - lo), int(K), ai, lda, bp, ldb, ci + lo, ldc);
        } else {  // rows [lo, hi) of A and C
          const T* ap = ai + (ta == CblasNoTrans ? lo * std::int64_t(lda) : lo);
          gemm<T>(ta, tb, int(hi - lo), int(N), int(K), ap, lda, bi, ldb,
                  ci + lo * std::int64_t(ldc), ldc);
        }
      }
    });
  };

  auto one = [&](std::int64_t i, std::vector<T>& scratch) {
    const T* ai = a + i * A.strides[0];
    const T* bi = b + i * B.strides[0];
    T* ci = c + i * C.strides[0];
    if (K == 0) {  // an empty sum: zeros
      for (std::int64_t r = 0; r < M; ++r)
        for (std::int64_t col = 0; col < N; ++col) ci[r * C.strides[1] + col * C.strides[2]] = T(0);
      return;
    }
    const std::size_t need =
        std::size_t((ma.direct ? 0 : M * K) + (mb.direct ? 0 : K * N) + (c_direct ? 0 : M * N));
    if (scratch.size() < need) scratch.resize(need);
    T* free_space = scratch.data();
    MatrixArg pa = ma, pb = mb;
    if (!ma.direct) {
      pack(free_space, ai, M, K, A.strides[1], A.strides[2]);
      ai = free_space;
      free_space += M * K;
      pa = {CblasNoTrans, int(K), true};
    }
    if (!mb.direct) {
      pack(free_space, bi, K, N, B.strides[1], B.strides[2]);
      bi = free_space;
      free_space += K * N;
      pb = {CblasNoTrans, int(N), true};
    }
    if (c_direct) {
      blocks(pa.trans, pa.ld, ai, pb.trans, pb.ld, bi, ci, mc.ld);
    } else {
      blocks(pa.trans, pa.ld, ai, pb.trans, pb.ld, bi, free_space, int(N));
      for (std::int64_t r = 0; r < M; ++r)
        for (std::int64_t col = 0; col < N; ++col)
          ci[r * C.strides[1] + col * C.strides[2]] = free_space[r * N + col];
    }
  };

  const double flops = double(M) * double(N) * double(K);
  if (batch > 1 && flops <= kSmallGemmFlops && num_threads() > 1) {
    // Small products: one per pool thread at a time (inside the pool, `blocks` runs inline).
    const std::int64_t grain =
        std::max<std::int64_t>(1, std::int64_t(kSmallGemmFlops / (flops + 1)));
    parallel_for(batch, grain, [&](std::int64_t i0, std::int64_t i1) {
      std::vector<T> scratch;
      for (std::int64_t i = i0; i < i1; ++i) one(i, scratch);
    });
  } else {
    std::vector<T> scratch;
    for (std::int64_t i = 0; i < batch; ++i) one(i, scratch);
  }
}

}  // namespace

void register_cpu_gemm(Registry& r) {
  r.add(Op::Matmul, DeviceKind::cpu, DType::f32, matmul_kernel<float>);
  r.add(Op::Matmul, DeviceKind::cpu, DType::f64, matmul_kernel<double>);
  // OpenBLAS never starts threads of its own: elegy's pool parallelises every product (above).
  openblas_set_num_threads(1);
}

}  // namespace elegy::kernels
