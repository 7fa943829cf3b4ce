// Layer epilogues on CUDA (the CPU twin is kernels/cpu/bias_act.cpp): BiasAct, act(y + b) with
// b broadcast over rows, in place or not; ReluBackward, g where relu's output is positive. The
// activation is relu exactly as unary.cu computes it, so fused and unfused results agree.
#include <cstdint>

#include "elegy/kernels/cuda/families.hpp"
#include "elegy/kernels/cuda/launch.cuh"

namespace elegy::kernels::cuda {
namespace {

// out[i] = act(y[i] + b[i % C]) over n dense elements (b may be null: no bias).
template <class T>
__global__ void bias_act_kernel(std::int64_t n, std::int64_t C, T* out, const T* y, const T* b,
                                bool relu) {
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x) {
    T v = y[i];
    if (b) v = v + b[i % C];
    if (relu) v = (v > T(0) || v != v) ? v : T(0);
    out[i] = v;
  }
}

struct op_relu_backward {
  template <class T>
  __device__ T operator()(T g, T y) const {
    return y > T(0) ? g : T(0);
  }
};

template <class T>
void bias_act(const KernelArgs& a) {
  const std::int64_t n = a.out.numel();
  if (n == 0) return;
  const std::int64_t C = a.out.sizes[a.out.rank - 1];
  const cudaStream_t s = prepare(a.device);
  const T* b = a.num_inputs > 1 ? static_cast<const T*>(a.in[1].data) : nullptr;
  bias_act_kernel<T><<<blocks_for(n), kThreads, 0, s>>>(n, C, static_cast<T*>(a.out.data),
                                                        static_cast<const T*>(a.in[0].data), b,
                                                        Activation(a.ints[0]) == Activation::relu);
  check_launch("bias_act (cuda)");
}

template <class T>
void relu_backward(const KernelArgs& a) {
  map<T, T, 2>(a, op_relu_backward{}, "relu_backward (cuda)");
}

}  // namespace

void register_bias_act(Registry& r) {
  r.add(Op::BiasAct, DeviceKind::cuda, DType::f32, bias_act<float>);
  r.add(Op::BiasAct, DeviceKind::cuda, DType::f64, bias_act<double>);
  r.add(Op::ReluBackward, DeviceKind::cuda, DType::f32, relu_backward<float>);
  r.add(Op::ReluBackward, DeviceKind::cuda, DType::f64, relu_backward<double>);
}

}  // namespace elegy::kernels::cuda
