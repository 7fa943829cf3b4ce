#include "elegy/model/nn/linear.hpp"

#include <cmath>

#include "elegy/autodiff/ops_bias_act.hpp"
#include "elegy/autodiff/ops_linalg.hpp"
#include "elegy/core/error.hpp"

namespace elegy::nn {

Linear::Linear(std::int64_t output_size, LinearOptions options)
    : Module(options.name), output_size_(output_size), options_(std::move(options)) {
  ELEGY_CHECK(output_size > 0, "nn::Linear", "output_size must be positive, got ", output_size);
}

Tensor Linear::call(Context& ctx, const Tensor& x) {
  ELEGY_CHECK(x.ndim() >= 1, "nn::Linear", "at '", ctx.path(),
              "' needs inputs of rank >= 1 ([..., features]), got ", describe(x));
  ELEGY_CHECK(is_floating(x.dtype()), "nn::Linear", "at '", ctx.path(),
              "' needs float inputs, got ", describe(x),
              " (cast integer data first, e.g. x / 255)");
  const std::int64_t in = x.shape()[x.ndim() - 1];
  const initializers::Initializer w_init =
      options_.w_init ? options_.w_init
                      : initializers::truncated_normal(1.0 / std::sqrt(double(in)));
  const Tensor w = ctx.param("w", Shape{in, output_size_}, w_init, options_.dtype);
  const Tensor y = matmul(x, w);
  Tensor b;
  if (options_.with_bias) {
    b = ctx.param("b", Shape{output_size_},
                  options_.b_init ? options_.b_init : initializers::zeros(), options_.dtype);
    // A bias of another dtype than the product is cast as `y + b` would promote it.
    if (b.dtype() != y.dtype()) b = b.astype(y.dtype());
  }
  if (!b.defined() && options_.activation == FusedActivation::none) return y;
  return bias_act(y, b, options_.activation);
}

}  // namespace elegy::nn
