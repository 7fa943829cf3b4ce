// clip_by_global_norm and global_norm (optax's).
#include <cmath>

#include "elegy/autodiff/ops_elementwise.hpp"
#include "elegy/autodiff/ops_reduce.hpp"
#include "elegy/autodiff/tape.hpp"
#include "elegy/optim/detail.hpp"
#include "elegy/optim/transforms.hpp"

namespace elegy::optim {

Tensor global_norm(const Tree& updates) {
  autodiff::NoGrad no_grad;
  Tensor total;
  // Leaf sums added in the canonical leaf order, as optax's tree_sum does.
  for (const Tensor& leaf : updates.leaves()) {
    const Tensor s = sum(leaf * leaf);
    total = total.defined() ? total + s : s;
  }
  ELEGY_CHECK(total.defined(), "global_norm", "the tree has no leaves");
  return sqrt(total);
}

GradientTransformation clip_by_global_norm(double max_norm) {
  ELEGY_CHECK(std::isfinite(max_norm) && max_norm > 0.0, "clip_by_global_norm",
              "max_norm must be a finite number > 0, got ", max_norm);
  return {[](const Tree&) { return Tree(); },
          [max_norm](const Tree& updates, const OptState& state, const Tree&) {
            detail::check_empty_state("clip_by_global_norm", state);
            if (updates.num_leaves() == 0) return UpdateResult{updates, state};
            autodiff::NoGrad no_grad;
            // Decided on the device (no sync): both branches are computed and one selected.
            const Tensor norm = global_norm(updates);
            const Tensor keep = norm < max_norm;
            Tree out = updates.map([&](const Tensor& g) {
              return where(keep, g, (g / norm.astype(g.dtype())) * max_norm);
            });
            return UpdateResult{std::move(out), state};
          }};
}

}  // namespace elegy::optim
