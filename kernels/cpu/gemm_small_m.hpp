// C = A B for a short A (a small batch through a dense layer: at most max_rows() = 64 rows), A and
// B row-major, without packing B. OpenBLAS packs the whole of B into its own layout on every call;
// with 32 rows of A each element of B then feeds only 32 multiply-adds, so the copy costs a
// quarter of the product (sgemm_itcopy: 16% of the CPU time of an MLP step at batch 32, 63% of a
// batch-8 forward). Here a register tile of rows x two vectors of columns reads B straight from
// its rows (gemm_small_m.cpp); used by the CPU matmul (kernels/blas/gemm_cpu.cpp).
#pragma once

#include <cstdint>

namespace elegy::kernels::gemm_small_m {

// The most rows of A the kernel takes, and the column block its callers split N into: N must be
// a multiple of it.
std::int64_t max_rows();
std::int64_t block_width(float);
std::int64_t block_width(double);

// Columns [n0, n1) of C[M, N] = A[M, K] B[K, N] (n0, n1 multiples of block_width); lda, ldb, ldc
// are the row strides in elements. Every C element sums its K products in order, one rounding
// per multiply-add.
void multiply(const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float* c,
              std::int64_t ldc, std::int64_t m, std::int64_t k, std::int64_t n0, std::int64_t n1);
void multiply(const double* a, std::int64_t lda, const double* b, std::int64_t ldb, double* c,
              std::int64_t ldc, std::int64_t m, std::int64_t k, std::int64_t n0, std::int64_t n1);

// Columns [n0, n1) (any) of C[M, N] = A[M, K] Bᵀ with B stored row-major [N, K] (row stride
// ldb): dx = dy Wᵀ, which OpenBLAS also packs W for. Each element is a dot product summed in
// vector lanes over K, then across the lanes.
void multiply_transposed(const float* a, std::int64_t lda, const float* b, std::int64_t ldb,
                         float* c, std::int64_t ldc, std::int64_t m, std::int64_t k,
                         std::int64_t n0, std::int64_t n1);
void multiply_transposed(const double* a, std::int64_t lda, const double* b, std::int64_t ldb,
                         double* c, std::int64_t ldc, std::int64_t m, std::int64_t k,
                         std::int64_t n0, std::int64_t n1);

// Rows [m0, m1) of C[M, N] = Aᵀ B with A stored [K, M] (row stride lda) and B row-major [K, N],
// N a multiple of block_width, K small (a batch: dW = xᵀ dy). OpenBLAS zeroes C, packs both
// operands and then adds into C; here each element is computed in registers and stored once.
void multiply_at(const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float* c,
                 std::int64_t ldc, std::int64_t k, std::int64_t m0, std::int64_t m1,
                 std::int64_t n);
void multiply_at(const double* a, std::int64_t lda, const double* b, std::int64_t ldb, double* c,
                 std::int64_t ldc, std::int64_t k, std::int64_t m0, std::int64_t m1,
                 std::int64_t n);

}  // namespace elegy::kernels::gemm_small_m
