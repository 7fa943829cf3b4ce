// The arguments of Op::OptimUpdate, the fused optimizer step (kernels/cpu/optim_update.cpp,
// kernels/cuda/optim.cu), called by elegy/optim/fused.cpp. KernelArgs has room for three inputs
// and two scalars; a fused step reads up to four tensors and writes three per parameter, for a
// whole list of parameters at once, so the caller passes this struct by address in
// KernelArgs::ints[0] (it outlives the call) and args.out/in stay unused. All tensors are
// contiguous, of the op's dtype, on args.device.
//
// Every scalar is rounded to the dtype before use and every operation is rounded as the composed
// path (one elegy op per formula term) rounds it, in the same order, so the two agree bit for bit
// (lamb's norms excepted: its sums are accumulated in another order), except that the CPU kernel
// flushes denormal values to zero (optim_update.cpp says why).
#pragma once

#include <cstdint>

namespace elegy::kernels {

enum class OptimKind : std::int32_t {
  // adam (adamw, nadam, lamb's first pass): new mu, nu and the update
  //   mu = g (1 - b1) + mu b1;  nu = (g g)(1 - b2) + nu b2
  //   m_hat = mu / bc1  (nesterov: (mu / bc1_next) b1 + (g / bc1)(1 - b1))
  //   v_hat = nu / bc2 (+ eps_root);  u = m_hat / (sqrt(v_hat) + eps)
  //   u = u + p * weight_decay (when the tensor's weight_decay != 0);  u = u * step
  adam,
  // sgd with momentum: trace = g + trace decay;  u = (nesterov ? g + trace decay : trace) step
  momentum,
  // lamb: adam's mu, nu and u without the final step (step ignored), plus the tensor's sums of
  // u^2 and p^2 written to sums[0], sums[1] (host memory on the CPU, device memory on CUDA).
  lamb_moments,
  // lamb's second pass, in place on update: u = (u * ratio) * step, ratio = ||p|| / ||u|| from
  // the sums (1 when either is 0).
  lamb_scale,
};

struct OptimTensor {
  const void* grad = nullptr;
  const void* param = nullptr;  // read for weight decay and lamb only
  const void* mu = nullptr;     // adam: first moment; momentum: trace
  const void* nu = nullptr;     // adam: second moment
  void* mu_out = nullptr;
  void* nu_out = nullptr;
  void* update = nullptr;
  // When set, the step applies itself: param_out = param + update (optax.apply_updates, rounded
  // as it rounds), and `update` is not written (adam, momentum, lamb_scale; lamb_moments still
  // writes its unscaled update for the second pass). Saves a pass over params and updates.
  void* param_out = nullptr;
  double* sums = nullptr;  // lamb: [sum u^2, sum p^2]
  std::int64_t numel = 0;
  double weight_decay = 0.0;  // per tensor (masked weight decay: 0 where the mask is false)
};

struct OptimUpdateArgs {
  OptimKind kind = OptimKind::adam;
  const OptimTensor* tensors = nullptr;
  int num_tensors = 0;
  double b1 = 0.9, b2 = 0.999, eps = 1e-8, eps_root = 0.0;
  double bc1 = 1.0, bc2 = 1.0, bc1_next = 1.0;  // bias corrections of this step
  bool nesterov = false;
  double decay = 0.0;  // momentum
  double step = 0.0;   // -learning_rate
};

}  // namespace elegy::kernels
