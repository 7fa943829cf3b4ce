// CPU kernels of the conv family (filled in with the ops that need them).
#include "elegy/kernels/dispatch.hpp"

namespace elegy::kernels {

void register_cpu_conv(Registry&) {}

}  // namespace elegy::kernels
