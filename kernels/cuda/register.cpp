// Entry point of the CUDA backend's kernels: called once from registry() in CUDA builds.
#include "elegy/kernels/cuda/families.hpp"

namespace elegy::kernels {

void register_cuda_kernels(Registry& r) {
  cuda::register_copy(r);
  cuda::register_cast(r);
  cuda::register_binary(r);
  cuda::register_where(r);
  cuda::register_mul_add(r);
  cuda::register_mul_add_many(r);
  cuda::register_running_means(r);
  cuda::register_unary(r);
  cuda::register_reduce(r);
  cuda::register_sum_squares_many(r);
  cuda::register_argmax_matches(r);
  cuda::register_softmax(r);
  cuda::register_softmax_xent(r);
  cuda::register_index(r);
  cuda::register_random(r);
  cuda::register_gemm(r);
  cuda::register_conv(r);
  cuda::register_pool(r);
  cuda::register_norm(r);
  cuda::register_optim(r);
  cuda::register_bias_act(r);
}

}  // namespace elegy::kernels
