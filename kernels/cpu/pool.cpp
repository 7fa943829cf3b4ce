// CPU kernels of the pool family (filled in with the ops that need them).
#include "elegy/kernels/dispatch.hpp"

namespace elegy::kernels {

void register_cpu_pool(Registry&) {}

}  // namespace elegy::kernels
