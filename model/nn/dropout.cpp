#include "elegy/model/nn/dropout.hpp"

#include "elegy/autodiff/ops_dropout.hpp"
#include "elegy/core/error.hpp"

namespace elegy::nn {

Dropout::Dropout(double rate, std::string name) : Module(std::move(name)), rate_(rate) {
  ELEGY_CHECK(rate >= 0.0 && rate < 1.0, "nn::Dropout", "rate must be in [0, 1), got ", rate);
}

Tensor Dropout::call(Context& ctx, const Tensor& x) {
  if (!ctx.training() || rate_ == 0.0) return x;
  return dropout(ctx.next_key(), rate_, x);
}

}  // namespace elegy::nn
