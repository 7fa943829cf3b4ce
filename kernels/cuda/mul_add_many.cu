// MulAddMany on CUDA (mul_add_list.hpp): out = a * b + c for every tensor of a list in one launch
// per kTermsPerLaunch tensors, each tensor given its own range of blocks (as the multi-tensor
// optimizer updates, optim.cu); b is one element read from device memory. The product is rounded
// before the add (__fmul_rn then __fadd_rn, never contracted), so each tensor has the bits of
// its own MulAdd (mul_add.cu) and of the CPU's.
#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "elegy/kernels/cuda/families.hpp"
#include "elegy/kernels/cuda/launch.cuh"
#include "elegy/kernels/mul_add_list.hpp"

namespace elegy::kernels::cuda {
namespace {

constexpr const char* kName = "mul_add_many (cuda)";
constexpr int kTermsPerLaunch = 48;  // 5 words each: about 2 KiB of kernel arguments
constexpr std::int64_t kElementsPerBlock = std::int64_t(kThreads) * 16;
constexpr std::int64_t kMaxBlocksPerTerm = 4096;

template <class T>
struct MulAddTable {
  T* out[kTermsPerLaunch];
  const T* a[kTermsPerLaunch];
  const T* b[kTermsPerLaunch];
  const T* c[kTermsPerLaunch];
  std::int64_t n[kTermsPerLaunch];
  std::int64_t first_block[kTermsPerLaunch + 1];  // this launch's blocks of term t
  int count;
};

template <class T>
__device__ __forceinline__ T fma_free(T a, T b, T c) {
  if constexpr (std::is_same_v<T, float>)
    return __fadd_rn(__fmul_rn(a, b), c);
  else
    return __dadd_rn(__dmul_rn(a, b), c);
}

template <class T>
__global__ void mul_add_many_kernel(MulAddTable<T> t) {
  const auto block = std::int64_t(blockIdx.x);
  int k = 0;
  while (k + 1 < t.count && t.first_block[k + 1] <= block) ++k;
  const std::int64_t local = block - t.first_block[k];
  const std::int64_t step = (t.first_block[k + 1] - t.first_block[k]) * kThreads;
  T* out = t.out[k];
  const T *a = t.a[k], *c = t.c[k];
  const T b = *t.b[k];
  const std::int64_t n = t.n[k];
  std::int64_t done = 0;
  constexpr int kWidth = Pack<T>::kWidth;
  const auto address = [](const void* p) { return reinterpret_cast<std::uintptr_t>(p); };
  if (((address(out) | address(a) | address(c)) & 15u) == 0) {  // 16-byte packs
    const std::int64_t packs = n / kWidth;
    for (std::int64_t i = local * kThreads + threadIdx.x; i < packs; i += step) {
      const Pack<T> x = reinterpret_cast<const Pack<T>*>(a)[i];
      const Pack<T> y = reinterpret_cast<const Pack<T>*>(c)[i];
      Pack<T> r;
#pragma unroll
      for (int j = 0; j < kWidth; ++j) r.v[j] = fma_free(x.v[j], b, y.v[j]);
      reinterpret_cast<Pack<T>*>(out)[i] = r;
    }
    done = packs * kWidth;
  }
  for (std::int64_t i = done + local * kThreads + threadIdx.x; i < n; i += step)
    out[i] = fma_free(a[i], b, c[i]);
}

std::int64_t blocks_of(std::int64_t n) {
  return std::min(kMaxBlocksPerTerm, (n + kElementsPerBlock - 1) / kElementsPerBlock);
}

template <class T>
void mul_add_many(const KernelArgs& args) {
  const ViewList& list = view_list_of(kName, args);
  const int terms = mul_add_terms(kName, list, dtype_of<T>());
  const cudaStream_t s = prepare(args.device);
  for (int first = 0; first < terms; first += kTermsPerLaunch) {
    MulAddTable<T> t{};
    std::int64_t blocks = 0;
    for (int i = first; i < std::min(terms, first + kTermsPerLaunch); ++i) {
      const BufferView* v = &list.views[i * kMulAddViews];
      const std::int64_t n = v[0].numel();
      if (n == 0) continue;
      t.out[t.count] = static_cast<T*>(v[0].data);
      t.a[t.count] = static_cast<const T*>(v[1].data);
      t.b[t.count] = static_cast<const T*>(v[2].data);
      t.c[t.count] = static_cast<const T*>(v[3].data);
      t.n[t.count] = n;
      t.first_block[t.count] = blocks;
      blocks += blocks_of(n);
      ++t.count;
    }
    if (t.count == 0) continue;
    t.first_block[t.count] = blocks;
    mul_add_many_kernel<T><<<unsigned(blocks), kThreads, 0, s>>>(t);
    check_launch(kName);
  }
}

}  // namespace

void register_mul_add_many(Registry& r) {
  r.add(Op::MulAddMany, DeviceKind::cuda, DType::f32, mul_add_many<float>);
  r.add(Op::MulAddMany, DeviceKind::cuda, DType::f64, mul_add_many<double>);
}

}  // namespace elegy::kernels::cuda
