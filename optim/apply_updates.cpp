#include <utility>

#include "elegy/autodiff/ops_elementwise.hpp"
#include "elegy/autodiff/tape.hpp"
#include "elegy/optim/transform.hpp"

namespace elegy::optim {

Tree apply_updates(const Tree& params, const Tree& updates) {
  autodiff::NoGrad no_grad;  // an optimizer step is never part of a differentiated function
  return Tree::map2(
      [](const Tensor& p, const Tensor& u) {
        ELEGY_CHECK(p.shape() == u.shape(), "apply_updates", "update ", describe(u),
                    " does not match parameter ", describe(p));
        return (p + u).astype(p.dtype());
      },
      params, updates, "apply_updates");
}

StepResult update_and_apply(const GradientTransformation& opt, const Tree& updates,
                            const OptState& state, const Tree& params) {
  // Copies share every buffer with the caller's trees, so nothing is written in place.
  return update_and_apply(opt, updates, OptState(state), Tree(params));
}

StepResult update_and_apply(const GradientTransformation& opt, const Tree& updates,
                            OptState&& state, Tree&& params) {
  if (opt.update_and_apply)
    return opt.update_and_apply(updates, std::move(state), std::move(params));
  UpdateResult u = opt.update(updates, state, params);
  return {apply_updates(params, u.updates), std::move(u.state)};
}

}  // namespace elegy::optim
