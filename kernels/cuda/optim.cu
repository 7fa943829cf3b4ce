// The fused optimizer step on CUDA (Op::OptimUpdate, arguments in kernels/cpu/optim_fused.hpp):
// adam and momentum steps launch one kernel per kTensorsPerLaunch parameter tensors (a table of
// the tensors passed by value, each tensor given its own range of blocks, as PyTorch's
// multi-tensor apply does), since on a GPU a launch costs the host ~5 us and a model has dozens
// of small tensors; lamb's two passes run one kernel per tensor. Each reads grad, moments (and
// param) and writes the new moments and the update. Every operation is an explicitly rounded
// intrinsic (__fmul_rn, __fadd_rn, __fdiv_rn, __fsqrt_rn and the double ones), which nvcc never
// contracts into an FMA, so the results are those of the composed elementwise kernels. lamb's
// per-tensor sums of u^2 and p^2 go to device memory (one atomicAdd per block), read back by the
// scaling kernel on the device: no host synchronisation.
#include <cuda_runtime.h>

#include <cstdint>

#include "elegy/kernels/cpu/optim_fused.hpp"
#include "elegy/kernels/cuda/families.hpp"
#include "elegy/kernels/cuda/launch.cuh"

namespace elegy::kernels::cuda {
namespace {

__device__ __forceinline__ float mul(float a, float b) {
  return __fmul_rn(a, b);
}
__device__ __forceinline__ float add(float a, float b) {
  return __fadd_rn(a, b);
}
__device__ __forceinline__ float divide(float a, float b) {
  return __fdiv_rn(a, b);
}
__device__ __forceinline__ float root(float a) {
  return __fsqrt_rn(a);
}
__device__ __forceinline__ double mul(double a, double b) {
  return __dmul_rn(a, b);
}
__device__ __forceinline__ double add(double a, double b) {
  return __dadd_rn(a, b);
}
__device__ __forceinline__ double divide(double a, double b) {
  return __ddiv_rn(a, b);
}
__device__ __forceinline__ double root(double a) {
  return __dsqrt_rn(a);
}

// The step's scalars rounded to T, passed by value.
template <class T>
struct Coefs {
  T one_minus_b1, b1, one_minus_b2, b2, bc1, bc2, bc1_next, eps, eps_root, decay, step;
  bool nesterov, root;
};

template <class T>
Coefs<T> coefs_of(const OptimUpdateArgs& a) {
  return Coefs<T>{T(1.0 - a.b1), T(a.b1),       T(1.0 - a.b2),    T(a.b2),       T(a.bc1),
                  T(a.bc2),      T(a.bc1_next), T(a.eps),         T(a.eps_root), T(a.decay),
                  T(a.step),     a.nesterov,    a.eps_root != 0.0};
}

// One element of an adam step: the new moments (m, v) and the update u, unscaled by the step.
template <class T>
struct AdamElement {
  T m, v, u;
};
template <class T>
__device__ __forceinline__ AdamElement<T> adam_element(T gi, T m0, T v0, T p, T wd,
                                                       bool decay_weights, const Coefs<T>& c) {
  const T m = add(mul(gi, c.one_minus_b1), mul(m0, c.b1));
  const T v = add(mul(mul(gi, gi), c.one_minus_b2), mul(v0, c.b2));
  const T m_hat =
      c.nesterov ? add(mul(divide(m, c.bc1_next), c.b1), mul(divide(gi, c.bc1), c.one_minus_b1))
                 : divide(m, c.bc1);
  T v_hat = divide(v, c.bc2);
  if (c.root) v_hat = add(v_hat, c.eps_root);
  T u = divide(m_hat, add(root(v_hat), c.eps));
  if (decay_weights) u = add(u, mul(p, wd));
  return {m, v, u};
}

// One element of a momentum step: the new trace and the update, unscaled by the step.
template <class T>
__device__ __forceinline__ void momentum_element(T gi, T tr0, const Coefs<T>& c, T& tr, T& u) {
  tr = add(gi, mul(tr0, c.decay));
  u = c.nesterov ? add(gi, mul(tr, c.decay)) : tr;
}

// Lamb's first pass over one tensor: the new moments, the unscaled update, and its sums of u^2
// and p^2 (block reduction, then one atomic per block and sum).
template <class T>
__global__ void lamb_moments_kernel(std::int64_t n, const T* g, const T* m0, const T* v0,
                                    const T* p, T* m_out, T* v_out, T* u_out, T wd,
                                    bool decay_weights, double* sums, Coefs<T> c) {
  double su = 0.0, sp = 0.0;
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x) {
    const AdamElement<T> e = adam_element(g[i], m0[i], v0[i], p[i], wd, decay_weights, c);
    m_out[i] = e.m;
    v_out[i] = e.v;
    u_out[i] = e.u;
    su += double(e.u) * double(e.u);
    sp += double(p[i]) * double(p[i]);
  }
  __shared__ double shared[2][kThreads];
  shared[0][threadIdx.x] = su;
  shared[1][threadIdx.x] = sp;
  __syncthreads();
  for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) {
      shared[0][threadIdx.x] += shared[0][threadIdx.x + s];
      shared[1][threadIdx.x] += shared[1][threadIdx.x + s];
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    atomicAdd(&sums[0], shared[0][0]);
    atomicAdd(&sums[1], shared[1][0]);
  }
}

// Up to kTensorsPerLaunch tensors of one adam or momentum step, passed by value (2.2 KB for
// double, within the 4 KB of kernel parameters every architecture takes). Tensor i owns blocks
// [first_block[i], first_block[i + 1]) and walks its elements grid-stride over them.
constexpr int kTensorsPerLaunch = 24;
template <class T>
struct TensorTable {
  int count = 0;
  std::int64_t first_block[kTensorsPerLaunch + 1] = {};
  std::int64_t n[kTensorsPerLaunch] = {};
  const T* g[kTensorsPerLaunch] = {};
  const T* m0[kTensorsPerLaunch] = {};  // adam: mu; momentum: trace
  const T* v0[kTensorsPerLaunch] = {};  // adam only
  const T* p[kTensorsPerLaunch] = {};   // read for weight decay, or applied to (p_out)
  T* m_out[kTensorsPerLaunch] = {};
  T* v_out[kTensorsPerLaunch] = {};
  T* u_out[kTensorsPerLaunch] = {};  // written when p_out is null
  T* p_out[kTensorsPerLaunch] = {};
  T wd[kTensorsPerLaunch] = {};
  bool decay[kTensorsPerLaunch] = {};  // weight_decay != 0 before rounding to T, as composed
};

// The tensor block b belongs to (a short linear search: at most kTensorsPerLaunch entries), and
// the block's place within that tensor's range.
template <class T>
__device__ __forceinline__ int tensor_of_block(const TensorTable<T>& t, std::int64_t b) {
  int i = 0;
  while (i + 1 < t.count && b >= t.first_block[i + 1]) ++i;
  return i;
}

template <class T>
__global__ void adam_multi_kernel(TensorTable<T> t, Coefs<T> c) {
  const int ti = tensor_of_block(t, blockIdx.x);
  const std::int64_t blocks = t.first_block[ti + 1] - t.first_block[ti];
  const std::int64_t n = t.n[ti];
  const T *g = t.g[ti], *m0 = t.m0[ti], *v0 = t.v0[ti], *p = t.p[ti];
  T *m_out = t.m_out[ti], *v_out = t.v_out[ti], *u_out = t.u_out[ti], *p_out = t.p_out[ti];
  const T wd = t.wd[ti];
  const bool decay_weights = t.decay[ti];
  for (std::int64_t i = (std::int64_t(blockIdx.x) - t.first_block[ti]) * blockDim.x + threadIdx.x;
       i < n; i += blocks * blockDim.x) {
    const AdamElement<T> e = adam_element(g[i], m0[i], v0[i], decay_weights || p_out ? p[i] : T(0),
                                          wd, decay_weights, c);
    m_out[i] = e.m;
    v_out[i] = e.v;
    if (p_out)
      p_out[i] = add(p[i], mul(e.u, c.step));
    else
      u_out[i] = mul(e.u, c.step);
  }
}

template <class T>
__global__ void momentum_multi_kernel(TensorTable<T> t, Coefs<T> c) {
  const int ti = tensor_of_block(t, blockIdx.x);
  const std::int64_t blocks = t.first_block[ti + 1] - t.first_block[ti];
  const std::int64_t n = t.n[ti];
  const T *g = t.g[ti], *tr0 = t.m0[ti], *p = t.p[ti];
  T *tr_out = t.m_out[ti], *u_out = t.u_out[ti], *p_out = t.p_out[ti];
  for (std::int64_t i = (std::int64_t(blockIdx.x) - t.first_block[ti]) * blockDim.x + threadIdx.x;
       i < n; i += blocks * blockDim.x) {
    T tr, u;
    momentum_element(g[i], tr0[i], c, tr, u);
    tr_out[i] = tr;
    if (p_out)
      p_out[i] = add(p[i], mul(u, c.step));
    else
      u_out[i] = mul(u, c.step);
  }
}

template <class T>
__global__ void lamb_scale_kernel(std::int64_t n, T* u, const T* p, T* p_out, const double* sums,
                                  Coefs<T> c) {
  const T pn = root(T(sums[1])), un = root(T(sums[0]));
  const T ratio = (pn == T(0) || un == T(0)) ? T(1) : divide(pn, un);
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x) {
    const T scaled = mul(mul(u[i], ratio), c.step);
    if (p_out)
      p_out[i] = add(p[i], scaled);
    else
      u[i] = scaled;
  }
}

// Adam or momentum over every tensor of the step, kTensorsPerLaunch tensors per launch; each
// tensor gets the blocks a kernel of its own would have had (so its elements are visited by
// the same threads in the same order: the arithmetic is per element either way).
template <class T>
void multi_tensor_update(const OptimUpdateArgs& a, const Coefs<T>& c, cudaStream_t stream) {
  TensorTable<T> t;
  const auto launch = [&] {
    if (t.count == 0) return;
    const unsigned blocks = unsigned(t.first_block[t.count]);
    if (a.kind == OptimKind::adam)
      adam_multi_kernel<T><<<blocks, kThreads, 0, stream>>>(t, c);
    else
      momentum_multi_kernel<T><<<blocks, kThreads, 0, stream>>>(t, c);
    check_launch("optimizer update (cuda)");
    t = TensorTable<T>{};
  };
  for (int ti = 0; ti < a.num_tensors; ++ti) {
    const OptimTensor& o = a.tensors[ti];
    if (o.numel == 0) continue;
    const int i = t.count++;
    t.n[i] = o.numel;
    t.g[i] = static_cast<const T*>(o.grad);
    t.m0[i] = static_cast<const T*>(o.mu);
    t.v0[i] = static_cast<const T*>(o.nu);
    t.p[i] = static_cast<const T*>(o.param);
    t.m_out[i] = static_cast<T*>(o.mu_out);
    t.v_out[i] = static_cast<T*>(o.nu_out);
    t.u_out[i] = static_cast<T*>(o.update);
    t.p_out[i] = static_cast<T*>(o.param_out);
    t.wd[i] = T(o.weight_decay);
    t.decay[i] = o.weight_decay != 0.0;
    t.first_block[i + 1] = t.first_block[i] + blocks_for(o.numel);
    if (t.count == kTensorsPerLaunch) launch();
  }
  launch();
}

template <class T>
void optim_update(const KernelArgs& k) {
  const auto& a = *reinterpret_cast<const OptimUpdateArgs*>(static_cast<std::uintptr_t>(k.ints[0]));
  cudaStream_t stream = prepare(k.device);
  const Coefs<T> c = coefs_of<T>(a);
  if (a.kind == OptimKind::adam || a.kind == OptimKind::momentum)
    return multi_tensor_update<T>(a, c, stream);
  for (int ti = 0; ti < a.num_tensors; ++ti) {
    const OptimTensor& t = a.tensors[ti];
    if (t.numel == 0) continue;
    const unsigned blocks = blocks_for(t.numel);
    if (a.kind == OptimKind::lamb_moments) {
      ELEGY_CUDA_CHECK(cudaMemsetAsync(t.sums, 0, 2 * sizeof(double), stream), "lamb");
      lamb_moments_kernel<T><<<blocks, kThreads, 0, stream>>>(
          t.numel, static_cast<const T*>(t.grad), static_cast<const T*>(t.mu),
          static_cast<const T*>(t.nu), static_cast<const T*>(t.param), static_cast<T*>(t.mu_out),
          static_cast<T*>(t.nu_out), static_cast<T*>(t.update), T(t.weight_decay),
          t.weight_decay != 0.0, t.sums, c);
    } else {
      lamb_scale_kernel<T><<<blocks, kThreads, 0, stream>>>(
          t.numel, static_cast<T*>(t.update), static_cast<const T*>(t.param),
          static_cast<T*>(t.param_out), t.sums, c);
    }
    check_launch("optimizer update (cuda)");
  }
}

}  // namespace

void register_optim(Registry& r) {
  r.add(Op::OptimUpdate, DeviceKind::cuda, DType::f32, optim_update<float>);
  r.add(Op::OptimUpdate, DeviceKind::cuda, DType::f64, optim_update<double>);
}

}  // namespace elegy::kernels::cuda
