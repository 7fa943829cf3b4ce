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

}  // namespace elegy::optim
