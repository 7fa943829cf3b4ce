#include "elegy/kernels/dispatch.hpp"

namespace elegy::kernels {

void register_cpu_index(Registry&) {}

}  // namespace elegy::kernels
