// The fused fast path of adam, adamw, nadam(w), lamb and sgd with momentum: one kernel call
// (Op::OptimUpdate) steps the whole parameter tree, one pass per tensor reading grad, moments and
// param and writing the new moments and the update (lamb: a second, in-place pass for the trust
// ratio). The aliases wrap their composed chain with these: init is the chain's init, so the
// state has optax's layout; update takes the fused path when it can — every leaf (updates,
// moments, params) contiguous, float32 or float64, of one dtype on one device, with the state the
// chain's init made — and otherwise runs the chain, which also raises the chain's errors for
// states or trees that do not belong. Both paths give the same values (bit for bit but for
// lamb's norms, which are summed in another order).
#pragma once

#include <cstdint>
#include <optional>

#include "elegy/optim/transforms.hpp"

namespace elegy::optim::detail {

struct FusedAdamSpec {
  double b1 = 0.9, b2 = 0.999, eps = 1e-8, eps_root = 0.0;
  bool nesterov = false;
  ScalarOrSchedule learning_rate = 0.0;
  // adamw / lamb: add_decayed_weights(weight_decay, mask) after scale_by_adam.
  std::optional<ScalarOrSchedule> weight_decay = std::nullopt;
  Mask mask = {};
  bool lamb = false;  // scale_by_trust_ratio() before the learning rate
};
// `composed`: chain(scale_by_adam, [add_decayed_weights], [scale_by_trust_ratio],
// scale_by_learning_rate) as the alias built it (mu_dtype unset).
GradientTransformation fused_adam(GradientTransformation composed, FusedAdamSpec spec);

// `composed`: chain(trace(decay, nesterov), scale_by_learning_rate(learning_rate)).
GradientTransformation fused_momentum(GradientTransformation composed, double decay, bool nesterov,
                                      ScalarOrSchedule learning_rate);

// How many updates took the fused path so far, process-wide (for tests and benchmarks that must
// know which path ran).
std::int64_t fused_update_count();

}  // namespace elegy::optim::detail
