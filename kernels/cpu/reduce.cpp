#include "elegy/kernels/dispatch.hpp"

namespace elegy::kernels {

void register_cpu_reduce(Registry&) {}

}  // namespace elegy::kernels
