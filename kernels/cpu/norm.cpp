// CPU kernels of the norm family (filled in with the ops that need them).
#include "elegy/kernels/dispatch.hpp"

namespace elegy::kernels {

void register_cpu_norm(Registry&) {}

}  // namespace elegy::kernels
