#include "elegy/kernels/dispatch.hpp"

namespace elegy::kernels {

void register_cpu_binary(Registry&) {}

}  // namespace elegy::kernels
