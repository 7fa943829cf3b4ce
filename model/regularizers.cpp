#include "elegy/model/regularizers.hpp"

#include <vector>

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
                        std::vector<Tensor> floats;
                        for (const Tensor& p : a.net_params.leaves())
                          if (is_floating(p.dtype())) floats.push_back(p);
                        if (floats.empty() || (l1 == 0.0 && l2 == 0.0)) return scalar(0.0);
                        Tensor total;
                        if (l1 > 0.0)
                          for (const Tensor& p : floats) {
                            const Tensor term = (l1 * sum(abs(p))).astype(DType::f32);
                            total = total.defined() ? total + term : term;
                          }
                        if (l2 > 0.0) {
                          // One node for all the parameters: the regularizer runs every step,
                          // and on a GPU each kernel of the composed form is a launch.
                          const Tensor term = sum_of_squares(floats, l2).astype(DType::f32);
                          total = total.defined() ? total + term : term;
                        }
                        return total;
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
