#include "elegy/model/regularizers.hpp"

#include "elegy/autodiff/ops_creation.hpp"
#include "elegy/autodiff/ops_elementwise.hpp"
#include "elegy/autodiff/ops_reduce.hpp"
#include "elegy/core/error.hpp"

namespace elegy::regularizers {

losses::Loss GlobalL1L2(double l1, double l2, std::string name) {
  ELEGY_CHECK(l1 >= 0.0 && l2 >= 0.0, "regularizers::GlobalL1L2", "l1 and l2 must be >= 0, got ",
              l1, " and ", l2);
  return losses::Loss(std::move(name),
                      [l1, l2](const LossArgs& a) {
                        Tensor total;
                        for (const Tensor& p : a.net_params.leaves()) {
                          if (!is_floating(p.dtype())) continue;
                          Tensor term;
                          if (l1 > 0.0) term = l1 * sum(abs(p));
                          if (l2 > 0.0)
                            term =
                                term.defined() ? term + l2 * sum(square(p)) : l2 * sum(square(p));
                          if (!term.defined()) continue;
                          term = term.astype(DType::f32);
                          total = total.defined() ? total + term : term;
                        }
                        return total.defined() ? total : scalar(0.0);
                      },
                      {.reduction = losses::Reduction::sum});
}

losses::Loss GlobalL1(double l, std::string name) {
  return GlobalL1L2(l, 0.0, std::move(name));
}

losses::Loss GlobalL2(double l, std::string name) {
  return GlobalL1L2(0.0, l, std::move(name));
}

}  // namespace elegy::regularizers
