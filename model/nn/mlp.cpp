#include "elegy/model/nn/mlp.hpp"

#include "elegy/core/error.hpp"
#include "elegy/model/nn/dropout.hpp"

namespace elegy::nn {

MLP::MLP(std::vector<std::int64_t> output_sizes, MLPOptions options)
    : Module(options.name), output_sizes_(std::move(output_sizes)), options_(std::move(options)) {
  ELEGY_CHECK(!output_sizes_.empty(), "nn::MLP", "needs at least one output size");
  ELEGY_CHECK(options_.activation != nullptr, "nn::MLP", "activation must be set");
}

Tensor MLP::call(Context& ctx, const Tensor& x) {
  Tensor h = x;
  const std::size_t n = output_sizes_.size();
  for (std::size_t i = 0; i < n; ++i) {
    h = Linear(output_sizes_[i], {.with_bias = options_.with_bias,
                                  .w_init = options_.w_init,
                                  .b_init = options_.b_init})(ctx, h);
    if (i + 1 < n || options_.activate_final) {
      h = options_.activation(h);
      if (options_.dropout_rate > 0.0) h = Dropout(options_.dropout_rate)(ctx, h);
    }
  }
  return h;
}

}  // namespace elegy::nn
