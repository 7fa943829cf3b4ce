#include "elegy/kernels/dispatch.hpp"

namespace elegy::kernels {

void register_cpu_gemm(Registry&) {}

}  // namespace elegy::kernels
