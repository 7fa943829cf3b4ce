// CUDA kernels of the optim family (filled in with the ops that need them).
#include "elegy/kernels/cuda/families.hpp"

namespace elegy::kernels::cuda {

void register_optim(Registry&) {}

}  // namespace elegy::kernels::cuda
