// CUDA kernels of the pool family (filled in with the ops that need them).
#include "elegy/kernels/cuda/families.hpp"

namespace elegy::kernels::cuda {

void register_pool(Registry&) {}

}  // namespace elegy::kernels::cuda
