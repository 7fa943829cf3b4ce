// Where on CUDA: out = cond ? a : b over in[0] = cond (bool bytes, any nonzero is true), in[1] =
// a and in[2] = b, all broadcast to out's shape (stride-0 dims) and possibly strided. Keyed by
// a's dtype, for every dtype the CPU registers (kernels/cpu/binary.cpp).
#include <cstdint>

#include "elegy/kernels/cuda/families.hpp"
#include "elegy/kernels/cuda/launch.cuh"

namespace elegy::kernels::cuda {
namespace {

constexpr const char* kWhere = "where (cuda)";

// Operand 0 of `l` is out, 1 the condition, 2 and 3 the two branches.
template <class T>
__global__ void where_kernel(Layout<4> l, std::int64_t n, T* out, const std::uint8_t* cond,
                             const T* a, const T* b) {
  const std::int64_t step = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    std::int64_t off[4];
    if (l.rank == 1) {  // one run after coalescing: no index arithmetic beyond the strides
      for (int k = 0; k < 4; ++k) off[k] = i * l.strides[k][0];
    } else {
      l.element_offsets(i, off);
    }
    out[off[0]] = cond[off[1]] != 0 ? a[off[2]] : b[off[3]];
  }
}

// T is the element type (uint8_t for bool).
template <class T>
void where(const KernelArgs& a) {
  const BufferView* views[4] = {&a.out, &a.in[0], &a.in[1], &a.in[2]};
  const Layout<4> l = coalesce(views);
  const std::int64_t n = l.numel();
  if (n == 0) return;
  const cudaStream_t s = prepare(a.device);
  where_kernel<T><<<blocks_for(n), kThreads, 0, s>>>(
      l, n, static_cast<T*>(a.out.data), static_cast<const std::uint8_t*>(a.in[0].data),
      static_cast<const T*>(a.in[1].data), static_cast<const T*>(a.in[2].data));
  check_launch(kWhere);
}

}  // namespace

void register_where(Registry& r) {
  r.add(Op::Where, DeviceKind::cuda, DType::f32, where<float>);
  r.add(Op::Where, DeviceKind::cuda, DType::f64, where<double>);
  r.add(Op::Where, DeviceKind::cuda, DType::i32, where<std::int32_t>);
  r.add(Op::Where, DeviceKind::cuda, DType::i64, where<std::int64_t>);
  r.add(Op::Where, DeviceKind::cuda, DType::u8, where<std::uint8_t>);
  r.add(Op::Where, DeviceKind::cuda, DType::bool_, where<std::uint8_t>);
}

}  // namespace elegy::kernels::cuda
