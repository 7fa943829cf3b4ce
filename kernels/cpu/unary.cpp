#include "elegy/kernels/dispatch.hpp"

namespace elegy::kernels {

void register_cpu_unary(Registry&) {}

}  // namespace elegy::kernels
