// The float or double CUDA math function for T, picked at compile time, shared by the kernel
// families that evaluate the CPU's formulas on the device (unary.cu, reduce.cu, softmax.cu).
#pragma once

#include <type_traits>

namespace elegy::kernels::cuda {

template <class T>
__device__ __forceinline__ T exp_of(T x) {
  if constexpr (std::is_same_v<T, float>)
    return expf(x);
  else
    return ::exp(x);
}
template <class T>
__device__ __forceinline__ T log_of(T x) {
  if constexpr (std::is_same_v<T, float>)
    return logf(x);
  else
    return ::log(x);
}
template <class T>
__device__ __forceinline__ T log1p_of(T x) {
  if constexpr (std::is_same_v<T, float>)
    return log1pf(x);
  else
    return ::log1p(x);
}
template <class T>
__device__ __forceinline__ T abs_of(T x) {
  if constexpr (std::is_same_v<T, float>)
    return fabsf(x);
  else
    return ::fabs(x);
}
template <class T>
__device__ __forceinline__ T sqrt_of(T x) {
  if constexpr (std::is_same_v<T, float>)
    return sqrtf(x);
  else
    return ::sqrt(x);
}

}  // namespace elegy::kernels::cuda
