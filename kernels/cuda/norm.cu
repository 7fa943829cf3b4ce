// CUDA kernels of the norm family (filled in with the ops that need them).
#include "elegy/kernels/cuda/families.hpp"

namespace elegy::kernels::cuda {

void register_norm(Registry&) {}

}  // namespace elegy::kernels::cuda
