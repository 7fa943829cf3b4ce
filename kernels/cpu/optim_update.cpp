// CPU kernels of the optim family (filled in with the ops that need them).
#include "elegy/kernels/dispatch.hpp"

namespace elegy::kernels {

void register_cpu_optim(Registry&) {}

}  // namespace elegy::kernels
