// CUDA kernels of the conv family (filled in with the ops that need them).
#include "elegy/kernels/cuda/families.hpp"

namespace elegy::kernels::cuda {

void register_conv(Registry&) {}

}  // namespace elegy::kernels::cuda
