#include "elegy/kernels/dispatch.hpp"

namespace elegy::kernels {

void register_cpu_random(Registry&) {}

}  // namespace elegy::kernels
