// Integer power, shared by the CPU and CUDA Pow kernels so both give the same wrapped results.
#pragma once

#include <type_traits>

#include "elegy/core/host_device.hpp"

namespace elegy::kernels {

// base^exponent by squaring, wrapping modulo 2^bits. A negative exponent gives 0 except for
// bases 1 and -1 (what lax.pow does for integers: 1/b^n truncated).
template <class T>
ELEGY_HOST_DEVICE T integer_pow(T base, T exponent) {
  using U = std::make_unsigned_t<T>;
  if constexpr (std::is_signed_v<T>) {
    if (exponent < T(0)) {
      if (base == T(1)) return T(1);
      if (base == T(-1)) return (exponent & 1) ? T(-1) : T(1);
      return T(0);
    }
  }
  U result = 1, b = U(base);
  for (U e = U(exponent); e != 0; e >>= 1) {
    if (e & 1) result = U(result * b);
    b = U(b * b);
  }
  return T(result);
}

}  // namespace elegy::kernels
