// Matmul on CUDA through cuBLAS (cublas{S,D}gemmStridedBatched), on the device's one stream.
//
// Operands are the rank-3 views the CPU kernel gets (in[0] [B,M,K], in[1] [B,K,N], out [B,M,N],
// any strides, batch stride 0 for a broadcast operand). cuBLAS is column-major, so the row-major
// product C = A B is computed as C^T = B^T A^T: a row-major operand (inner stride 1) is passed
// untransposed with its row stride as the leading dimension, a transposed view (row stride 1)
// as CUBLAS_OP_T, and anything else is packed densely first by a small kernel. TF32 tensor-core
// math is off (cuBLAS' default math mode), so float32 results match the CPU to f32 rounding.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <array>
#include <limits>
#include <mutex>

#include "elegy/core/allocator.hpp"
#include "elegy/core/error.hpp"
#include "elegy/kernels/cuda/families.hpp"
#include "elegy/kernels/cuda/launch.cuh"

namespace elegy::kernels::cuda {
namespace {

constexpr int kMaxDevices = 16;

void check_cublas(cublasStatus_t status, const char* call) {
  if (status != CUBLAS_STATUS_SUCCESS)
    fail("matmul", call, " failed: ", cublasGetStatusString(status));
}

// The workspace cuBLAS is given (its recommendation: 32 MiB on Hopper and later, 4 MiB before).
std::size_t workspace_bytes(int device) {
  int major = 0;
  ELEGY_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device),
                   "matmul");
  return std::size_t(major >= 9 ? 32 : 4) << 20;
}

// One handle per device, created on first use and bound to the stream of the call, with a
// workspace of its own: without one, cuBLAS allocates its workspace itself, which under a graph
// capture becomes allocation nodes of the graph and may change the algorithm it picks; with it,
// a captured product is the same call as an eager one. (Every product runs on the device's one
// stream, or on its capture stream while a graph is captured and launched on that one stream
// later: the workspace is never used by two calls at once.) The handle is the caller's until
// its product is queued: another thread's cublasSetStream in between would send the product to
// that thread's stream (out of a graph being captured, or unordered with its operands).
struct LockedHandle {
  std::unique_lock<std::mutex> lock;
  cublasHandle_t handle = nullptr;
};
LockedHandle handle_for(int device, cudaStream_t stream) {
  struct Handle {
    cublasHandle_t handle = nullptr;
    void* workspace = nullptr;  // leaked with the handle, at exit
    std::size_t workspace_bytes = 0;
  };
  static std::array<Handle, kMaxDevices> handles{};
  static std::mutex mutex;
  ELEGY_CHECK(device >= 0 && device < kMaxDevices, "matmul", "cuda device index ", device,
              " out of range");
  std::unique_lock<std::mutex> lock(mutex);
  Handle& h = handles[std::size_t(device)];
  if (h.workspace == nullptr) {
    const std::size_t bytes = workspace_bytes(device);
    ELEGY_CUDA_CHECK(cudaMalloc(&h.workspace, bytes), "matmul (cuBLAS workspace)");
    h.workspace_bytes = bytes;
  }
  if (h.handle == nullptr) {
    check_cublas(cublasCreate(&h.handle), "cublasCreate");
    check_cublas(cublasSetMathMode(h.handle, CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
  }
  // (cublasSetStream also resets the workspace to cuBLAS' own: set it again each time.)
  check_cublas(cublasSetStream(h.handle, stream), "cublasSetStream");
  check_cublas(cublasSetWorkspace(h.handle, h.workspace, h.workspace_bytes), "cublasSetWorkspace");
  return {std::move(lock), h.handle};
}

// How a rows x cols row-major-indexed matrix ((r, c) at r * rs + c * cs) reaches cuBLAS.
struct Operand {
  bool direct = false;
  bool transposed = false;  // column-major in memory: (r, c) at c * ld + r
  std::int64_t ld = 1;
};

Operand classify(std::int64_t rows, std::int64_t cols, std::int64_t rs, std::int64_t cs) {
  const std::int64_t max_ld = std::numeric_limits<int>::max();
  if (cs == 1 || cols == 1) {
    const std::int64_t ld = rows == 1 ? std::max<std::int64_t>(cols, 1) : rs;
    if (ld >= std::max<std::int64_t>(cols, 1) && ld <= max_ld) return {true, false, ld};
  }
  if (rs == 1 || rows == 1) {
    const std::int64_t ld = cols == 1 ? std::max<std::int64_t>(rows, 1) : cs;
    if (ld >= std::max<std::int64_t>(rows, 1) && ld <= max_ld) return {true, true, ld};
  }
  return {};
}

// dst[b][r][c] (dense) = src[b * bs + r * rs + c * cs]; also the copy-out of a dense result
// into a strided output (the roles of the strides swap).
template <class T>
__global__ void pack_kernel(T* dst, const T* src, std::int64_t batch, std::int64_t rows,
                            std::int64_t cols, std::int64_t bs, std::int64_t rs, std::int64_t cs,
                            bool scatter) {
  const std::int64_t n = batch * rows * cols;
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(blockDim.x) * gridDim.x) {
    const std::int64_t c = i % cols, r = (i / cols) % rows, b = i / (rows * cols);
    const std::int64_t strided = b * bs + r * rs + c * cs;
    if (scatter)
      dst[strided] = src[i];
    else
      dst[i] = src[strided];
  }
}

template <class T>
__global__ void zero_kernel(T* dst, std::int64_t batch, std::int64_t rows, std::int64_t cols,
                            std::int64_t bs, std::int64_t rs, std::int64_t cs) {
  const std::int64_t n = batch * rows * cols;
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(blockDim.x) * gridDim.x) {
    const std::int64_t c = i % cols, r = (i / cols) % rows, b = i / (rows * cols);
    dst[b * bs + r * rs + c * cs] = T(0);
  }
}

// A device buffer from the caching allocator, returned when the scope ends (the allocator is
// stream-ordered, so the kernels queued before the return still see valid memory).
struct Scratch {
  Allocator& allocator;
  void* ptr = nullptr;
  std::size_t bytes = 0;
  Scratch(Allocator& a, std::size_t n) : allocator(a), ptr(n ? a.allocate(n) : nullptr), bytes(n) {}
  ~Scratch() {
    if (ptr) allocator.deallocate(ptr, bytes);
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
};

template <class T>
cublasStatus_t gemm_strided_batched(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb,
                                    int m, int n, int k, const T* a, int lda, long long sa,
                                    const T* b, int ldb, long long sb, T* c, int ldc, long long sc,
                                    int batch) {
  const T one = T(1), zero = T(0);
  if constexpr (std::is_same_v<T, float>)
    return cublasSgemmStridedBatched(h, ta, tb, m, n, k, &one, a, lda, sa, b, ldb, sb, &zero, c,
                                     ldc, sc, batch);
  else
    return cublasDgemmStridedBatched(h, ta, tb, m, n, k, &one, a, lda, sa, b, ldb, sb, &zero, c,
                                     ldc, sc, batch);
}

template <class T>
void matmul_kernel(const KernelArgs& args) {
  const BufferView &A = args.in[0], &B = args.in[1], &C = args.out;
  const std::int64_t batch = C.sizes[0], M = C.sizes[1], N = C.sizes[2], K = A.sizes[2];
  if (batch == 0 || M == 0 || N == 0) return;
  const std::int64_t max_int = std::numeric_limits<int>::max();
  ELEGY_CHECK(M <= max_int && N <= max_int && K <= max_int && batch <= max_int, "matmul",
              "dimensions exceed cuBLAS' int range: ", batch, " x [", M, ",", K, "] x [", K, ",", N,
              "]");
  const cudaStream_t stream = prepare(args.device);
  Allocator& alloc = allocator_for(args.device);
  T* c = static_cast<T*>(C.data);
  if (K == 0) {
    zero_kernel<T><<<blocks_for(batch * M * N), kThreads, 0, stream>>>(c, batch, M, N, C.strides[0],
                                                                       C.strides[1], C.strides[2]);
    check_launch("matmul");
    return;
  }
  const T* a = static_cast<const T*>(A.data);
  const T* b = static_cast<const T*>(B.data);
  Operand oa = classify(M, K, A.strides[1], A.strides[2]);
  Operand ob = classify(K, N, B.strides[1], B.strides[2]);
  std::int64_t sa = A.strides[0], sb = B.strides[0];

  Scratch pa(alloc, oa.direct ? 0 : std::size_t(batch * M * K) * sizeof(T));
  if (!oa.direct) {
    pack_kernel<T><<<blocks_for(batch * M * K), kThreads, 0, stream>>>(
        static_cast<T*>(pa.ptr), a, batch, M, K, A.strides[0], A.strides[1], A.strides[2], false);
    check_launch("matmul");
    a = static_cast<const T*>(pa.ptr), oa = {true, false, K}, sa = M * K;
  }
  Scratch pb(alloc, ob.direct ? 0 : std::size_t(batch * K * N) * sizeof(T));
  if (!ob.direct) {
    pack_kernel<T><<<blocks_for(batch * K * N), kThreads, 0, stream>>>(
        static_cast<T*>(pb.ptr), b, batch, K, N, B.strides[0], B.strides[1], B.strides[2], false);
    check_launch("matmul");
    b = static_cast<const T*>(pb.ptr), ob = {true, false, N}, sb = K * N;
  }
  // The output must be row-major with a uniform batch stride; otherwise go through a buffer.
  const Operand oc = classify(M, N, C.strides[1], C.strides[2]);
  const bool c_direct = oc.direct && !oc.transposed && (batch == 1 || C.strides[0] != 0);
  Scratch pc(alloc, c_direct ? 0 : std::size_t(batch * M * N) * sizeof(T));
  T* c_out = c_direct ? c : static_cast<T*>(pc.ptr);
  const std::int64_t ldc = c_direct ? oc.ld : N, sc = c_direct ? C.strides[0] : M * N;

  // Column-major view: C^T (N x M, ld ldc) = op(B) (N x K) * op(A) (K x M).
  const cublasOperation_t op_b = ob.transposed ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_a = oa.transposed ? CUBLAS_OP_T : CUBLAS_OP_N;
  {
    const LockedHandle h = handle_for(args.device.index, stream);
    check_cublas(
        gemm_strided_batched<T>(h.handle, op_b, op_a, int(N), int(M), int(K), b, int(ob.ld), sb, a,
                                int(oa.ld), sa, c_out, int(ldc), sc, int(batch)),
        "cublasGemmStridedBatched");
  }
  if (!c_direct) {
    pack_kernel<T><<<blocks_for(batch * M * N), kThreads, 0, stream>>>(
        c, c_out, batch, M, N, C.strides[0], C.strides[1], C.strides[2], true);
    check_launch("matmul");
  }
}

}  // namespace

void register_gemm(Registry& r) {
  r.add(Op::Matmul, DeviceKind::cuda, DType::f32, matmul_kernel<float>);
  r.add(Op::Matmul, DeviceKind::cuda, DType::f64, matmul_kernel<double>);
}

}  // namespace elegy::kernels::cuda
