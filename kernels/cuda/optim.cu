// The fused optimizer step on CUDA (Op::OptimUpdate, arguments in kernels/cpu/optim_fused.hpp):
// one grid-stride kernel per parameter tensor reading grad, moments (and param) and writing the
// new moments and the update. Every operation is an explicitly rounded intrinsic (__fmul_rn,
// __fadd_rn, __fdiv_rn, __fsqrt_rn and the double ones), which nvcc never contracts into an FMA,
// so the results are those of the composed elementwise kernels. lamb's per-tensor sums of u^2
// and p^2 go to device memory (one atomicAdd per block), read back by the scaling kernel on the
// device: no host synchronisation.
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

// Adam (kSums: lamb's first pass, the update left unscaled and its sums accumulated).
template <class T, bool kSums>
__global__ void adam_kernel(std::int64_t n, const T* g, const T* m0, const T* v0, const T* p,
                            T* m_out, T* v_out, T* u_out, T* p_out, T wd, bool decay_weights,
                            double* sums, Coefs<T> c) {
  double su = 0.0, sp = 0.0;
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x) {
    const T gi = g[i];
    const T m = add(mul(gi, c.one_minus_b1), mul(m0[i], c.b1));
    const T v = add(mul(mul(gi, gi), c.one_minus_b2), mul(v0[i], c.b2));
    const T m_hat =
        c.nesterov ? add(mul(divide(m, c.bc1_next), c.b1), mul(divide(gi, c.bc1), c.one_minus_b1))
                   : divide(m, c.bc1);
    T v_hat = divide(v, c.bc2);
    if (c.root) v_hat = add(v_hat, c.eps_root);
    T u = divide(m_hat, add(root(v_hat), c.eps));
    if (decay_weights) u = add(u, mul(p[i], wd));
    m_out[i] = m;
    v_out[i] = v;
    if constexpr (kSums) {
      u_out[i] = u;
      su += double(u) * double(u);
      sp += double(p[i]) * double(p[i]);
    } else if (p_out) {
      p_out[i] = add(p[i], mul(u, c.step));
    } else {
      u_out[i] = mul(u, c.step);
    }
  }
  if constexpr (kSums) {
    // Block reduction, then one atomic per block and sum.
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
}

template <class T>
__global__ void momentum_kernel(std::int64_t n, const T* g, const T* tr0, const T* p, T* tr_out,
                                T* u_out, T* p_out, Coefs<T> c) {
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x) {
    const T tr = add(g[i], mul(tr0[i], c.decay));
    const T u = c.nesterov ? add(g[i], mul(tr, c.decay)) : tr;
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

template <class T>
void optim_update(const KernelArgs& k) {
  const auto& a = *reinterpret_cast<const OptimUpdateArgs*>(static_cast<std::uintptr_t>(k.ints[0]));
  cudaStream_t stream = prepare(k.device);
  const Coefs<T> c = coefs_of<T>(a);
  for (int ti = 0; ti < a.num_tensors; ++ti) {
    const OptimTensor& t = a.tensors[ti];
    if (t.numel == 0) continue;
    const unsigned blocks = blocks_for(t.numel);
    const T* g = static_cast<const T*>(t.grad);
    switch (a.kind) {
      case OptimKind::adam:
      case OptimKind::lamb_moments: {
        const bool sums = a.kind == OptimKind::lamb_moments;
        if (sums) ELEGY_CUDA_CHECK(cudaMemsetAsync(t.sums, 0, 2 * sizeof(double), stream), "lamb");
        auto kernel = sums ? adam_kernel<T, true> : adam_kernel<T, false>;
        kernel<<<blocks, kThreads, 0, stream>>>(
            t.numel, g, static_cast<const T*>(t.mu), static_cast<const T*>(t.nu),
            static_cast<const T*>(t.param), static_cast<T*>(t.mu_out), static_cast<T*>(t.nu_out),
            static_cast<T*>(t.update), sums ? nullptr : static_cast<T*>(t.param_out),
            T(t.weight_decay), t.weight_decay != 0.0, t.sums, c);
        break;
      }
      case OptimKind::momentum:
        momentum_kernel<T><<<blocks, kThreads, 0, stream>>>(
            t.numel, g, static_cast<const T*>(t.mu), static_cast<const T*>(t.param),
            static_cast<T*>(t.mu_out), static_cast<T*>(t.update), static_cast<T*>(t.param_out), c);
        break;
      case OptimKind::lamb_scale:
        lamb_scale_kernel<T><<<blocks, kThreads, 0, stream>>>(
            t.numel, static_cast<T*>(t.update), static_cast<const T*>(t.param),
            static_cast<T*>(t.param_out), t.sums, c);
        break;
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
