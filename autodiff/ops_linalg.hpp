// Matrix products (OpenBLAS on the CPU, cuBLAS on CUDA). Transposed views go to BLAS as
// transpose flags, never copied.
#pragma once

#include "elegy/core/tensor.hpp"

namespace elegy {

// numpy matmul: 1-D operands are promoted to matrices and the added dim removed again; leading
// (batch) dimensions broadcast. float32 and float64.
Tensor matmul(const Tensor& a, const Tensor& b);

}  // namespace elegy
